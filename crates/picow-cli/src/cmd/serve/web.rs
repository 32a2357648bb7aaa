//! `picow serve --web`: the page beside the other outputs (picow-web).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use picow_serve::{Control, LanAddr};
use picow_web::protocol::Ending;
use picow_web::{Defaults, Options, WebObserver, WebServer};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::args::LineEnding;
use super::ServeArgs;
use crate::cli::GlobalArgs;
use crate::exit::UsageError;

/// The page's server, running.
#[derive(Debug)]
pub struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops the page's server after the engine has finished (every page
    /// is told serve stopped), waiting a little for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
    }
}

/// Binds the page's address and starts its server. Returns the observer to
/// give the engine. The addresses to open are announced through the engine
/// (a notice right after `listening`: in the plain lines and in `--json`);
/// with `-q` they go to stderr, since a token printed nowhere would lock
/// the user out.
pub async fn start(
    addr: SocketAddr,
    args: &ServeArgs,
    global: &GlobalArgs,
    lan: &[LanAddr],
    ctl: mpsc::Sender<Control>,
) -> Result<(Running, WebObserver), UsageError> {
    let server = WebServer::bind(addr).await.map_err(|e| {
        UsageError(format!(
            "--web {addr}: {e}: choose another port (e.g. --web 127.0.0.1:10081)"
        ))
    })?;
    let lan_ips: Vec<IpAddr> = lan.iter().map(|l| l.ip).collect();
    let urls = server.urls(&lan_ips);
    let quiet = global.quiet && !global.json;
    // The terminal view's macros are the page's quick sends; a file that
    // does not parse is named and the page has none (the file is left as
    // it is).
    let macros = match super::tui::store::config_path() {
        Some(path) => match super::tui::store::Config::load(&path) {
            Ok(c) => c.macros,
            Err(e) => {
                let line = picow_i18n::msg!("web-no-quick-sends", reason = e.to_string());
                if quiet {
                    say(&line.localized());
                } else {
                    let _ = ctl.try_send(Control::Notice(line));
                }
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let opts = Options {
        charset: args.encoding,
        max_send: args.max_queue as usize,
        defaults: Defaults {
            utc: global.utc,
            hex: args.hex,
            ending: match args.line_ending {
                LineEnding::None => Ending::None,
                LineEnding::Lf => Ending::Lf,
                LineEnding::Cr => Ending::Cr,
                LineEnding::Crlf => Ending::Crlf,
            },
        },
        macros,
        ..Options::default()
    };
    let (bridge, observer) = picow_web::bridge(ctl.clone(), opts);
    for (i, url) in urls.iter().enumerate() {
        let line = if i == 0 {
            picow_i18n::msg!("web-page", url = url.to_string())
        } else {
            picow_i18n::msg!("web-page-lan", url = url.to_string())
        };
        if quiet {
            say(&line.localized());
        } else {
            // Taken by the engine right after `listening`.
            let _ = ctl.try_send(Control::Notice(line));
        }
    }
    if server.access().token().is_some() {
        let note = picow_i18n::msg!("web-page-reachable");
        if quiet {
            say(&note.localized());
        } else {
            let _ = ctl.try_send(Control::Notice(note));
        }
    }
    if args.open {
        if let Some(url) = urls.first() {
            if let Err(e) = webbrowser::open(url) {
                say(&picow_i18n::tr!(
                    "web-no-browser",
                    error = e.to_string(),
                    url = url.to_string()
                ));
            }
        }
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(Arc::new(bridge), async move {
        let _ = stopped.await;
    }));
    Ok((Running { stop, task }, observer))
}

/// A line on stderr; a closed stderr is no reason to stop serving.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Parses `--web`'s value: `ADDR:PORT`, `[V6]:PORT`, `localhost:PORT`, or
/// a port alone (on 127.0.0.1).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(port) = s.trim_start_matches(':').parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port));
    }
    if let Some(port) = s
        .strip_prefix("localhost:")
        .and_then(|p| p.parse::<u16>().ok())
    {
        return Ok(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port));
    }
    Err(format!(
        "`{s}` is not an address and port: write e.g. 127.0.0.1:10080 (this computer only) \
         or 0.0.0.0:10080 (other computers too, with the printed token)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(parse_addr("127.0.0.1:10080").unwrap().port(), 10080);
        assert_eq!(
            parse_addr("8080").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(parse_addr(":0").unwrap(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(
            parse_addr("localhost:9").unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert_eq!(parse_addr("[::1]:80").unwrap(), "[::1]:80".parse().unwrap());
        assert!(parse_addr("0.0.0.0:10080").unwrap().ip().is_unspecified());
        for bad in ["", "web", "1.2.3.4", "127.0.0.1:70000", "host:80"] {
            assert!(
                parse_addr(bad).unwrap_err().contains("not an address"),
                "{bad}"
            );
        }
    }
}
