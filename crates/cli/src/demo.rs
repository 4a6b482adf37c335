//! `tearline demo`: the coalition of the brief in a fresh temporary hub, with a walkthrough.

use std::sync::Arc;

use anyhow::Context;
use tearline_hub::{Hub, SqlStore};
use tearline_model::Rendering;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const COALITION: &str = include_str!("../../../examples/coalition.toml");
const REPORT: &str = include_str!("../../../examples/route-clearance.md");
/// A longer report, for the traced leak: a paragraph needs enough variation points to name its
/// recipient (docs/fingerprinting.md).
const LEAKED: &str = include_str!("../../../examples/device-workshop.md");
/// Two air activities over the Euphrates valley at Al-Qa'im, of USA and of RUS, that collide.
const USA_AIR: &str = include_str!("../../../examples/activities/usa-air.json");
const RUS_AIR: &str = include_str!("../../../examples/activities/rus-air.json");
const USERS: [&str; 5] = ["us-analyst", "us-liaison", "iq-analyst", "ru-analyst", "sy-analyst"];

pub async fn run(listen: &str, no_serve: bool) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("tearline-demo-").tempdir().context("cannot make a temporary folder")?;
    let store = Arc::new(SqlStore::open_sqlite(dir.path()).await?);
    tearline_hub::init(store.as_ref(), None).await?;
    let now = OffsetDateTime::now_utc();
    let hub = Arc::new(Hub::open(store, None, now).await?);

    println!("Tearline demo: a fresh hub in {} (embedded store)\n", dir.path().display());
    println!("The coalition of the brief (examples/coalition.toml):");
    for change in hub.apply(COALITION, now).await?.changes {
        println!("  {change}");
    }
    let author = hub.user("us-analyst").await?;
    let id = hub.submit_report(&author, REPORT, now).await?.id;
    println!("\nus-analyst submitted examples/route-clearance.md as {id}\n");

    let mut views: Vec<(String, Option<Rendering>)> = Vec::new();
    let mut receipts = Vec::new();
    for name in USERS {
        let user = hub.user(name).await?;
        let label = format!("{name} ({}, {})", user.party, user.clearance.abbreviation());
        let viewed = hub.view_with_receipt(&user, &id, now).await.ok();
        if let Some((_, receipt)) = &viewed {
            receipts.push((name, receipt.first));
        }
        views.push((label, viewed.map(|(rendering, _)| rendering)));
    }
    print_side_by_side(&author_view(&hub, &id, now).await?, &views);

    for (label, view) in &views {
        println!("--- {label} ---");
        match view {
            Some(rendering) => println!("{}", rendering.marked_text()),
            None => println!("(nothing: the report does not exist for this user, 404 like any unknown id)\n"),
        }
    }

    println!("The dissemination ledger: every view above is an entry of a signed Merkle log.");
    for (name, index) in &receipts {
        println!("  {name:<11} receipt for ledger entry {index}");
    }
    print!("Checkpoint (C2SP signed note):\n{}", hub.make_checkpoint(now).await?);

    traced_leak(&hub, &author, now).await?;
    deconfliction(&hub, now).await?;

    let mut tokens = Vec::new();
    for name in USERS {
        tokens.push((name, hub.issue_token(name, now).await?));
    }
    let base = format!("http://{listen}");
    println!("Tokens (Authorization: Bearer TOKEN):");
    for (name, token) in &tokens {
        println!("  {name:<11} {token}");
    }
    let token_of = |name: &str| tokens.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone()).unwrap_or_default();
    println!("\nTry:");
    println!("  curl -s -H 'Authorization: Bearer {}' {base}/v1/reports/{id}?format=text", token_of("iq-analyst"));
    println!("  curl -s -H 'Authorization: Bearer {}' {base}/v1/reports/{id}", token_of("us-liaison"));
    println!("  curl -s -H 'Authorization: Bearer {}' {base}/v1/reports/{id}   # 404", token_of("ru-analyst"));
    println!("  curl -s -H 'Authorization: Bearer {}' {base}/v1/reports", token_of("sy-analyst"));
    println!("  curl -s -H 'Authorization: Bearer {}' {base}/v1/reports/{id}/explain", token_of("us-analyst"));
    println!(
        "  curl -s -H 'Authorization: Bearer {}' -H 'Content-Type: text/markdown' --data-binary @examples/route-clearance.md {base}/v1/reports",
        token_of("us-analyst")
    );
    let irq_feed = tearline_model::Collection::feed_id(&tearline_model::Code::new("IRQ")?);
    let taxii = "-H 'Accept: application/taxii+json;version=2.1'";
    println!(
        "  curl -s -H 'Authorization: Bearer {}' {base}/v1/conflicts   # the notices, as GeoJSON",
        token_of("ru-analyst")
    );
    println!(
        "  curl -sN -H 'Authorization: Bearer {}' {base}/v1/conflicts/stream   # new notices as they come",
        token_of("us-analyst")
    );
    println!("\nTAXII 2.1 (discovery {base}/taxii2/, API root {base}/api/):");
    println!("  curl -s {taxii} -H 'Authorization: Bearer {}' {base}/api/collections/", token_of("iq-analyst"));
    println!(
        "  curl -s {taxii} -H 'Authorization: Bearer {}' {base}/api/collections/{irq_feed}/objects/   # all released to IRQ",
        token_of("iq-analyst")
    );
    println!(
        "  .venv/bin/python -c \"from taxii2client.v21 import Server; print(Server('{base}/taxii2/', user='iq', password='{}').api_roots[0].collections)\"",
        token_of("iq-analyst")
    );
    println!("\nThe ledger (no token needed):");
    println!("  curl -s {base}/ledger/checkpoint");
    println!("  curl -s {base}/v1/ledger/proof/inclusion?index=0\\&size=1");
    println!(
        "  curl -si -H 'Authorization: Bearer {}' {base}/v1/reports/{id} | grep -i tearline-   # the receipt",
        token_of("iq-analyst")
    );
    println!("  tearline ledger check --url {base} --state /tmp/tearline-demo-check.json");

    if no_serve {
        return Ok(());
    }
    println!("\nServing on {base} until Ctrl-C.");
    crate::serve(hub, listen, None, std::time::Duration::from_secs(1)).await
}

/// A paragraph released to IRQ, retyped by someone there and passed on, traced back to IRQ.
async fn traced_leak(hub: &Hub, author: &tearline_model::User, now: OffsetDateTime) -> anyhow::Result<()> {
    let id = hub.submit_report(author, LEAKED, now).await?.id;
    let iraqi = hub.user("iq-analyst").await?;
    let received = hub.view(&iraqi, &id, now).await?;
    let Some((_, paragraph)) = received.paragraphs.first() else { anyhow::bail!("iq-analyst received no paragraph") };
    // Retyped: upper case, new line breaks, straight quotes, the invisible characters gone.
    let visible: String =
        paragraph.text.chars().filter(|c| !matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}')).collect();
    let words: Vec<String> = visible.split_whitespace().map(str::to_uppercase).collect();
    let leak: String = words.chunks(12).map(|line| line.join(" ")).collect::<Vec<_>>().join("\n");
    println!("A leak: us-analyst submitted examples/device-workshop.md as {id}; iq-analyst read it.");
    println!("Its paragraph then turned up outside the hub, retyped:\n\n{leak}\n");
    println!("tearline trace LEAK --as us-analyst:");
    let report = hub.trace(author, &leak, None, now).await?;
    let text = crate::onward::trace_text(&report);
    for line in text.lines().take(12) {
        println!("  {line}");
    }
    println!();
    Ok(())
}

/// The two activities of examples/activities/, moved to start two hours from now (their
/// files carry fixed dates), registered by USA and RUS: both parties get a notice.
async fn deconfliction(hub: &Hub, now: OffsetDateTime) -> anyhow::Result<()> {
    println!("Deconfliction: USA and RUS plan air activities over the Euphrates valley at Al-Qa'im.");
    let usa: serde_json::Value = serde_json::from_str(USA_AIR)?;
    let first_start = timestamp(&usa, "start")?;
    let shift =
        (now + time::Duration::hours(2)).replace_minute(0)?.replace_second(0)?.replace_nanosecond(0)? - first_start;
    for (name, text, file) in [("us-analyst", USA_AIR, "usa-air.json"), ("ru-analyst", RUS_AIR, "rus-air.json")] {
        let mut body: serde_json::Value = serde_json::from_str(text)?;
        for field in ["start", "end"] {
            let moved = (timestamp(&body, field)? + shift).format(&Rfc3339)?;
            body[field] = serde_json::Value::String(moved);
        }
        let user = hub.user(name).await?;
        let view = hub.register_activity(&user, &body, now).await?;
        println!("\ntearline activity add examples/activities/{file} --as {name}:");
        for line in crate::deconfliction::view_text(&view).lines() {
            println!("  {line}");
        }
    }
    for name in ["us-analyst", "ru-analyst"] {
        let user = hub.user(name).await?;
        println!("\ntearline conflicts --as {name}:");
        for notice in hub.conflict_notices(&user, false, now).await? {
            for line in crate::deconfliction::notice_text(&notice)?.lines() {
                println!("  {line}");
            }
        }
    }
    println!(
        "\nNeither notice shows the other side's area, window, altitude, kind or reference; RUS learns it \
         is USA because USA allows it ([deconfliction] identify), USA does not learn who it is.\n"
    );
    Ok(())
}

fn timestamp(activity: &serde_json::Value, field: &str) -> anyhow::Result<OffsetDateTime> {
    let text = activity.get(field).and_then(serde_json::Value::as_str).with_context(|| format!("no `{field}`"))?;
    Ok(OffsetDateTime::parse(text, &Rfc3339)?)
}

/// The author's full view: every portion, to label the rows.
async fn author_view(hub: &Hub, id: &str, now: OffsetDateTime) -> anyhow::Result<Rendering> {
    let author = hub.user("us-analyst").await?;
    Ok(hub.view(&author, id, now).await?)
}

fn print_side_by_side(full: &Rendering, views: &[(String, Option<Rendering>)]) {
    const LABEL: usize = 44;
    const COLUMN: usize = 14;
    println!("What each user sees of it (shown / -):\n");
    print!("{:LABEL$}", "");
    for (label, _) in views {
        print!("{:COLUMN$}", label.split(' ').next().unwrap_or_default());
    }
    println!();
    let shown = |view: &Option<Rendering>, paragraph: Option<usize>| match (view, paragraph) {
        (None, _) => "-",
        (Some(_), None) => "shown",
        (Some(r), Some(i)) if r.paragraphs.iter().any(|(j, _)| *j == i) => "shown",
        _ => "-",
    };
    let mut rows: Vec<(String, Option<usize>)> = vec![(format!("title ({})", full.title.marking.portion_mark()), None)];
    for (index, paragraph) in &full.paragraphs {
        rows.push((format!("{} ({}) {}", index + 1, paragraph.marking.portion_mark(), paragraph.text), Some(*index)));
    }
    for (label, paragraph) in rows {
        let label: String = label.chars().take(LABEL - 2).collect();
        print!("{label:LABEL$}");
        for (_, view) in views {
            print!("{:COLUMN$}", shown(view, paragraph));
        }
        println!();
    }
    println!("\nBanners:");
    for (label, view) in views {
        let banner = view.as_ref().map_or("(no such report)".to_string(), |r| r.banner.banner());
        println!("  {label:<26} {banner}");
    }
    println!();
}
