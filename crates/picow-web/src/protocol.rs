//! What the page and the server say to each other over the WebSocket.
//!
//! Server to page: text messages of one or more JSON lines separated by
//! `\n`. Each line is an event exactly as `picow serve --json` prints it
//! (`listening`, `connected`, `data`, ...; see `docs/spec-events.md`), or
//! one of the page's own, whose names start with `web.` ([`WebMsg`]).
//!
//! Page to server: one JSON object per text message, a [`Command`] with
//! the token when the page needs one:
//! `{"token":"...","cmd":"send","to":"all","data":{"text":"ping","ending":"crlf"}}`.
//! Anything else is answered with a `web.error` and changes nothing.

use serde::{Deserialize, Serialize};

/// The version of this protocol, in `web.hello`.
pub const VERSION: u32 = 1;

/// Where a send goes: `"all"` or a client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum To {
    /// `"all"`: every connected client.
    All(AllTag),
    /// One client.
    One(u64),
}

/// The string `"all"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllTag {
    /// `"all"`.
    All,
}

impl To {
    /// Every client.
    pub const ALL: To = To::All(AllTag::All);
}

/// The line ending appended to a send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ending {
    /// Nothing (NetAssist's default).
    #[default]
    None,
    /// `\r`.
    Cr,
    /// `\n`.
    Lf,
    /// `\r\n`.
    Crlf,
}

impl Ending {
    /// The bytes appended.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Ending::None => b"",
            Ending::Cr => b"\r",
            Ending::Lf => b"\n",
            Ending::Crlf => b"\r\n",
        }
    }
}

/// What to send: text in the page's encoding, or bytes in hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// Text, encoded with the page's encoding (see [`Command::Encoding`]).
    #[serde(default)]
    pub text: Option<String>,
    /// Bytes as hex digits (`48 65 6c`, `48656c`, `0x48,0x65`).
    #[serde(default)]
    pub hex: Option<String>,
    /// Whether `\r \n \t \0 \\ \xNN` in `text` are escapes.
    #[serde(default)]
    pub escapes: bool,
    /// Appended after the text or bytes.
    #[serde(default)]
    pub ending: Ending,
}

/// A command from the page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Send once.
    Send {
        /// To whom.
        to: To,
        /// What.
        data: Payload,
    },
    /// Send periodically until stopped (one auto-send at a time, as in
    /// NetAssist; a new one replaces the old).
    Auto {
        /// To whom.
        to: To,
        /// The period in milliseconds, 10 to 86,400,000.
        every_ms: u64,
        /// What.
        data: Payload,
    },
    /// Stop the auto-send.
    AutoStop,
    /// Close a client's connection.
    Disconnect {
        /// Which.
        id: u64,
    },
    /// Show received data and encode sent text in this encoding (a WHATWG
    /// label: `utf-8`, `gbk`, `gb18030`, `big5`, ...). The server answers
    /// with a fresh snapshot decoded in it.
    Encoding {
        /// The label.
        name: String,
    },
}

impl Command {
    /// The command's name, as in `"cmd"`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Send { .. } => "send",
            Command::Auto { .. } => "auto",
            Command::AutoStop => "auto_stop",
            Command::Disconnect { .. } => "disconnect",
            Command::Encoding { .. } => "encoding",
        }
    }
}

/// Why a message from the page was not carried out: a code the page
/// translates, and an English message for people reading the raw stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A stable code: `bad_json`, `bad_command`, `binary`, `token`,
    /// `unknown_encoding`, `empty`, `no_text_or_hex`, `bad_period`,
    /// `no_client`, `too_big`, `busy`, or one of
    /// `picow_serve::text::SendError::code` (`not_hex`, `odd_hex`,
    /// `unknown_escape`, `short_hex_escape`, `lone_backslash`, `unmappable`,
    /// `no_encoder`).
    pub code: &'static str,
    /// What went wrong and what to do, in English.
    pub message: String,
    /// The offending piece (a hex pair, an escape, a character, a label),
    /// when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl Problem {
    /// A problem without an offending piece.
    pub fn new(code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
            at: None,
        }
    }

    /// A problem with the piece that caused it.
    pub fn at(code: &'static str, message: impl Into<String>, at: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
            at: Some(at.into()),
        }
    }
}

/// The auto-send as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoState {
    /// Whether it runs.
    pub running: bool,
    /// Its period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<u64>,
    /// To whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<To>,
    /// How many bytes each send has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<usize>,
    /// When it started (Unix time in milliseconds): the page counts the
    /// sends from it, one per period, as the engine's interval does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
}

impl AutoState {
    /// No auto-send.
    pub fn stopped() -> AutoState {
        AutoState {
            running: false,
            every_ms: None,
            to: None,
            len: None,
            since_ms: None,
        }
    }
}

/// The page's own messages (their `event` starts with `web.`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event")]
pub enum WebMsg {
    /// Starts a snapshot: the page forgets what it had; the events that
    /// follow, up to `web.ready`, are the recent history.
    #[serde(rename = "web.hello")]
    Hello {
        /// [`VERSION`].
        version: u32,
        /// The encoding data is shown in and text is sent in.
        encoding: String,
        /// The encodings the page offers (label, name).
        encodings: Vec<(String, String)>,
        /// How many bytes of recent data the server keeps for pages that
        /// connect later.
        history_bytes: usize,
        /// The settings that follow serve's flags until the user sets them.
        defaults: crate::bridge::Defaults,
        /// Every byte received since serve started (also from clients the
        /// snapshot no longer lists): the page's counter starts here.
        bytes_in: u64,
        /// Every byte sent since serve started.
        bytes_out: u64,
        /// The terminal view's macros (serve.toml), macro 1 first; `""` is
        /// an unused slot. Text with escapes, sent like the send box's.
        macros: Vec<String>,
    },
    /// Ends a snapshot.
    #[serde(rename = "web.ready")]
    Ready,
    /// The auto-send changed.
    #[serde(rename = "web.auto")]
    Auto(AutoState),
    /// A command was not carried out.
    #[serde(rename = "web.error")]
    Error {
        /// The command's name, when it was understood that far.
        #[serde(skip_serializing_if = "Option::is_none")]
        cmd: Option<&'static str>,
        /// What went wrong.
        #[serde(flatten)]
        problem: Problem,
    },
}

impl WebMsg {
    /// As one JSON line (without the newline).
    pub fn to_line(&self) -> String {
        // A WebMsg has only strings, numbers and lists: this cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Parses a page's text message: the token (when `token` is required) and
/// the command. `check_token` is told the token the message carries.
pub fn parse(
    text: &str,
    check_token: impl FnOnce(Option<&str>) -> bool,
) -> Result<Command, Problem> {
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Problem::new(
            "bad_json",
            format!("not a JSON object ({e}): send one command as a JSON object"),
        )
    })?;
    let Some(obj) = value.as_object_mut() else {
        return Err(Problem::new(
            "bad_json",
            "not a JSON object: send one command as a JSON object",
        ));
    };
    // A token that is not a string is no token.
    let token = match obj.remove("token") {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    };
    if !check_token(token.as_deref()) {
        return Err(Problem::new(
            "token",
            "missing or wrong token: reload the page from the address picow serve printed",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        Problem::new(
            "bad_command",
            format!("not a command this server knows ({e})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Command {
        parse(s, |_| true).unwrap()
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            ok(r#"{"cmd":"send","to":"all","data":{"text":"ping","ending":"crlf"}}"#),
            Command::Send {
                to: To::ALL,
                data: Payload {
                    text: Some("ping".into()),
                    ending: Ending::Crlf,
                    ..Payload::default()
                }
            }
        );
        assert_eq!(
            ok(r#"{"cmd":"auto","to":3,"every_ms":500,"data":{"hex":"41"}}"#),
            Command::Auto {
                to: To::One(3),
                every_ms: 500,
                data: Payload {
                    hex: Some("41".into()),
                    ..Payload::default()
                }
            }
        );
        assert_eq!(ok(r#"{"cmd":"auto_stop"}"#), Command::AutoStop);
        assert_eq!(
            ok(r#"{"token":"x","cmd":"disconnect","id":2}"#),
            Command::Disconnect { id: 2 }
        );
        assert_eq!(
            ok(r#"{"cmd":"encoding","name":"gbk"}"#),
            Command::Encoding { name: "gbk".into() }
        );
    }

    #[test]
    fn bad_messages_say_why() {
        let code = |s: &str| parse(s, |_| true).unwrap_err().code;
        assert_eq!(code("nope"), "bad_json");
        assert_eq!(code("[1]"), "bad_json");
        assert_eq!(code(r#"{"cmd":"format_disk"}"#), "bad_command");
        assert_eq!(code(r#"{"cmd":"send","to":"all"}"#), "bad_command");
        assert_eq!(
            code(r#"{"cmd":"send","to":"some","data":{}}"#),
            "bad_command"
        );
        assert_eq!(code(r#"{"cmd":"send","to":-1,"data":{}}"#), "bad_command");
        assert_eq!(
            code(r#"{"cmd":"send","to":1,"data":{"text":"a","extra":1}}"#),
            "bad_command"
        );
        assert_eq!(code(r#"{"cmd":"disconnect","id":1,"x":2}"#), "bad_command");
        // A token that is not a string is no token: fine on loopback.
        assert_eq!(
            parse(r#"{"cmd":"auto_stop","token":5}"#, |t| t.is_none()).unwrap(),
            Command::AutoStop
        );
    }

    #[test]
    fn the_token_is_checked_before_the_command() {
        let want = "s3cret";
        let check = |t: Option<&str>| t == Some(want);
        assert_eq!(
            parse(r#"{"cmd":"auto_stop"}"#, check).unwrap_err().code,
            "token"
        );
        assert_eq!(
            parse(r#"{"token":"wrong","cmd":"auto_stop"}"#, check)
                .unwrap_err()
                .code,
            "token"
        );
        assert_eq!(
            parse(r#"{"token":"s3cret","cmd":"auto_stop"}"#, check).unwrap(),
            Command::AutoStop
        );
    }

    #[test]
    fn web_messages_are_json_lines() {
        let line = WebMsg::Error {
            cmd: Some("send"),
            problem: Problem::at("not_hex", "`z` is not a hex digit", "z"),
        }
        .to_line();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "web.error");
        assert_eq!(v["cmd"], "send");
        assert_eq!(v["code"], "not_hex");
        assert_eq!(v["at"], "z");
        let v: serde_json::Value = serde_json::from_str(&WebMsg::Ready.to_line()).unwrap();
        assert_eq!(v["event"], "web.ready");
        let auto = WebMsg::Auto(AutoState {
            running: true,
            every_ms: Some(1000),
            to: Some(To::ALL),
            len: Some(4),
            since_ms: Some(1),
        });
        let v: serde_json::Value = serde_json::from_str(&auto.to_line()).unwrap();
        assert_eq!(v["event"], "web.auto");
        assert_eq!(v["to"], "all");
        assert_eq!(v["every_ms"], 1000);
    }
}
