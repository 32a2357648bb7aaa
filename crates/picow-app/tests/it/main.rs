//! picow-app's integration tests, as one test binary: each module is what
//! used to be a file of its own under `tests/`. Run one with a filter, e.g.
//! `cargo test -p picow-app --test it session::`.

mod common;

mod discovery;
mod ota;
mod partition_csv;
mod resilience;
mod session;
