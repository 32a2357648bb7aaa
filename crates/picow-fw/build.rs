//! Links with esp-hal's linker scripts.

fn main() {
    // `linkall.x` pulls in the chip's memory map and the esp-hal, esp-rtos and
    // esp-radio sections; it must come last.
    println!("cargo:rustc-link-arg=-Tlinkall.x");
}
