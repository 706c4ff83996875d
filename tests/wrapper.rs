//! The `restic-rest-server` wrapper, in one test binary: [`applet`] against a
//! stand-in rest-server, [`e2e_restic`] end to end with the native rest-server
//! and the real restic client.

mod support;
// Of the rest-server tests' helpers the wrapper's tests take only the alert
// receiver and noise(); the rest-server binary uses them all.
#[cfg(feature = "rest-server")]
#[allow(dead_code, unused_imports)]
#[path = "support/rest_server.rs"]
mod rest_server_support;

#[path = "wrapper/applet.rs"]
mod applet;
#[cfg(all(feature = "rest-server", feature = "restic-rest-server"))]
#[path = "wrapper/e2e_restic.rs"]
mod e2e_restic;
