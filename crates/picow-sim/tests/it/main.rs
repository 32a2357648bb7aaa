//! picow-sim's integration tests, as one test binary: each module is what
//! used to be a file of its own under `tests/`. Run one with a filter, e.g.
//! `cargo test -p picow-sim --test it pty::`.
#![cfg(unix)] // picow-sim is Unix-only (ptys, Unix sockets)

mod common;

mod espflash;
mod firmware;
mod fw_image;
mod pty;
