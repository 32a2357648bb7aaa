//! Advertising serve on the LAN by DNS-SD (RFC 6763) over multicast DNS,
//! so that a board flashed with `--server auto` finds it, and the vendor's
//! MicroPython can connect to `picow.local`.
//!
//! serve announces one instance of `_picow._tcp` (`_picow._udp` with
//! `--udp`), named by `--name` (default: the host name), with the TXT
//! records `protocol=1` and `name=NAME`, on host `picow.local`, or on
//! `picow-<host>.local` when another machine already answers for
//! `picow.local`. [`mdns-sd`](mdns_sd) does the work: its responder shares
//! port 5353 with a system responder (Avahi, Bonjour, Windows), probes its
//! names and says goodbye when stopped.
//!
//! The advertiser runs beside the engine, on its own thread (mdns-sd's),
//! and is given the bound port: nothing of it is on the engine's path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mdns_sd::{HostnameResolutionEvent, IfKind, ServiceDaemon, ServiceInfo, UnregisterStatus};
use picow_i18n::Msg;
use picow_protocol::discovery::{
    host_label, service_type, PROTOCOL_VERSION, SERVER_HOST, TXT_NAME, TXT_PROTOCOL,
};
use picow_protocol::forms::{validate_instance, INSTANCE_MAX};
use picow_protocol::Transport;

/// How long serve listens for another machine's answer for `picow.local`
/// before it claims the name: two rounds of questions, since a responder
/// that multicast its address less than a second ago may answer only the
/// second (RFC 6762 §6).
pub const HOST_CHECK: Duration = Duration::from_millis(1_500);

/// How long stopping waits for the goodbye to go out.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// Advertising could not start (serve goes on without it). `Display` is
/// English; [`AdvertiseError::msg`] the message in any language.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdvertiseError(Msg);

impl AdvertiseError {
    /// What went wrong, for people.
    pub fn msg(&self) -> &Msg {
        &self.0
    }

    /// The notice serve shows: not advertised, and what to do instead.
    pub fn notice(&self) -> Msg {
        picow_i18n::msg!("serve-not-advertised", error = self.0.clone())
    }
}

/// What is advertised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    /// The instance name (`--name`).
    pub instance: String,
    /// The service type, e.g. `_picow._tcp`.
    pub service: &'static str,
    /// The host name, e.g. `picow.local`.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Whether `picow.local` was taken, so that another name is used.
    pub host_taken: bool,
}

impl Advertised {
    /// The message serve shows (its English form is the `notice` event's
    /// `message` in `--json`).
    pub fn notice(&self) -> Msg {
        let msg = if self.host_taken {
            Msg::new("serve-advertised-host-taken").arg("preferred", format!("{SERVER_HOST}.local"))
        } else {
            Msg::new("serve-advertised")
        };
        msg.arg("instance", self.instance.as_str())
            .arg("service", self.service)
            .arg("host", self.host.as_str())
            .arg("port", self.port.to_string())
    }
}

/// This computer's name (for `--name`'s default and `picow-<host>.local`).
pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The default instance name: the host name, cut to 63 bytes; `picow` if
/// it has none usable.
pub fn default_instance() -> String {
    let mut name: String = host_name().chars().filter(|c| !c.is_control()).collect();
    while name.len() > INSTANCE_MAX {
        name.pop();
    }
    let name = name.trim().to_string();
    if validate_instance(&name).is_ok() {
        name
    } else {
        SERVER_HOST.into()
    }
}

/// Whether serve advertises when bound to `bind`: not when it listens on
/// a loopback address only (no board could reach it).
pub fn applies(bind: Option<IpAddr>) -> bool {
    !bind.is_some_and(|ip| ip.is_loopback())
}

/// A running advertisement.
pub struct Advertiser {
    daemon: ServiceDaemon,
    fullname: String,
    advertised: Advertised,
}

impl std::fmt::Debug for Advertiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advertiser")
            .field("advertised", &self.advertised)
            .finish_non_exhaustive()
    }
}

impl Advertiser {
    /// Starts advertising `instance` for serve on `port` over `transport`;
    /// `bind` limits it to the interface of that address. Blocks for
    /// about [`HOST_CHECK`] (the check for `picow.local`): call it off
    /// the async threads.
    pub fn start(
        instance: &str,
        transport: Transport,
        port: u16,
        bind: Option<IpAddr>,
    ) -> Result<Advertiser, AdvertiseError> {
        validate_instance(instance).map_err(|e| {
            AdvertiseError(picow_i18n::msg!(
                "serve-mdns-bad-name",
                name = instance,
                error = e.to_string()
            ))
        })?;
        let err = |what: Msg, e: mdns_sd::Error| AdvertiseError(what.arg("error", e.to_string()));
        let daemon =
            ServiceDaemon::new().map_err(|e| err(Msg::new("serve-mdns-cannot-start"), e))?;
        let specific = bind.filter(|ip| !ip.is_unspecified());
        if let Some(ip) = specific {
            // Only where serve can be reached.
            let _ = daemon.disable_interface(IfKind::All);
            let _ = daemon.enable_interface(IfKind::Addr(ip));
        }
        let preferred = format!("{SERVER_HOST}.local.");
        let host_taken = answered(&daemon, &preferred, HOST_CHECK);
        let host = if host_taken {
            format!("{SERVER_HOST}-{}.local.", host_label(&host_name()))
        } else {
            preferred
        };
        let service = service_type(transport);
        let props: HashMap<String, String> = [
            (TXT_PROTOCOL.to_string(), PROTOCOL_VERSION.to_string()),
            (TXT_NAME.to_string(), instance.to_string()),
        ]
        .into();
        let ty = format!("{service}.local.");
        let info = match specific {
            Some(ip) => ServiceInfo::new(&ty, instance, &host, ip, port, props),
            None => ServiceInfo::new(&ty, instance, &host, (), port, props)
                .map(ServiceInfo::enable_addr_auto),
        }
        .map_err(|e| err(Msg::new("serve-mdns-cannot-describe"), e))?;
        let fullname = info.get_fullname().to_string();
        daemon
            .register(info)
            .map_err(|e| err(Msg::new("serve-mdns-cannot-advertise"), e))?;
        Ok(Advertiser {
            daemon,
            fullname,
            advertised: Advertised {
                instance: instance.to_string(),
                service,
                host: host.trim_end_matches('.').to_string(),
                port,
                host_taken,
            },
        })
    }

    /// What is advertised.
    pub fn advertised(&self) -> &Advertised {
        &self.advertised
    }

    /// Says goodbye (the records go with TTL 0, so browsers forget serve
    /// at once) and stops; waits at most a second.
    pub fn stop(self) {
        let deadline = Instant::now() + GOODBYE_WAIT;
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            while let Ok(status) = rx.recv_timeout(left(deadline)) {
                if matches!(status, UnregisterStatus::OK | UnregisterStatus::NotFound) {
                    break;
                }
            }
        }
        if let Ok(rx) = self.daemon.shutdown() {
            let _ = rx.recv_timeout(left(deadline));
        }
    }
}

fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Whether another responder answers for `host` within `wait`.
fn answered(daemon: &ServiceDaemon, host: &str, wait: Duration) -> bool {
    let Ok(rx) = daemon.resolve_hostname(host, Some(wait.as_millis() as u64)) else {
        return false;
    };
    let deadline = Instant::now() + wait;
    let found = loop {
        match rx.recv_timeout(left(deadline)) {
            Ok(HostnameResolutionEvent::AddressesFound(_, addrs)) if !addrs.is_empty() => {
                break true
            }
            Ok(HostnameResolutionEvent::SearchTimeout(_)) | Err(_) => break false,
            Ok(_) => {}
        }
    };
    let _ = daemon.stop_resolve_hostname(host);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_notice() {
        assert!(validate_instance(&default_instance()).is_ok());
        assert!(applies(None));
        assert!(applies(Some("0.0.0.0".parse().unwrap())));
        assert!(!applies(Some("127.0.0.1".parse().unwrap())));
        assert!(!applies(Some("::1".parse().unwrap())));
        let a = Advertised {
            instance: "lab".into(),
            service: "_picow._tcp",
            host: "picow-desk.local".into(),
            port: 10000,
            host_taken: true,
        };
        // English for programs (the JSON), as it always was.
        let n = a.notice().to_string();
        assert_eq!(
            n,
            "picow.local is taken on this network, so serve answers as picow-desk.local; \
             advertised on the LAN (mDNS) as \"lab\" (_picow._tcp) at picow-desk.local:10000: \
             boards flashed with --server auto find it, --server auto:lab picks it"
        );
        let free = Advertised {
            host: "picow.local".into(),
            host_taken: false,
            ..a.clone()
        };
        assert_eq!(
            free.notice().to_string(),
            "advertised on the LAN (mDNS) as \"lab\" (_picow._tcp) at picow.local:10000: \
             boards flashed with --server auto find it, --server auto:lab picks it"
        );
        // Chinese for people, with what they type left as it is.
        let zh = a.notice().in_lang(picow_i18n::Lang::ZhCn);
        assert!(
            zh.starts_with("这个网络上 picow.local 已被别的设备占用"),
            "{zh}"
        );
        for typed in [
            "picow-desk.local:10000",
            "--server auto ",
            "--server auto:lab",
            "\"lab\"",
        ] {
            assert!(zh.contains(typed), "{zh}");
        }
        let e = AdvertiseError(Msg::new("serve-mdns-cannot-start").arg("error", "no interface"));
        assert_eq!(
            e.notice().to_string(),
            "not advertised on the LAN (cannot start mDNS: no interface): boards flashed with \
             --server auto will not find this serve; give them --server HOST:PORT"
        );
        let zh = e.notice().in_lang(picow_i18n::Lang::ZhCn);
        assert!(zh.contains("无法启动 mDNS：no interface"), "{zh}");
        assert!(zh.contains("--server HOST:PORT"), "{zh}");
    }
}
