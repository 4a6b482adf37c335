//! The integration test binary: drives the real `tearline` binary and server through real
//! clients, and checks the hub against the oracle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod cli;
mod common;
mod crash;
mod deconfliction;
mod fingerprint;
mod ledger;
mod ledger_integrity;
mod onward;
mod onward_properties;
mod oracle;
mod properties;
mod provenance_properties;
mod scenario;
mod taxii;
mod taxii_properties;
