//! Exit codes, the same for every subcommand.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also: the reader of our output went away, a broken pipe) |
//! | 1 | runtime failure, including a `--fail` pattern seen |
//! | 2 | invalid input or usage |
//! | 124 | timed out waiting for an expectation (as GNU `timeout`) |

use std::io;

use color_eyre::Report;

/// How a subcommand ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything asked for happened.
    Success = 0,
    /// Something failed at run time.
    Failure = 1,
    /// The input or usage was invalid; nothing was changed.
    Usage = 2,
    /// An expectation was not met in time.
    Timeout = 124,
}

/// Invalid input: reported with exit code 2. The message names the field and
/// the rule, and never contains a secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A subcommand that is not built yet: exit code 2, never fake success.
#[derive(Debug, thiserror::Error)]
#[error("`picow {command}` is not implemented yet (tracked in issue #{issue}); nothing was done")]
pub struct NotImplemented {
    /// The subcommand.
    pub command: &'static str,
    /// The issue that builds it.
    pub issue: u32,
}

/// The exit code for a subcommand's result, printing the error if any.
pub fn report(result: color_eyre::Result<Exit>) -> Exit {
    match result {
        Ok(code) => code,
        Err(err) => {
            let code = classify(&err);
            match code {
                Exit::Success => {}
                // Input errors are the user's to fix: the message, no backtrace.
                Exit::Usage => eprintln!("error: {}", chain(&err)),
                _ => eprintln!("Error: {err:?}"),
            }
            code
        }
    }
}

/// The error and its causes on one line, `outer: inner: root`.
pub fn chain(err: &Report) -> String {
    err.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Which exit code an error maps to.
pub fn classify(err: &Report) -> Exit {
    if is_broken_pipe(err) {
        return Exit::Success;
    }
    if err.downcast_ref::<UsageError>().is_some() || err.downcast_ref::<NotImplemented>().is_some()
    {
        return Exit::Usage;
    }
    Exit::Failure
}

/// Whether the error chain ends in a broken pipe (our reader went away).
pub fn is_broken_pipe(err: &Report) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use color_eyre::eyre::{eyre, WrapErr};

    #[test]
    fn classification() {
        assert_eq!(classify(&Report::new(UsageError("x".into()))), Exit::Usage);
        let nested = Err::<(), _>(UsageError("port".into()))
            .wrap_err("while starting")
            .unwrap_err();
        assert_eq!(classify(&nested), Exit::Usage);
        assert_eq!(classify(&eyre!("boom")), Exit::Failure);
        let pipe = Err::<(), _>(io::Error::from(io::ErrorKind::BrokenPipe))
            .wrap_err("writing")
            .unwrap_err();
        assert_eq!(classify(&pipe), Exit::Success);
    }
}
