//! picow-serve's integration tests, as one test binary: the engine
//! in-process on 127.0.0.1 with real sockets (`engine`), and under load,
//! with slow and vanishing clients (`reliability`).

mod common;

mod engine;
mod reliability;
mod snapshots;
