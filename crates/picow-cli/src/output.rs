//! Colours, logging and error-report hooks, decided by the global options.

use std::fmt;
use std::io::IsTerminal;

use picow_i18n::tr;
use tracing::{Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::{ColorChoice, GlobalArgs};

/// Whether to colour output on stderr.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}

/// Installs color-eyre (plain when colours are off; a panic asks the user
/// to report it) and a tracing subscriber on stderr: `-q` errors only,
/// default warnings, `-v` debug, `-vv` trace; `RUST_LOG`, when set, wins.
///
/// Without `-v`, `--debug` or `RUST_LOG`, a log line is written for people,
/// `warning: …` (no time stamp, no module path); otherwise in tracing's full
/// format.
pub fn install_hooks(global: &GlobalArgs) -> color_eyre::Result<()> {
    let color = use_color(global.color);
    // A second install (tests running several commands in one process) is harmless.
    let _ = hooks(color).install();
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let from_env = tracing_subscriber::EnvFilter::try_from_default_env().ok();
    let technical = from_env.is_some() || global.verbose > 0 || global.debug;
    let filter = from_env.unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(Redacted)
        .with_writer(std::io::stderr)
        .with_ansi(color);
    let _ = if technical {
        builder.try_init()
    } else {
        builder.event_format(ForPeople).try_init()
    };
    Ok(())
}

/// Log fields as tracing-subscriber writes them, except byte payloads: at
/// debug level espflash logs every command it sends with its data
/// (`Writing command: FlashDeflData { data: [78, 9c, …], … }`), and the
/// config region's stream inflates to the Wi-Fi password. Every
/// `data: [..]` list is written as its length only, at every log level and
/// whatever `RUST_LOG` says.
#[derive(Debug, Clone, Copy)]
pub struct Redacted;

impl<'w> tracing_subscriber::field::MakeVisitor<tracing_subscriber::fmt::format::Writer<'w>>
    for Redacted
{
    type Visitor = RedactedVisitor<'w>;

    fn make_visitor(&self, target: tracing_subscriber::fmt::format::Writer<'w>) -> Self::Visitor {
        RedactedVisitor(tracing_subscriber::fmt::format::DefaultVisitor::new(
            target, true,
        ))
    }
}

/// The visitor of [`Redacted`]: tracing-subscriber's own, fed redacted text.
#[derive(Debug)]
pub struct RedactedVisitor<'w>(tracing_subscriber::fmt::format::DefaultVisitor<'w>);

impl tracing::field::Visit for RedactedVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name().starts_with("log.") {
            return self.0.record_debug(field, value);
        }
        let text = format!("{value:?}");
        match redact_payloads(&text) {
            Some(r) => self.0.record_debug(field, &format_args!("{r}")),
            None => self.0.record_debug(field, &format_args!("{text}")),
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match redact_payloads(value) {
            Some(r) => self.0.record_str(field, &r),
            None => self.0.record_str(field, value),
        }
    }
}

impl tracing_subscriber::field::VisitOutput<std::fmt::Result> for RedactedVisitor<'_> {
    fn finish(self) -> std::fmt::Result {
        self.0.finish()
    }
}

impl tracing_subscriber::field::VisitFmt for RedactedVisitor<'_> {
    fn writer(&mut self) -> &mut dyn std::fmt::Write {
        self.0.writer()
    }
}

/// `text` with every `data: [..]` byte list replaced by its length, or
/// `None` when it has none.
pub fn redact_payloads(text: &str) -> Option<String> {
    const KEY: &str = "data: [";
    if !text.contains(KEY) {
        return None;
    }
    let mut out = String::with_capacity(text.len().min(256));
    let mut rest = text;
    while let Some(i) = rest.find(KEY) {
        out.push_str(&rest[..i + KEY.len()]);
        rest = &rest[i + KEY.len()..];
        let end = rest.find(']').unwrap_or(rest.len());
        let list = rest[..end].trim();
        let n = if list.is_empty() {
            0
        } else {
            list.split(',').count()
        };
        out.push_str(&format!("{n} bytes not logged"));
        rest = &rest[end..];
    }
    out.push_str(rest);
    Some(out)
}

/// color-eyre's hooks: a panic report asks the user to report the bug.
fn hooks(color: bool) -> color_eyre::config::HookBuilder {
    let hooks = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .panic_section(tr!("panic-report"));
    if color {
        hooks
    } else {
        hooks.theme(color_eyre::config::Theme::new())
    }
}

/// A log line for people: `warning: the port has no modem-control lines`.
#[derive(Debug, Clone, Copy)]
pub struct ForPeople;

impl<S, N> FormatEvent<S, N> for ForPeople
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => tr!("log-error"),
            Level::WARN => tr!("log-warning"),
            Level::INFO => tr!("log-info"),
            _ => tr!("log-debug"),
        };
        write!(writer, "{level}")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn espflash_payloads_are_never_logged() {
        let buf = Buf::default();
        let b2 = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .fmt_fields(Redacted)
            .with_writer(move || b2.clone())
            .with_ansi(false)
            .finish();
        let secret = b"PicoLab\0correct-horse";
        let cmd = espflash::command::Command::FlashDeflData {
            data: secret,
            pad_to: 0,
            pad_byte: 0xff,
            sequence: 3,
        };
        tracing::subscriber::with_default(sub, || {
            tracing::debug!(target: "espflash::connection", "Writing command: {cmd:02x?}");
            tracing::debug!(target: "espflash::connection", "Writing command: {:02x?}",
                espflash::command::Command::ReadReg { address: 0x6000_0000 });
            tracing::info!(port = "/dev/ttyACM0", "plain {}", 42);
        });
        let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            log.contains("Writing command: FlashDeflData { data: [21 bytes not logged], pad_to: 00, pad_byte: ff, sequence: 03 }"),
            "{log}"
        );
        assert!(!log.contains("50, 69, 63, 6f"), "{log}");
        assert!(log.contains("ReadReg { address: 60000000 }"), "{log}");
        assert!(log.contains("plain 42 port=\"/dev/ttyACM0\""), "{log}");
        assert_eq!(redact_payloads("x"), None);
        assert_eq!(
            redact_payloads("a data: [] b data: [1, 2]").as_deref(),
            Some("a data: [0 bytes not logged] b data: [2 bytes not logged]")
        );
    }

    #[test]
    fn a_panic_report_asks_for_a_bug_report() {
        let (panic_hook, _) = hooks(false).into_hooks();
        let seen = Arc::new(Mutex::new(String::new()));
        let keep = Arc::clone(&seen);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            *keep.lock().unwrap() = panic_hook.panic_report(info).to_string();
        }));
        let _ = std::panic::catch_unwind(|| panic!("the test's own panic"));
        std::panic::set_hook(previous);
        let report = seen.lock().unwrap().clone();
        assert!(report.contains("the test's own panic"), "{report}");
        assert!(report.contains("bug in picow"), "{report}");
        assert!(report.contains("report it"), "{report}");
    }
}
