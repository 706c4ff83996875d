//! The native rest-server, black-box against the real binary (and, where a
//! test needs a short idle timeout, the engine in a process of its own), in
//! one test binary with a module for each concern.
#![cfg(feature = "rest-server")]

#[path = "support/rest_server.rs"]
mod rest_server_support;
#[path = "support/restic.rs"]
mod restic_support;
mod support;

#[path = "rest_server/alerts.rs"]
mod alerts;
#[path = "rest_server/attack.rs"]
mod attack;
#[path = "rest_server/compat.rs"]
mod compat;
#[path = "rest_server/protocol.rs"]
mod protocol;
#[path = "rest_server/repo_metrics.rs"]
mod repo_metrics;
#[path = "rest_server/restic.rs"]
mod restic;
#[path = "rest_server/rights.rs"]
mod rights;
#[path = "rest_server/scrub.rs"]
mod scrub;
#[path = "rest_server/slow_disk.rs"]
mod slow_disk;
#[path = "rest_server/status.rs"]
mod status;
#[path = "rest_server/timeout.rs"]
mod timeout;
#[path = "rest_server/users.rs"]
mod users;
