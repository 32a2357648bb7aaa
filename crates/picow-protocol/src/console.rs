//! The serial console line format.
//!
//! The firmware prints one line per event, starting with [`PREFIX`]:
//!
//! ```text
//! @picow boot version="0.1.0" chip="esp32c3"
//! @picow wifi-joined ip="192.168.2.50" gateway="192.168.2.1" rssi=-52
//! @picow rx len=5 data="hello"
//! ```
//!
//! Then the event name, then `key=value` fields. Text values are always in
//! double quotes with `\\`, `\"`, `\n`, `\r`, `\t` and `\xNN` escapes
//! (printable ASCII and valid UTF-8 stay readable); numbers are bare.
//! Other lines on the console (log output, panics) are not picow events, and
//! [`Event::parse`] returns `None` for them, so tools never scrape free
//! text. Unknown fields are ignored, so that newer firmware can add fields.
//!
//! The console also takes commands, one per line: see [`Command`].

use core::fmt::{self, Write};

/// What every picow console line starts with.
pub const PREFIX: &str = "@picow ";

/// How much an event matters to a person watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Progress and data.
    Info,
    /// Something failed and will be retried.
    Warn,
    /// Something needs the user.
    Error,
}

/// Text in an event: raw bytes when built for writing, the escaped form
/// when parsed from a line. Compare and read it with [`Text::bytes`].
#[derive(Clone, Copy)]
pub enum Text<'a> {
    /// Unescaped bytes (any bytes).
    Raw(&'a [u8]),
    /// The escaped form between the quotes, as read from a line.
    Escaped(&'a str),
}

impl<'a> Text<'a> {
    /// Text from a string.
    pub fn str(s: &'a str) -> Self {
        Text::Raw(s.as_bytes())
    }

    /// The unescaped bytes.
    pub fn bytes(&self) -> TextBytes<'a> {
        match *self {
            Text::Raw(b) => TextBytes::Raw(b.iter()),
            Text::Escaped(s) => TextBytes::Escaped(s.as_bytes().iter()),
        }
    }

    /// The unescaped bytes in a vector.
    #[cfg(any(test, feature = "std"))]
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes().collect()
    }

    /// The text, with invalid UTF-8 replaced.
    #[cfg(any(test, feature = "std"))]
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.to_vec()).into_owned()
    }

    fn write_escaped(&self, w: &mut impl Write) -> fmt::Result {
        match *self {
            Text::Escaped(s) => w.write_str(s),
            Text::Raw(b) => escape(b, w),
        }
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes().eq(other.bytes())
    }
}
impl Eq for Text<'_> {}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        self.write_escaped(f)?;
        f.write_char('"')
    }
}

impl fmt::Display for Text<'_> {
    /// The escaped form without quotes: readable, one line, lossless.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_escaped(f)
    }
}

/// Iterator over the unescaped bytes of a [`Text`].
#[derive(Debug, Clone)]
pub enum TextBytes<'a> {
    /// From raw bytes.
    Raw(core::slice::Iter<'a, u8>),
    /// From the escaped form.
    Escaped(core::slice::Iter<'a, u8>),
}

impl Iterator for TextBytes<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        match self {
            TextBytes::Raw(it) => it.next().copied(),
            TextBytes::Escaped(it) => {
                let b = *it.next()?;
                if b != b'\\' {
                    return Some(b);
                }
                // Escapes were validated when the line was parsed.
                match it.next().copied()? {
                    b'n' => Some(b'\n'),
                    b'r' => Some(b'\r'),
                    b't' => Some(b'\t'),
                    b'x' => {
                        let h = hex_val(*it.next()?)?;
                        let l = hex_val(*it.next()?)?;
                        Some(h << 4 | l)
                    }
                    other => Some(other),
                }
            }
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Escapes bytes for a quoted value.
pub fn escape(bytes: &[u8], w: &mut impl Write) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => w.write_str("\\\"")?,
                '\\' => w.write_str("\\\\")?,
                '\n' => w.write_str("\\n")?,
                '\r' => w.write_str("\\r")?,
                '\t' => w.write_str("\\t")?,
                c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(w, "\\x{:02x}", c as u32)?,
                c if c.is_control() => {
                    let mut buf = [0; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        write!(w, "\\x{b:02x}")?;
                    }
                }
                c => w.write_char(c)?,
            }
        }
        for b in chunk.invalid() {
            write!(w, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

/// A console event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The firmware started.
    Boot {
        /// Firmware version.
        version: Text<'a>,
        /// Chip name, e.g. `esp32s3`.
        chip: Text<'a>,
        /// The OTA app slot it runs from (`ota_N` → N), when it knows.
        slot: Option<u32>,
    },
    /// A valid config was found. Never carries the password.
    ConfigOk {
        /// Wi-Fi network.
        ssid: Text<'a>,
        /// Server, canonical form (`tcp://host:port`).
        server: Text<'a>,
        /// Board name, when configured.
        name: Option<Text<'a>>,
    },
    /// No valid config: the board waits.
    ConfigInvalid {
        /// Machine-readable reason (`erased`, `crc`, …).
        reason: Text<'a>,
        /// What the user should do.
        hint: Text<'a>,
    },
    /// Joining Wi-Fi.
    WifiJoining {
        /// Wi-Fi network.
        ssid: Text<'a>,
        /// 1 for the first try.
        attempt: u32,
    },
    /// Joined Wi-Fi.
    WifiJoined {
        /// The board's address.
        ip: Text<'a>,
        /// The gateway.
        gateway: Text<'a>,
        /// Signal strength in dBm.
        rssi: i32,
    },
    /// Joining took too long.
    WifiTimeout {
        /// How long it tried.
        after_ms: u32,
        /// When it tries again.
        retry_in_ms: u32,
    },
    /// The Wi-Fi link went down.
    WifiLost,
    /// Connecting to the server.
    ServerConnecting {
        /// Server, canonical form.
        server: Text<'a>,
        /// 1 for the first try.
        attempt: u32,
    },
    /// Looking for the server on the LAN by DNS-SD (`--server auto`).
    ServerBrowsing {
        /// The service type, e.g. `_picow._tcp`.
        service: Text<'a>,
        /// The instance asked for (`auto:NAME`); absent: the first one.
        instance: Option<Text<'a>>,
        /// 1 for the first try.
        attempt: u32,
    },
    /// The server was found by multicast DNS: a DNS-SD instance, or a
    /// `.local` host name resolved.
    ServerDiscovered {
        /// The DNS-SD instance; absent for a `.local` host name.
        instance: Option<Text<'a>>,
        /// The server's host name, e.g. `picow.local`.
        host: Text<'a>,
        /// Where the board connects, canonical form (`tcp://ip:port`).
        server: Text<'a>,
        /// Milliseconds from the start of the search.
        after_ms: u32,
    },
    /// The board answers on multicast DNS: its names are its own (no
    /// other device answered its probes).
    MdnsUp {
        /// Its host name, e.g. `desk.local`.
        host: Text<'a>,
        /// The name of the DNS-SD instance it advertises.
        instance: Text<'a>,
        /// The board's configured name, when another device on the LAN
        /// had it and the board took `<name>-2` (or `-3`, …) instead.
        taken: Option<Text<'a>>,
    },
    /// Connected and greeted.
    ServerConnected {
        /// Server, canonical form.
        server: Text<'a>,
    },
    /// The connection ended or could not be made.
    ServerClosed {
        /// Machine-readable reason (`closed`, `refused`, `dns`, …).
        reason: Text<'a>,
        /// When it tries again.
        retry_in_ms: u32,
    },
    /// Data arrived from the server.
    Received {
        /// Number of bytes.
        len: u32,
        /// The bytes.
        data: Text<'a>,
    },
    /// The answer to the `status` command.
    Status {
        /// `down`, `joining` or `joined`.
        wifi: Text<'a>,
        /// The board's address, or empty.
        ip: Text<'a>,
        /// `idle`, `connecting`, `connected` or `backoff`.
        server: Text<'a>,
        /// Milliseconds since boot.
        uptime_ms: u64,
        /// Firmware version.
        version: Text<'a>,
        /// The OTA app slot it runs from, when it knows.
        slot: Option<u32>,
    },
    /// A console command was not understood.
    CommandError {
        /// What was typed.
        input: Text<'a>,
        /// The commands there are.
        hint: Text<'a>,
    },
    /// The image just installed over Wi-Fi runs on trial: it must greet its
    /// server (or answer an OTA check) within `timeout_ms`, or the board
    /// returns to the other slot.
    OtaTrial {
        /// The slot on trial.
        slot: u32,
        /// How long it has.
        timeout_ms: u32,
    },
    /// The image on trial is confirmed.
    OtaConfirmed {
        /// The slot confirmed.
        slot: u32,
        /// `server` (greeted its server) or `ota-check` (answered an OTA check).
        by: Text<'a>,
    },
    /// The image in `slot` is given up: the board returns to the other one.
    OtaRollback {
        /// The slot given up.
        slot: u32,
        /// `timeout` (not confirmed in time), `reset` (reset while on
        /// trial) or `bootloader` (it did not verify at boot).
        reason: Text<'a>,
    },
    /// An upload over Wi-Fi started.
    OtaBegin {
        /// The uploader's address.
        peer: Text<'a>,
        /// Bytes to receive.
        size: u32,
        /// 1 when the upload is gzip-compressed.
        compressed: u32,
    },
    /// An OTA client was refused; nothing was activated.
    OtaRefused {
        /// The uploader's address.
        peer: Text<'a>,
        /// Machine-readable: `auth`, `no-password`, `trial`, `size`, `chip`,
        /// `image`, `md5`, `flash`, `timeout`, `closed`, `protocol`, `layout`,
        /// `config`.
        reason: Text<'a>,
    },
    /// An update over Wi-Fi was written and verified; the board reboots
    /// into it.
    OtaDone {
        /// The slot it went to.
        slot: u32,
        /// Its version.
        version: Text<'a>,
    },
}

/// Why a picow line does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The event name is not known.
    #[error("unknown picow console event")]
    UnknownEvent,
    /// A required field is missing.
    #[error("picow console event lacks field `{0}`")]
    MissingField(&'static str),
    /// A field has a value of the wrong form.
    #[error("picow console field `{0}` has a bad value")]
    BadValue(&'static str),
    /// Quotes or escapes are broken.
    #[error("picow console line is malformed")]
    Syntax,
}

impl<'a> Event<'a> {
    /// The event's name on the console.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Boot { .. } => "boot",
            Event::ConfigOk { .. } => "config",
            Event::ConfigInvalid { .. } => "config-invalid",
            Event::WifiJoining { .. } => "wifi-joining",
            Event::WifiJoined { .. } => "wifi-joined",
            Event::WifiTimeout { .. } => "wifi-timeout",
            Event::WifiLost => "wifi-lost",
            Event::ServerConnecting { .. } => "server-connecting",
            Event::ServerBrowsing { .. } => "server-browsing",
            Event::ServerDiscovered { .. } => "server-discovered",
            Event::MdnsUp { .. } => "mdns-up",
            Event::ServerConnected { .. } => "server-connected",
            Event::ServerClosed { .. } => "server-closed",
            Event::Received { .. } => "rx",
            Event::Status { .. } => "status",
            Event::CommandError { .. } => "command-error",
            Event::OtaTrial { .. } => "ota-trial",
            Event::OtaConfirmed { .. } => "ota-confirmed",
            Event::OtaRollback { .. } => "ota-rollback",
            Event::OtaBegin { .. } => "ota-begin",
            Event::OtaRefused { .. } => "ota-refused",
            Event::OtaDone { .. } => "ota-done",
        }
    }

    /// How much it matters.
    pub fn level(&self) -> Level {
        match self {
            Event::ConfigInvalid { .. } => Level::Error,
            Event::WifiTimeout { .. }
            | Event::WifiLost
            | Event::ServerClosed { .. }
            | Event::CommandError { .. }
            | Event::OtaRollback { .. }
            | Event::OtaRefused { .. } => Level::Warn,
            _ => Level::Info,
        }
    }

    /// Whether this event changes the board's state (as opposed to data and
    /// replies), for tools that highlight state changes.
    pub fn is_state_change(&self) -> bool {
        !matches!(
            self,
            Event::Received { .. } | Event::Status { .. } | Event::CommandError { .. }
        )
    }

    /// Writes the line, with [`PREFIX`], without a line ending.
    pub fn write_line(&self, w: &mut impl Write) -> fmt::Result {
        w.write_str(PREFIX)?;
        w.write_str(self.name())?;
        let mut f = Fields { w };
        match self {
            Event::Boot {
                version,
                chip,
                slot,
            } => {
                f.text("version", version)?;
                f.text("chip", chip)?;
                f.opt_num("slot", *slot)
            }
            Event::ConfigOk { ssid, server, name } => {
                f.text("ssid", ssid)?;
                f.text("server", server)?;
                if let Some(n) = name {
                    f.text("name", n)?;
                }
                Ok(())
            }
            Event::ConfigInvalid { reason, hint } => {
                f.text("reason", reason)?;
                f.text("hint", hint)
            }
            Event::WifiJoining { ssid, attempt } => {
                f.text("ssid", ssid)?;
                f.num("attempt", *attempt)
            }
            Event::WifiJoined { ip, gateway, rssi } => {
                f.text("ip", ip)?;
                f.text("gateway", gateway)?;
                f.num("rssi", *rssi)
            }
            Event::WifiTimeout {
                after_ms,
                retry_in_ms,
            } => {
                f.num("after_ms", *after_ms)?;
                f.num("retry_in_ms", *retry_in_ms)
            }
            Event::WifiLost => Ok(()),
            Event::ServerConnecting { server, attempt } => {
                f.text("server", server)?;
                f.num("attempt", *attempt)
            }
            Event::ServerBrowsing {
                service,
                instance,
                attempt,
            } => {
                f.text("service", service)?;
                if let Some(i) = instance {
                    f.text("instance", i)?;
                }
                f.num("attempt", *attempt)
            }
            Event::ServerDiscovered {
                instance,
                host,
                server,
                after_ms,
            } => {
                if let Some(i) = instance {
                    f.text("instance", i)?;
                }
                f.text("host", host)?;
                f.text("server", server)?;
                f.num("after_ms", *after_ms)
            }
            Event::MdnsUp {
                host,
                instance,
                taken,
            } => {
                f.text("host", host)?;
                f.text("instance", instance)?;
                if let Some(t) = taken {
                    f.text("taken", t)?;
                }
                Ok(())
            }
            Event::ServerConnected { server } => f.text("server", server),
            Event::ServerClosed {
                reason,
                retry_in_ms,
            } => {
                f.text("reason", reason)?;
                f.num("retry_in_ms", *retry_in_ms)
            }
            Event::Received { len, data } => {
                f.num("len", *len)?;
                f.text("data", data)
            }
            Event::Status {
                wifi,
                ip,
                server,
                uptime_ms,
                version,
                slot,
            } => {
                f.text("wifi", wifi)?;
                f.text("ip", ip)?;
                f.text("server", server)?;
                f.num("uptime_ms", *uptime_ms)?;
                f.text("version", version)?;
                f.opt_num("slot", *slot)
            }
            Event::CommandError { input, hint } => {
                f.text("input", input)?;
                f.text("hint", hint)
            }
            Event::OtaTrial { slot, timeout_ms } => {
                f.num("slot", *slot)?;
                f.num("timeout_ms", *timeout_ms)
            }
            Event::OtaConfirmed { slot, by } => {
                f.num("slot", *slot)?;
                f.text("by", by)
            }
            Event::OtaRollback { slot, reason } => {
                f.num("slot", *slot)?;
                f.text("reason", reason)
            }
            Event::OtaBegin {
                peer,
                size,
                compressed,
            } => {
                f.text("peer", peer)?;
                f.num("size", *size)?;
                f.num("compressed", *compressed)
            }
            Event::OtaRefused { peer, reason } => {
                f.text("peer", peer)?;
                f.text("reason", reason)
            }
            Event::OtaDone { slot, version } => {
                f.num("slot", *slot)?;
                f.text("version", version)
            }
        }
    }

    /// Parses a console line (with or without its line ending). `None` when
    /// the line is not a picow event at all.
    pub fn parse(line: &'a str) -> Option<Result<Event<'a>, ParseError>> {
        let line = line.trim_end_matches(['\r', '\n']);
        let rest = line.strip_prefix(PREFIX)?;
        Some(Self::parse_body(rest))
    }

    fn parse_body(rest: &'a str) -> Result<Event<'a>, ParseError> {
        let (name, fields) = rest.split_once(' ').unwrap_or((rest, ""));
        let f = FieldList::new(fields)?;
        Ok(match name {
            "boot" => Event::Boot {
                version: f.text("version")?,
                chip: f.text("chip")?,
                slot: f.opt_num("slot")?,
            },
            "config" => Event::ConfigOk {
                ssid: f.text("ssid")?,
                server: f.text("server")?,
                name: f.opt_text("name")?,
            },
            "config-invalid" => Event::ConfigInvalid {
                reason: f.text("reason")?,
                hint: f.text("hint")?,
            },
            "wifi-joining" => Event::WifiJoining {
                ssid: f.text("ssid")?,
                attempt: f.num("attempt")?,
            },
            "wifi-joined" => Event::WifiJoined {
                ip: f.text("ip")?,
                gateway: f.text("gateway")?,
                rssi: f.num("rssi")?,
            },
            "wifi-timeout" => Event::WifiTimeout {
                after_ms: f.num("after_ms")?,
                retry_in_ms: f.num("retry_in_ms")?,
            },
            "wifi-lost" => Event::WifiLost,
            "server-connecting" => Event::ServerConnecting {
                server: f.text("server")?,
                attempt: f.num("attempt")?,
            },
            "server-browsing" => Event::ServerBrowsing {
                service: f.text("service")?,
                instance: f.opt_text("instance")?,
                attempt: f.num("attempt")?,
            },
            "server-discovered" => Event::ServerDiscovered {
                instance: f.opt_text("instance")?,
                host: f.text("host")?,
                server: f.text("server")?,
                after_ms: f.num("after_ms")?,
            },
            "mdns-up" => Event::MdnsUp {
                host: f.text("host")?,
                instance: f.text("instance")?,
                taken: f.opt_text("taken")?,
            },
            "server-connected" => Event::ServerConnected {
                server: f.text("server")?,
            },
            "server-closed" => Event::ServerClosed {
                reason: f.text("reason")?,
                retry_in_ms: f.num("retry_in_ms")?,
            },
            "rx" => Event::Received {
                len: f.num("len")?,
                data: f.text("data")?,
            },
            "status" => Event::Status {
                wifi: f.text("wifi")?,
                ip: f.text("ip")?,
                server: f.text("server")?,
                uptime_ms: f.num("uptime_ms")?,
                version: f.text("version")?,
                slot: f.opt_num("slot")?,
            },
            "command-error" => Event::CommandError {
                input: f.text("input")?,
                hint: f.text("hint")?,
            },
            "ota-trial" => Event::OtaTrial {
                slot: f.num("slot")?,
                timeout_ms: f.num("timeout_ms")?,
            },
            "ota-confirmed" => Event::OtaConfirmed {
                slot: f.num("slot")?,
                by: f.text("by")?,
            },
            "ota-rollback" => Event::OtaRollback {
                slot: f.num("slot")?,
                reason: f.text("reason")?,
            },
            "ota-begin" => Event::OtaBegin {
                peer: f.text("peer")?,
                size: f.num("size")?,
                compressed: f.num("compressed")?,
            },
            "ota-refused" => Event::OtaRefused {
                peer: f.text("peer")?,
                reason: f.text("reason")?,
            },
            "ota-done" => Event::OtaDone {
                slot: f.num("slot")?,
                version: f.text("version")?,
            },
            _ => return Err(ParseError::UnknownEvent),
        })
    }
}

struct Fields<'w, W: Write> {
    w: &'w mut W,
}

impl<W: Write> Fields<'_, W> {
    fn text(&mut self, key: &str, t: &Text<'_>) -> fmt::Result {
        write!(self.w, " {key}=\"")?;
        t.write_escaped(self.w)?;
        self.w.write_char('"')
    }
    fn num(&mut self, key: &str, n: impl fmt::Display) -> fmt::Result {
        write!(self.w, " {key}={n}")
    }
    fn opt_num(&mut self, key: &str, n: Option<impl fmt::Display>) -> fmt::Result {
        match n {
            Some(n) => self.num(key, n),
            None => Ok(()),
        }
    }
}

/// The `key=value` part of a line, validated once.
struct FieldList<'a> {
    s: &'a str,
}

impl<'a> FieldList<'a> {
    fn new(s: &'a str) -> Result<Self, ParseError> {
        let list = FieldList { s };
        for item in list.iter() {
            item?;
        }
        Ok(list)
    }

    fn iter(&self) -> FieldIter<'a> {
        FieldIter { s: self.s }
    }

    fn raw(&self, key: &str) -> Option<(&'a str, bool)> {
        self.iter()
            .filter_map(Result::ok)
            .find(|(k, _, _)| *k == key)
            .map(|(_, v, quoted)| (v, quoted))
    }

    fn opt_text(&self, key: &'static str) -> Result<Option<Text<'a>>, ParseError> {
        match self.raw(key) {
            None => Ok(None),
            Some((v, true)) => Ok(Some(Text::Escaped(v))),
            Some((_, false)) => Err(ParseError::BadValue(key)),
        }
    }

    fn text(&self, key: &'static str) -> Result<Text<'a>, ParseError> {
        self.opt_text(key)?.ok_or(ParseError::MissingField(key))
    }

    fn num<T: core::str::FromStr>(&self, key: &'static str) -> Result<T, ParseError> {
        self.opt_num(key)?.ok_or(ParseError::MissingField(key))
    }

    fn opt_num<T: core::str::FromStr>(&self, key: &'static str) -> Result<Option<T>, ParseError> {
        match self.raw(key) {
            None => Ok(None),
            Some((v, false)) => v.parse().map(Some).map_err(|_| ParseError::BadValue(key)),
            Some((_, true)) => Err(ParseError::BadValue(key)),
        }
    }
}

struct FieldIter<'a> {
    s: &'a str,
}

impl<'a> Iterator for FieldIter<'a> {
    /// key, value (escaped form for quoted values), quoted
    type Item = Result<(&'a str, &'a str, bool), ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.s = self.s.trim_start_matches(' ');
        if self.s.is_empty() {
            return None;
        }
        let Some(eq) = self.s.find('=') else {
            self.s = "";
            return Some(Err(ParseError::Syntax));
        };
        let key = &self.s[..eq];
        let after = &self.s[eq + 1..];
        if key.is_empty() || key.contains(' ') {
            self.s = "";
            return Some(Err(ParseError::Syntax));
        }
        if let Some(q) = after.strip_prefix('"') {
            let bytes = q.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        self.s = &q[i + 1..];
                        if !(self.s.is_empty() || self.s.starts_with(' ')) {
                            self.s = "";
                            return Some(Err(ParseError::Syntax));
                        }
                        return Some(Ok((key, &q[..i], true)));
                    }
                    b'\\' => {
                        let ok = match bytes.get(i + 1) {
                            Some(b'n' | b'r' | b't' | b'"' | b'\\') => {
                                i += 2;
                                true
                            }
                            Some(b'x') => {
                                let ok = bytes.get(i + 2).and_then(|&b| hex_val(b)).is_some()
                                    && bytes.get(i + 3).and_then(|&b| hex_val(b)).is_some();
                                i += 4;
                                ok
                            }
                            _ => false,
                        };
                        if !ok {
                            self.s = "";
                            return Some(Err(ParseError::Syntax));
                        }
                    }
                    _ => i += 1,
                }
            }
            self.s = "";
            Some(Err(ParseError::Syntax))
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            self.s = &after[end..];
            Some(Ok((key, &after[..end], false)))
        }
    }
}

/// A typed line that is not a console command; answer with
/// [`Event::CommandError`] and [`Command::HELP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown console command; {}", Command::HELP)]
pub struct UnknownCommand;

/// A command typed on the board's serial console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Answer with one [`Event::Status`] line.
    Status,
    /// Restart the board.
    Reboot,
    /// List the commands.
    Help,
}

impl Command {
    /// The commands, for help and error hints.
    pub const HELP: &'static str = "commands: status, reboot, help";

    /// Parses one typed line (surrounding white space ignored). `Ok(None)`
    /// for an empty line.
    pub fn parse(line: &[u8]) -> Result<Option<Command>, UnknownCommand> {
        let line = line.trim_ascii();
        Ok(Some(match line {
            b"" => return Ok(None),
            b"status" => Command::Status,
            b"reboot" => Command::Reboot,
            b"help" | b"?" => Command::Help,
            _ => return Err(UnknownCommand),
        }))
    }

    /// The word to type.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Status => "status",
            Command::Reboot => "reboot",
            Command::Help => "help",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(e: &Event<'_>) -> std::string::String {
        let mut s = std::string::String::new();
        e.write_line(&mut s).unwrap();
        s
    }

    #[test]
    fn known_lines() {
        let e = Event::WifiJoined {
            ip: Text::str("192.168.2.50"),
            gateway: Text::str("192.168.2.1"),
            rssi: -52,
        };
        assert_eq!(
            line(&e),
            r#"@picow wifi-joined ip="192.168.2.50" gateway="192.168.2.1" rssi=-52"#
        );
        let e = Event::Received {
            len: 9,
            data: Text::Raw("a\"b\\你\n\x01\u{85}".as_bytes()),
        };
        assert_eq!(line(&e), r#"@picow rx len=9 data="a\"b\\你\n\x01\xc2\x85""#);
        let e = Event::Received {
            len: 2,
            data: Text::Raw(&[0xff, b'a']),
        };
        assert_eq!(line(&e), r#"@picow rx len=2 data="\xffa""#);
    }

    #[test]
    fn parse_back() {
        let e = Event::Received {
            len: 7,
            data: Text::Raw(b"I \"x\"\r\n\xfe"),
        };
        let s = line(&e);
        let p = Event::parse(&s).unwrap().unwrap();
        assert_eq!(p, e);
        match p {
            Event::Received { data, .. } => assert_eq!(data.to_vec(), b"I \"x\"\r\n\xfe"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn non_picow_lines_are_none() {
        assert!(Event::parse("I (123) boot: ESP-IDF").is_none());
        assert!(Event::parse("@picowboot").is_none());
    }

    #[test]
    fn errors() {
        assert_eq!(
            Event::parse("@picow nope").unwrap(),
            Err(ParseError::UnknownEvent)
        );
        assert_eq!(
            Event::parse("@picow wifi-joining ssid=\"x\"").unwrap(),
            Err(ParseError::MissingField("attempt"))
        );
        assert_eq!(
            Event::parse("@picow wifi-joining ssid=\"x\" attempt=\"1\"").unwrap(),
            Err(ParseError::BadValue("attempt"))
        );
        assert_eq!(
            Event::parse("@picow rx len=1 data=\"\\q\"").unwrap(),
            Err(ParseError::Syntax)
        );
        assert_eq!(
            Event::parse("@picow rx len=1 data=\"abc").unwrap(),
            Err(ParseError::Syntax)
        );
        assert_eq!(
            Event::parse("@picow rx len=1 data=\"a\"b").unwrap(),
            Err(ParseError::Syntax)
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let p = Event::parse("@picow wifi-lost extra=\"1\" more=2\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(p, Event::WifiLost);
    }

    #[test]
    fn commands() {
        assert_eq!(Command::parse(b" status\r"), Ok(Some(Command::Status)));
        assert_eq!(Command::parse(b"reboot"), Ok(Some(Command::Reboot)));
        assert_eq!(Command::parse(b"  "), Ok(None));
        assert_eq!(Command::parse(b"stat"), Err(UnknownCommand));
    }
}
