//! `tearline`: one binary for the whole hub.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use tearline_hub::{Hub, SqlStore};
use tearline_store::Store;
use time::OffsetDateTime;

mod deconfliction;
mod demo;
mod ledger;
mod onward;

/// The hub allocates and frees many small JSON values per request from several threads; glibc's
/// allocator spent a third of ingest's time on it where mimalloc spends a fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "tearline", version, about = "A releasability-enforcing intelligence-sharing hub")]
struct Cli {
    /// Folder of the embedded (SQLite) store.
    #[arg(long, global = true, env = "TEARLINE_DATA", default_value = "./tearline-data")]
    data: PathBuf,
    /// Use PostgreSQL instead of the embedded store (postgres://...).
    #[arg(long, global = true, env = "TEARLINE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Folder of operator Cedar policies (*.cedar), validated and put in force at start.
    #[arg(long, global = true, env = "TEARLINE_POLICIES")]
    policies: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the store, the hub's signing key and its ledger's origin.
    Init {
        /// The origin line of the ledger's checkpoints (a name like `hub.example.org/ledger`);
        /// by default `tearline/` and the start of the public key. Kept once set.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Make the hub match a coalition file (parties, groups, agreements, embargoes, users).
    Apply { file: PathBuf },
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Serve the HTTP API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8470")]
        listen: String,
        /// Witnesses whose cosignatures the ledger keeps (tlog-cosignature verifier keys,
        /// comma-separated or repeated).
        #[arg(long = "witness", env = "TEARLINE_WITNESSES", value_delimiter = ',')]
        witnesses: Vec<String>,
        /// Seconds between the ledger's signed checkpoints (when it grew).
        #[arg(long, default_value_t = 1.0)]
        checkpoint_interval: f64,
    },
    /// Reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the rendering a user gets of a report, as marked text.
    View {
        id: String,
        #[arg(long = "as", value_name = "USER")]
        viewer: String,
        /// `text` (marked text), `json`, or `stix` (a STIX 2.1 bundle).
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Per portion of a report: shown to the user or withheld, and why.
    Explain {
        id: String,
        #[arg(long = "as", value_name = "USER")]
        viewer: String,
    },
    /// The release index.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Pass on content received from another party, into the user's party's own agreements.
    Share(onward::ShareArgs),
    /// Requests for the originator's approval of onward release, and their decisions.
    #[command(subcommand)]
    Approval(onward::ApprovalCommand),
    /// Recall an object of the user's party: no recipient gets it any more.
    Recall(onward::RecallArgs),
    /// What partners received of the user's party's content, and tried to pass on.
    #[command(subcommand)]
    Audit(onward::AuditCommand),
    /// Submissions by others that reused the user's party's text without declaring it.
    Alerts(onward::AuditArgs),
    /// Trace a leaked text, STIX object or bundle (a file, or - for standard input) to the
    /// parties the user's party released it to.
    Trace(onward::TraceArgs),
    /// Planned activities, for deconfliction with every other party.
    #[command(subcommand)]
    Activity(deconfliction::ActivityCommand),
    /// The user's party's conflict notices: where and when its activities collide with
    /// another party's, and nothing more.
    Conflicts(deconfliction::ConflictsArgs),
    /// The dissemination ledger: checkpoints, proofs, verification, and checking or witnessing
    /// another hub's.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// The coalition of the brief in a fresh temporary hub, served, with a walkthrough.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8470")]
        listen: String,
        /// Print the walkthrough and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new API token for a user (only the token, on one line).
    Issue {
        #[arg(long)]
        user: String,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Submit a portion-marked report written by a user; prints its id.
    Submit {
        file: PathBuf,
        #[arg(long)]
        user: String,
    },
}

#[derive(Subcommand)]
enum IndexCommand {
    /// Recompute the release index of every report and compare it with the stored one.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Init { origin } => {
            let store = open_store(&cli, true).await?;
            let public_key = tearline_hub::init(store.as_ref(), origin.as_deref()).await?;
            let hub = Hub::open(store, None, now()).await?;
            let (origin, verifier_key) = hub.ledger_identity();
            println!("initialised the hub at {}", describe_store(&cli));
            println!("signing key (Ed25519, public): {public_key}");
            println!("ledger origin: {origin}");
            println!("ledger verifier key: {verifier_key}");
            println!("witness key (as a witness of other hubs): {}", hub.witness_key());
            Ok(())
        }
        Command::Apply { file } => {
            let text = read(file)?;
            let hub = open_hub(&cli).await?;
            let applied = hub.apply(&text, now()).await?;
            if applied.changes.is_empty() {
                println!("no changes");
            }
            for change in &applied.changes {
                println!("{change}");
            }
            Ok(())
        }
        Command::Token(TokenCommand::Issue { user }) => {
            let hub = open_hub(&cli).await?;
            println!("{}", hub.issue_token(user, now()).await?);
            Ok(())
        }
        Command::Serve { listen, witnesses, checkpoint_interval } => {
            init_tracing();
            let hub = Arc::new(open_hub(&cli).await?.with_witnesses(witnesses.clone())?);
            serve(hub, listen, None, Duration::from_secs_f64(checkpoint_interval.max(0.01))).await
        }
        Command::Report(ReportCommand::Submit { file, user }) => {
            let text = read(file)?;
            let hub = open_hub(&cli).await?;
            let author = hub.user(user).await?;
            let submitted = hub.submit_report(&author, &text, now()).await?;
            println!("{}", submitted.id);
            // The id alone goes to stdout (scripts read it); what the report derives from, to stderr.
            for note in &submitted.derived_from {
                eprintln!(
                    "derived from {} ({}): carries {}{}",
                    note.source,
                    note.how,
                    note.inherited,
                    note.passages.iter().map(|p| format!("\n  matched: \"{}\"", p.text)).collect::<String>()
                );
            }
            Ok(())
        }
        Command::View { id, viewer, format } => {
            let hub = open_hub(&cli).await?;
            let user = hub.user(viewer).await?;
            let rendering = hub.view(&user, id, now()).await.with_context(|| {
                format!("{viewer} gets nothing of {id}: no such report, as far as {viewer} can tell")
            })?;
            match format.as_str() {
                "text" => print!("{}", rendering.marked_text()),
                "json" => println!("{:#}", tearline_hub::rendering_json(&rendering)),
                "stix" => println!("{:#}", Hub::stix_bundle(&rendering)),
                other => bail!("unknown format `{other}` (text, json or stix)"),
            }
            Ok(())
        }
        Command::Explain { id, viewer } => {
            let hub = open_hub(&cli).await?;
            let user = hub.user(viewer).await?;
            let explanation =
                hub.explain_for_user(&user, id, now()).await.with_context(|| format!("no report {id}"))?;
            println!(
                "{id} for {} ({}, cleared {}): {}",
                explanation.user,
                explanation.party,
                user.clearance,
                if explanation.visible { "visible" } else { "does not exist for this user" }
            );
            for portion in &explanation.portions {
                let reasons: Vec<String> = portion.reasons.iter().map(|r| r.to_string()).collect();
                println!(
                    "  {:<12} {:<8} ({}): {}",
                    portion.label,
                    if portion.shown { "shown" } else { "withheld" },
                    portion.marking,
                    reasons.join("; ")
                );
            }
            Ok(())
        }
        Command::Index(IndexCommand::Verify) => {
            let hub = open_hub(&cli).await?;
            let check = hub.verify_index(now()).await?;
            if check.mismatches.is_empty() {
                println!("release index consistent with {} object versions", check.objects);
                Ok(())
            } else {
                for id in &check.mismatches {
                    println!("inconsistent: {id}");
                }
                bail!("{} of {} object versions have a stale release index", check.mismatches.len(), check.objects)
            }
        }
        Command::Share(args) => onward::share(&open_hub(&cli).await?, args).await,
        Command::Approval(command) => onward::approval(&open_hub(&cli).await?, command).await,
        Command::Recall(args) => onward::recall(&open_hub(&cli).await?, args).await,
        Command::Audit(command) => onward::audit(&open_hub(&cli).await?, command).await,
        Command::Trace(args) => onward::trace(&open_hub(&cli).await?, args).await,
        Command::Alerts(args) => onward::alerts(&open_hub(&cli).await?, args).await,
        Command::Activity(command) => deconfliction::activity(&open_hub(&cli).await?, command).await,
        Command::Conflicts(args) => deconfliction::conflicts(&open_hub(&cli).await?, args).await,
        Command::Ledger(command) => ledger::run(&open_hub(&cli).await?, command).await,
        Command::Demo { listen, no_serve } => demo::run(listen, *no_serve).await,
    }
}

fn read(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

fn describe_store(cli: &Cli) -> String {
    match &cli.database_url {
        Some(_) => "the PostgreSQL database given by --database-url".to_string(),
        None => cli.data.display().to_string(),
    }
}

async fn open_store(cli: &Cli, create: bool) -> anyhow::Result<Arc<dyn Store>> {
    let store = match &cli.database_url {
        Some(url) => SqlStore::open_postgres(url).await.context("cannot open the PostgreSQL store")?,
        None => {
            if !create && !cli.data.join(tearline_store::SQLITE_FILE).exists() {
                bail!("no hub at {}: run `tearline init` first (or pass --data)", cli.data.display());
            }
            SqlStore::open_sqlite(&cli.data)
                .await
                .with_context(|| format!("cannot open the store at {}", cli.data.display()))?
        }
    };
    Ok(Arc::new(store))
}

async fn open_hub(cli: &Cli) -> anyhow::Result<Hub> {
    let store = open_store(cli, false).await?;
    let policies = match &cli.policies {
        Some(dir) => Some(read_policies(dir)?),
        None => None,
    };
    Ok(Hub::open(store, policies, now()).await?)
}

/// Every `*.cedar` file of a folder, by file name.
fn read_policies(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read the policy folder {}", dir.display()))?;
    let mut files = BTreeMap::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "cedar") {
            let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            files.insert(name, read(&path)?);
        }
    }
    Ok(files)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Signs a checkpoint of the ledger every `interval` when it grew, for as long as the server runs.
async fn make_checkpoints(hub: Arc<Hub>, interval: Duration) {
    loop {
        if let Err(error) = hub.make_checkpoint(now()).await {
            tracing::warn!(%error, "could not make a ledger checkpoint");
        }
        tokio::time::sleep(interval).await;
    }
}

/// Serves `hub` until Ctrl-C or SIGTERM, signing a ledger checkpoint every `checkpoint_interval`;
/// `ready` is told the bound address.
async fn serve(
    hub: Arc<Hub>,
    listen: &str,
    ready: Option<&dyn Fn(std::net::SocketAddr)>,
    checkpoint_interval: Duration,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tokio::spawn(make_checkpoints(Arc::clone(&hub), checkpoint_interval));
    let address = listener.local_addr()?;
    match ready {
        Some(tell) => tell(address),
        None => eprintln!("tearline listening on http://{address}"),
    }
    let state = tearline_server::AppState::new(hub, Arc::new(OffsetDateTime::now_utc));
    tearline_server::serve(state, listener, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
