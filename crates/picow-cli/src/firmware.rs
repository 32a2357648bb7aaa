//! Where `picow flash` and `picow monitor` find the firmware ELF, from any
//! directory.
//!
//! `cargo xtask fw build --chip CHIP` leaves the ELF in the clone, at
//! `target/picow-fw/<chip>/picow-fw.elf`, and installs a copy in the user's
//! data directory, `<data>/firmware/<chip>/picow-fw.elf` (see
//! [`installed_dir`]). picow looks in the data directory first, then in the
//! clone that contains the current directory; `--firmware` (or `--elf`)
//! overrides both.

use std::path::{Path, PathBuf};

use picow_i18n::{msg, Msg};

use crate::esp::image::PicowChip;

/// The file name of an installed or built firmware.
pub const ELF_NAME: &str = "picow-fw.elf";

/// The per-chip firmware directory in the user's data directory, each OS's
/// convention (the `dirs` crate's local data directory):
///
/// | system | directory |
/// |---|---|
/// | Linux | `$XDG_DATA_HOME/picow/firmware`, else `~/.local/share/picow/firmware` |
/// | macOS | `~/Library/Application Support/picow/firmware` |
/// | Windows | `%LOCALAPPDATA%\picow\firmware` |
///
/// `cargo xtask fw build` computes the same directory with the same crate.
pub fn installed_dir() -> Option<PathBuf> {
    dirs::data_local_dir().map(|d| d.join("picow").join("firmware"))
}

/// The installed firmware of `chip`, whether or not it exists.
pub fn installed_elf(chip: &str) -> Option<PathBuf> {
    installed_dir().map(|d| d.join(chip).join(ELF_NAME))
}

/// Where `cargo xtask fw build --chip CHIP` leaves the ELF in a clone.
pub fn clone_elf(root: &Path, chip: &str) -> PathBuf {
    root.join("target/picow-fw").join(chip).join(ELF_NAME)
}

/// The places to look for `chip`'s firmware, in order: the data directory,
/// then the clone (when there is one).
pub fn search_path(chip: &str, clone_root: Option<&Path>) -> Vec<PathBuf> {
    installed_elf(chip)
        .into_iter()
        .chain(clone_root.map(|r| clone_elf(r, chip)))
        .collect()
}

/// The first of [`search_path`] that is a file.
pub fn find(chip: &str, clone_root: Option<&Path>) -> Option<PathBuf> {
    search_path(chip, clone_root)
        .into_iter()
        .find(|p| p.is_file())
}

/// The exact way to get the firmware of `chip`: for the ESP32-S3,
/// Espressif's toolchain first.
pub fn build_command(chip: PicowChip) -> Msg {
    match chip {
        PicowChip::Esp32s3 => msg!("fw-s3-toolchain"),
        c => msg!("fw-riscv-build", chip = c.as_str()),
    }
}

/// "No firmware for this chip": the chip, where picow looked, and the exact
/// command that builds and installs it. Without a chip (neither `--chip`
/// nor a board to ask), the PicoW's ESP32-S3 is named.
pub fn missing(chip: Option<PicowChip>, looked: &[PathBuf]) -> Msg {
    let places = if looked.is_empty() {
        "-".to_owned()
    } else {
        looked
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match chip {
        Some(c) => msg!(
            "fw-missing",
            chip = c.as_str(),
            places = places,
            command = build_command(c)
        ),
        None => msg!(
            "fw-missing-any",
            places = places,
            command = build_command(PicowChip::Esp32s3)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picow_i18n::Lang;

    #[test]
    fn the_data_directory_comes_first() {
        let root = Path::new("/src/picow");
        let path = search_path("esp32s3", Some(root));
        assert_eq!(path.len(), 2, "{path:?}");
        assert!(path[0].ends_with("picow/firmware/esp32s3/picow-fw.elf") || cfg!(windows));
        assert_eq!(path[1], root.join("target/picow-fw/esp32s3/picow-fw.elf"));
        assert_eq!(search_path("esp32c3", None).len(), 1);
    }

    #[test]
    fn a_missing_s3_firmware_names_espup_and_the_build() {
        let m = missing(
            Some(PicowChip::Esp32s3),
            &[PathBuf::from("/a/picow-fw.elf")],
        )
        .in_lang(Lang::En);
        assert!(m.contains("esp32s3"), "{m}");
        assert!(m.contains("/a/picow-fw.elf"), "{m}");
        assert!(
            m.contains("cargo install espup --locked && espup install"),
            "{m}"
        );
        assert!(
            m.contains("cargo xtask fw build --chip esp32s3 --release"),
            "{m}"
        );
        let c3 = missing(Some(PicowChip::Esp32c3), &[]).in_lang(Lang::En);
        assert!(
            c3.contains("cargo xtask fw build --chip esp32c3 --release"),
            "{c3}"
        );
        assert!(!c3.contains("espup"), "{c3}");
        let any = missing(None, &[]).in_lang(Lang::ZhCn);
        assert!(
            any.contains("核桃派PicoW") && any.contains("espup"),
            "{any}"
        );
    }
}
