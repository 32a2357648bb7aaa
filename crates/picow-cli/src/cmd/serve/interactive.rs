//! Interactive commands, the same for plain lines on a pipe and for the
//! terminal view: a line starting with `/` is a command, any other line is
//! text for the selected client(s), with the chosen line ending.
//!
//! What a command says back is a typed [`Msg`]: in the user's language
//! where people read it (the plain lines, the terminal view), in English
//! where programs do (the `notice` events of `--json`).

use std::time::Duration;

use bytes::Bytes;
use picow_i18n::{msg, Msg};

use super::args::{parse_client_id, LineEnding};
use picow_serve::encode::{encode, encode_escaped};
use picow_serve::text::{self, Charset};
use picow_serve::{Control, Target};

/// Where typed text goes and how lines end.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// The selected client, or all.
    pub target: Target,
    /// Appended to typed lines.
    pub ending: LineEnding,
    /// How typed text becomes bytes (`--encoding`).
    pub charset: Charset,
}

/// The help of `/help` (`commands: /list, …`).
pub fn help() -> Msg {
    msg!("serve-cmd-help")
}

impl Session {
    /// A session sending to all clients, typed text as UTF-8.
    pub fn new(ending: LineEnding) -> Session {
        Session::with_charset(ending, Charset::Utf8)
    }

    /// A session sending to all clients, typed text in `charset`.
    pub fn with_charset(ending: LineEnding, charset: Charset) -> Session {
        Session {
            target: Target::All,
            ending,
            charset,
        }
    }

    /// Turns a typed line into what the engine should do, or an error
    /// message for the user. Empty lines send only the line ending.
    pub fn command(&mut self, line: &str) -> Result<Control, Msg> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let Some(cmd) = line.strip_prefix('/').filter(|c| !c.starts_with('/')) else {
            let text = line.strip_prefix('/').unwrap_or(line);
            let mut bytes = encode(text, self.charset).map_err(|e| e.msg())?;
            bytes.extend_from_slice(self.ending.bytes());
            return Ok(Control::Send(self.target, Bytes::from(bytes)));
        };
        let (name, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
        let rest = rest.trim();
        match name {
            "list" | "ls" => Ok(Control::List),
            "select" | "sel" => {
                self.target = match rest {
                    "all" | "*" => Target::All,
                    id => Target::One(client_id(id)?),
                };
                Ok(Control::Notice(match self.target {
                    Target::All => msg!("serve-cmd-sending-all"),
                    Target::One(id) => msg!("serve-cmd-sending-one", id = id),
                }))
            }
            "disconnect" | "kick" => Ok(Control::Disconnect(client_id(rest)?)),
            "hex" => {
                let bytes = text::parse_hex(rest).map_err(|e| e.msg())?;
                Ok(Control::Send(self.target, Bytes::from(bytes)))
            }
            "file" => {
                if rest.is_empty() {
                    return Err(msg!("serve-cmd-file-needs-path"));
                }
                // A regular file only (not /dev/zero, a FIFO, a directory),
                // of any size: it is streamed at each client's pace.
                let (file, len) = crate::files::open_regular(std::path::Path::new(rest), u64::MAX)
                    .map_err(|e| msg!("serve-cmd-file", reason = e.msg()))?;
                Ok(Control::SendFile {
                    target: self.target,
                    file: std::sync::Arc::new(file),
                    len,
                })
            }
            "ending" => {
                self.ending = LineEnding::parse(rest).ok_or_else(|| bad_ending(rest))?;
                Ok(Control::Notice(msg!("serve-cmd-ending", ending = rest)))
            }
            "auto" => {
                if rest == "stop" || rest == "off" {
                    return Ok(Control::Auto(None));
                }
                let (dur, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let every: Duration = picow_values::duration::parse_positive(dur).map_err(|e| {
                    msg!(
                        "serve-cmd-auto-bad",
                        reason = crate::values::duration_msg(&e)
                    )
                })?;
                if text.is_empty() {
                    return Err(msg!("serve-cmd-auto-needs"));
                }
                let mut bytes = encode_escaped(text, self.charset).map_err(|e| e.msg())?;
                bytes.extend_from_slice(self.ending.bytes());
                Ok(Control::Auto(Some((
                    every,
                    self.target,
                    Bytes::from(bytes),
                ))))
            }
            "update" => update(rest),
            "quit" | "exit" | "q" => Ok(Control::Quit),
            "help" | "h" | "?" => Ok(Control::Notice(help())),
            other => Err(msg!("serve-cmd-unknown", name = other, help = help())),
        }
    }
}

/// `/update ID [FIRMWARE]`: the id is checked here, the FIRMWARE file too
/// (it must be a regular file); whether the client is a PicoW, by the hub.
fn update(rest: &str) -> Result<Control, Msg> {
    let (id, file) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if id.is_empty() {
        return Err(msg!("serve-cmd-update-needs"));
    }
    let id = client_id(id)?;
    let file = file.trim();
    let firmware = if file.is_empty() {
        None
    } else {
        let path = std::path::PathBuf::from(file);
        crate::files::open_regular(&path, crate::files::MAX_ELF)
            .map_err(|e| msg!("serve-cmd-update-file", path = file, reason = e.msg()))?;
        Some(path)
    };
    Ok(Control::Update { id, firmware })
}

/// `3` or `#3`, or what is wrong.
fn client_id(s: &str) -> Result<u64, Msg> {
    parse_client_id(s).map_err(|_| msg!("serve-cmd-bad-id", value = s))
}

/// What a line ending may be.
pub fn bad_ending(s: &str) -> Msg {
    msg!("serve-cmd-bad-ending", value = s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(c: Control) -> (Target, Vec<u8>) {
        match c {
            Control::Send(t, b) => (t, b.to_vec()),
            other => panic!("not a send: {other:?}"),
        }
    }

    #[test]
    fn text_and_endings() {
        let mut s = Session::new(LineEnding::None);
        assert_eq!(
            send(s.command("ping\n").unwrap()),
            (Target::All, b"ping".to_vec())
        );
        s.command("/ending crlf").unwrap();
        assert_eq!(send(s.command("ping").unwrap()).1, b"ping\r\n");
        s.command("/ending lf").unwrap();
        assert_eq!(send(s.command("//etc").unwrap()).1, b"/etc\n");
        assert!(s.command("/ending cr").is_ok());
        assert!(s.command("/ending lfcr").is_err());
        // Typed text in the chosen encoding.
        let mut s = Session::with_charset(LineEnding::None, Charset::from_label("gbk").unwrap());
        assert_eq!(send(s.command("中文").unwrap()).1, [0xd6, 0xd0, 0xce, 0xc4]);
        assert!(s
            .command("😀")
            .unwrap_err()
            .to_string()
            .contains("cannot be written in GBK"));
    }

    #[test]
    #[cfg_attr(windows, ignore = "uses /dev/zero, which Windows does not have")]
    fn selection_hex_file_auto() {
        let mut s = Session::new(LineEnding::None);
        s.command("/select #2").unwrap();
        assert_eq!(
            send(s.command("/hex 48 69").unwrap()),
            (Target::One(2), b"Hi".to_vec())
        );
        s.command("/select all").unwrap();
        assert_eq!(s.target, Target::All);
        assert!(s.command("/select x").is_err());
        let path = std::env::temp_dir().join(format!("picow-serve-file-{}", std::process::id()));
        std::fs::write(&path, b"\x00\x01file").unwrap();
        match s.command(&format!("/file {}", path.display())).unwrap() {
            Control::SendFile { target, len, .. } => {
                assert_eq!((target, len), (Target::All, 6));
            }
            other => panic!("{other:?}"),
        }
        let e = s.command("/file /dev/zero").unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        std::fs::remove_file(&path).unwrap();
        assert!(s.command("/file /nonexistent/x").is_err());
        match s.command("/auto 500ms ping\\n").unwrap() {
            Control::Auto(Some((d, Target::All, b))) => {
                assert_eq!(d, Duration::from_millis(500));
                assert_eq!(&b[..], b"ping\n");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.command("/auto stop").unwrap(),
            Control::Auto(None)
        ));
        assert!(s.command("/auto soon x").is_err());
        assert!(matches!(
            s.command("/disconnect 3").unwrap(),
            Control::Disconnect(3)
        ));
        assert!(matches!(s.command("/list").unwrap(), Control::List));
        assert!(matches!(s.command("/quit").unwrap(), Control::Quit));
        assert!(s
            .command("/bogus")
            .unwrap_err()
            .to_string()
            .contains("unknown command"));
    }

    /// What the commands say is in the user's language for people and the
    /// same English as before for programs (`--json` notices).
    #[test]
    fn replies_are_typed_english_for_json_and_translated_for_people() {
        use picow_i18n::Lang;
        let notice = |c: Control| match c {
            Control::Notice(m) => m,
            other => panic!("{other:?}"),
        };
        let mut s = Session::new(LineEnding::None);
        let m = notice(s.command("/select 9").unwrap());
        assert_eq!(m.to_string(), "sending to #9");
        assert_eq!(m.in_lang(Lang::ZhCn), "现在发给 #9");
        let m = notice(s.command("/select all").unwrap());
        assert_eq!(m.to_string(), "sending to all clients");
        assert_eq!(
            notice(s.command("/help").unwrap()).to_string(),
            "commands: /list, /select ID|all, /disconnect ID, /hex BYTES, /file PATH, \
             /ending none|lf|cr|crlf, /auto DUR TEXT, /auto stop, /update ID [FIRMWARE], /quit; other \
             lines are sent \
             as text (start a line with // to send one beginning with /)"
        );
        let zh = |line: &str| s_err(line).in_lang(Lang::ZhCn);
        for line in [
            "/bogus",
            "/hex 4",
            "/hex zz",
            "/auto 1s",
            "/auto soon x",
            "/select x",
            "/ending lfcr",
            "/file",
            "/file /nonexistent/x",
            "/file /dev/null",
        ] {
            let zh = zh(line);
            let en = s_err(line).to_string();
            assert_ne!(zh, en, "{line}: not translated");
            // Chinese through and through (a nested message too).
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{line}: {zh}"
            );
        }
        assert!(zh("/bogus").contains("/list"), "the help is in it");
    }

    fn s_err(line: &str) -> Msg {
        Session::new(LineEnding::None).command(line).unwrap_err()
    }

    fn hex_digits(d: &str) -> Vec<u8> {
        (0..d.len() / 2)
            .map(|i| u8::from_str_radix(&d[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// Lines a careless or hostile user types: commands with arguments of
    /// every kind, non-ASCII where digits belong, escapes cut in half.
    fn typed_line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let word = prop_oneof![
            Just("/hex".to_string()),
            Just("/auto".to_string()),
            Just("/select".to_string()),
            Just("/disconnect".to_string()),
            Just("/ending".to_string()),
            Just("/file".to_string()),
            Just("/list".to_string()),
            Just("//".to_string()),
            Just("/".to_string()),
            Just("\\x".to_string()),
            Just("\\".to_string()),
            Just("#".to_string()),
            Just("1ns".to_string()),
            Just("1秒".to_string()),
            Just("aé".to_string()),
            Just("4é".to_string()),
            Just("你好".to_string()),
            Just("😀".to_string()),
            Just("0x".to_string()),
            "[0-9a-fA-F]{1,5}",
            "\\PC{0,6}",
            any::<String>().prop_map(|s| s.chars().take(8).collect()),
        ];
        proptest::collection::vec(word, 0..6).prop_map(|w| w.join(" "))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Whatever is typed, no panic; plain text is sent as typed plus
        /// the line ending; `/hex` sends exactly the bytes its digits say.
        #[test]
        fn fuzz_typed_commands_never_panic(
            line in typed_line(),
            gbk in proptest::prelude::any::<bool>(),
            ending in 0usize..4,
        ) {
            let charset = if gbk { Charset::from_label("gbk").unwrap() } else { Charset::Utf8 };
            let ending = [LineEnding::None, LineEnding::Lf, LineEnding::Cr, LineEnding::Crlf][ending];
            let mut s = Session::with_charset(ending, charset);
            // Never /quit's side effects here: the result is only looked at.
            let got = s.command(&line);
            if !line.starts_with('/') || line.starts_with("//") {
                let text = line.strip_prefix('/').unwrap_or(&line);
                let want = picow_serve::encode::encode(text, charset).map(|mut b| {
                    b.extend_from_slice(ending.bytes());
                    b
                });
                match (got, want) {
                    (Ok(Control::Send(Target::All, b)), Ok(w)) => proptest::prop_assert_eq!(&b[..], &w[..]),
                    (Err(_), Err(_)) => {}
                    (g, w) => proptest::prop_assert!(false, "{line:?}: {g:?} vs {w:?}"),
                }
            } else if let Some(rest) = line.strip_prefix("/hex ") {
                if let Ok(Control::Send(_, b)) = got {
                    let digits: String = rest
                        .split(|c: char| c.is_whitespace() || c == ',')
                        .map(|w| w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")).unwrap_or(w))
                        .collect();
                    proptest::prop_assert_eq!(hex_digits(&digits), b.to_vec());
                }
            }
        }
    }
}
