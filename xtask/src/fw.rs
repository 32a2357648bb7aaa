//! `cargo xtask fw ...`: firmware builds (issue #4).
//!
//! - `cargo xtask fw build --chip esp32c3|esp32c6|esp32s3 [--release]`
//! - `cargo xtask fw check --chip esp32c3|esp32c6|esp32s3`: release build,
//!   app image, `esptool image-info` validation and sizes (what CI runs).
//!
//! Every build leaves the ELF at `target/picow-fw/<chip>/picow-fw.elf`
//! under the workspace root; `fw build` also installs it in the user's data
//! directory ([`installed_elf`]), where `picow flash` and `picow monitor`
//! find it from any directory. `check` (CI) installs nothing and puts the
//! app image next to the ELF as `picow-fw.bin`. Cargo's own output lives in
//! `target/picow-fw/build`, reused across runs and chips.

mod elf;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{root, step, tools, Result};

/// The Debian packages of the C3/C6 route (firmware-build.md): Debian's
/// Rust with the standard library sources for `build-std`, and the linker.
pub const DEBIAN_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-llvm",
    "lld-22",
];

/// Debian's clippy for the same compiler, for `fw clippy`.
pub const DEBIAN_CLIPPY: &[&str] = &["rust-web-clippy"];

/// Budget for the ESP32-C3 app image: 600 KB in issue #4, 640 KB since the
/// updates over Wi-Fi of issue #17 (541 KB before them).
pub const C3_IMAGE_BUDGET: u64 = 640 * 1000;

const USAGE: &str = "\
usage: cargo xtask fw build --chip esp32c3|esp32c6|esp32s3 [--release] [--version V]
       cargo xtask fw check --chip esp32c3|esp32c6|esp32s3
       cargo xtask fw clippy --chip esp32c3|esp32c6|esp32s3

build   builds the firmware; the ELF lands at target/picow-fw/<chip>/picow-fw.elf
        and is installed in the user's data directory, where picow finds it
        from any directory (Linux: ~/.local/share/picow/firmware/<chip>/);
        with --version V (release): the app descriptor says V, and the ELF
        lands at target/picow-fw/<chip>/picow-fw-V.elf only (a second image
        for testing updates over Wi-Fi)
check   release build, app image (picow-fw.bin next to the ELF), esptool
        image-info validation (checksum, hash, project name) and sizes
clippy  clippy on the firmware with -D warnings
";

/// A chip the firmware builds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chip {
    Esp32c3,
    Esp32c6,
    Esp32s3,
}

impl Chip {
    pub const ALL: [Chip; 3] = [Chip::Esp32c3, Chip::Esp32c6, Chip::Esp32s3];

    pub fn parse(s: &str) -> Option<Chip> {
        Chip::ALL.into_iter().find(|c| c.name() == s)
    }

    /// The name used for the cargo feature, esptool's `--chip` and paths.
    pub fn name(self) -> &'static str {
        match self {
            Chip::Esp32c3 => "esp32c3",
            Chip::Esp32c6 => "esp32c6",
            Chip::Esp32s3 => "esp32s3",
        }
    }

    pub fn target(self) -> &'static str {
        match self {
            Chip::Esp32c3 => "riscv32imc-unknown-none-elf",
            Chip::Esp32c6 => "riscv32imac-unknown-none-elf",
            Chip::Esp32s3 => "xtensa-esp32s3-none-elf",
        }
    }

    fn is_xtensa(self) -> bool {
        self == Chip::Esp32s3
    }
}

/// Where `fw build` leaves the ELF of `chip`.
pub fn elf_path(chip: Chip) -> PathBuf {
    root()
        .join("target/picow-fw")
        .join(chip.name())
        .join("picow-fw.elf")
}

/// Where `fw build` installs the ELF of `chip` for picow to find from any
/// directory: `<data>/firmware/<chip>/picow-fw.elf` in the user's data
/// directory (Linux `$XDG_DATA_HOME/picow` or `~/.local/share/picow`, macOS
/// `~/Library/Application Support/picow`, Windows `%LOCALAPPDATA%\picow`),
/// the rule of picow's `firmware::installed_dir`.
pub fn installed_elf(chip: Chip) -> Option<PathBuf> {
    dirs::data_local_dir().map(|d| {
        d.join("picow")
            .join("firmware")
            .join(chip.name())
            .join("picow-fw.elf")
    })
}

/// Copies a built ELF to [`installed_elf`] (through a temporary file, so a
/// picow running meanwhile never reads half a file).
pub fn install(chip: Chip, elf: &Path) -> Result<PathBuf> {
    let dest = installed_elf(chip).ok_or(
        "no home directory: cannot install the firmware for picow (give picow --firmware instead)",
    )?;
    let dir = dest.parent().expect("has a parent");
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let tmp = dir.join(".picow-fw.elf.tmp");
    std::fs::copy(elf, &tmp)
        .and_then(|_| std::fs::rename(&tmp, &dest))
        .map_err(|e| format!("installing {} as {}: {e}", elf.display(), dest.display()))?;
    println!(
        "    installed: {} (picow flash and picow monitor find it from any directory)",
        dest.display()
    );
    Ok(dest)
}

fn fw_dir() -> PathBuf {
    root().join("crates/picow-fw")
}

fn cargo_target_dir() -> PathBuf {
    root().join("target/picow-fw/build")
}

#[derive(Debug)]
struct Args {
    chip: Chip,
    release: bool,
    version: Option<String>,
}

fn parse_args(args: &[String], allow_release: bool) -> Result<Args> {
    let mut chip = None;
    let mut release = false;
    let mut version = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--chip" => {
                let v = it.next().ok_or_else(|| {
                    crate::bad_input("--chip needs a value: esp32c3, esp32c6 or esp32s3")
                })?;
                chip = Some(Chip::parse(v).ok_or_else(|| {
                    crate::bad_input(format!(
                        "--chip: unknown chip `{v}`; use esp32c3, esp32c6 or esp32s3"
                    ))
                })?);
            }
            "--release" if allow_release => release = true,
            "--version" if allow_release => {
                let v = it
                    .next()
                    .filter(|v| {
                        !v.is_empty()
                            && v.len() < 32
                            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
                    })
                    .ok_or_else(|| {
                        crate::bad_input(
                            "--version needs a value of 1 to 31 characters of [A-Za-z0-9._+-], e.g. 0.1.0-ota",
                        )
                    })?;
                version = Some(v.clone());
            }
            other => {
                return Err(crate::bad_input(format!(
                    "unexpected argument `{other}`\n\n{USAGE}"
                )))
            }
        }
    }
    let chip = chip.ok_or_else(|| crate::bad_input(format!("--chip is required\n\n{USAGE}")))?;
    if version.is_some() && !release {
        return Err(crate::bad_input("--version needs --release"));
    }
    Ok(Args {
        chip,
        release,
        version,
    })
}

/// Runs `cargo xtask fw <args>`.
pub fn run(args: &[String]) -> Result {
    match args.first().map(String::as_str) {
        Some("build") => {
            let a = parse_args(&args[1..], true)?;
            if let Some(v) = &a.version {
                return build_version(a.chip, v).map(|_| ());
            }
            let elf = build(a.chip, a.release)?;
            install(a.chip, &elf).map(|_| ())
        }
        Some("check") => {
            let a = parse_args(&args[1..], false)?;
            check(a.chip).map(|_| ())
        }
        Some("clippy") => {
            let a = parse_args(&args[1..], false)?;
            clippy(a.chip)
        }
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(crate::bad_input(USAGE.trim_end())),
    }
}

/// A cargo for the firmware: Debian's for the RISC-V chips, Espressif's
/// (`+esp`, from espup) for the S3. Runs in `crates/picow-fw` so that its
/// `.cargo/config.toml` applies.
fn firmware_cargo(chip: Chip) -> Result<Command> {
    let mut c = if chip.is_xtensa() {
        let ok = Command::new("cargo")
            .args(["+esp", "--version"])
            .env_remove("RUSTUP_TOOLCHAIN")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return Err(
                "the ESP32-S3 (Xtensa) build needs Espressif's Rust toolchain, \
                 which rustup and Debian do not have: install it with \
                 `cargo install espup --locked && espup install`, then run \
                 `. $HOME/export-esp.sh` and try again (see docs/firmware.md)"
                    .into(),
            );
        }
        let mut c = Command::new("cargo");
        c.arg("+esp");
        c
    } else {
        if !Path::new("/usr/bin/apt-get").exists() {
            return Err(format!(
                "the {} build uses Debian's Rust ({}), and this is not a Debian \
                 machine; elsewhere build by hand with a nightly toolchain: \
                 `rustup toolchain install nightly --component rust-src`, then \
                 `cd crates/picow-fw && cargo +nightly build --release --target {} \
                 --no-default-features --features {}` (see docs/firmware.md)",
                chip.name(),
                DEBIAN_PACKAGES.join(" "),
                chip.target(),
                chip.name()
            ));
        }
        tools::apt_install(DEBIAN_PACKAGES)?;
        Command::new("/usr/bin/cargo")
    };
    // Lets the stable compilers honour `[unstable] build-std`; set for this
    // build only, never globally.
    c.env("RUSTC_BOOTSTRAP", "1");
    // Nothing of the host build may leak in (rustup's toolchain choice,
    // host flags, another target dir).
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC",
        // Only `build_version` sets the version.
        "PICOW_FW_VERSION",
    ] {
        c.env_remove(var);
    }
    if !chip.is_xtensa() {
        c.env("RUSTC", "/usr/bin/rustc");
    } else {
        c.env_remove("RUSTC");
    }
    c.current_dir(fw_dir());
    Ok(c)
}

/// Builds the firmware and copies the ELF to [`elf_path`].
pub fn build(chip: Chip, release: bool) -> Result<PathBuf> {
    let mut c = firmware_cargo(chip)?;
    c.args(["build", "--locked", "--target", chip.target()])
        .args(["--no-default-features", "--features", chip.name()])
        .arg("--target-dir")
        .arg(cargo_target_dir());
    if release {
        c.arg("--release");
    }
    let profile = if release { "release" } else { "debug" };
    step(&format!("firmware {} ({profile})", chip.name()), &mut c)?;
    let built = cargo_target_dir()
        .join(chip.target())
        .join(profile)
        .join("picow-fw");
    let dest = elf_path(chip);
    std::fs::create_dir_all(dest.parent().expect("has a parent"))
        .map_err(|e| format!("creating {}: {e}", dest.display()))?;
    std::fs::copy(&built, &dest)
        .map_err(|e| format!("copying {} to {}: {e}", built.display(), dest.display()))?;
    println!("    ELF: {}", dest.display());
    Ok(dest)
}

/// Where [`build_version`] leaves the ELF of `chip` whose app descriptor
/// says `version`.
pub fn version_elf_path(chip: Chip, version: &str) -> PathBuf {
    root()
        .join("target/picow-fw")
        .join(chip.name())
        .join(format!("picow-fw-{version}.elf"))
}

/// A release build whose app descriptor (and `@picow boot` line) says
/// `version` (through `PICOW_FW_VERSION`; only the firmware crate itself is
/// compiled again), copied to [`version_elf_path`]: the second image of the
/// tests of updates over Wi-Fi.
pub fn build_version(chip: Chip, version: &str) -> Result<PathBuf> {
    let mut c = firmware_cargo(chip)?;
    c.args(["build", "--locked", "--release", "--target", chip.target()])
        .args(["--no-default-features", "--features", chip.name()])
        .arg("--target-dir")
        .arg(cargo_target_dir())
        .env("PICOW_FW_VERSION", version);
    step(
        &format!("firmware {} version {version}", chip.name()),
        &mut c,
    )?;
    let built = cargo_target_dir()
        .join(chip.target())
        .join("release")
        .join("picow-fw");
    let dest = version_elf_path(chip, version);
    std::fs::create_dir_all(dest.parent().expect("has a parent"))
        .map_err(|e| format!("creating {}: {e}", dest.display()))?;
    std::fs::copy(&built, &dest)
        .map_err(|e| format!("copying {} to {}: {e}", built.display(), dest.display()))?;
    println!("    ELF: {}", dest.display());
    Ok(dest)
}

/// Clippy on the firmware for `chip`, warnings denied. Debian's
/// cargo-clippy must come first on PATH (rustup's would pick rustup's
/// toolchain).
pub fn clippy(chip: Chip) -> Result {
    let mut c = firmware_cargo(chip)?;
    if !chip.is_xtensa() {
        tools::apt_install(DEBIAN_CLIPPY)?;
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![PathBuf::from("/usr/bin")];
        dirs.extend(std::env::split_paths(&path));
        c.env(
            "PATH",
            std::env::join_paths(dirs).map_err(|e| format!("PATH: {e}"))?,
        );
    }
    c.args(["clippy", "--locked", "--release", "--target", chip.target()])
        .args(["--no-default-features", "--features", chip.name()])
        .arg("--target-dir")
        .arg(cargo_target_dir())
        .args(["--", "-D", "warnings"]);
    step(&format!("firmware clippy {}", chip.name()), &mut c)
}

/// Sizes of one firmware.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Bytes of the app image (`picow-fw.bin`).
    pub image: u64,
    /// Bytes of RAM taken by static data, code run from RAM, and the heap.
    pub static_ram: u64,
}

/// Release build, app image, esptool validation, sizes.
pub fn check(chip: Chip) -> Result<Sizes> {
    let start = Instant::now();
    let elf = build(chip, true)?;
    ensure_python_venv()?;
    let esptool = tools::esptool()?;
    let image = elf.with_file_name("picow-fw.bin");
    let _ = std::fs::remove_file(&image);
    step(
        &format!("app image {}", chip.name()),
        Command::new(&esptool)
            .args(["--chip", chip.name(), "elf2image", "--output"])
            .arg(&image)
            .arg(&elf)
            .stdout(std::process::Stdio::null()),
    )?;
    let out = Command::new(&esptool)
        .args(["--chip", chip.name(), "image-info"])
        .arg(&image)
        .output()
        .map_err(|e| format!("could not run {}: {e}", esptool.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "esptool image-info {} failed:\n{text}{}",
            image.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    validate_image_info(&text).map_err(|e| format!("{}: {e}\n{text}", image.display()))?;
    let sizes = Sizes {
        image: file_len(&image)?,
        static_ram: static_ram(&elf)?,
    };
    println!(
        "    {}: app image {} bytes ({:.1} KB), static RAM {} bytes ({:.1} KB); \
         image valid (checksum, SHA-256, project picow-fw) in {:.1} s",
        chip.name(),
        sizes.image,
        sizes.image as f64 / 1000.0,
        sizes.static_ram,
        sizes.static_ram as f64 / 1000.0,
        start.elapsed().as_secs_f64()
    );
    if chip == Chip::Esp32c3 && sizes.image > C3_IMAGE_BUDGET {
        return Err(format!(
            "the ESP32-C3 app image is {} bytes, over the budget of {C3_IMAGE_BUDGET} bytes \
             (issues #4, #17): find what grew with `cargo bloat` or the map file",
            sizes.image
        ));
    }
    Ok(sizes)
}

/// Debian's python3 lacks `ensurepip` (so `python3 -m venv` fails) until
/// python3-venv is installed; install it on such a machine.
fn ensure_python_venv() -> Result {
    let ok = Command::new("python3")
        .args(["-c", "import ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Ok(());
    }
    tools::apt_install(&["python3", "python3-venv"])
}

fn file_len(p: &Path) -> Result<u64> {
    std::fs::metadata(p)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// Checks esptool's `image-info` report: a valid checksum, a valid
/// validation hash, and the app descriptor's project name `picow-fw`.
pub fn validate_image_info(text: &str) -> Result {
    let line = |key: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.to_ascii_lowercase().starts_with(key))
            .unwrap_or("")
            .to_string()
    };
    let checksum = line("checksum:");
    if !checksum.ends_with("(valid)") {
        return Err(format!("image checksum is not valid: `{checksum}`"));
    }
    let hash = line("validation hash:");
    if !hash.ends_with("(valid)") {
        return Err(format!("image validation hash is not valid: `{hash}`"));
    }
    let name = line("project name:");
    if name.split_whitespace().last() != Some("picow-fw") {
        return Err(format!(
            "app descriptor project name is not picow-fw: `{name}`"
        ));
    }
    Ok(())
}

/// RAM taken before `main` runs: every allocated section outside the flash
/// windows, except the linker's placeholders (`*_dummy`, which mirror RAM
/// or flash already counted) and `.stack` (whatever is left over).
pub fn static_ram(elf: &Path) -> Result<u64> {
    let bytes = std::fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let sections = elf::sections(&bytes).map_err(|e| format!("{}: {e}", elf.display()))?;
    Ok(ram_bytes(&sections))
}

fn ram_bytes(sections: &[elf::Section]) -> u64 {
    // Flash is mapped at 0x3C00_0000.. (data, C3/S3) and 0x4200_0000..
    // (code; data too on the C6).
    let in_flash =
        |a: u32| (0x3C00_0000..0x3E00_0000).contains(&a) || (0x4200_0000..0x4400_0000).contains(&a);
    sections
        .iter()
        .filter(|s| s.is_alloc() && s.addr != 0 && !in_flash(s.addr))
        .filter(|s| !s.name.ends_with("_dummy") && s.name != ".stack")
        .map(|s| u64::from(s.size))
        .sum()
}

/// The firmware steps of `cargo xtask ci`: clippy on the C3 firmware, then
/// C3 and C6 release builds, each turned into an app image and validated
/// with esptool.
pub fn ci_steps() -> Result {
    let start = Instant::now();
    // picow-app without its host feature is no_std: this fails fast on any
    // std use, before the long firmware builds.
    step(
        "picow-app without std",
        crate::cargo().args(["build", "-p", "picow-app", "--locked"]),
    )?;
    clippy(Chip::Esp32c3)?;
    for chip in [Chip::Esp32c3, Chip::Esp32c6] {
        check(chip)?;
    }
    println!(
        "<== firmware builds and image checks: ok in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
Image size: 507136 bytes
ESP32-C3 Image Header
=====================
Image version: 1
Checksum: 0x5e (valid)
Validation hash: 4a0c...e1 (valid)

Application Information
=======================
Project name: picow-fw
App version: 0.1.0
";

    #[test]
    fn image_info_must_be_valid_and_ours() {
        assert_eq!(validate_image_info(GOOD), Ok(()));
        let bad = GOOD.replace("0x5e (valid)", "0x5e (invalid, calculated 0x12)");
        assert!(validate_image_info(&bad).unwrap_err().contains("checksum"));
        let bad = GOOD.replace("e1 (valid)", "e1 (invalid)");
        assert!(validate_image_info(&bad).unwrap_err().contains("hash"));
        let bad = GOOD.replace("picow-fw", "esp-idf-app");
        assert!(validate_image_info(&bad)
            .unwrap_err()
            .contains("project name"));
        assert!(validate_image_info("").is_err());
    }

    #[test]
    fn ram_counts_ram_sections_only() {
        let s = |name: &str, addr: u32, size: u32| elf::Section {
            name: name.into(),
            flags: 0x2,
            addr,
            size,
        };
        let secs = [
            s(".text", 0x4200_0020, 400_000),
            s(".rodata", 0x3C00_0020, 40_000),
            s(".rwtext", 0x4038_0000, 4_000),
            s(".rwdata_dummy", 0x3FC8_0000, 4_000),
            s(".data", 0x3FC8_1000, 6_000),
            s(".bss", 0x3FC8_3000, 98_000),
            s(".stack", 0x3FCA_0000, 170_000),
            elf::Section {
                name: ".comment".into(),
                flags: 0,
                addr: 0,
                size: 99,
            },
        ];
        assert_eq!(ram_bytes(&secs), 108_000);
    }

    #[test]
    fn chip_names_and_args() {
        for c in Chip::ALL {
            assert_eq!(Chip::parse(c.name()), Some(c));
        }
        let a = parse_args(
            &["--chip".into(), "esp32c6".into(), "--release".into()],
            true,
        )
        .unwrap();
        assert_eq!((a.chip, a.release), (Chip::Esp32c6, true));
        assert!(parse_args(&["--chip".into(), "esp8266".into()], true)
            .unwrap_err()
            .contains("unknown chip"));
        assert!(parse_args(&[], true)
            .unwrap_err()
            .contains("--chip is required"));
        assert!(parse_args(
            &["--chip".into(), "esp32c3".into(), "--release".into()],
            false
        )
        .is_err());
        assert!(elf_path(Chip::Esp32s3).ends_with("target/picow-fw/esp32s3/picow-fw.elf"));
    }
}
