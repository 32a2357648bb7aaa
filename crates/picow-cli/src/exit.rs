//! Exit codes, the same for every subcommand.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also: the reader of our output went away, a broken pipe) |
//! | 1 | runtime failure, including a `--fail` pattern seen |
//! | 2 | invalid input or usage |
//! | 124 | timed out waiting for an expectation (as GNU `timeout`) |

use std::io::{self, Write};

use color_eyre::Report;
use picow_i18n::{tr, Msg};

use crate::esp::device::DeviceError;
use crate::port::PortError;

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

/// An error whose message says what happened and what to do next, with the
/// exit code it ends picow with. Its `Display` is English (logs, `--json`);
/// the report shows it in the user's language.
#[derive(Debug, thiserror::Error)]
#[error("{msg}")]
pub struct HumanError {
    /// What to say.
    pub msg: Msg,
    /// [`Exit::Failure`] or [`Exit::Usage`].
    pub code: Exit,
}

impl HumanError {
    /// A runtime failure (exit 1).
    pub fn failure(msg: Msg) -> HumanError {
        HumanError {
            msg,
            code: Exit::Failure,
        }
    }

    /// Invalid input, nothing changed (exit 2).
    pub fn usage(msg: Msg) -> HumanError {
        HumanError {
            msg,
            code: Exit::Usage,
        }
    }
}

/// The exit code for a subcommand's result, printing the error if any.
///
/// An error is one paragraph on stderr, `error: what happened; what to do`,
/// in the user's language. The technical report (color-eyre's, with the
/// backtrace that `RUST_BACKTRACE` captures) follows only with `debug`
/// (`--debug` or `PICOW_DEBUG=1`): a developer's `RUST_BACKTRACE=1` alone
/// does not turn an expected error into a wall of frames.
pub fn report(result: color_eyre::Result<Exit>, debug: bool) -> Exit {
    match result {
        Ok(code) => code,
        Err(err) => {
            let code = classify(&err);
            if code != Exit::Success {
                let mut e = io::stderr().lock();
                let _ = writeln!(e, "{}", tr!("error-line", message = localized_chain(&err)));
                if debug {
                    let report = format!("{err:?}");
                    let _ = writeln!(e, "\n{}", report.trim_start_matches('\n'));
                } else if code == Exit::Failure && !explained(&err) {
                    let _ = writeln!(e, "{}", tr!("error-debug-hint"));
                }
            }
            code
        }
    }
}

/// The error and its causes on one line, `outer: inner: root`, in English
/// (a cause whose text its wrapper already ends with is not repeated).
pub fn chain(err: &Report) -> String {
    join(err.chain().map(ToString::to_string))
}

/// [`chain`] in the user's language, for messages that have a translation.
pub fn localized_chain(err: &Report) -> String {
    join(err.chain().map(localized))
}

fn join(parts: impl Iterator<Item = String>) -> String {
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        if out.last().is_some_and(|last| last.ends_with(&p)) {
            continue;
        }
        out.push(p);
    }
    out.join(": ")
}

/// One error's text in the user's language when it has a translation.
pub fn localized(e: &(dyn std::error::Error + 'static)) -> String {
    if let Some(p) = e.downcast_ref::<PortError>() {
        return p.localized();
    }
    if let Some(h) = e.downcast_ref::<HumanError>() {
        return h.msg.localized();
    }
    if let Some(text) = e
        .downcast_ref::<DeviceError>()
        .and_then(DeviceError::localized)
    {
        return text;
    }
    e.to_string()
}

/// Whether the error is one picow expects and explains fully (no hint to
/// look at the technical details).
fn explained(err: &Report) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<PortError>().is_some()
            || e.downcast_ref::<HumanError>().is_some()
            || e.downcast_ref::<DeviceError>()
                .is_some_and(|d| d.localized().is_some())
    })
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
    if let Some(h) = err.chain().find_map(|e| e.downcast_ref::<HumanError>()) {
        return h.code;
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
    fn chains_drop_repeated_causes() {
        let inner = Err::<(), _>(io::Error::other("No such device"))
            .wrap_err("could not open /dev/x: No such device")
            .wrap_err("monitor")
            .unwrap_err();
        assert_eq!(
            chain(&inner),
            "monitor: could not open /dev/x: No such device"
        );
    }

    #[test]
    fn port_errors_are_reported_in_the_users_language() {
        let err = Report::new(PortError::NoBoard { candidates: vec![] });
        let en = picow_i18n::with_lang(picow_i18n::Lang::En, || localized_chain(&err));
        let zh = picow_i18n::with_lang(picow_i18n::Lang::ZhCn, || localized_chain(&err));
        assert!(
            en.contains("data cable") && en.contains("picow probe"),
            "{en}"
        );
        assert!(zh.contains("数据") && zh.contains("picow probe"), "{zh}");
        // The English form is what --json and logs carry, whatever the language.
        assert_eq!(
            picow_i18n::with_lang(picow_i18n::Lang::ZhCn, || chain(&err)),
            en
        );
        assert!(explained(&err));
        assert!(!explained(&eyre!("boom")));
    }

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
