//! [`picow_app::Board`] on esp-hal: GPIO LED, esp-radio Wi-Fi station,
//! embassy-net sockets and DNS, flash reads through esp-storage, and the
//! USB-Serial-JTAG console.

use core::cell::RefCell;
use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use embassy_net::dns::DnsQueryType;
use embassy_net::tcp::{ConnectError, TcpSocket};
use embassy_net::udp::{PacketMetadata, RecvError, SendError, UdpSocket};
use embassy_net::{IpAddress, IpEndpoint, Stack};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_time::{Duration, Instant, Timer};
use esp_bootloader_esp_idf::ota::OtaImageState;
use esp_bootloader_esp_idf::ota_updater::OtaUpdater;
use esp_bootloader_esp_idf::partitions::{AppPartitionSubType, PARTITION_TABLE_MAX_LEN};
use esp_hal::gpio::{Level, Output};
use esp_hal::rng::Rng;
use esp_hal::usb::usb_serial_jtag::UsbSerialJtagRx;
use esp_hal::Async;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{
    AuthenticationMethodConfig, Config, ConnectionError, DisconnectReason, Password, Ssid,
    WifiController,
};
use esp_storage::FlashStorage;
use picow_app::{Board, Datagrams, FlashError, Link, NetError, NetInfo, WifiError};
use picow_protocol::layout::TableEntry;
use picow_protocol::otadata::ImageState;

/// Socket buffers, owned by the app for the length of one connection.
pub struct Buffers {
    rx: [u8; 1536],
    tx: [u8; 1536],
    rx_meta: [PacketMetadata; 4],
    tx_meta: [PacketMetadata; 4],
}

impl Default for Buffers {
    fn default() -> Self {
        Buffers {
            rx: [0; 1536],
            tx: [0; 1536],
            rx_meta: [PacketMetadata::EMPTY; 4],
            tx_meta: [PacketMetadata::EMPTY; 4],
        }
    }
}

/// The board's hardware, as the app sees it.
pub struct FwBoard {
    pub led: RefCell<Output<'static>>,
    pub led_active_high: bool,
    pub stack: Stack<'static>,
    pub wifi: Mutex<NoopRawMutex, WifiController<'static>>,
    pub flash: RefCell<FlashStorage<'static>>,
    pub console_rx: Mutex<NoopRawMutex, UsbSerialJtagRx<'static, Async>>,
    /// The app partition the bootloader loaded (read from the MMU at start).
    pub running_app: Option<u32>,
    pub rng: Rng,
}

fn ota_state(s: ImageState) -> OtaImageState {
    match s {
        ImageState::New => OtaImageState::New,
        ImageState::PendingVerify => OtaImageState::PendingVerify,
        ImageState::Valid => OtaImageState::Valid,
        ImageState::Invalid => OtaImageState::Invalid,
        ImageState::Aborted => OtaImageState::Aborted,
        ImageState::Undefined => OtaImageState::Undefined,
    }
}

/// A TCP connection.
pub struct FwTcp<'b>(TcpSocket<'b>);

impl Link for FwTcp<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        self.0.read(buf).await.map_err(|_| NetError::Reset)
    }

    async fn write(&mut self, mut buf: &[u8]) -> Result<(), NetError> {
        while !buf.is_empty() {
            match self.0.write(buf).await {
                Ok(0) | Err(_) => return Err(NetError::Reset),
                Ok(n) => buf = &buf[n..],
            }
        }
        Ok(())
    }
}

/// A UDP socket that talks to one server.
pub struct FwUdp<'b> {
    socket: UdpSocket<'b>,
    peer: IpEndpoint,
}

impl Link for FwUdp<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        loop {
            match self.socket.recv_from(buf).await {
                // Datagrams from anyone but the server are dropped.
                Ok((n, meta)) if meta.endpoint == self.peer => return Ok(n),
                Ok(_) => {}
                Err(RecvError::Truncated) => return Ok(buf.len()),
                #[allow(unreachable_patterns)]
                Err(_) => return Err(NetError::Other),
            }
        }
    }

    async fn write(&mut self, buf: &[u8]) -> Result<(), NetError> {
        self.socket
            .send_to(buf, self.peer)
            .await
            .map_err(|e| match e {
                SendError::NoRoute => NetError::Unreachable,
                _ => NetError::Other,
            })
    }
}

/// The multicast DNS socket: bound to the port, the group joined (IGMP)
/// while it lives.
pub struct FwMulticast<'b> {
    socket: UdpSocket<'b>,
    stack: Stack<'static>,
    group: Ipv4Addr,
}

impl Drop for FwMulticast<'_> {
    fn drop(&mut self) {
        let _ = self
            .stack
            .leave_multicast_group(IpAddress::Ipv4(self.group));
    }
}

impl Datagrams for FwMulticast<'_> {
    async fn recv_from(&mut self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        loop {
            match self.socket.recv_from(buf).await {
                Ok((n, meta)) => {
                    // IPv4 only in this build: the pattern is irrefutable.
                    #[allow(irrefutable_let_patterns)]
                    if let IpAddress::Ipv4(a) = meta.endpoint.addr {
                        let from = SocketAddrV4::new(a, meta.endpoint.port);
                        return Ok((n, SocketAddr::V4(from)));
                    }
                }
                // Longer than a packet buffer: not one of ours; drop it.
                Err(RecvError::Truncated) => {}
                #[allow(unreachable_patterns)]
                Err(_) => return Err(NetError::Other),
            }
        }
    }

    async fn send_to(&mut self, buf: &[u8], to: SocketAddr) -> Result<(), NetError> {
        self.socket
            .send_to(buf, endpoint(to)?)
            .await
            .map_err(|e| match e {
                SendError::NoRoute => NetError::Unreachable,
                _ => NetError::Other,
            })
    }
}

fn endpoint(addr: SocketAddr) -> Result<IpEndpoint, NetError> {
    match addr.ip() {
        IpAddr::V4(v4) => Ok(IpEndpoint::new(IpAddress::Ipv4(v4), addr.port())),
        // This build's network stack is IPv4 only.
        IpAddr::V6(_) => Err(NetError::Unreachable),
    }
}

impl Board for FwBoard {
    type Buffers = Buffers;
    type Tcp<'b> = FwTcp<'b>;
    type Udp<'b> = FwUdp<'b>;
    type Multicast<'b> = FwMulticast<'b>;

    fn set_led(&self, on: bool) {
        let level = if on == self.led_active_high {
            Level::High
        } else {
            Level::Low
        };
        self.led.borrow_mut().set_level(level);
    }

    fn now_ms(&self) -> u64 {
        Instant::now().as_millis()
    }

    async fn sleep_ms(&self, ms: u64) {
        Timer::after(Duration::from_millis(ms)).await;
    }

    fn console_line(&self, line: &str) {
        // esp-println writes to USB-Serial-JTAG and gives up (instead of
        // blocking) when no host reads the port.
        esp_println::println!("{line}");
    }

    async fn console_read(&self, buf: &mut [u8]) -> usize {
        let mut rx = self.console_rx.lock().await;
        loop {
            match embedded_io_async::Read::read(&mut *rx, buf).await {
                Ok(n) if n > 0 => return n,
                // The console never ends on the chip; wait and read again.
                _ => Timer::after(Duration::from_millis(50)).await,
            }
        }
    }

    async fn read_flash(&self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.flash
            .borrow_mut()
            .read(offset, buf)
            .map_err(|_| FlashError)
    }

    async fn wifi_join(&self, ssid: &str, password: &str) -> Result<NetInfo, WifiError> {
        let mut wifi = self.wifi.lock().await;
        // A previous attempt may have been cut off by the app's 15 s window
        // while connecting, or during DHCP: start from a clean state. (Returns
        // at once when neither connected nor connecting.)
        let _ = wifi.disconnect_async().await;
        let auth = if password.is_empty() {
            AuthenticationMethodConfig::Open
        } else {
            AuthenticationMethodConfig::WpaWpa2Personal(
                Password::try_from(password).map_err(|_| WifiError::Other)?,
            )
        };
        let station = StationConfig::default()
            .with_ssid(Ssid::try_from(ssid).map_err(|_| WifiError::Other)?)
            .with_authentication(auth);
        wifi.set_config(&Config::Station(station))
            .map_err(|_| WifiError::Other)?;
        wifi.connect_async().await.map_err(|e| match e {
            ConnectionError::Failed(info) => match info.reason {
                DisconnectReason::NoAccessPointFound => WifiError::NotFound,
                DisconnectReason::AuthenticationFailed
                | DisconnectReason::HandshakeTimeout
                | DisconnectReason::FourWayHandshakeTimeout => WifiError::AuthFailed,
                _ => WifiError::Other,
            },
            _ => WifiError::Other,
        })?;
        // DHCP; the app's 15 s window bounds this wait.
        self.stack.wait_config_up().await;
        let v4 = self.stack.config_v4().ok_or(WifiError::Other)?;
        Ok(NetInfo {
            ip: IpAddr::V4(v4.address.address()),
            gateway: v4.gateway.map(IpAddr::V4),
            rssi: wifi.rssi().unwrap_or(0),
        })
    }

    async fn wifi_down(&self) {
        self.stack.wait_link_down().await;
    }

    async fn dns_lookup(&self, host: &str) -> Result<IpAddr, NetError> {
        let answers = self
            .stack
            .dns_query(host, DnsQueryType::A)
            .await
            .map_err(|_| NetError::Dns)?;
        match answers.first() {
            Some(IpAddress::Ipv4(a)) => Ok(IpAddr::V4(*a)),
            #[allow(unreachable_patterns)]
            _ => Err(NetError::Dns),
        }
    }

    async fn tcp_connect<'b>(
        &'b self,
        addr: SocketAddr,
        buffers: &'b mut Buffers,
    ) -> Result<FwTcp<'b>, NetError> {
        let remote = endpoint(addr)?;
        let mut socket = TcpSocket::new(self.stack, &mut buffers.rx, &mut buffers.tx);
        // A server that vanishes (PC asleep, cable pulled) is noticed within
        // a minute instead of never.
        socket.set_keep_alive(Some(Duration::from_secs(15)));
        socket.set_timeout(Some(Duration::from_secs(60)));
        socket.connect(remote).await.map_err(|e| match e {
            ConnectError::ConnectionReset => NetError::Refused,
            ConnectError::TimedOut => NetError::Timeout,
            ConnectError::NoRoute => NetError::Unreachable,
            ConnectError::InvalidState => NetError::Other,
        })?;
        Ok(FwTcp(socket))
    }

    async fn udp_connect<'b>(
        &'b self,
        addr: SocketAddr,
        buffers: &'b mut Buffers,
    ) -> Result<FwUdp<'b>, NetError> {
        let peer = endpoint(addr)?;
        let Buffers {
            rx,
            tx,
            rx_meta,
            tx_meta,
        } = buffers;
        let mut socket = UdpSocket::new(self.stack, rx_meta, rx, tx_meta, tx);
        socket.bind(0).map_err(|_| NetError::NoResources)?;
        Ok(FwUdp { socket, peer })
    }

    async fn multicast_open<'b>(
        &'b self,
        group: Ipv4Addr,
        port: u16,
        buffers: &'b mut Buffers,
    ) -> Result<FwMulticast<'b>, NetError> {
        let Buffers {
            rx,
            tx,
            rx_meta,
            tx_meta,
        } = buffers;
        let mut socket = UdpSocket::new(self.stack, rx_meta, rx, tx_meta, tx);
        socket.bind(port).map_err(|_| NetError::NoResources)?;
        // RFC 6762 §11: multicast DNS goes out with a TTL of 255.
        socket.set_hop_limit(Some(255));
        self.stack
            .join_multicast_group(IpAddress::Ipv4(group))
            .map_err(|_| NetError::NoResources)?;
        Ok(FwMulticast {
            socket,
            stack: self.stack,
            group,
        })
    }

    async fn tcp_accept<'b>(
        &'b self,
        port: u16,
        buffers: &'b mut Buffers,
    ) -> Result<(FwTcp<'b>, SocketAddr), NetError> {
        let mut socket = TcpSocket::new(self.stack, &mut buffers.rx, &mut buffers.tx);
        socket.set_timeout(Some(Duration::from_secs(90)));
        socket.accept(port).await.map_err(|_| NetError::Other)?;
        let peer = match socket.remote_endpoint() {
            Some(IpEndpoint {
                addr: IpAddress::Ipv4(a),
                port,
            }) => SocketAddr::new(IpAddr::V4(a), port),
            #[allow(unreachable_patterns)]
            _ => SocketAddr::new(IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED), 0),
        };
        Ok((FwTcp(socket), peer))
    }

    async fn erase_flash(&self, offset: u32, len: u32) -> Result<(), FlashError> {
        self.flash
            .borrow_mut()
            .erase(offset, offset + len)
            .map_err(|_| FlashError)
    }

    async fn write_flash(&self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        self.flash
            .borrow_mut()
            .write_nor(offset, data)
            .map_err(|_| FlashError)
    }

    fn running_app(&self) -> Option<u32> {
        self.running_app
    }

    fn random(&self, buf: &mut [u8]) {
        self.rng.read(buf);
    }

    async fn ota_select(
        &self,
        _otadata: &TableEntry,
        slot: u8,
        _slot_count: u8,
        state: ImageState,
    ) -> Result<(), FlashError> {
        let sub = match slot {
            0 => AppPartitionSubType::Ota0,
            1 => AppPartitionSubType::Ota1,
            _ => return Err(FlashError),
        };
        let mut flash = self.flash.borrow_mut();
        let mut table = [0u8; PARTITION_TABLE_MAX_LEN];
        let mut updater = OtaUpdater::new(&mut flash, &mut table).map_err(|_| FlashError)?;
        let mut ota = updater.ota_data().map_err(|_| FlashError)?;
        ota.set_current_app_partition(sub).map_err(|_| FlashError)?;
        ota.set_current_ota_state(ota_state(state))
            .map_err(|_| FlashError)
    }

    async fn ota_set_state(
        &self,
        _otadata: &TableEntry,
        state: ImageState,
    ) -> Result<(), FlashError> {
        let mut flash = self.flash.borrow_mut();
        let mut table = [0u8; PARTITION_TABLE_MAX_LEN];
        let mut updater = OtaUpdater::new(&mut flash, &mut table).map_err(|_| FlashError)?;
        updater
            .set_current_ota_state(ota_state(state))
            .map_err(|_| FlashError)
    }
}
