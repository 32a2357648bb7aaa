//! One way to read the values people type, and to write the times they
//! read, in every picow subcommand:
//!
//! - [`duration`]: `90`, `90s`, `1m30s`, `1m 30s`, `500ms`, `1.5s`, `2h`
//!   (a bare number is seconds), with one error message;
//! - [`size`]: `4194304`, `4MiB`, `4MB`, `4M`, `64KiB` (binary units, as
//!   every ESP tool writes flash sizes);
//! - [`time`]: local time by default, UTC with `--utc`, for people; RFC 3339
//!   in UTC for programs.
//!
//! Parsers return an error whose message states the rule; the caller (a
//! clap value parser) adds the flag's name, so every message reads
//! `invalid value '…' for '--timeout <DUR>': …` and exits 2.

pub mod duration;
pub mod size;
pub mod time;
