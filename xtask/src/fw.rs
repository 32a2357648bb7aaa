//! `cargo xtask fw ...`: firmware builds (issue #4).

use crate::Result;

/// Runs `cargo xtask fw <args>`.
pub fn run(_args: &[String]) -> Result {
    Err("`cargo xtask fw` is not implemented yet (issue #4)".into())
}

/// The firmware steps of `cargo xtask ci` (none yet).
pub fn ci_steps() -> Result {
    Ok(())
}
