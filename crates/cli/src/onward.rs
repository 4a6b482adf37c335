//! `tearline share`, `approval`, `recall`, `audit` and `alerts`: onward control from the command
//! line, acting as a named user (`--as`), with what the REST API answers printed as JSON or CSV.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde::Serialize;
use tearline_hub::onward::to_csv;
use tearline_hub::{Hub, OnwardRecord, ReceivedRecord, ShareRequest};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::now;

/// Pass on content received from another party, into the caller's own agreements.
#[derive(Args)]
pub struct ShareArgs {
    /// The object's id (a report's, or any STIX object's).
    object: String,
    /// Parties or groups to pass it on to (comma-separated, or repeated).
    #[arg(long, value_delimiter = ',', required = true)]
    to: Vec<String>,
    /// Only these portions (0 the title or the object; comma-separated).
    #[arg(long, value_delimiter = ',')]
    portions: Option<Vec<usize>>,
    /// The version (RFC 3339); the latest received when absent.
    #[arg(long)]
    version: Option<String>,
    #[arg(long = "as", value_name = "USER")]
    user: String,
}

#[derive(Subcommand)]
pub enum ApprovalCommand {
    /// Ask the originators to approve release of an object version to a party.
    Request {
        object: String,
        #[arg(long)]
        recipient: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        version: Option<String>,
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// Requests the user's party decides (or, with --requested, made).
    List {
        #[arg(long)]
        pending: bool,
        #[arg(long)]
        requested: bool,
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// Approve a pending request, optionally until a time (RFC 3339).
    Approve {
        id: String,
        #[arg(long)]
        until: Option<String>,
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    Deny {
        id: String,
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
}

/// Recall versions of an object of the user's party (every version unless --version).
#[derive(Args)]
pub struct RecallArgs {
    object: String,
    #[arg(long)]
    version: Option<String>,
    #[arg(long = "as", value_name = "USER")]
    user: String,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// What a party received of the user's party's content: when, how, by whom.
    Received {
        #[arg(long)]
        party: String,
        #[command(flatten)]
        common: AuditArgs,
    },
    /// What a party (every party without --party) tried to pass on of it, and what became of it.
    Onward {
        #[arg(long)]
        party: Option<String>,
        #[command(flatten)]
        common: AuditArgs,
    },
}

#[derive(Args)]
pub struct AuditArgs {
    /// Only since then (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// `json` or `csv`.
    #[arg(long, default_value = "json")]
    format: String,
    #[arg(long = "as", value_name = "USER")]
    user: String,
}

#[derive(Args)]
pub struct TraceArgs {
    /// The leak: plain text, or a STIX object or bundle; `-` reads standard input.
    file: std::path::PathBuf,
    #[arg(long = "as", value_name = "USER")]
    user: String,
    /// `text` or `json`.
    #[arg(long, default_value = "text")]
    format: String,
    /// Bound on the probability of accusing any innocent recipient (default 1e-6).
    #[arg(long)]
    epsilon: Option<f64>,
}

pub async fn trace(hub: &Hub, args: &TraceArgs) -> anyhow::Result<()> {
    let user = hub.user(&args.user).await?;
    let leak = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the leak from standard input")?
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let report = hub.trace(&user, &leak, args.epsilon, OffsetDateTime::now_utc()).await?;
    match args.format.as_str() {
        "json" => print_json(&report)?,
        "text" => print!("{}", trace_text(&report)),
        other => bail!("unknown format `{other}` (text or json)"),
    }
    Ok(())
}

/// A trace for people: the verdict, the scores against the threshold, and the evidence.
pub fn trace_text(report: &tearline_hub::TraceReport) -> String {
    let mut out = String::new();
    let threshold = report.scores.first().map_or(f64::INFINITY, |s| s.threshold);
    match report.accused.as_slice() {
        [] => out.push_str(&format!(
            "No accusation: no recipient's score passes the threshold ({threshold:.2}) at which any innocent recipient is accused with probability <= {:e}.\n",
            report.epsilon
        )),
        accused => {
            for party in accused {
                out.push_str(&format!(
                    "ACCUSED {}: score {:.2} >= threshold {:.2}; {} of {} points read agree; any innocent recipient scores this high with probability <= {:.1e}\n",
                    party.party, party.score, party.threshold, party.points_agreeing, party.points_read, party.bound
                ));
            }
        }
    }
    out.push_str(&format!(
        "Recipients scored: {}; any innocent one is accused with probability <= {:e}\n",
        report.recipients, report.epsilon
    ));
    for other in report.scores.iter().filter(|s| report.accused.iter().all(|a| a.party != s.party)).take(5) {
        out.push_str(&format!("  {}: score {:.2} (threshold {:.2})\n", other.party, other.score, other.threshold));
    }
    for source in &report.sources {
        out.push_str(&format!(
            "Source {} ({}), {}: {} words aligned, {} variation points read\n",
            source.object_id,
            source.version,
            source.field,
            source.matched_words,
            source.points.len()
        ));
        for point in &source.points {
            out.push_str(&format!(
                "  [{}] at byte {}: original {:?}, leak {:?}{}\n",
                point.channel,
                point.offset,
                point.original,
                point.read,
                if point.agreeing.is_empty() {
                    String::new()
                } else {
                    format!(", as in {}'s copy", point.agreeing.join(", "))
                }
            ));
        }
    }
    if !report.invisible_marks.is_empty() {
        out.push_str(&format!("Invisible marks of: {} (supporting only)\n", report.invisible_marks.join(", ")));
    }
    out
}

pub async fn share(hub: &Hub, args: &ShareArgs) -> anyhow::Result<()> {
    let user = hub.user(&args.user).await?;
    let request = ShareRequest {
        object: args.object.clone(),
        version: args.version.as_deref().map(|v| timestamp("--version", v)).transpose()?,
        to: args.to.clone(),
        portions: args.portions.clone(),
        into_collection: None,
    };
    let outcome = hub.share(&user, &request, "cli", now()).await?;
    print_json(&outcome)?;
    if outcome.outcome == "refused" {
        bail!("passing {} on is refused (the reasons are above)", args.object);
    }
    Ok(())
}

pub async fn approval(hub: &Hub, command: &ApprovalCommand) -> anyhow::Result<()> {
    match command {
        ApprovalCommand::Request { object, recipient, reason, version, user } => {
            let user = hub.user(user).await?;
            let version = version.as_deref().map(|v| timestamp("--version", v)).transpose()?;
            print_json(&hub.request_approval(&user, object, version, recipient, reason.clone(), now()).await?)
        }
        ApprovalCommand::List { pending, requested, user } => {
            let user = hub.user(user).await?;
            print_json(&hub.approvals(&user, *requested, *pending).await?)
        }
        ApprovalCommand::Approve { id, until, user } => {
            let user = hub.user(user).await?;
            let until = until.as_deref().map(|v| timestamp("--until", v)).transpose()?;
            print_json(&hub.decide_approval(&user, id, true, until, now()).await?)
        }
        ApprovalCommand::Deny { id, user } => {
            let user = hub.user(user).await?;
            print_json(&hub.decide_approval(&user, id, false, None, now()).await?)
        }
    }
}

pub async fn recall(hub: &Hub, args: &RecallArgs) -> anyhow::Result<()> {
    let user = hub.user(&args.user).await?;
    let version = args.version.as_deref().map(|v| timestamp("--version", v)).transpose()?;
    print_json(&hub.recall(&user, &args.object, version, now()).await?)
}

pub async fn audit(hub: &Hub, command: &AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Received { party, common } => {
            let user = hub.user(&common.user).await?;
            let records = hub.audit_received(&user, party, common.since()?).await?;
            match common.format.as_str() {
                "csv" => print!("{}", to_csv(&ReceivedRecord::COLUMNS, records.iter().map(ReceivedRecord::fields))),
                "json" => print_json(&records)?,
                other => bail!("unknown format `{other}` (json or csv)"),
            }
            Ok(())
        }
        AuditCommand::Onward { party, common } => {
            let user = hub.user(&common.user).await?;
            let records = hub.audit_onward(&user, party.as_deref(), common.since()?).await?;
            print_events(&records, &common.format)
        }
    }
}

pub async fn alerts(hub: &Hub, args: &AuditArgs) -> anyhow::Result<()> {
    let user = hub.user(&args.user).await?;
    let records = hub.alerts(&user, args.since()?).await?;
    print_events(&records, &args.format)
}

impl AuditArgs {
    fn since(&self) -> anyhow::Result<OffsetDateTime> {
        self.since.as_deref().map_or(Ok(OffsetDateTime::UNIX_EPOCH), |v| timestamp("--since", v))
    }
}

fn print_events(records: &[OnwardRecord], format: &str) -> anyhow::Result<()> {
    match format {
        "csv" => print!("{}", to_csv(&OnwardRecord::COLUMNS, records.iter().map(OnwardRecord::fields))),
        "json" => print_json(&records)?,
        other => bail!("unknown format `{other}` (json or csv)"),
    }
    Ok(())
}

pub(crate) fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn timestamp(option: &str, text: &str) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).with_context(|| format!("{option} `{text}` is not an RFC 3339 timestamp"))
}
