//! picow firmware: wires the chip's peripherals into a [`board::FwBoard`]
//! and runs [`picow_app::run`] on it. All behaviour lives in picow-app.
#![no_std]
#![no_main]

mod board;

use core::cell::RefCell;

use embassy_executor::Spawner;
use embassy_net::{Runner, StackResources};
use embassy_sync::mutex::Mutex;
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::gpio::{Level, Output, OutputConfig};
use esp_hal::rng::Rng;
use esp_hal::timer::timg::TimerGroup;
use esp_hal::usb::usb_serial_jtag::UsbSerialJtag;
use esp_radio::wifi::{ControllerConfig, Interface, WifiController};
use esp_storage::FlashStorage;
use picow_app::AppInfo;
use static_cell::StaticCell;

use crate::board::FwBoard;

// The app descriptor: espflash and esptool show `picow-fw` and the version.
esp_bootloader_esp_idf::esp_app_desc!(
    VERSION,
    env!("CARGO_PKG_NAME"),
    esp_bootloader_esp_idf::BUILD_TIME,
    esp_bootloader_esp_idf::BUILD_DATE,
    esp_bootloader_esp_idf::ESP_IDF_COMPATIBLE_VERSION,
    esp_bootloader_esp_idf::MMU_PAGE_SIZE,
    0,
    u16::MAX,
    esp_bootloader_esp_idf::SECURE_VERSION
);

/// The firmware's version: the crate's, or `PICOW_FW_VERSION` at build time
/// (`cargo xtask fw build --version V`: CI builds a second image that way
/// to test updates over Wi-Fi).
const VERSION: &str = match option_env!("PICOW_FW_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

#[cfg(feature = "esp32s3")]
const CHIP: &str = "esp32s3";
#[cfg(feature = "esp32c3")]
const CHIP: &str = "esp32c3";
#[cfg(feature = "esp32c6")]
const CHIP: &str = "esp32c6";

/// The Wi-Fi station's MAC (the base MAC in eFuse).
fn station_mac() -> [u8; 6] {
    let mac = esp_hal::efuse::interface_mac_address(esp_hal::efuse::InterfaceMacAddress::Station);
    let mut out = [0; 6];
    for (o, b) in out.iter_mut().zip(mac.as_bytes()) {
        *o = *b;
    }
    out
}

/// esp-backtrace calls this after printing a panic: the board restarts, as
/// ESP-IDF's firmware does. An image on trial that crashed is then found
/// `pending-verify` at the next boot and given up (picow-app's `ota`).
#[no_mangle]
fn custom_halt() -> ! {
    esp_hal::system::software_reset()
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Interface>) -> ! {
    runner.run().await
}

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    esp_println::logger::init_logger_from_env();
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // esp-radio's heap.
    esp_alloc::heap_allocator!(size: 72 * 1024);

    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);

    // The status LED of each supported board (see docs/firmware.md).
    #[cfg(feature = "esp32s3")]
    let (led_pin, led_active_high) = (peripherals.GPIO46, true);
    #[cfg(feature = "esp32c3")]
    let (led_pin, led_active_high) = (peripherals.GPIO8, false);
    #[cfg(feature = "esp32c6")]
    let (led_pin, led_active_high) = (peripherals.GPIO15, true);
    let off = if led_active_high {
        Level::Low
    } else {
        Level::High
    };
    let led = Output::new(led_pin, off, OutputConfig::default());

    let (console_rx, _console_tx) = UsbSerialJtag::new(peripherals.USB_DEVICE)
        .into_async()
        .split();

    let wifi = WifiController::new(peripherals.WIFI, ControllerConfig::default())
        .expect("Wi-Fi controller");
    let rng = Rng::new();
    let mut flash = FlashStorage::new(peripherals.FLASH);
    // The app partition the bootloader loaded (from the MMU), for updates
    // over Wi-Fi: they write the other slot.
    let running_app = {
        let mut table = [0u8; esp_bootloader_esp_idf::partitions::PARTITION_TABLE_MAX_LEN];
        esp_bootloader_esp_idf::partitions::read_partition_table(&mut flash, &mut table)
            .ok()
            .and_then(|t| t.booted_partition().ok().flatten())
            .map(|p| p.offset())
    };
    let seed = (u64::from(rng.random()) << 32) | u64::from(rng.random());
    // Sockets: DHCP, DNS, the server connection, multicast DNS, and two
    // spare.
    static RESOURCES: StaticCell<StackResources<6>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        Interface::station(),
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(net_task(runner).expect("net task"));

    let board = FwBoard {
        led: RefCell::new(led),
        led_active_high,
        stack,
        wifi: Mutex::new(wifi),
        flash: RefCell::new(flash),
        console_rx: Mutex::new(console_rx),
        running_app,
        rng,
    };
    let info = AppInfo {
        version: VERSION,
        chip: CHIP,
        mac: station_mac(),
    };
    // `run` returns only when the user typed `reboot` (picow_app::Exit).
    let _exit = picow_app::run(&board, info).await;
    esp_hal::system::software_reset()
}
