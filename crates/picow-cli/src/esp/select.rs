//! Which port to flash: `--port`, else `PICOW_PORT`, else the Espressif USB
//! devices plugged in. Built on the shared [`crate::port`] module.
//!
//! A board running the vendor MicroPython (`303a:80d1`, TinyUSB) cannot be
//! reset into the ROM loader from the host; the user has to hold BOOT and
//! replug, and [`wait_for_download_port`] waits for the loader's port
//! (`303a:1001`) to appear.

use std::time::Duration;

use serialport::SerialPortInfo;

use crate::port::{self, ESPRESSIF_VID, WPI_MICROPYTHON_PID};

/// What auto-detection found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Exactly one usable board.
    One(String),
    /// Several: the user must choose (listed with [`port::describe`]).
    Several(Vec<(String, String)>),
    /// Only a board running the vendor MicroPython.
    MicroPython(String),
    /// No Espressif device; the ports there are.
    None(Vec<String>),
}

/// Sorts the plugged-in ports into a decision.
pub fn detect(ports: &[SerialPortInfo]) -> Found {
    let esp: Vec<&SerialPortInfo> = ports.iter().filter(|p| port::is_espressif(p)).collect();
    let usable: Vec<&&SerialPortInfo> = esp
        .iter()
        .filter(|p| port::usb_info(p).is_some_and(|u| u.pid != WPI_MICROPYTHON_PID))
        .collect();
    match (usable.as_slice(), esp.as_slice()) {
        ([one], _) => Found::One(one.port_name.clone()),
        ([], []) => Found::None(ports.iter().map(port::describe).collect()),
        ([], [mp, ..]) => Found::MicroPython(mp.port_name.clone()),
        (many, _) => Found::Several(
            many.iter()
                .map(|p| (p.port_name.clone(), port::describe(p)))
                .collect(),
        ),
    }
}

/// The sentence for a board running the vendor MicroPython (English as
/// `Display`, for `--json`; `.localized()` for people).
pub fn micropython_hint(port: &str) -> picow_i18n::Msg {
    picow_i18n::msg!("flash-micropython-hint", port = port)
}

/// A new download-mode port (`303a:1001`, or any Espressif port that is not
/// the MicroPython one) among `ports`.
pub fn download_port(ports: &[SerialPortInfo]) -> Option<String> {
    ports
        .iter()
        .find(|p| {
            port::usb_info(p)
                .is_some_and(|u| u.vid == ESPRESSIF_VID && u.pid != WPI_MICROPYTHON_PID)
        })
        .map(|p| p.port_name.clone())
}

/// Polls `list` every `poll` until a download-mode port appears or
/// `timeout` has passed on `clock`. `sleep` advances time (a real sleep, or
/// a fake clock in tests).
pub fn wait_for_download_port(
    mut list: impl FnMut() -> Vec<SerialPortInfo>,
    mut now: impl FnMut() -> Duration,
    mut sleep: impl FnMut(Duration),
    timeout: Duration,
    poll: Duration,
) -> Option<String> {
    let start = now();
    loop {
        if let Some(p) = download_port(&list()) {
            return Some(p);
        }
        if now().saturating_sub(start) >= timeout {
            return None;
        }
        sleep(poll);
    }
}

/// Asks the user to pick one of `choices` (port, description) on the
/// terminal; `None` when the answer is not a listed number.
pub fn prompt(
    choices: &[(String, String)],
    input: &mut dyn std::io::BufRead,
    out: &mut dyn std::io::Write,
) -> Option<String> {
    let _ = writeln!(out, "Several Espressif boards are plugged in:");
    for (i, (_, d)) in choices.iter().enumerate() {
        let _ = writeln!(out, "  {}) {d}", i + 1);
    }
    let _ = write!(out, "Flash which one? [1-{}] ", choices.len());
    let _ = out.flush();
    let mut line = String::new();
    input.read_line(&mut line).ok()?;
    let n: usize = line.trim().parse().ok()?;
    choices.get(n.checked_sub(1)?).map(|c| c.0.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::USB_SERIAL_JTAG_PID;
    use std::cell::Cell;

    use crate::port::fixture::plain;

    fn usb(name: &str, vid: u16, pid: u16) -> SerialPortInfo {
        crate::port::fixture::usb(name, vid, pid, Some("SN"))
    }

    #[test]
    fn one_board_among_other_ports() {
        let ports = [
            plain("/dev/ttyS0"),
            usb("/dev/ttyUSB0", 0x10c4, 0xea60),
            usb("/dev/ttyACM0", ESPRESSIF_VID, USB_SERIAL_JTAG_PID),
        ];
        assert_eq!(detect(&ports), Found::One("/dev/ttyACM0".into()));
    }

    #[test]
    fn micropython_only_and_micropython_beside_a_loader() {
        let mp = usb("/dev/ttyACM0", ESPRESSIF_VID, WPI_MICROPYTHON_PID);
        assert_eq!(
            detect(std::slice::from_ref(&mp)),
            Found::MicroPython("/dev/ttyACM0".into())
        );
        // A download-mode board next to it is the one to flash.
        let dl = usb("/dev/ttyACM1", ESPRESSIF_VID, USB_SERIAL_JTAG_PID);
        assert_eq!(detect(&[mp, dl]), Found::One("/dev/ttyACM1".into()));
        let hint = micropython_hint("/dev/ttyACM0");
        assert!(hint.to_string().contains("hold the BOOT"), "{hint}");
        let zh = hint.in_lang(picow_i18n::Lang::ZhCn);
        assert!(
            zh.contains("/dev/ttyACM0") && zh.contains("按住 KEY（BOOT）键"),
            "{zh}"
        );
    }

    #[test]
    fn several_and_none() {
        let ports = [
            usb("/dev/ttyACM0", ESPRESSIF_VID, USB_SERIAL_JTAG_PID),
            usb("/dev/ttyACM1", ESPRESSIF_VID, USB_SERIAL_JTAG_PID),
        ];
        match detect(&ports) {
            Found::Several(c) => {
                assert_eq!(c.len(), 2);
                assert_eq!(c[1].1, "/dev/ttyACM1 (303a:1001 SN SN)");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            detect(&[plain("/dev/ttyS0")]),
            Found::None(vec!["/dev/ttyS0".into()])
        );
    }

    #[test]
    fn prompt_takes_a_number() {
        let choices = vec![
            ("/dev/a".to_string(), "a".to_string()),
            ("/dev/b".to_string(), "b".to_string()),
        ];
        let mut out = Vec::new();
        assert_eq!(
            prompt(&choices, &mut &b"2\n"[..], &mut out).as_deref(),
            Some("/dev/b")
        );
        assert!(String::from_utf8(out).unwrap().contains("  2) b"));
        assert_eq!(prompt(&choices, &mut &b"3\n"[..], &mut Vec::new()), None);
        assert_eq!(prompt(&choices, &mut &b"x\n"[..], &mut Vec::new()), None);
        assert_eq!(prompt(&choices, &mut &b"0\n"[..], &mut Vec::new()), None);
    }

    #[test]
    fn waits_for_the_replugged_board_on_a_fake_clock() {
        // The MicroPython port disappears, then the loader's port appears
        // after 3 s of fake time.
        let t = Cell::new(Duration::ZERO);
        let list = || {
            if t.get() < Duration::from_secs(3) {
                vec![usb("/dev/ttyACM0", ESPRESSIF_VID, WPI_MICROPYTHON_PID)]
            } else {
                vec![usb("/dev/ttyACM1", ESPRESSIF_VID, USB_SERIAL_JTAG_PID)]
            }
        };
        let got = wait_for_download_port(
            list,
            || t.get(),
            |d| t.set(t.get() + d),
            Duration::from_secs(60),
            Duration::from_millis(250),
        );
        assert_eq!(got.as_deref(), Some("/dev/ttyACM1"));
        assert_eq!(t.get(), Duration::from_secs(3));
        // Never appears: gives up at the timeout, not before.
        t.set(Duration::ZERO);
        let got = wait_for_download_port(
            || vec![usb("/dev/ttyACM0", ESPRESSIF_VID, WPI_MICROPYTHON_PID)],
            || t.get(),
            |d| t.set(t.get() + d),
            Duration::from_secs(10),
            Duration::from_millis(250),
        );
        assert_eq!(got, None);
        assert_eq!(t.get(), Duration::from_secs(10));
    }
}
