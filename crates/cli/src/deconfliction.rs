//! `tearline activity` and `tearline conflicts`: deconfliction from the command line.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::Value;
use tearline_deconflict::Notice;
use tearline_hub::deconfliction::{notices_geojson, ActivityView};
use tearline_hub::Hub;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::onward::print_json;

#[derive(Subcommand)]
pub enum ActivityCommand {
    /// Register a planned activity (JSON: geometry, radius_m for a point, altitude, start, end,
    /// kind, reference; a file, or - for standard input) and print its conflicts.
    Add {
        file: PathBuf,
        #[arg(long = "as", value_name = "USER")]
        user: String,
        /// `text` or `json`.
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Amend an activity with a JSON merge patch of what was registered.
    Amend {
        id: String,
        patch: PathBuf,
        #[arg(long = "as", value_name = "USER")]
        user: String,
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// The user's party's activities.
    List {
        #[arg(long = "as", value_name = "USER")]
        user: String,
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Withdraw an activity: it conflicts with nothing from now on.
    Withdraw {
        id: String,
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// For operators: parties whose registrations swept a region.
    Flags,
}

#[derive(Args)]
pub struct ConflictsArgs {
    #[arg(long = "as", value_name = "USER")]
    user: String,
    /// Every notice ever given, not only the current conflicts.
    #[arg(long)]
    all: bool,
    /// `text` or `geojson`.
    #[arg(long, default_value = "text")]
    format: String,
}

fn read_json(file: &PathBuf) -> anyhow::Result<Value> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

pub async fn activity(hub: &Hub, command: &ActivityCommand) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    match command {
        ActivityCommand::Add { file, user, format } => {
            let user = hub.user(user).await?;
            let view = hub.register_activity(&user, &read_json(file)?, now).await?;
            print_view(&view, format)
        }
        ActivityCommand::Amend { id, patch, user, format } => {
            let user = hub.user(user).await?;
            let view = hub.amend_activity(&user, id, &read_json(patch)?, now).await?;
            print_view(&view, format)
        }
        ActivityCommand::List { user, format } => {
            let user = hub.user(user).await?;
            let views = hub.activities(&user, now).await?;
            match format.as_str() {
                "json" => print_json(&views),
                "text" => {
                    for view in &views {
                        print!("{}", view_text(view));
                    }
                    Ok(())
                }
                other => bail!("unknown format `{other}` (text or json)"),
            }
        }
        ActivityCommand::Withdraw { id, user } => {
            let user = hub.user(user).await?;
            let view = hub.withdraw_activity(&user, id, now).await?;
            println!("{} withdrawn", view.id);
            Ok(())
        }
        ActivityCommand::Flags => {
            let flags = hub.sweep_flags().await?;
            if flags.is_empty() {
                println!("No sweeps flagged.");
            }
            for flag in flags {
                let at = flag.at.format(&Rfc3339)?;
                println!("{at} {}: {} ({})", flag.party, flag.reason, flag.activities.join(", "));
            }
            Ok(())
        }
    }
}

fn print_view(view: &ActivityView, format: &str) -> anyhow::Result<()> {
    match format {
        "json" => print_json(view),
        "text" => {
            print!("{}", view_text(view));
            Ok(())
        }
        other => bail!("unknown format `{other}` (text or json)"),
    }
}

/// An activity for people: id, status, what it is, its conflicts.
pub fn view_text(view: &ActivityView) -> String {
    let field = |name: &str| view.activity.get(name).and_then(Value::as_str).unwrap_or("").to_string();
    let reference = field("reference");
    let mut out = format!(
        "{} (revision {}, {}): {} {} to {}{}\n",
        view.id,
        view.revision,
        view.status,
        field("kind"),
        field("start"),
        field("end"),
        if reference.is_empty() { String::new() } else { format!(", ref {reference}") }
    );
    match view.conflicts.as_slice() {
        [] => out.push_str("  no conflict\n"),
        conflicts => {
            for id in conflicts {
                out.push_str(&format!("  CONFLICT {id} (see `tearline conflicts`)\n"));
            }
        }
    }
    out
}

pub async fn conflicts(hub: &Hub, args: &ConflictsArgs) -> anyhow::Result<()> {
    let user = hub.user(&args.user).await?;
    let notices = hub.conflict_notices(&user, args.all, OffsetDateTime::now_utc()).await?;
    match args.format.as_str() {
        "geojson" => print_json(&notices_geojson(&notices)),
        "text" => {
            if notices.is_empty() {
                println!("No conflict.");
            }
            for notice in &notices {
                print!("{}", notice_text(notice)?);
            }
            Ok(())
        }
        other => bail!("unknown format `{other}` (text or geojson)"),
    }
}

/// A notice for people: everything it holds, which is all its party may know.
pub fn notice_text(notice: &Notice) -> anyhow::Result<String> {
    let other = notice.other_party.as_deref().unwrap_or("not disclosed");
    Ok(format!(
        "CONFLICT {} for {}: call the deconfliction line quoting {}\n  when: {} to {}\n  where: {} H3 cells at resolution {}: {}\n  other party: {other}\n",
        notice.id,
        notice.activity,
        notice.line,
        notice.overlap.start.format(&Rfc3339)?,
        notice.overlap.end.format(&Rfc3339)?,
        notice.overlap.cells.len(),
        notice.overlap.resolution,
        notice.overlap.cells.join(" "),
    ))
}
