//! `picow flash`: firmware plus Wi-Fi and server settings onto a board.

use clap::Args;
use picow_protocol::forms::{ServerAddr, WifiCredentials};
use picow_protocol::{DeviceConfig, Transport};

use crate::cli::GlobalArgs;
use crate::exit::{Exit, NotImplemented, UsageError};

/// Arguments of `picow flash`.
#[derive(Debug, Args)]
pub struct FlashArgs {
    /// Wi-Fi as SSID:PASSWORD (split at the first ':'; SSID alone = open
    /// network). For an SSID containing ':' use --ssid and --password.
    #[arg(long, value_name = "SSID:PASS", conflicts_with_all = ["ssid", "password"])]
    pub wifi: Option<String>,
    /// Wi-Fi network name, when it contains ':'.
    #[arg(long, requires = "password")]
    pub ssid: Option<String>,
    /// Wi-Fi password, with --ssid (empty for an open network).
    #[arg(long)]
    pub password: Option<String>,
    /// The server address.
    #[arg(
        long,
        value_name = "HOST:PORT",
        help = "The server: HOST:PORT, [IPv6]:PORT, tcp://… or udp://…"
    )]
    pub server: Option<String>,
    /// Use UDP instead of TCP (same as a udp:// server).
    #[arg(long)]
    pub udp: bool,
    /// A name for the board, sent with its greeting.
    #[arg(long)]
    pub name: Option<String>,
}

impl FlashArgs {
    /// Validates the settings into a config record. The error names the
    /// flag, the field and the rule, and never includes the password.
    pub fn device_config(&self) -> Result<DeviceConfig, UsageError> {
        let wifi = match (&self.wifi, &self.ssid, &self.password) {
            (Some(w), _, _) => WifiCredentials::parse(w).map_err(|e| flag("--wifi", e))?,
            (None, Some(s), p) => WifiCredentials::new(s, p.as_deref().unwrap_or(""))
                .map_err(|e| flag("--ssid/--password", e))?,
            (None, None, _) => {
                return Err(UsageError(
                    "--wifi is required: give --wifi SSID:PASSWORD (or --ssid and --password)"
                        .into(),
                ))
            }
        };
        let Some(server) = &self.server else {
            return Err(UsageError(
                "--server is required: give --server HOST:PORT, e.g. the address `picow serve` prints"
                    .into(),
            ));
        };
        let mut server = ServerAddr::parse(server).map_err(|e| flag("--server", e))?;
        if self.udp {
            server.transport = Transport::Udp;
        }
        DeviceConfig::new(wifi, server, self.name.as_deref()).map_err(|e| flag("--name", e))
    }
}

fn flag(flag: &str, err: impl std::fmt::Display) -> UsageError {
    UsageError(format!("invalid {flag}: {err}"))
}

/// Runs `picow flash`: validates the settings, then stops: writing to a
/// board is not built yet.
pub fn run(args: FlashArgs, _global: &GlobalArgs) -> color_eyre::Result<Exit> {
    let _config = args.device_config()?;
    Err(NotImplemented {
        command: "flash",
        issue: 6,
    }
    .into())
}
