//! The Merkle tree and tiles against published RFC 6962 vectors and an independent
//! implementation written here straight from RFC 9162 section 2.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tearline_ledger::*;

// ---- an independent RFC 9162 section 2.1 implementation ----

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha(&[&[1], left, right])
}

/// Largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]), section 2.1.1.
fn mth(d: &[Vec<u8>]) -> [u8; 32] {
    match d.len() {
        0 => sha(&[]),
        1 => sha(&[&[0], &d[0]]),
        n => {
            let k = split(n);
            node(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]), section 2.1.3.1.
fn path(m: usize, d: &[Vec<u8>]) -> Vec<[u8; 32]> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// PROOF(m, D[n]) and SUBPROOF, section 2.1.4.1.
fn proof(m: usize, d: &[Vec<u8>]) -> Vec<[u8; 32]> {
    subproof(m, d, true)
}

fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<[u8; 32]> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

/// Inclusion verification, section 2.1.3.2.
fn verify_inclusion(index: u64, size: u64, leaf: [u8; 32], proof: &[[u8; 32]], root: [u8; 32]) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n, mut r) = (index, size - 1, leaf);
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == root
}

/// Consistency verification, section 2.1.4.2.
fn verify_consistency(
    first: u64,
    second: u64,
    first_hash: [u8; 32],
    second_hash: [u8; 32],
    proof: &[[u8; 32]],
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_hash == second_hash;
    }
    let mut path: Vec<[u8; 32]> = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, first_hash);
    }
    let Some((&start, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (first - 1, second - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node(c, &fr);
            sr = node(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    fr == first_hash && sr == second_hash && s_n == 0
}

// ---- helpers ----

/// Builds the stored hashes of `entries` with the crate's `append`, in batches of the given
/// sizes (cycled), feeding each append only what `append_needs` asked for.
fn build(entries: &[Vec<u8>], batches: &[usize]) -> HashMap<u64, Hash> {
    let mut stored = HashMap::new();
    let mut size = 0usize;
    let mut batch = batches.iter().cycle();
    while size < entries.len() {
        let count = (*batch.next().unwrap()).max(1).min(entries.len() - size);
        let needs = append_needs(size as u64, count as u64);
        let known: HashMap<u64, Hash> = needs.iter().map(|i| (*i, stored[i])).collect();
        let slices: Vec<&[u8]> = entries[size..size + count].iter().map(Vec::as_slice).collect();
        let appended = append(size as u64, &slices, &known).unwrap();
        let mut expected = tlog_tiles::stored_hash_count(size as u64);
        for (index, hash) in &appended.hashes {
            assert_eq!(*index, expected, "new stored hashes ascend contiguously");
            expected += 1;
            stored.insert(*index, *hash);
        }
        assert_eq!(expected, tlog_tiles::stored_hash_count((size + count) as u64));
        size += count;
        assert_eq!(appended.size, size as u64);
        if entries.len() <= 1000 {
            assert_eq!(appended.root.0, mth(&entries[..size]));
        }
    }
    stored
}

fn only(stored: &HashMap<u64, Hash>, needs: &[u64]) -> HashMap<u64, Hash> {
    needs.iter().map(|i| (*i, stored[i])).collect()
}

fn hashes(proof: &[Hash]) -> Vec<[u8; 32]> {
    proof.iter().map(|h| h.0).collect()
}

fn hx(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

// ---- RFC 6962 vectors ----

// Leaves, roots and proofs from transparency-dev/merkle (the successor of Google's
// certificate-transparency-go merkle tests): testonly/constants.go (LeafInputs, RootHashes) and
// testonly/reference_test.go (TestRefInclusionProof, TestRefConsistencyProof).
fn ct_leaves() -> Vec<Vec<u8>> {
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        .iter()
        .map(|h| hex::decode(h).unwrap())
        .collect()
}

const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn ct_vectors_roots() {
    let leaves = ct_leaves();
    let stored = build(&leaves, &[3, 1, 4]);
    for (size, want) in CT_ROOTS.iter().enumerate() {
        let size = size as u64;
        assert_eq!(root(size, &only(&stored, &root_needs(size))).unwrap().0, hx(want), "size {size}");
    }
    assert_eq!(leaf_hash(&leaves[0]).0, hx("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"));
    assert_eq!(EMPTY_ROOT.0, hx(CT_ROOTS[0]));
}

#[test]
fn ct_vectors_inclusion() {
    let leaves = ct_leaves();
    let stored = build(&leaves, &[8]);
    let cases: [(u64, u64, &[&str]); 6] = [
        (0, 1, &[]),
        (0, 2, &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
        (1, 2, &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (index, size, want) in cases {
        let proof = inclusion_proof(index, size, &only(&stored, &inclusion_needs(index, size).unwrap())).unwrap();
        let want: Vec<[u8; 32]> = want.iter().map(|h| hx(h)).collect();
        assert_eq!(hashes(&proof), want, "inclusion of {index} in {size}");
        let tree_root = Hash(hx(CT_ROOTS[size as usize]));
        check_inclusion(&proof, size, tree_root, index, leaf_hash(&leaves[index as usize])).unwrap();
    }
}

#[test]
fn ct_vectors_consistency() {
    let leaves = ct_leaves();
    let stored = build(&leaves, &[2, 5]);
    let cases: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (from, to, want) in cases {
        let proof = consistency_proof(from, to, &only(&stored, &consistency_needs(from, to).unwrap())).unwrap();
        let want: Vec<[u8; 32]> = want.iter().map(|h| hx(h)).collect();
        assert_eq!(hashes(&proof), want, "consistency {from} -> {to}");
        check_consistency(&proof, to, Hash(hx(CT_ROOTS[to as usize])), from, Hash(hx(CT_ROOTS[from as usize])))
            .unwrap();
    }
}

#[test]
fn bad_arguments_are_errors() {
    assert!(inclusion_needs(3, 3).is_err());
    assert!(consistency_needs(0, 3).is_err());
    assert!(consistency_needs(4, 3).is_err());
    assert!(consistency_needs(3, 3).unwrap().is_empty());
    assert!(root(u64::MAX, &HashMap::new()).is_err());
    assert!(matches!(root(3, &HashMap::new()), Err(LedgerError::MissingHash { .. })));
    assert!(append(0, &[&[0u8; MAX_ENTRY_BYTES + 1][..]], &HashMap::new()).is_err());
    assert!(check_inclusion(&[], 1, EMPTY_ROOT, 1, EMPTY_ROOT).is_err());
}

// ---- the crate against the independent implementation ----

fn log_strategy() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<usize>)> {
    (prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 1..80), prop::collection::vec(1usize..20, 1..6))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn roots_and_proofs_match_rfc_9162((entries, batches) in log_strategy(), picks in prop::collection::vec((any::<u64>(), any::<u64>()), 6)) {
        let stored = build(&entries, &batches);
        let n = entries.len() as u64;
        for size in 0..=n {
            let got = root(size, &only(&stored, &root_needs(size))).unwrap();
            prop_assert_eq!(got.0, mth(&entries[..size as usize]));
        }
        for (a, b) in picks {
            // Inclusion of entry m in a tree of size s.
            let s = b % n + 1;
            let m = a % s;
            let d = &entries[..s as usize];
            let tree_root = mth(d);
            let leaf = leaf_hash(&entries[m as usize]);
            let mut p = inclusion_proof(m, s, &only(&stored, &inclusion_needs(m, s).unwrap())).unwrap();
            prop_assert_eq!(hashes(&p), path(m as usize, d));
            prop_assert!(verify_inclusion(m, s, leaf.0, &hashes(&p), tree_root));
            prop_assert!(check_inclusion(&p, s, Hash(tree_root), m, leaf).is_ok());
            if !p.is_empty() {
                let k = (a as usize / 7) % p.len();
                p[k].0[(b % 32) as usize] ^= 1;
                prop_assert!(!verify_inclusion(m, s, leaf.0, &hashes(&p), tree_root));
                prop_assert!(check_inclusion(&p, s, Hash(tree_root), m, leaf).is_err());
            }
            let distinct = d.iter().collect::<std::collections::HashSet<_>>().len() == d.len();
            if s > 1 && distinct {
                // (With repeated entries the same path can hold at another index.)
                let other = (m + 1) % s;
                let p = inclusion_proof(m, s, &stored).unwrap();
                prop_assert!(check_inclusion(&p, s, Hash(tree_root), other, leaf).is_err());
            }

            // Consistency from `from` to `to`.
            let to = s;
            let from = a % to + 1;
            let from_root = mth(&entries[..from as usize]);
            let mut c = consistency_proof(from, to, &only(&stored, &consistency_needs(from, to).unwrap())).unwrap();
            prop_assert_eq!(hashes(&c), if from == to { vec![] } else { proof(from as usize, d) });
            prop_assert!(verify_consistency(from, to, from_root, tree_root, &hashes(&c)));
            prop_assert!(check_consistency(&c, to, Hash(tree_root), from, Hash(from_root)).is_ok());
            if !c.is_empty() {
                let k = (b as usize / 3) % c.len();
                c[k].0[(a % 32) as usize] ^= 0x80;
                prop_assert!(!verify_consistency(from, to, from_root, tree_root, &hashes(&c)));
                prop_assert!(check_consistency(&c, to, Hash(tree_root), from, Hash(from_root)).is_err());
            } else {
                let mut wrong = from_root;
                wrong[0] ^= 1;
                prop_assert!(check_consistency(&c, to, Hash(tree_root), from, Hash(wrong)).is_err());
            }
        }
    }

    #[test]
    fn append_needs_exactly_what_it_reads(size in 0u64..600, count in 1u64..40) {
        let entries: Vec<Vec<u8>> = (0..size + count).map(|i| i.to_be_bytes().to_vec()).collect();
        let stored = build(&entries[..size as usize], &[97]);
        let needs = append_needs(size, count);
        prop_assert!(needs.iter().all(|i| *i < tlog_tiles::stored_hash_count(size)));
        let slices: Vec<&[u8]> = entries[size as usize..].iter().map(Vec::as_slice).collect();
        let appended = append(size, &slices, &only(&stored, &needs)).unwrap();
        prop_assert_eq!(appended.root.0, mth(&entries));
    }
}

// ---- tiles ----

/// A tile server over a built log: serves hash tiles no bigger than the log, optionally
/// tampering with one.
struct Server<'a> {
    stored: &'a HashMap<u64, Hash>,
    size: u64,
    tamper: Option<TileRef>,
}

impl TileSource for Server<'_> {
    fn tile(&self, tile: &TileRef) -> Result<Vec<u8>> {
        if tile.needs_size() > self.size {
            return Err(LedgerError::BadTile { tile: tile.path(), reason: "beyond the log".into() });
        }
        let mut data = hash_tile(tile, &only(self.stored, &hash_tile_needs(tile)?))?;
        if self.tamper == Some(*tile) {
            data[5] ^= 1;
        }
        Ok(data)
    }
}

#[test]
fn tile_paths_agree_with_tlog_tiles() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..3000u64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let level = (round % 6) as u8;
        let index = match round % 4 {
            0 => state % 1000,
            1 => state % 1_000_000_000,
            _ => state >> (8 * u64::from(level) + 8 + 14),
        };
        let width = if round % 3 == 0 { 256 } else { (state % 255 + 1) as u32 };
        let hashes = TileRef::Hashes { level, index, width };
        let theirs = tlog_tiles::Tile::new(8, level, index, width, false).path();
        assert_eq!(hashes.path(), theirs.replacen("tile/8/", "tile/", 1));
        let entries = TileRef::Entries { index, width };
        let theirs = tlog_tiles::Tile::new(8, 0, index, width, true).path();
        assert_eq!(entries.path(), theirs.replacen("tile/8/data/", "tile/entries/", 1));
        for tile in [hashes, entries] {
            if tile.needs_size() <= MAX_TREE_SIZE {
                assert_eq!(TileRef::parse(&tile.path()).unwrap(), tile);
            } else {
                assert!(TileRef::parse(&tile.path()).is_err());
            }
        }
    }
    assert_eq!(
        TileRef::parse("tile/entries/x001/x234/067.p/8").unwrap(),
        TileRef::Entries { index: 1_234_067, width: 8 }
    );
}

#[test]
fn tiles_of_a_70000_entry_log() {
    let size = 70_000u64;
    let entries: Vec<Vec<u8>> = (0..size).map(|i| format!("entry {i}").into_bytes()).collect();
    let stored = build(&entries, &[1000, 333]);
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| sha(&[&[0], e])).collect();
    // Independent subtree hash of leaves[lo..lo+len), len a power of two.
    fn full(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let half = leaves.len() / 2;
        node(&full(&leaves[..half]), &full(&leaves[half..]))
    }

    // C2SP tlog-tiles: 273 full level-0 tiles, a partial of 112, a full level-1 tile, a partial
    // level-1 tile of 17 and a partial level-2 tile of 1.
    let tiles = tiles_for_size(size).unwrap();
    assert_eq!(tiles.len(), 277);
    assert!(tiles.contains(&TileRef::Hashes { level: 0, index: 273, width: 112 }));
    assert!(tiles.contains(&TileRef::Hashes { level: 1, index: 0, width: 256 }));
    assert!(tiles.contains(&TileRef::Hashes { level: 1, index: 1, width: 17 }));
    assert!(tiles.contains(&TileRef::Hashes { level: 2, index: 0, width: 1 }));
    assert_eq!(new_tiles(size - 1, size).unwrap().len(), 1);

    for tile in &tiles {
        let TileRef::Hashes { level, index, width } = *tile else { unreachable!() };
        let span = 256usize.pow(u32::from(level));
        let data = hash_tile(tile, &only(&stored, &hash_tile_needs(tile).unwrap())).unwrap();
        let mut want = Vec::new();
        for position in 0..width as usize {
            let start = (index as usize * 256 + position) * span;
            want.extend_from_slice(&full(&leaves[start..start + span]));
        }
        assert_eq!(data, want, "{tile}");
        assert!(tile.needs_size() <= size);
    }

    let tree_root = root(size, &stored).unwrap();
    let server = Server { stored: &stored, size, tamper: None };
    for at in [0, 1, 255, 256, 257, 65_535, 65_536, 69_999, 70_000] {
        assert_eq!(tree_root_from_tiles(size, tree_root, at, &server).unwrap(), root(at, &stored).unwrap(), "at {at}");
    }
    for index in [0, 255, 256, 65_535, 65_536, 69_999] {
        assert_eq!(leaf_from_tiles(size, tree_root, index, &server).unwrap(), leaf_hash(&entries[index as usize]));
    }
    assert!(leaf_from_tiles(size, tree_root, size, &server).is_err());

    // A tampered tile, or a root the tiles do not lead to, is refused.
    for tamper in [
        TileRef::Hashes { level: 2, index: 0, width: 1 },
        TileRef::Hashes { level: 1, index: 0, width: 256 },
        TileRef::Hashes { level: 0, index: 3, width: 256 },
        TileRef::Hashes { level: 0, index: 273, width: 112 },
    ] {
        let bad = Server { stored: &stored, size, tamper: Some(tamper) };
        let leaf = leaf_from_tiles(size, tree_root, 3 * 256 + 4, &bad);
        let old = tree_root_from_tiles(size, tree_root, 69_990, &bad);
        assert!(leaf.is_err() || old.is_err(), "{tamper} accepted");
    }
    let bad = Server { stored: &stored, size, tamper: Some(TileRef::Hashes { level: 0, index: 3, width: 256 }) };
    assert!(leaf_from_tiles(size, tree_root, 3 * 256 + 4, &bad).is_err());
    let mut wrong = tree_root;
    wrong.0[0] ^= 1;
    assert!(tree_root_from_tiles(size, wrong, 10, &server).is_err());
    // A source that fails is reported with the tile it failed on.
    let short = Server { stored: &stored, size: 69_000, tamper: None };
    assert!(matches!(tree_root_from_tiles(size, tree_root, 5, &short), Err(LedgerError::TileFetch { .. })));
}

#[test]
fn entry_bundles_round_trip() {
    let entries: Vec<Vec<u8>> = (0..256u32).map(|i| vec![i as u8; (i * 37 % 300) as usize]).collect();
    let slices: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    let data = entries_tile(&slices).unwrap();
    assert_eq!(parse_entries_tile(&data).unwrap(), entries);
    let mut extra = data.clone();
    extra.extend_from_slice(&[0, 0]);
    assert!(parse_entries_tile(&extra).is_err(), "a 257th entry");
    let mut too_many = slices.clone();
    too_many.push(b"x");
    assert!(entries_tile(&too_many).is_err());
    let tile = TileRef::parse("tile/entries/x001/002.p/7").unwrap();
    assert_eq!(tile.entry_range().unwrap(), 1002 * 256..1002 * 256 + 7);
}
