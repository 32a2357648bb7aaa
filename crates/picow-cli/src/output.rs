//! Colours, logging and error-report hooks, decided by the global options.

use std::io::IsTerminal;

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

/// Installs color-eyre (plain when colours are off) and a tracing subscriber
/// on stderr: `-q` errors only, default warnings, `-v` debug, `-vv` trace;
/// `RUST_LOG`, when set, wins.
pub fn install_hooks(global: &GlobalArgs) -> color_eyre::Result<()> {
    let color = use_color(global.color);
    let hooks = color_eyre::config::HookBuilder::default().display_env_section(false);
    let hooks = if color {
        hooks
    } else {
        hooks.theme(color_eyre::config::Theme::new())
    };
    // A second install (tests running several commands in one process) is harmless.
    let _ = hooks.install();
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(Redacted)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .try_init();
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
}
