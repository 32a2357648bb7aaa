//! The update-over-Wi-Fi steps of `cargo xtask ci` (issue #17), after the
//! firmware builds: a second C3 build whose app descriptor says another
//! version, then the end-to-end tests on the virtual C3 with it, ESPHome's
//! uploader and esp-idf-defs (`crates/picow-cli/tests/it/flash_ota_fw.rs`).

use std::path::PathBuf;

use crate::fw::{self, Chip};
use crate::{step, tools, Result};

/// The version of the second C3 image.
pub const VERSION_B: &str = "0.1.0-ota";

fn need(p: PathBuf, what: &str) -> Result<PathBuf> {
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{} is missing ({what}); the firmware step (`cargo xtask fw check --chip ...`) makes it",
            p.display()
        ))
    }
}

/// The paths and the Python the OTA tests take, as environment variables.
pub fn test_env() -> Result<Vec<(&'static str, PathBuf)>> {
    let a = need(fw::elf_path(Chip::Esp32c3), "the C3 firmware")?;
    let bin_a = need(a.with_file_name("picow-fw.bin"), "its app image")?;
    let c6 = need(fw::elf_path(Chip::Esp32c6), "the C6 firmware")?;
    let bin_c6 = need(c6.with_file_name("picow-fw.bin"), "its app image")?;
    let b = fw::version_elf_path(Chip::Esp32c3, VERSION_B);
    let b = if b.is_file() {
        b
    } else {
        fw::build_version(Chip::Esp32c3, VERSION_B)?
    };
    Ok(vec![
        ("PICOW_FW_ELF", a),
        ("PICOW_FW_ELF_B", b),
        ("PICOW_FW_BIN_A", bin_a),
        ("PICOW_FW_ELF_C6", c6),
        ("PICOW_FW_BIN_C6", bin_c6),
        ("PICOW_OTA_PYTHON", tools::ota_python()?),
    ])
}

/// Builds version B (always: the source may have changed) and runs the
/// ignored `flash_ota_fw::` tests.
pub fn ci_steps() -> Result {
    fw::build_version(Chip::Esp32c3, VERSION_B)?;
    let env = test_env()?;
    let mut c = crate::ci::cli_ignored_tests("flash_ota_fw::");
    for (k, v) in env {
        c.env(k, v);
    }
    step(
        "updates over Wi-Fi: two C3 builds, espota2 and esp-idf-defs on a virtual C3",
        &mut c,
    )
}
