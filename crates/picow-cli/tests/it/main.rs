//! picow-cli's integration tests, as one test binary (one link of tokio,
//! espflash, ratatui and addr2line instead of one per file): each module is
//! what used to be a file of its own under `tests/`. Run one with a filter,
//! e.g. `cargo test -p picow-cli --test it serve_cli::`.

mod common;
mod monitor_support;

mod app_serve;
mod cli;
mod flash_fw;
mod flash_ota;
mod flash_ota_fw;
mod flash_sim;
mod for_people;
mod hostile_inputs;
mod lan;
mod micropython;
mod monitor_backtrace;
mod monitor_fw_elf;
mod monitor_hostile;
mod monitor_interactive;
mod monitor_reconnect;
mod monitor_stream;
mod monitor_term;
mod serve_cli;
mod serve_hostile;
mod serve_ota;
mod serve_tui;
mod serve_web;
mod sim;
