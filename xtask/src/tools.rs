//! Installing what a fresh machine lacks: Debian packages and a Python venv
//! with esptool. CI runs as root on a fresh machine; a developer who is not
//! root is told the command to run instead.

use std::path::PathBuf;
use std::process::Command;

use crate::{root, Result};

/// What the page's browser tests need (issue 14): Debian's Chromium and
/// its WebDriver, and CJK fonts so that the screenshots show the Chinese
/// page as people see it.
pub const BROWSER: &[&str] = &["chromium", "chromium-driver", "fonts-noto-cjk"];

/// The esptool version the cross-checks were verified with.
pub const ESPTOOL_VERSION: &str = "5.6.0";

/// What the terminal view's end-to-end test needs: tmux to run it in, and
/// the time zone database (`TZ=Asia/Shanghai`).
pub const TERMINAL_TEST_PACKAGES: &[&str] = &["tmux", "tzdata"];

/// The discovery tests' network namespaces and bridge (`ip`), and Python
/// for python-zeroconf and the hostile-datagram sender.
pub const DISCOVERY_TEST_PACKAGES: &[&str] = &["iproute2", "python3", "python3-venv"];

/// Whether every Debian package in `pkgs` is installed.
fn installed(pkgs: &[&str]) -> bool {
    pkgs.iter().all(|p| {
        Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", p])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
    })
}

/// Installs Debian packages that are missing (as root), or says how.
pub fn apt_install(pkgs: &[&str]) -> Result {
    if installed(pkgs) {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let list = pkgs.join(" ");
    if !is_root {
        return Err(format!(
            "missing Debian packages; install them with: sudo apt-get install -y {list}"
        ));
    }
    println!("==> apt-get install {list}");
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    if !ok(Command::new("apt-get").args(["update", "-qq"])) {
        return Err("apt-get update failed; check the package sources".into());
    }
    if !ok(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(pkgs)
        .env("DEBIAN_FRONTEND", "noninteractive"))
    {
        return Err(format!("apt-get install -y {list} failed"));
    }
    Ok(())
}

/// The path of an `esptool` executable in the project's venv
/// (`target/xtask/venv`), created on first use.
pub fn esptool() -> Result<PathBuf> {
    let venv = root().join("target/xtask/venv");
    let exe = venv.join("bin/esptool");
    let stamp = venv.join(format!("esptool-{ESPTOOL_VERSION}.ok"));
    if exe.exists() && stamp.exists() {
        return Ok(exe);
    }
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .ok_or("python3 is missing: install it (Debian: apt-get install python3 python3-venv)")?;
    println!(
        "==> creating {} with esptool {ESPTOOL_VERSION}",
        venv.display()
    );
    let ok = Command::new(python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!(
            "`{python} -m venv` failed: install the venv module (Debian: apt-get install python3-venv)"
        ));
    }
    let ok = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", &format!("esptool=={ESPTOOL_VERSION}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!("pip install esptool=={ESPTOOL_VERSION} failed"));
    }
    std::fs::write(&stamp, "").map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    Ok(exe)
}

/// The python-zeroconf the discovery tests check picow against.
pub const ZEROCONF_VERSION: &str = "0.154.0";

/// The Python of the project's venv with python-zeroconf (an independent
/// DNS-SD implementation for the discovery tests), installed on first use.
pub fn zeroconf_python() -> Result<PathBuf> {
    esptool()?; // makes the venv
    let venv = root().join("target/xtask/venv");
    let python = venv.join("bin/python");
    let stamp = venv.join(format!("zeroconf-{ZEROCONF_VERSION}.ok"));
    if stamp.exists() {
        return Ok(python);
    }
    println!(
        "==> installing zeroconf {ZEROCONF_VERSION} into {}",
        venv.display()
    );
    let ok = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", &format!("zeroconf=={ZEROCONF_VERSION}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!("pip install zeroconf=={ZEROCONF_VERSION} failed"));
    }
    std::fs::write(&stamp, "").map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    Ok(python)
}

/// ESPHome (for its uploader, `esphome.espota2`) and esp-idf-defs (an
/// independent reader of ESP-IDF's partition tables, otadata and images):
/// the update-over-Wi-Fi tests check picow against them.
pub const ESPHOME_VERSION: &str = "2026.6.5";
/// See [`ESPHOME_VERSION`].
pub const ESP_IDF_DEFS_VERSION: &str = "0.1.7";

/// The Python of the project's venv with ESPHome's uploader and
/// esp-idf-defs, installed on first use. ESPHome is installed without its
/// dependencies: `espota2` needs none of them (its compiler toolchain and
/// dashboard would be hundreds of megabytes).
pub fn ota_python() -> Result<PathBuf> {
    esptool()?; // makes the venv
    let venv = root().join("target/xtask/venv");
    let python = venv.join("bin/python");
    let stamp = venv.join(format!(
        "esphome-{ESPHOME_VERSION}-esp-idf-defs-{ESP_IDF_DEFS_VERSION}.ok"
    ));
    if stamp.exists() {
        return Ok(python);
    }
    println!(
        "==> installing esphome {ESPHOME_VERSION} (uploader only) and esp-idf-defs {ESP_IDF_DEFS_VERSION} into {}",
        venv.display()
    );
    let pip = |args: &[&str]| {
        Command::new(venv.join("bin/pip"))
            .args(["install", "-q"])
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !pip(&["--no-deps", &format!("esphome=={ESPHOME_VERSION}")]) {
        return Err(format!("pip install esphome=={ESPHOME_VERSION} failed"));
    }
    if !pip(&[&format!("esp-idf-defs=={ESP_IDF_DEFS_VERSION}")]) {
        return Err(format!(
            "pip install esp-idf-defs=={ESP_IDF_DEFS_VERSION} failed"
        ));
    }
    let ok = Command::new(&python)
        .args(["-c", "import esphome.espota2, esp_idf_defs.otadata"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err("esphome.espota2 or esp_idf_defs does not import in the venv".into());
    }
    std::fs::write(&stamp, "").map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    Ok(python)
}

/// `cargo xtask tools`: everything `cargo xtask ci` installs on its way, at
/// once (Debian packages as root, the Python venv with esptool), so that a
/// fresh machine can be prepared before going offline or before a run.
pub fn run(args: &[String]) -> Result {
    if let Some(a) = args.first() {
        return Err(crate::bad_input(format!(
            "tools takes no arguments, got `{a}`"
        )));
    }
    for pkgs in [
        crate::fw::DEBIAN_PACKAGES,
        crate::fw::DEBIAN_CLIPPY,
        crate::windows::PACKAGES,
        BROWSER,
        TERMINAL_TEST_PACKAGES,
        &["python3", "python3-venv"],
        DISCOVERY_TEST_PACKAGES,
    ] {
        apt_install(pkgs)?;
    }
    let esptool = esptool()?;
    zeroconf_python()?;
    ota_python()?;
    println!(
        "xtask tools: everything is installed (esptool: {})",
        esptool.display()
    );
    Ok(())
}
