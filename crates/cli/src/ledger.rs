//! `tearline ledger`: the hub's own log (make a checkpoint, prove an entry, verify the whole
//! stored log), and the two roles towards another hub's log over HTTP: `check` (a client that
//! keeps the last checkpoint it saw and verifies tiles, consistency and receipts) and `witness`
//! (this hub cosigns another's checkpoints after checking consistency, and reports forks).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use tearline_hub::{Hub, Witnessed};
use tearline_ledger::{Hash, SignedCheckpoint, TileRef, TileSource};

use crate::now;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Sign a checkpoint of the log as it is now (serve does this every --checkpoint-interval).
    Checkpoint,
    /// Recompute the whole tree from the stored entries, check every stored hash and checkpoint,
    /// and name the first entry or checkpoint that was changed, removed, inserted or reordered.
    Verify,
    /// An inclusion proof of entry N in the latest checkpoint, with the entry.
    Prove {
        #[arg(long)]
        index: u64,
    },
    /// As a client of a remote hub: verify its checkpoint's signature, its consistency with the
    /// last checkpoint kept of it (through its tiles), and receipts.
    Check {
        /// The hub's base URL (http://host:port).
        #[arg(long)]
        url: String,
        /// The hub's signed-note verifier key; by default the one kept from an earlier check,
        /// else the one the hub states (trusted on first use, and kept).
        #[arg(long)]
        key: Option<String>,
        /// Receipts to verify (files holding a `tearline-receipt` header value or the note).
        #[arg(long)]
        receipt: Vec<PathBuf>,
        /// Where the checkpoints kept between runs are (JSON).
        #[arg(long, env = "TEARLINE_CHECK_STATE")]
        state: Option<PathBuf>,
    },
    /// Act as a witness of other hubs' logs: check each new checkpoint's consistency with the
    /// last one kept, cosign it (C2SP tlog-cosignature) and give the cosignature back; report a
    /// fork with both signed checkpoints.
    Witness {
        /// Base URLs of the hubs watched (repeat).
        #[arg(long, required = true)]
        watch: Vec<String>,
        /// Seconds between rounds.
        #[arg(long, default_value_t = 10.0)]
        interval: f64,
        /// One round, then exit (status 2 when a fork was found, 1 when a hub could not be
        /// witnessed).
        #[arg(long)]
        once: bool,
    },
}

pub async fn run(hub: &Hub, command: &LedgerCommand) -> anyhow::Result<()> {
    match command {
        LedgerCommand::Checkpoint => {
            print!("{}", hub.make_checkpoint(now()).await?);
            Ok(())
        }
        LedgerCommand::Verify => verify(hub).await,
        LedgerCommand::Prove { index } => {
            let note = hub.make_checkpoint(now()).await?;
            let size = note.lines().nth(1).and_then(|l| l.parse::<u64>().ok()).context("a malformed checkpoint")?;
            let proof = hub.inclusion_proof(*index, size).await?;
            let (bytes, _) = hub.ledger_entry(*index).await?;
            let entry = String::from_utf8_lossy(&bytes).to_string();
            let answer = serde_json::json!({ "entry": entry, "proof": proof, "checkpoint": note });
            println!("{answer:#}");
            Ok(())
        }
        LedgerCommand::Check { url, key, receipt, state } => {
            check(url, key.as_deref(), receipt, state.as_deref()).await
        }
        LedgerCommand::Witness { watch, interval, once } => witness(hub, watch, *interval, *once).await,
    }
}

async fn verify(hub: &Hub) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} entries ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let verification = hub.verify_ledger(&progress).await?;
    bar.finish_and_clear();
    match verification.finding {
        None => {
            println!(
                "ledger verified: {} entries, root {}, {} checkpoints",
                verification.size, verification.root, verification.checkpoints
            );
            Ok(())
        }
        Some(finding) => bail!("the ledger does not verify: {finding}"),
    }
}

/// What `check` keeps between runs: per origin, the verifier key and the last checkpoint.
type Kept = BTreeMap<String, (String, String)>;

fn default_state() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("tearline").join("checked-logs.json")
}

fn read_kept(path: &Path) -> anyhow::Result<Kept> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("cannot read {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Kept::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_kept(path: &Path, kept: &Kept) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // Written aside and renamed: a crash never leaves half a file.
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, serde_json::to_vec_pretty(kept)?)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A remote hub's ledger endpoints.
struct Remote {
    base: String,
    client: reqwest::Client,
}

impl Remote {
    fn new(url: &str) -> anyhow::Result<Remote> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        Ok(Remote { base: url.trim_end_matches('/').to_string(), client })
    }

    async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        let response = self.client.get(&url).send().await.with_context(|| format!("cannot reach {url}"))?;
        if !response.status().is_success() {
            bail!("{url} answered {}", response.status());
        }
        Ok(response)
    }

    async fn identity(&self) -> anyhow::Result<(String, String)> {
        let body: serde_json::Value = self.get("/v1/ledger").await?.json().await?;
        let field = |name: &str| body.get(name).and_then(|v| v.as_str()).map(str::to_string);
        Ok((
            field("origin").context("the hub states no ledger origin")?,
            field("verifier_key").context("the hub states no verifier key")?,
        ))
    }

    async fn checkpoint(&self) -> anyhow::Result<String> {
        Ok(self.get("/ledger/checkpoint").await?.text().await?)
    }

    async fn consistency(&self, from: u64, to: u64) -> anyhow::Result<Vec<Hash>> {
        let body: serde_json::Value =
            self.get(&format!("/v1/ledger/proof/consistency?from={from}&to={to}")).await?.json().await?;
        let hashes = body.get("proof").and_then(|p| p.as_array()).context("a consistency proof without `proof`")?;
        hashes
            .iter()
            .map(|h| {
                let text = h.as_str().context("a proof hash is not a string")?;
                Hash::parse_hash(text).map_err(|e| anyhow::anyhow!("a proof hash `{text}`: {e}"))
            })
            .collect()
    }

    async fn cosign(&self, note: &str) -> anyhow::Result<()> {
        let url = format!("{}/ledger/cosignature", self.base);
        let response = self.client.post(&url).body(note.to_string()).send().await?;
        if !response.status().is_success() {
            bail!("{url} refused the cosignature: {} {}", response.status(), response.text().await.unwrap_or_default());
        }
        Ok(())
    }
}

/// Tiles fetched over blocking HTTP (the tile reader of tearline-ledger is synchronous; it runs
/// on a blocking thread).
struct HttpTiles {
    base: String,
    client: reqwest::blocking::Client,
}

impl TileSource for HttpTiles {
    fn tile(&self, tile: &TileRef) -> tearline_ledger::Result<Vec<u8>> {
        let url = format!("{}/ledger/{}", self.base, tile.path());
        let fetched = self
            .client
            .get(&url)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.bytes())
            .map_err(|e| tearline_ledger::LedgerError::BadTile { tile: url.clone(), reason: e.to_string() })?;
        Ok(fetched.to_vec())
    }
}

async fn check(url: &str, key: Option<&str>, receipts: &[PathBuf], state: Option<&Path>) -> anyhow::Result<()> {
    let remote = Remote::new(url)?;
    let state = state.map(Path::to_path_buf).unwrap_or_else(default_state);
    let mut kept = read_kept(&state)?;
    let (origin, stated_key) = remote.identity().await?;
    let key = match (key, kept.get(&origin)) {
        (Some(key), _) => key.to_string(),
        (None, Some((key, _))) => key.clone(),
        (None, None) => {
            eprintln!("trusting the key {stated_key} of {origin} on first use");
            stated_key
        }
    };
    let note = remote.checkpoint().await?;
    let seen = tearline_ledger::verify_checkpoint(&note, &key)
        .map_err(|e| anyhow::anyhow!("the checkpoint of {origin} does not verify under {key}: {e}"))?;
    println!("checkpoint of {}: {} entries, root {} (signature verified)", seen.origin, seen.size, seen.root);
    let mut receipt_notes = Vec::new();
    for path in receipts {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let note = tearline_ledger::parse_receipt_header(text.trim()).unwrap_or(text);
        receipt_notes.push((path.clone(), note));
    }
    let previous = kept.get(&origin).map(|(_, note)| note.clone());
    let (base, checked, verifier) = (remote.base.clone(), seen.clone(), key.clone());
    // The tile reader is synchronous: the reading, and its HTTP client, live on a blocking thread.
    let reports = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let tiles = HttpTiles { base, client: reqwest::blocking::Client::new() };
        let mut reports = Vec::new();
        if let Some(previous) = previous {
            let previous = tearline_ledger::verify_checkpoint(&previous, &verifier)
                .map_err(|e| anyhow::anyhow!("the checkpoint kept from before does not verify: {e}"))?;
            consistent(&previous, &checked, &tiles)?;
            reports.push(format!("consistent with the checkpoint kept from before ({} entries)", previous.size));
        }
        for (path, note) in receipt_notes {
            let receipt = tearline_ledger::verify_receipt(&note, &verifier)
                .map_err(|e| anyhow::anyhow!("receipt {}: does not verify: {e}", path.display()))?;
            let range =
                receipt_in_log(&receipt, &checked, &tiles).with_context(|| format!("receipt {}", path.display()))?;
            reports.push(format!(
                "receipt {}: entries {range} are in the log and hold the renderings it binds",
                path.display()
            ));
        }
        Ok(reports)
    })
    .await??;
    for report in reports {
        println!("{report}");
    }
    kept.insert(origin, (key, note));
    write_kept(&state, &kept)
}

/// `seen` extends `previous`: the earlier root is recomputed from tiles authenticated against
/// the later checkpoint.
fn consistent(previous: &SignedCheckpoint, seen: &SignedCheckpoint, tiles: &HttpTiles) -> anyhow::Result<()> {
    if previous.origin != seen.origin {
        bail!("the hub changed its origin from {} to {}", previous.origin, seen.origin);
    }
    if seen.size < previous.size {
        bail!(
            "FORK: the hub's checkpoint has {} entries, fewer than the {} of one it signed before\n{}\n{}",
            seen.size,
            previous.size,
            previous.note,
            seen.note
        );
    }
    if previous.size == 0 {
        return Ok(());
    }
    let root = tearline_ledger::tree_root_from_tiles(seen.size, seen.root, previous.size, tiles)
        .map_err(|e| anyhow::anyhow!("cannot read the tree through its tiles: {e}"))?;
    if root != previous.root {
        bail!(
            "FORK: the log of {} at {} entries has root {root}, not the {} of the checkpoint kept. Both signed:\n{}\n{}",
            seen.origin,
            previous.size,
            previous.root,
            previous.note,
            seen.note
        );
    }
    Ok(())
}

/// Checks that the receipted entries are in the log under `checkpoint` and hold what the
/// receipt binds; returns the range.
fn receipt_in_log(
    receipt: &tearline_ledger::Receipt,
    checkpoint: &SignedCheckpoint,
    tiles: &HttpTiles,
) -> anyhow::Result<String> {
    if receipt.origin != checkpoint.origin {
        bail!("the receipt is of log {}, not {}", receipt.origin, checkpoint.origin);
    }
    let end = receipt.first + receipt.count;
    if end > checkpoint.size {
        bail!("entries up to {} are not in the checkpoint of {} entries yet: check again later", end, checkpoint.size);
    }
    let mut digests = Vec::new();
    let mut bundle: Option<(TileRef, Vec<Vec<u8>>)> = None;
    for index in receipt.first..end {
        let tile = entries_tile_of(index, checkpoint.size);
        if bundle.as_ref().map(|(t, _)| *t) != Some(tile) {
            let data = tiles.tile(&tile).map_err(|e| anyhow::anyhow!("{e}"))?;
            bundle = Some((tile, tearline_ledger::parse_entries_tile(&data).map_err(|e| anyhow::anyhow!("{e}"))?));
        }
        let entries = bundle.as_ref().map(|(_, entries)| entries).context("no entries tile")?;
        let offset = usize::try_from(index % 256)?;
        let bytes = entries.get(offset).with_context(|| format!("entry {index} is not in its tile"))?;
        let leaf = tearline_ledger::leaf_from_tiles(checkpoint.size, checkpoint.root, index, tiles)
            .map_err(|e| anyhow::anyhow!("entry {index}: {e}"))?;
        if leaf != tearline_ledger::leaf_hash(bytes) {
            bail!("entry {index} as served is not the entry the tree holds");
        }
        let entry = tearline_ledger::Entry::decode(bytes).map_err(|e| anyhow::anyhow!("entry {index}: {e}"))?;
        let tearline_ledger::Event::Release { rendering, party, user, .. } = entry.event else {
            bail!("entry {index} records no release");
        };
        if party != receipt.party || user != receipt.user {
            bail!("entry {index} records a release to {party} {user}, not to {} {}", receipt.party, receipt.user);
        }
        digests.push(tearline_ledger::parse_digest_text(&rendering).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    if tearline_ledger::Receipt::digest_of(&digests) != receipt.digest {
        bail!("the renderings the log records are not those the receipt binds");
    }
    Ok(format!("{}..{}", receipt.first, end))
}

/// The entries tile holding entry `index` in a tree of `size` entries.
fn entries_tile_of(index: u64, size: u64) -> TileRef {
    let tile = index / 256;
    let width = (size - tile * 256).min(256);
    TileRef::Entries { index: tile, width: u32::try_from(width).unwrap_or(256) }
}

async fn witness(hub: &Hub, watch: &[String], interval: f64, once: bool) -> anyhow::Result<()> {
    let interval = Duration::from_secs_f64(interval.max(0.1));
    let mut forked = false;
    let mut failed = 0;
    // Each fork is told once, however many rounds see it again.
    let mut told = std::collections::HashSet::new();
    loop {
        for url in watch {
            match witness_round(hub, url).await {
                Ok(Some(fork)) if !told.insert((fork.origin.clone(), fork.seen.clone())) => forked = true,
                Ok(Some(fork)) => {
                    forked = true;
                    eprintln!(
                        "FORK of log {} seen at {url}: {}\nthe checkpoint kept:\n{}\nthe checkpoint now served:\n{}",
                        fork.origin, fork.reason, fork.kept, fork.seen
                    );
                    tracing::error!(origin = %fork.origin, reason = %fork.reason, "fork detected");
                }
                Ok(None) => {}
                Err(error) => {
                    failed += 1;
                    eprintln!("witnessing {url}: {error:#}");
                }
            }
        }
        if once {
            if forked {
                std::process::exit(2);
            }
            if failed > 0 {
                bail!("{failed} of {} hubs could not be witnessed", watch.len());
            }
            return Ok(());
        }
        tokio::time::sleep(interval).await;
    }
}

/// One look at a watched hub: cosign its checkpoint when consistent; a fork is returned.
async fn witness_round(hub: &Hub, url: &str) -> anyhow::Result<Option<tearline_store::Fork>> {
    let remote = Remote::new(url)?;
    let (origin, stated_key) = remote.identity().await?;
    let note = remote.checkpoint().await?;
    let kept = hub.witnessed(&origin).await?;
    let key = kept.as_ref().map_or(stated_key, |(key, _)| key.clone());
    let seen = tearline_ledger::verify_checkpoint(&note, &key)
        .map_err(|e| anyhow::anyhow!("the checkpoint of {origin} does not verify under {key}: {e}"))?;
    let proof = match kept {
        Some((_, kept)) if kept > 0 && kept < seen.size => remote.consistency(kept, seen.size).await?,
        _ => Vec::new(),
    };
    match hub.witness(&note, &key, &proof, now()).await? {
        Witnessed::Cosigned { checkpoint, line } => {
            let cosigned =
                tearline_ledger::with_signature_lines(&checkpoint.note, &[line]).map_err(|e| anyhow::anyhow!("{e}"))?;
            remote.cosign(&cosigned).await?;
            println!("cosigned {} at {} entries", checkpoint.origin, checkpoint.size);
            Ok(None)
        }
        Witnessed::Fork(fork) => Ok(Some(fork)),
    }
}
