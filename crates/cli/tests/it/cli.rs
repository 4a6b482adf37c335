//! The `tearline` command line: init, apply, tokens, submit, view, explain, demo, policies.

use crate::common::{path_str, Backend, TestHub, COALITION, REPORT};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn init_and_apply_are_idempotent() {
    let hub = TestHub::new(Backend::Sqlite);
    let key = |out: String| out.lines().find(|l| l.contains("signing key")).unwrap().to_string();
    assert_eq!(key(hub.ok(&["init"])), key(hub.ok(&["init"])));
    let first = hub.apply(COALITION);
    assert!(first.contains("+ party USA (United States)"), "{first}");
    assert!(first.contains("+ embargo USA against RUS"), "{first}");
    assert!(first.contains("+ user us-liaison (USA, cleared CONFIDENTIAL)"), "{first}");
    assert_eq!(hub.apply(COALITION).trim(), "no changes");
}

#[test]
fn a_bad_coalition_file_changes_nothing() {
    let hub = TestHub::new(Backend::Sqlite);
    hub.apply(COALITION);
    for bad in [
        COALITION.replace("against = [\"SYR\", \"RUS\", \"IRN\"]", "against = [\"SYR\", \"XYZ\"]"),
        COALITION.replace("clearance = \"SECRET\"", "clearance = \"VERY SECRET\""),
        format!("{COALITION}\n[[party]]\ncode = \"USA\"\nname = \"again\"\n"),
        format!("{COALITION}\nsurprise = 1\n"),
    ] {
        let path = hub.write("bad.toml", &bad);
        let output = hub.run(&["apply", path_str(&path)]);
        assert!(!output.status.success());
        assert!(stderr(&output).starts_with("error: the coalition file is not applied"), "{}", stderr(&output));
    }
    assert_eq!(hub.apply(COALITION).trim(), "no changes");
}

#[test]
fn tokens_are_long_random_and_printed_alone() {
    let hub = TestHub::new(Backend::Sqlite);
    hub.apply(COALITION);
    let first = hub.ok(&["token", "issue", "--user", "iq-analyst"]);
    let second = hub.ok(&["token", "issue", "--user", "iq-analyst"]);
    assert_eq!(first.lines().count(), 1);
    let token = first.trim();
    assert!(token.starts_with("tl_") && token.len() >= 3 + 43, "{token}");
    assert_ne!(first, second);
    let output = hub.run(&["token", "issue", "--user", "nobody"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("unknown or disabled user `nobody`"));
}

#[test]
fn submit_view_and_explain_from_the_command_line() {
    let hub = TestHub::new(Backend::Sqlite);
    hub.apply(COALITION);
    let report = hub.write("report.md", REPORT);
    let id = hub.ok(&["report", "submit", path_str(&report), "--user", "us-analyst"]).trim().to_string();
    let iraq = hub.ok(&["view", &id, "--as", "iq-analyst"]);
    assert!(iraq.starts_with("TITLE: (U) Route clearance results, third quarter\n"));
    assert!(iraq.contains("BANNER: SECRET//ORCON/REL TO USA, IRQ\n"));
    assert!(iraq.contains("(S//OC/REL TO USA, IRQ) The originator holds an annex"));
    assert!(!iraq.contains("(S//NF)"));
    let liaison = hub.ok(&["view", &id, "--as", "us-liaison"]);
    assert_eq!(liaison.matches("\n(").count(), 2, "{liaison}");
    let output = hub.run(&["view", &id, "--as", "ru-analyst"]);
    assert!(!output.status.success());
    let explained = hub.ok(&["explain", &id, "--as", "us-liaison"]);
    assert!(explained.contains("visible"));
    let lines: Vec<&str> = explained.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("paragraph 2") && l.contains("withheld") && l.contains("clearance")),
        "{explained}"
    );
    assert!(lines.iter().any(|l| l.contains("paragraph 1") && l.contains("shown")), "{explained}");
    let russia = hub.ok(&["explain", &id, "--as", "ru-analyst"]);
    assert!(russia.contains("does not exist for this user") && russia.contains("embargo"), "{russia}");
    let stix = hub.ok(&["view", &id, "--as", "iq-analyst", "--format", "stix"]);
    let bundle: serde_json::Value = serde_json::from_str(&stix).unwrap();
    assert_eq!(bundle["type"], "bundle");
    let report = &bundle["objects"][0];
    let paragraphs = report["extensions"][tearline_model::stix::REPORT_EXTENSION_ID]["paragraphs"].as_array().unwrap();
    assert_eq!(paragraphs.len(), 4);
}

#[test]
fn a_bad_report_from_the_command_line_stores_nothing() {
    let hub = TestHub::new(Backend::Sqlite);
    hub.apply(COALITION);
    let bad = hub.write("bad.md", "TITLE: (U) T\n\n(U) fine\n\n(S//REL TO USA, XYZ) bad\n");
    let output = hub.run(&["report", "submit", path_str(&bad), "--user", "us-analyst"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("line 5"), "{}", stderr(&output));
    assert!(hub.ok(&["index", "verify"]).contains("consistent with 0 object versions"));
}

#[test]
fn commands_need_an_initialised_hub() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tearline"))
        .env_remove("TEARLINE_DATABASE_URL")
        .args(["--data", path_str(&dir.path().join("none")), "token", "issue", "--user", "x"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("run `tearline init` first"));
    assert!(!dir.path().join("none").exists(), "nothing is created by a failed command");
}

#[test]
fn the_demo_walks_through_the_scenario() {
    let output =
        std::process::Command::new(env!("CARGO_BIN_EXE_tearline")).args(["demo", "--no-serve"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let banner = |user: &str| {
        let line = text.lines().find(|l| l.trim_start().starts_with(user) && !l.contains("---")).unwrap();
        line.split(')').nth(1).unwrap().trim().to_string()
    };
    assert_eq!(banner("us-analyst (USA, TS)"), "SECRET//ORCON/NOFORN");
    assert_eq!(banner("us-liaison (USA, C)"), "CONFIDENTIAL//REL TO USA, IRQ");
    assert_eq!(banner("iq-analyst (IRQ, S)"), "SECRET//ORCON/REL TO USA, IRQ");
    assert_eq!(banner("ru-analyst (RUS, S)"), "(no such report");
    assert_eq!(banner("sy-analyst (SYR, S)"), "(no such report");
    let row = text.lines().find(|l| l.starts_with("4 (S//NF)")).unwrap();
    assert_eq!(row.split_whitespace().rev().take(5).collect::<Vec<_>>(), ["-", "-", "-", "-", "shown"]);
    assert!(text.contains("curl -s -H 'Authorization: Bearer tl_"), "{text}");
}

#[test]
fn operator_policies_are_validated_stored_and_explained() {
    let hub = TestHub::new(Backend::Sqlite);
    hub.apply(COALITION);
    let report = hub.write("report.md", REPORT);
    let id = hub.ok(&["report", "submit", path_str(&report), "--user", "us-analyst"]).trim().to_string();

    let bad = hub.dir.path().join("bad-policies");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("broken.cedar"), "forbid (principal, action, resource) when { resource.colour == 1 };")
        .unwrap();
    let output = hub.run(&["--policies", path_str(&bad), "view", &id, "--as", "iq-analyst"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("broken.cedar"), "{}", stderr(&output));
    let mut server = hub.command();
    let output = server.args(["--policies", path_str(&bad), "serve", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert!(!output.status.success(), "serve must not start with an invalid policy");
    assert!(stderr(&output).contains("broken.cedar"));

    let fvey = hub.dir.path().join("policies");
    std::fs::create_dir(&fvey).unwrap();
    std::fs::write(
        fvey.join("ied.cedar"),
        "@id(\"ied-fvey-only\")\nforbid (principal, action, resource)\nwhen { resource.topics.contains(\"counter-ied\") && !(principal in Group::\"FVEY\") }\nunless { context.is_originator };\n",
    )
    .unwrap();
    assert!(!hub.run(&["--policies", path_str(&fvey), "view", &id, "--as", "iq-analyst"]).status.success());
    // The policy set stays in force for every later command and process.
    assert!(!hub.run(&["view", &id, "--as", "iq-analyst"]).status.success());
    let explained = hub.ok(&["explain", &id, "--as", "iq-analyst"]);
    assert!(explained.contains("ied-fvey-only"), "{explained}");
    assert!(hub.ok(&["view", &id, "--as", "us-analyst"]).contains("(S//NF)"));
    assert!(
        hub.ok(&["index", "verify"]).contains("consistent with 6 object versions"),
        "the report and the marking definitions of its portions"
    );
    // An empty policy folder takes the operator policies away again.
    let none = hub.dir.path().join("no-policies");
    std::fs::create_dir(&none).unwrap();
    assert!(hub
        .ok(&["--policies", path_str(&none), "view", &id, "--as", "iq-analyst"])
        .contains("BANNER: SECRET//ORCON/REL TO USA, IRQ"));
}
