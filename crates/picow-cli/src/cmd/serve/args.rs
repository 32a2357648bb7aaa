//! The flags of `picow serve` and their value parsers. Every parser returns a
//! message that names the rule; clap adds the flag and exits with code 2.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use regex::Regex;

use picow_serve::text::{self, Charset};

/// Arguments of `picow serve`.
#[derive(Debug, Clone, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct ServeArgs {
    /// TCP (or UDP) port to listen on, 1 to 65535; 0 picks a free one (the
    /// first line and the `listening` event say which).
    #[arg(long, default_value_t = picow_protocol::session::DEFAULT_PORT)]
    pub port: u16,
    /// Address to listen on (default: every IPv4 and IPv6 address).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,
    /// Serve UDP instead of TCP; each peer address counts as a client.
    #[arg(long)]
    pub udp: bool,
    /// How received bytes are shown as text: utf-8, gbk, gb18030, big5, ...
    #[arg(long, value_name = "NAME", default_value = "utf-8", value_parser = parse_encoding)]
    pub encoding: Charset,
    /// Show received and sent data as hex bytes instead of text.
    #[arg(long)]
    pub hex: bool,
    /// Send TEXT to each client when it connects (repeatable, in order).
    /// Escapes: \r \n \t \0 \\ \xNN.
    #[arg(long, value_name = "TEXT", value_parser = parse_send)]
    pub send: Vec<Bytes>,
    /// Repeat the --send texts to every client this often (e.g. 1s, 500ms).
    #[arg(long, value_name = "DUR", value_parser = crate::values::positive_duration, requires = "send")]
    pub every: Option<Duration>,
    /// Wait for text matching REGEX (repeatable, matched in order); exit 0
    /// when all have been seen.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub expect: Vec<Regex>,
    /// Match --expect only against what client ID (`3` or `#3`) sends.
    #[arg(long, value_name = "ID", value_parser = parse_client_id)]
    pub from: Option<u64>,
    /// Wait until N clients are connected at once (with --expect: as well).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub clients: Option<u64>,
    /// Give up after DUR (e.g. 20s): exit 124 if --expect/--clients are not
    /// met, exit 0 after DUR otherwise.
    #[arg(long, value_name = "DUR", value_parser = crate::values::positive_duration)]
    pub timeout: Option<Duration>,
    /// Append every byte received and sent to FILE as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Refuse connections beyond N clients at once.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_clients: u64,
    /// Drop a client whose unsent data exceeds SIZE (it stopped reading):
    /// 1B to 1GiB, e.g. 1MiB, 64KiB, 1048576.
    #[arg(long, value_name = "SIZE", default_value = "1MiB",
          value_parser = crate::values::size_within(1, 1 << 30))]
    pub max_queue: u64,
    /// With --udp: a peer that sends nothing for DUR expires (its slot
    /// under --max-clients is free again; if it sends later it is a new
    /// client): 1s to 24h, default 2m.
    #[arg(long, value_name = "DUR", default_value = "2m", requires = "udp",
          value_parser = crate::values::duration_within(Duration::from_secs(1), Duration::from_secs(24 * 3600)))]
    pub udp_idle: Duration,
    /// Line ending added to lines typed interactively.
    #[arg(long, value_enum, value_name = "END", default_value_t = LineEnding::None)]
    pub line_ending: LineEnding,
    /// Plain lines on a terminal too (no full-screen view).
    #[arg(long)]
    pub plain: bool,
    /// Lines the terminal view keeps for scrolling back (its memory is
    /// bounded by this: at most 4 KiB a line).
    #[arg(long, value_name = "LINES", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub scrollback: u64,
    /// In the terminal view, a received line that is not continued within
    /// DUR ends, and what comes next is a line with its own time (like
    /// SSCOM's packet timeout; a newline always ends a line): 0 to 10s.
    #[arg(long, value_name = "DUR", default_value = "100ms",
          value_parser = crate::values::duration_within(Duration::ZERO, Duration::from_secs(10)))]
    pub line_timeout: Duration,
    /// Also serve the page (NetAssist's window in the browser) on ADDR:PORT
    /// (default 127.0.0.1:10080). Any address but loopback needs the token
    /// printed at start.
    #[arg(long, value_name = "ADDR:PORT", num_args = 0..=1,
          default_missing_value = "127.0.0.1:10080", value_parser = super::web::parse_addr)]
    pub web: Option<std::net::SocketAddr>,
    /// Open the page in the default browser (with --web).
    #[arg(long, requires = "web")]
    pub open: bool,
    /// The name serve advertises on the LAN (mDNS/DNS-SD), which boards
    /// flashed with --server auto:NAME look for [default: this computer's name].
    #[arg(long, value_name = "NAME", value_parser = parse_instance)]
    pub name: Option<String>,
    /// Do not advertise serve on the LAN (no mDNS); boards then need
    /// --server HOST:PORT. Also PICOW_NO_ADVERTISE=1.
    #[arg(long, env = "PICOW_NO_ADVERTISE", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_advertise: bool,
    /// The port of the boards' OTA listeners, where serve asks a PicoW what firmware it runs and sends /update and --update
    #[arg(long, value_name = "PORT", default_value_t = picow_protocol::ota::wire::PORT,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub ota_port: u16,
    /// The boards' OTA password (else PICOW_OTA_PASSWORD, else the one picow keeps for each board's MAC)
    #[arg(
        long,
        env = "PICOW_OTA_PASSWORD",
        value_name = "PASS",
        hide_env_values = true
    )]
    pub ota_password: Option<String>,
    /// Update every PicoW that connects running another image than FIRMWARE (an ELF or app image) over Wi-Fi, once per board
    #[arg(long, value_name = "FIRMWARE")]
    pub update: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Interactive commands (typed on stdin; other lines are sent as text):
  /list                 clients with address, kind and byte counters
  /select ID|all        where typed lines go (default: all)
  /disconnect ID        close a client
  /hex 48 65 6c         send bytes given in hex
  /file PATH            send a file's bytes
  /ending none|lf|cr|crlf  line ending added to typed lines
  /auto DUR TEXT        send TEXT every DUR; /auto stop ends it
  /quit                 close everything and exit (also Ctrl-C)

Exit codes: 0 expectations met (or stopped), 1 runtime failure,
2 invalid flag or the port cannot be bound, 124 timed out.";

/// The line ending added to typed lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LineEnding {
    /// Nothing (as NetAssist by default).
    None,
    /// `\n`.
    Lf,
    /// `\r` (some devices end lines with CR alone).
    Cr,
    /// `\r\n`.
    Crlf,
}

impl LineEnding {
    /// The bytes appended.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            LineEnding::None => b"",
            LineEnding::Lf => b"\n",
            LineEnding::Cr => b"\r",
            LineEnding::Crlf => b"\r\n",
        }
    }

    /// Parses `none`, `lf`, `cr` or `crlf`.
    pub fn parse(s: &str) -> Option<LineEnding> {
        <LineEnding as ValueEnum>::from_str(s, true).ok()
    }
}

fn parse_instance(s: &str) -> Result<String, String> {
    picow_protocol::forms::validate_instance(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string().replace("the NAME of auto:NAME", "NAME"))
}

fn parse_encoding(s: &str) -> Result<Charset, String> {
    Charset::from_label(s).ok_or_else(|| {
        format!("unknown encoding `{s}`: use a WHATWG label such as utf-8, gbk, gb18030, big5")
    })
}

fn parse_send(s: &str) -> Result<Bytes, String> {
    Ok(text::unescape(s).map(Bytes::from)?)
}

fn parse_regex(s: &str) -> Result<Regex, String> {
    Regex::new(s).map_err(|e| format!("not a valid regular expression: {e}"))
}

/// Parses a client id, `3` or `#3`.
pub fn parse_client_id(s: &str) -> Result<u64, String> {
    let digits = s.trim().strip_prefix('#').unwrap_or(s.trim());
    match digits.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a client id: give a number such as 1 or #1"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: ServeArgs,
    }

    fn err(args: &[&str]) -> String {
        let mut v = vec!["serve"];
        v.extend_from_slice(args);
        let e = T::try_parse_from(v).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        e.to_string()
    }

    #[test]
    fn invalid_values_name_the_flag() {
        assert!(err(&["--port", "70000"]).contains("--port"));
        assert!(err(&["--expect", "(unclosed"]).contains("--expect"));
        assert!(err(&["--timeout", "soon"]).contains("--timeout"));
        assert!(err(&["--timeout", "0s"]).contains("too short"));
        assert!(err(&["--max-queue", "2GiB"]).contains("--max-queue"));
        assert!(err(&["--send", "x", "--every=-1s"]).contains("--every"));
        assert!(err(&["--encoding", "klingon"]).contains("--encoding"));
        assert!(err(&["--from", "#x"]).contains("--from"));
        assert!(err(&["--send", "\\q"]).contains("--send"));
        assert!(err(&["--clients", "0"]).contains("--clients"));
        assert!(err(&["--max-clients", "0"]).contains("--max-clients"));
        assert!(err(&["--scrollback", "5"]).contains("--scrollback"));
        assert!(err(&["--name", ""]).contains("--name"));
        assert!(err(&["--name", " lab"]).contains("must not contain control characters"));
    }

    #[test]
    fn values_parse() {
        let t = T::try_parse_from([
            "serve",
            "--send",
            "ping\\r\\n",
            "--send",
            "x",
            "--every",
            "1s",
            "--expect",
            "I got:.*",
            "--from",
            "#2",
            "--timeout",
            "1m 30s",
            "--encoding",
            "GBK",
            "--max-queue",
            "64KiB",
        ])
        .unwrap();
        assert_eq!(
            t.a.send,
            vec![Bytes::from_static(b"ping\r\n"), Bytes::from_static(b"x")]
        );
        assert_eq!(t.a.every, Some(Duration::from_secs(1)));
        assert_eq!(t.a.from, Some(2));
        assert_eq!(t.a.timeout, Some(Duration::from_secs(90)));
        assert_eq!(t.a.encoding.name(), "GBK");
        assert_eq!(t.a.port, 10000);
        assert_eq!(t.a.max_clients, 1024);
        assert_eq!(t.a.max_queue, 64 << 10);
        assert_eq!(LineEnding::parse("CRLF"), Some(LineEnding::Crlf));
        assert_eq!(LineEnding::parse("cr"), Some(LineEnding::Cr));
        assert_eq!(t.a.scrollback, 10_000);
    }
}
