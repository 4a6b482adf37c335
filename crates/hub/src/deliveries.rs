//! Group commit of deliveries: renderings given at the same time by concurrent requests are
//! recorded, with their ledger entries, in one transaction, so that one commit (one fsync on
//! SQLite) serves many answers. A request waits for its commit before it is answered, as when it
//! wrote alone; a request finding the queue empty is written at once.

use std::sync::Arc;

use tearline_store::{Delivery, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most ledger entries in one transaction.
const MOST_PER_COMMIT: usize = 2_000;

/// Requests waiting for the writer.
const QUEUE: usize = 1_024;

/// One request's deliveries and their entries, and where to tell it the first entry's index.
struct Pending {
    deliveries: Vec<Delivery>,
    entries: Vec<Vec<u8>>,
    reply: oneshot::Sender<Result<Option<u64>, StoreError>>,
}

/// The handle requests write through; the writer task ends when the last handle is dropped.
pub(crate) struct DeliveryWriter {
    queue: mpsc::Sender<Pending>,
}

impl DeliveryWriter {
    pub(crate) fn start(store: Arc<dyn Store>) -> DeliveryWriter {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, waiting));
        DeliveryWriter { queue }
    }

    /// Records `deliveries` with their ledger `entries` (one each); the index of the first entry.
    pub(crate) async fn record(
        &self,
        deliveries: Vec<Delivery>,
        entries: Vec<Vec<u8>>,
    ) -> Result<Option<u64>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Corrupt("the delivery writer stopped".into());
        self.queue.send(Pending { deliveries, entries, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn write_batches(store: Arc<dyn Store>, mut waiting: mpsc::Receiver<Pending>) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        let mut entries = batch[0].entries.len();
        while entries < MOST_PER_COMMIT {
            let Ok(next) = waiting.try_recv() else { break };
            entries += next.entries.len();
            batch.push(next);
        }
        write(store.as_ref(), batch).await;
    }
}

/// Writes a batch in one transaction; if that fails, each request alone, so that one request's
/// failure (an object deleted meanwhile) is its own.
async fn write(store: &dyn Store, batch: Vec<Pending>) {
    if batch.len() > 1 {
        let deliveries: Vec<Delivery> = batch.iter().flat_map(|p| p.deliveries.iter().cloned()).collect();
        let entries: Vec<Vec<u8>> = batch.iter().flat_map(|p| p.entries.iter().cloned()).collect();
        if let Ok(Some(mut index)) = store.record_deliveries(&deliveries, &entries).await {
            for pending in batch {
                let first = (!pending.entries.is_empty()).then_some(index);
                index += pending.entries.len() as u64;
                // A request that gave up waiting is not an error of the others.
                let _ = pending.reply.send(Ok(first));
            }
            return;
        }
    }
    for pending in batch {
        let written = store.record_deliveries(&pending.deliveries, &pending.entries).await;
        let _ = pending.reply.send(written);
    }
}
