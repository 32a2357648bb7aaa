//! The hardware trait: everything the app needs from a board.
//!
//! Every method takes `&self`, so that the app can wait on several things
//! at once (joining Wi-Fi while blinking the LED, reading the server while
//! watching the Wi-Fi link and the console). Implementations keep their
//! mutable parts behind cells or locks; on the chip everything runs on one
//! executor, so no locking across threads is needed.
//!
//! Two implementations exist: the esp-hal one in `picow-fw`, and the tokio
//! one in the `host` module (feature `host`).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use picow_protocol::layout::TableEntry;
use picow_protocol::otadata::{ImageState, OtaData, SECTOR_LEN};

/// What the board reports after joining Wi-Fi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetInfo {
    /// The board's own address (from DHCP).
    pub ip: IpAddr,
    /// The gateway, when DHCP gave one.
    pub gateway: Option<IpAddr>,
    /// Signal strength of the access point in dBm.
    pub rssi: i32,
}

/// Why a Wi-Fi join attempt failed (the app retries until its 15 s window
/// ends, then backs off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WifiError {
    /// No access point with that SSID answered.
    NotFound,
    /// The access point rejected the password.
    AuthFailed,
    /// The radio or the DHCP client failed.
    Other,
}

/// Why a network operation failed. [`NetError::reason`] is what the
/// `server-closed` console line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// The server refused the connection (nothing listens on the port).
    Refused,
    /// The connection was reset or broke.
    Reset,
    /// No route: the Wi-Fi link is down or the address is unreachable.
    Unreachable,
    /// The operation took too long.
    Timeout,
    /// The host name could not be resolved.
    Dns,
    /// The board ran out of sockets or buffers.
    NoResources,
    /// The board has no multicast (a virtual board started without
    /// `--mdns`), so it cannot use multicast DNS.
    NoMulticast,
    /// Anything else.
    Other,
}

impl NetError {
    /// The machine-readable reason used on the console.
    pub fn reason(self) -> &'static str {
        match self {
            NetError::Refused => "refused",
            NetError::Reset => "reset",
            NetError::Unreachable => "unreachable",
            NetError::Timeout => "timeout",
            NetError::Dns => "dns",
            NetError::NoResources => "no-resources",
            NetError::NoMulticast => "no-multicast",
            NetError::Other => "error",
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// Reading, erasing or writing flash failed (or was out of range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashError;

/// A connected TCP stream or UDP socket.
///
/// For TCP, [`read`](Link::read) returns `Ok(0)` when the server closed the
/// connection. For UDP, one read is one datagram and [`write`](Link::write)
/// sends one datagram.
#[allow(async_fn_in_trait)] // the app is single-threaded: no `Send` bound wanted
pub trait Link {
    /// Waits for bytes; `Ok(0)` means the peer closed the stream.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError>;
    /// Sends all of `buf` (one datagram for UDP).
    async fn write(&mut self, buf: &[u8]) -> Result<(), NetError>;
}

/// A UDP socket that takes datagrams from anyone and sends to anyone: the
/// board's multicast DNS socket.
#[allow(async_fn_in_trait)] // the app is single-threaded: no `Send` bound wanted
pub trait Datagrams {
    /// Waits for a datagram; returns its length and sender. A datagram
    /// longer than `buf` may be cut short or dropped.
    async fn recv_from(&mut self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError>;
    /// Sends one datagram to `to`.
    async fn send_to(&mut self, buf: &[u8], to: SocketAddr) -> Result<(), NetError>;
}

/// Everything the app needs from the hardware.
#[allow(async_fn_in_trait)] // the app is single-threaded: no `Send` bound wanted
pub trait Board {
    /// Socket buffers that the app owns and lends to a connection, so the
    /// board needs no allocator (embassy-net sockets borrow their buffers).
    /// The host board uses `()`.
    type Buffers: Default;
    /// A TCP connection borrowing the buffers.
    type Tcp<'b>: Link
    where
        Self: 'b;
    /// A connected UDP socket borrowing the buffers.
    type Udp<'b>: Link
    where
        Self: 'b;
    /// A multicast UDP socket borrowing the buffers.
    type Multicast<'b>: Datagrams
    where
        Self: 'b;

    /// Turns the status LED on or off.
    fn set_led(&self, on: bool);

    /// Milliseconds since boot.
    fn now_ms(&self) -> u64;

    /// Waits `ms` milliseconds (without busy-waiting).
    async fn sleep_ms(&self, ms: u64);

    /// Writes one console line; the board adds the line ending.
    fn console_line(&self, line: &str);

    /// Waits for bytes typed on the console and returns how many were put
    /// into `buf`. Returns 0 only when the console input is gone for good.
    async fn console_read(&self, buf: &mut [u8]) -> usize;

    /// Reads `buf.len()` bytes of flash starting at `offset`.
    async fn read_flash(&self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError>;

    /// One attempt to join `ssid` as a station and get an address; returns
    /// when the link is up with DHCP done, or when the attempt failed. The
    /// app bounds the attempt with its own timeout.
    async fn wifi_join(&self, ssid: &str, password: &str) -> Result<NetInfo, WifiError>;

    /// Resolves when the Wi-Fi link is down (at once if it is down now).
    async fn wifi_down(&self);

    /// Resolves a host name to an address.
    async fn dns_lookup(&self, host: &str) -> Result<IpAddr, NetError>;

    /// Opens a TCP connection.
    async fn tcp_connect<'b>(
        &'b self,
        addr: SocketAddr,
        buffers: &'b mut Self::Buffers,
    ) -> Result<Self::Tcp<'b>, NetError>;

    /// Opens a UDP socket that sends to and receives from `addr` only.
    async fn udp_connect<'b>(
        &'b self,
        addr: SocketAddr,
        buffers: &'b mut Self::Buffers,
    ) -> Result<Self::Udp<'b>, NetError>;

    /// Opens a UDP socket on `port` that receives what is sent to the
    /// multicast `group` on the Wi-Fi network (the board joins the group;
    /// IGMP on the chip) as well as datagrams to the board itself, and
    /// sends from `port`, to the group with a TTL of 255. For multicast DNS
    /// (224.0.0.251:5353). [`NetError::NoMulticast`] when the board has
    /// none.
    async fn multicast_open<'b>(
        &'b self,
        group: Ipv4Addr,
        port: u16,
        buffers: &'b mut Self::Buffers,
    ) -> Result<Self::Multicast<'b>, NetError>;

    // Updates over Wi-Fi (issue 17).

    /// Waits for one TCP connection on `port` (the OTA listener) and
    /// returns it with the peer's address. Only one connection is taken at
    /// a time: others are refused or wait until the next call.
    async fn tcp_accept<'b>(
        &'b self,
        port: u16,
        buffers: &'b mut Self::Buffers,
    ) -> Result<(Self::Tcp<'b>, SocketAddr), NetError>;

    /// The TCP port where [`Board::tcp_accept`] takes updates, as the
    /// board advertises it (the SRV record of its DNS-SD instance):
    /// ESPHome's 3232 unless the board listens elsewhere (a virtual board
    /// on a free port).
    fn ota_port(&self) -> u16 {
        picow_protocol::ota::wire::PORT
    }

    /// Erases the 4 KiB sectors of `offset .. offset + len` (both aligned
    /// to 4 KiB).
    async fn erase_flash(&self, offset: u32, len: u32) -> Result<(), FlashError>;

    /// Programs erased flash: `offset` and `data.len()` are multiples of 4.
    async fn write_flash(&self, offset: u32, data: &[u8]) -> Result<(), FlashError>;

    /// The flash offset of the app partition the bootloader loaded (the
    /// chip knows it from its MMU), if known.
    fn running_app(&self) -> Option<u32>;

    /// Fills `buf` with random bytes (the hardware RNG on the chip).
    fn random(&self, buf: &mut [u8]);

    /// Makes otadata (the partition `otadata`) select `slot` of
    /// `slot_count` OTA slots with `state`, the active entry untouched until
    /// the new one is complete. This default writes picow-protocol's
    /// [`OtaData::select`] through [`Board::erase_flash`] and
    /// [`Board::write_flash`]; the firmware uses esp-bootloader-esp-idf.
    async fn ota_select(
        &self,
        otadata: &TableEntry,
        slot: u8,
        slot_count: u8,
        state: ImageState,
    ) -> Result<(), FlashError> {
        let data = read_otadata(self, otadata).await?;
        let w = data.select(slot, slot_count, state);
        write_otadata_sector(self, otadata, w).await
    }

    /// Rewrites the state of the active otadata entry (the one that
    /// selects the running image). Default as for [`Board::ota_select`].
    async fn ota_set_state(
        &self,
        otadata: &TableEntry,
        state: ImageState,
    ) -> Result<(), FlashError> {
        let data = read_otadata(self, otadata).await?;
        let w = data.with_state(state).ok_or(FlashError)?;
        write_otadata_sector(self, otadata, w).await
    }
}

/// Both otadata entries of the partition `otadata`.
pub async fn read_otadata<B: Board + ?Sized>(
    board: &B,
    otadata: &TableEntry,
) -> Result<OtaData, FlashError> {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    board.read_flash(otadata.offset, &mut a).await?;
    board
        .read_flash(otadata.offset + SECTOR_LEN, &mut b)
        .await?;
    Ok(OtaData::from_entries(&a, &b))
}

async fn write_otadata_sector<B: Board + ?Sized>(
    board: &B,
    otadata: &TableEntry,
    w: picow_protocol::otadata::Write,
) -> Result<(), FlashError> {
    let at = otadata.offset + w.offset();
    board.erase_flash(at, SECTOR_LEN).await?;
    board.write_flash(at, &w.entry.to_bytes()).await
}
