//! TAXII collections: the feeds parties read and write. Declared ones come from the `apply` file;
//! every party also has a built-in, read-only one holding everything released to it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Coalition, Code};

/// Namespace of the built-in collections' name-based ids.
const FEED_NAMESPACE: Uuid = Uuid::from_u128(0x5d0f3c1e_2b7a_4f4e_9c61_0a8e4b7d2f19);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// A UUID, as TAXII wants.
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub owner: Code,
    /// Parties and groups that may read; `None`: every party (each still sees only what is
    /// released to it).
    pub readers: Option<BTreeSet<Code>>,
    /// Parties and groups that may add objects (the owner always may, unless it is a feed).
    pub writers: BTreeSet<Code>,
    /// The built-in feed of everything released to `owner`.
    pub is_feed: bool,
}

impl Collection {
    /// The built-in, read-only collection of everything released to `party`.
    pub fn feed_of(party: &Code) -> Collection {
        Collection {
            id: Self::feed_id(party),
            title: format!("Released to {party}"),
            description: Some(format!("Every object released to {party}, from every party and collection.")),
            owner: party.clone(),
            readers: Some(BTreeSet::from([party.clone()])),
            writers: BTreeSet::new(),
            is_feed: true,
        }
    }

    pub fn feed_id(party: &Code) -> String {
        Uuid::new_v5(&FEED_NAMESPACE, format!("feed:{party}").as_bytes()).to_string()
    }

    pub fn can_read(&self, coalition: &Coalition, party: &Code) -> bool {
        match &self.readers {
            None => coalition.parties().any(|p| &p.code == party),
            Some(readers) => *party == self.owner || readers.iter().any(|r| coalition.includes(r, party)),
        }
    }

    pub fn can_write(&self, coalition: &Coalition, party: &Code) -> bool {
        !self.is_feed
            && self.can_read(coalition, party)
            && (*party == self.owner || self.writers.iter().any(|w| coalition.includes(w, party)))
    }
}
