//! C2SP tlog-tiles: tile paths (height 8, written without the height, unlike Go sumdb), hash
//! tiles read from the stored hashes, entry bundles, and the client side that authenticates
//! fetched tiles against a checkpoint.

use crate::error::{LedgerError, Result};
use crate::tree::{check_size, Reader, Recorder, Stored, MAX_TREE_SIZE};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use tlog_tiles::{Hash, HashReader, Tile, HASH_SIZE};

/// C2SP tlog-tiles height: a full tile holds 2^8 = 256 hashes or entries.
pub const TILE_HEIGHT: u8 = 8;

/// Hashes or entries in a full tile.
const FULL_WIDTH: u32 = 1 << TILE_HEIGHT;

/// The most 3-digit groups a u64 tile index can have (20 decimal digits).
const MAX_INDEX_GROUPS: usize = 7;

/// One tile of the log, as named in its C2SP path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileRef {
    /// `tile/<level>/<index>[.p/<width>]`: `width` hashes at tree level `8 * level`.
    Hashes { level: u8, index: u64, width: u32 },
    /// `tile/entries/<index>[.p/<width>]`: `width` entries from `index * 256`.
    Entries { index: u64, width: u32 },
}

impl TileRef {
    /// "tile/<L>/<N>[.p/<W>]" and "tile/entries/<N>[.p/<W>]", N in 3-digit groups with "x"
    /// prefixes (x001/x234/067), as C2SP tlog-tiles says. Refuses width 0 or above 256, a
    /// `.p/256` (a full tile has no suffix), non-canonical numbers (leading zeros, a leading
    /// `x000` group), and tiles no log of up to [`MAX_TREE_SIZE`] entries can have.
    pub fn parse(path: &str) -> Result<TileRef> {
        let bad = |reason: &str| LedgerError::BadTilePath { path: path.into(), reason: reason.into() };
        let rest = path.strip_prefix("tile/").ok_or_else(|| bad("does not start with \"tile/\""))?;
        let (kind, rest) = rest.split_once('/').ok_or_else(|| bad("no tile index"))?;
        let level = if kind == "entries" {
            None
        } else {
            let level = parse_small_decimal(kind).ok_or_else(|| bad("level is not a canonical decimal"))?;
            if level > 63 {
                return Err(bad("level above 63"));
            }
            Some(level)
        };
        let (number, width) = match rest.split_once(".p/") {
            Some((number, width)) => {
                let width = parse_small_decimal(width).ok_or_else(|| bad("width is not a canonical decimal"))?;
                if !(1..FULL_WIDTH).contains(&width) {
                    return Err(bad("partial width outside 1..=255"));
                }
                (number, width)
            }
            None => (rest, FULL_WIDTH),
        };
        let index = parse_index(number).ok_or_else(|| bad("index is not x-prefixed 3-digit groups"))?;
        let tile = match level {
            None => TileRef::Entries { index, width },
            Some(level) => {
                TileRef::Hashes { level: u8::try_from(level).map_err(|_| bad("level above 63"))?, index, width }
            }
        };
        if tile.path() != path {
            return Err(bad("not in canonical form"));
        }
        if tile.checked_needs_size().is_none_or(|size| size > MAX_TREE_SIZE) {
            return Err(bad("beyond any supported tree size"));
        }
        Ok(tile)
    }

    /// The tile's C2SP path, without a leading "/".
    pub fn path(&self) -> String {
        let (level, index, width) = match *self {
            TileRef::Hashes { level, index, width } => (level.to_string(), index, width),
            TileRef::Entries { index, width } => ("entries".to_string(), index, width),
        };
        let mut rest = index;
        let mut number = format!("{:03}", rest % 1000);
        while rest >= 1000 {
            rest /= 1000;
            number = format!("x{:03}/{number}", rest % 1000);
        }
        if width == FULL_WIDTH {
            format!("tile/{level}/{number}")
        } else {
            format!("tile/{level}/{number}.p/{width}")
        }
    }

    /// Entries tile: which entry indexes it holds. Hash tile: error.
    pub fn entry_range(&self) -> Result<Range<u64>> {
        match *self {
            TileRef::Entries { index, width } => {
                let start = index.checked_mul(u64::from(FULL_WIDTH));
                let end = start.and_then(|start| start.checked_add(u64::from(width)));
                match (start, end) {
                    (Some(start), Some(end)) => Ok(start..end),
                    _ => Err(self.invalid("beyond any tree size")),
                }
            }
            TileRef::Hashes { .. } => Err(self.invalid("a hash tile holds no entries")),
        }
    }

    /// The smallest tree size that contains this tile whole (for refusing tiles beyond the log);
    /// `u64::MAX` for a tile no tree can contain.
    pub fn needs_size(&self) -> u64 {
        self.checked_needs_size().unwrap_or(u64::MAX)
    }

    fn checked_needs_size(&self) -> Option<u64> {
        match *self {
            TileRef::Hashes { level, index, width } => {
                let positions = index.checked_mul(u64::from(FULL_WIDTH))?.checked_add(u64::from(width))?;
                let shift = u32::from(level) * u32::from(TILE_HEIGHT);
                if shift >= u64::BITS || positions > u64::MAX >> shift {
                    return None;
                }
                Some(positions << shift)
            }
            TileRef::Entries { index, width } => {
                index.checked_mul(u64::from(FULL_WIDTH))?.checked_add(u64::from(width))
            }
        }
    }

    fn invalid(&self, reason: &str) -> LedgerError {
        LedgerError::BadTile { tile: self.path(), reason: reason.into() }
    }

    /// The `tlog_tiles` tile of a hash tile, checked so that `Tile::new` cannot panic.
    fn hash_tile(&self) -> Result<Tile> {
        let TileRef::Hashes { level, index, width } = *self else {
            return Err(self.invalid("an entry bundle is not a hash tile"));
        };
        if !(1..=FULL_WIDTH).contains(&width) {
            return Err(self.invalid("width outside 1..=256"));
        }
        if self.checked_needs_size().is_none_or(|size| size > MAX_TREE_SIZE) {
            return Err(self.invalid("beyond any supported tree size"));
        }
        Ok(Tile::new(TILE_HEIGHT, level, index, width, false))
    }
}

impl std::fmt::Display for TileRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path())
    }
}

/// A decimal of at most 3 digits with no leading zeros ("0" itself allowed).
fn parse_small_decimal(text: &str) -> Option<u32> {
    if text.is_empty()
        || text.len() > 3
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse().ok()
}

/// `xNNN/.../NNN`; canonical form (no leading `x000`) is checked by comparing paths.
fn parse_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    if groups.len() > MAX_INDEX_GROUPS {
        return None;
    }
    let last = groups.len().checked_sub(1)?;
    let mut index: u64 = 0;
    for (position, group) in groups.iter().enumerate() {
        let digits = if position < last { group.strip_prefix('x')? } else { group };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        index = index.checked_mul(1000)?.checked_add(value)?;
    }
    Some(index)
}

/// The stored hash indexes [`hash_tile`] reads. The caller should first refuse tiles whose
/// [`TileRef::needs_size`] is above the log's size.
pub fn hash_tile_needs(tile: &TileRef) -> Result<Vec<u64>> {
    let recorder = Recorder::default();
    hash_tile_with(tile, &recorder)?;
    Ok(recorder.into_indexes())
}

/// A hash tile's bytes: its hashes concatenated (via `tlog_tiles::Tile::read_data`).
pub fn hash_tile(tile: &TileRef, known: &HashMap<u64, Hash>) -> Result<Vec<u8>> {
    hash_tile_with(tile, known)
}

fn hash_tile_with<S: Stored>(tile: &TileRef, known: &S) -> Result<Vec<u8>> {
    let inner = tile.hash_tile()?;
    let reader = Reader::new(known);
    inner.read_data(&reader).map_err(|error| reader.error(&format!("tile {tile}"), error))
}

/// Entry bundle: each entry as big-endian u16 length then bytes (C2SP tlog-tiles).
pub fn entries_tile(entries: &[&[u8]]) -> Result<Vec<u8>> {
    if entries.len() > FULL_WIDTH as usize {
        return Err(LedgerError::BadEntryBundle {
            reason: format!("{} entries, more than {FULL_WIDTH}", entries.len()),
        });
    }
    let mut data = Vec::with_capacity(entries.iter().map(|entry| entry.len() + 2).sum());
    for (position, entry) in entries.iter().enumerate() {
        let length = u16::try_from(entry.len()).map_err(|_| LedgerError::BadEntryBundle {
            reason: format!("entry {position} of the bundle is {} bytes, above 65535", entry.len()),
        })?;
        data.extend_from_slice(&length.to_be_bytes());
        data.extend_from_slice(entry);
    }
    Ok(data)
}

/// Splits an entry bundle back into its entries.
pub fn parse_entries_tile(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if entries.len() == FULL_WIDTH as usize {
            return Err(LedgerError::BadEntryBundle { reason: format!("more than {FULL_WIDTH} entries") });
        }
        let (length, after) = rest.split_first_chunk::<2>().ok_or_else(|| LedgerError::BadEntryBundle {
            reason: format!("entry {} has a truncated length", entries.len()),
        })?;
        let length = usize::from(u16::from_be_bytes(*length));
        let entry = after.get(..length).ok_or_else(|| LedgerError::BadEntryBundle {
            reason: format!("entry {} says {length} bytes, {} remain", entries.len(), after.len()),
        })?;
        entries.push(entry.to_vec());
        rest = after.get(length..).unwrap_or_default();
    }
    Ok(entries)
}

/// Hash tiles needed to read a tree of `size` (what a client fetches), via
/// `tlog_tiles::Tile::new_tiles(8, 0, size)`. Entry bundles have the same index and width as the
/// level-0 tiles.
pub fn tiles_for_size(size: u64) -> Result<Vec<TileRef>> {
    new_tiles(0, size)
}

/// Hash tiles that appear or grow when the tree goes from `old_size` to `new_size` (what a
/// server may cache or a mirror fetch).
pub fn new_tiles(old_size: u64, new_size: u64) -> Result<Vec<TileRef>> {
    check_size(new_size)?;
    if old_size > new_size {
        return Err(LedgerError::BadSizes { from: old_size, to: new_size });
    }
    Ok(Tile::new_tiles(TILE_HEIGHT, old_size, new_size)
        .into_iter()
        .map(|tile| TileRef::Hashes { level: tile.level(), index: tile.level_index(), width: tile.width() })
        .collect())
}

/// Where a client gets tiles (the CLI implements it with blocking HTTP).
pub trait TileSource {
    fn tile(&self, tile: &TileRef) -> Result<Vec<u8>>;
}

/// A `tlog_tiles` hash reader over tiles from a [`TileSource`], each authenticated against the
/// checkpoint (`size`, `root`) before any hash is taken from it: the partial tiles on the right
/// edge by recomputing the root, every full tile by its hash in the authenticated tile above.
///
/// Written here rather than using `tlog_tiles::TileHashReader`, which (like the Go original it
/// ports) starts its parent checks at the count of right-edge subtrees instead of the count of
/// right-edge tiles, and so can skip authenticating a full tile (found by this crate's tests).
struct AuthenticatedTiles<'a> {
    size: u64,
    root: Hash,
    source: &'a dyn TileSource,
    /// Tiles fetched and authenticated so far.
    trusted: RefCell<HashMap<Tile, Vec<u8>>>,
    /// The first failure, reported in full instead of `tlog_tiles`'s error.
    failure: RefCell<Option<LedgerError>>,
}

impl AuthenticatedTiles<'_> {
    fn fail(&self, error: LedgerError) -> tlog_tiles::Error {
        let mut failure = self.failure.borrow_mut();
        if failure.is_none() {
            *failure = Some(error);
        }
        tlog_tiles::Error::InvalidTile
    }

    fn mismatch(&self, reason: String) -> tlog_tiles::Error {
        self.fail(LedgerError::TileMismatch { size: self.size, reason })
    }

    fn fetch(&self, tile: Tile) -> std::result::Result<Vec<u8>, tlog_tiles::Error> {
        let tile_ref = TileRef::Hashes { level: tile.level(), index: tile.level_index(), width: tile.width() };
        let data = self
            .source
            .tile(&tile_ref)
            .map_err(|error| self.fail(LedgerError::TileFetch { tile: tile_ref.path(), source: Box::new(error) }))?;
        let want = tile.width() as usize * HASH_SIZE;
        if data.len() != want {
            return Err(self.fail(LedgerError::BadTile {
                tile: tile_ref.path(),
                reason: format!("{} bytes, expected {want}", data.len()),
            }));
        }
        Ok(data)
    }

    /// The tile of the tree of `size` holding stored hash `index`, `k` tile levels up.
    fn parent(&self, index: u64, k: u8) -> std::result::Result<Tile, tlog_tiles::Error> {
        Tile::from_index(TILE_HEIGHT, index)
            .parent(k, self.size)
            .ok_or_else(|| self.mismatch(format!("stored hash {index} has no tile {k} levels up")))
    }

    /// Fetches the right-edge tiles and checks that they lead to the root.
    fn trust_right_edge(&self) -> std::result::Result<(), tlog_tiles::Error> {
        if !self.trusted.borrow().is_empty() {
            return Ok(());
        }
        let mut fetched: HashMap<Tile, Vec<u8>> = HashMap::new();
        let mut subtree_hashes = Vec::new();
        for index in tlog_tiles::sub_tree_index(0, self.size, Vec::new()) {
            let tile = self.parent(index, 0)?;
            let data = match fetched.entry(tile) {
                std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => slot.insert(self.fetch(tile)?),
            };
            subtree_hashes.push(tile.hash_at_index(data, index)?);
        }
        let mut hashes = subtree_hashes.into_iter().rev();
        let last = hashes.next().ok_or_else(|| self.mismatch("an empty tree has no tiles".into()))?;
        let computed = hashes.fold(last, |right, left| tlog_tiles::node_hash(left, right));
        if computed != self.root {
            return Err(
                self.mismatch(format!("the right-edge tiles give root {computed}, the checkpoint says {}", self.root))
            );
        }
        self.trusted.borrow_mut().extend(fetched);
        Ok(())
    }

    /// The hash at stored `index`, after authenticating its tile (and the full tiles between it
    /// and an authenticated one) top-down.
    fn authenticated_hash(&self, index: u64) -> std::result::Result<Hash, tlog_tiles::Error> {
        if index >= tlog_tiles::stored_hash_index(0, self.size) {
            return Err(self.mismatch(format!("stored hash {index} is not in the tree")));
        }
        let mut up = 0u8;
        while !self.trusted.borrow().contains_key(&self.parent(index, up)?) {
            up = up
                .checked_add(1)
                .filter(|k| *k <= 8)
                .ok_or_else(|| self.mismatch(format!("no authenticated tile above stored hash {index}")))?;
        }
        for k in (0..up).rev() {
            let child = self.parent(index, k)?;
            let parent = self.parent(index, k + 1)?;
            if child.width() != FULL_WIDTH {
                return Err(self.mismatch(format!("tile {} below the edge is partial", child.path())));
            }
            let data = self.fetch(child)?;
            let expected = {
                let trusted = self.trusted.borrow();
                let parent_data = trusted.get(&parent).map(Vec::as_slice).unwrap_or_default();
                let level = parent.level().saturating_mul(TILE_HEIGHT);
                parent.hash_at_index(parent_data, tlog_tiles::stored_hash_index(level, child.level_index()))?
            };
            if Tile::subtree_hash(&data) != expected {
                return Err(self.mismatch(format!(
                    "tile {} does not match its hash in tile {}",
                    child.path(),
                    parent.path()
                )));
            }
            self.trusted.borrow_mut().insert(child, data);
        }
        let tile = self.parent(index, 0)?;
        let trusted = self.trusted.borrow();
        let data = trusted.get(&tile).map(Vec::as_slice).unwrap_or_default();
        tile.hash_at_index(data, index)
    }
}

impl HashReader for AuthenticatedTiles<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, tlog_tiles::Error> {
        self.trust_right_edge()?;
        indexes.iter().map(|index| self.authenticated_hash(*index)).collect()
    }
}

/// Reads hashes from tiles authenticated against the checkpoint (`size`, `root`).
fn read_authenticated<T>(
    size: u64,
    root: Hash,
    source: &dyn TileSource,
    read: impl FnOnce(&AuthenticatedTiles<'_>) -> std::result::Result<T, tlog_tiles::Error>,
) -> Result<T> {
    check_size(size)?;
    let reader =
        AuthenticatedTiles { size, root, source, trusted: RefCell::new(HashMap::new()), failure: RefCell::new(None) };
    read(&reader).map_err(|error| {
        reader.failure.into_inner().unwrap_or_else(|| LedgerError::TileMismatch { size, reason: error.to_string() })
    })
}

/// Root of the first `at` entries, computed from tiles authenticated against (`size`, `root`):
/// the client's consistency check of an older checkpoint against a newer one.
pub fn tree_root_from_tiles(size: u64, root: Hash, at: u64, source: &dyn TileSource) -> Result<Hash> {
    if at > size {
        return Err(LedgerError::BadSizes { from: at, to: size });
    }
    if size == 0 {
        if root != tlog_tiles::EMPTY_HASH {
            return Err(LedgerError::TileMismatch { size, reason: "an empty tree has the empty hash as root".into() });
        }
        return Ok(tlog_tiles::EMPTY_HASH);
    }
    read_authenticated(size, root, source, |reader| tlog_tiles::tree_hash(at, reader))
}

/// The authenticated leaf hash of entry `index`, from tiles checked against (`size`, `root`).
pub fn leaf_from_tiles(size: u64, root: Hash, index: u64, source: &dyn TileSource) -> Result<Hash> {
    if index >= size {
        return Err(LedgerError::IndexOutOfRange { index, size });
    }
    let hashes = read_authenticated(size, root, source, |reader| {
        reader.read_hashes(&[tlog_tiles::stored_hash_index(0, index)])
    })?;
    hashes
        .first()
        .copied()
        .ok_or_else(|| LedgerError::TileMismatch { size, reason: format!("no hash read for entry {index}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for (path, tile) in [
            ("tile/0/000", TileRef::Hashes { level: 0, index: 0, width: 256 }),
            ("tile/0/001.p/5", TileRef::Hashes { level: 0, index: 1, width: 5 }),
            ("tile/2/x001/x234/067", TileRef::Hashes { level: 2, index: 1_234_067, width: 256 }),
            ("tile/entries/x001/000.p/255", TileRef::Entries { index: 1000, width: 255 }),
            ("tile/entries/x001/x000/000", TileRef::Entries { index: 1_000_000, width: 256 }),
        ] {
            assert_eq!(TileRef::parse(path).unwrap(), tile, "{path}");
            assert_eq!(tile.path(), path);
        }
    }

    #[test]
    fn bad_paths_are_refused() {
        for path in [
            "",
            "/tile/0/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/05",
            "tile/00/000",
            "tile/64/000",
            "tile/8/0/000",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x1/002",
            "tile/data/000",
            "tile/entries/000.p/",
            "tile/entries/",
            "tile/7/000",
            "tile/0/x018/x446/x744/x073/x709/x551/615",
        ] {
            assert!(TileRef::parse(path).is_err(), "{path} accepted");
        }
    }

    #[test]
    fn sizes_and_ranges() {
        let tile = TileRef::Entries { index: 2, width: 3 };
        assert_eq!(tile.entry_range().unwrap(), 512..515);
        assert_eq!(tile.needs_size(), 515);
        let tile = TileRef::Hashes { level: 1, index: 0, width: 2 };
        assert_eq!(tile.needs_size(), 512);
        assert!(tile.entry_range().is_err());
    }

    #[test]
    fn bundles_round_trip_and_refuse_truncation() {
        let entries: Vec<&[u8]> = vec![b"", b"a", &[0u8; 300]];
        let data = entries_tile(&entries).unwrap();
        assert_eq!(&data[..3], &[0, 0, 0]);
        assert_eq!(parse_entries_tile(&data).unwrap(), entries);
        assert!(parse_entries_tile(&data[..data.len() - 1]).is_err());
        assert!(parse_entries_tile(&[0]).is_err());
        assert!(entries_tile(&[&[0u8; 70_000][..]]).is_err());
    }
}
