//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use crate::{cargo, root, step, Result};

/// Runs every CI step; stops at the first failure.
pub fn run(args: &[String]) -> Result {
    if let Some(a) = args.first() {
        return Err(crate::bad_input(format!(
            "ci takes no arguments, got `{a}`"
        )));
    }
    check_components()?;
    report_disk();
    step("rustfmt", cargo().args(["fmt", "--all", "--", "--check"]))?;
    step(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // picow-web's tests drive headless Chromium (issue #14).
    crate::tools::apt_install(crate::tools::BROWSER)?;
    step(
        "tests",
        cargo().args(["test", "--workspace", "--all-targets", "--locked"]),
    )?;
    step(
        "doc tests",
        cargo().args(["test", "--workspace", "--doc", "--locked"]),
    )?;
    step(
        "docs",
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    step(
        "picow-protocol without std",
        cargo().args([
            "build",
            "-p",
            "picow-protocol",
            "--no-default-features",
            "--locked",
        ]),
    )?;
    let fuzz = root().join("crates/picow-protocol/fuzz");
    step(
        "fuzz targets build",
        cargo()
            .current_dir(&fuzz)
            .args(["build", "--locked", "--bins"]),
    )?;
    // serve's terminal view in a real terminal (issue 13): tmux, and the
    // time zone database for the TZ=Asia/Shanghai check.
    crate::tools::apt_install(crate::tools::TERMINAL_TEST_PACKAGES)?;
    step(
        "serve: the terminal view in tmux",
        &mut cli_ignored_tests("serve_tui::"),
    )?;
    // Firmware builds and image checks (issue #4).
    crate::fw::ci_steps()?;
    // The virtual board against esptool with and without its stub, then
    // booting the C3 firmware just built (issue #5).
    crate::sim_check::ci_steps_after_firmware()?;
    // picow flash/probe with the C3 firmware just built, on the virtual board (issue #6).
    step(
        "flash: the CI firmware on a virtual ESP32-C3",
        &mut cli_ignored_tests("flash_fw::"),
    )?;
    // Updates over Wi-Fi (issue #17): a second C3 build, picow flash --ota,
    // ESPHome's uploader and esp-idf-defs on a virtual C3.
    crate::ota::ci_steps()?;
    // Discovery between network namespaces (issue 16): serve and virtual
    // boards with the C3 firmware just built, python-zeroconf as the
    // independent implementation, probe --net, hostile datagrams. The tests
    // make (and delete) their own namespaces; they need root, as CI has.
    crate::tools::apt_install(crate::tools::DISCOVERY_TEST_PACKAGES)?;
    let zeroconf = crate::tools::zeroconf_python()?;
    step(
        "discovery: serve and virtual boards in network namespaces",
        cli_ignored_tests("lan::").env("PICOW_ZEROCONF_PYTHON", &zeroconf),
    )?;
    // picow monitor decodes a backtrace against the C3 ELF just built (issue #7).
    let c3_elf = crate::fw::elf_path(crate::fw::Chip::Esp32c3);
    if !c3_elf.is_file() {
        return Err(format!(
            "the firmware step left no {}; the monitor's ELF test needs it",
            c3_elf.display()
        ));
    }
    step(
        "monitor decodes the firmware ELF",
        cli_ignored_tests("monitor_fw_elf::").env("PICOW_FW_ELF", &c3_elf),
    )?;
    // picow.exe for Windows and its smoke test under Wine (issue #8).
    crate::windows::ci_steps()?;
    // The README's set-up command from a fresh clone, firmware found from
    // any directory, and every doc block marked runnable (issue 15).
    crate::docs_check::run()?;
    println!("xtask ci: all steps passed");
    Ok(())
}

/// The ignored tests of picow-cli's one test binary whose names start with
/// `module` (they need what an earlier step installed or built).
pub fn cli_ignored_tests(module: &str) -> std::process::Command {
    ignored_tests("picow-cli", module)
}

/// The ignored tests in `krate`'s one test binary (`tests/it`) whose names
/// start with `module`.
pub fn ignored_tests(krate: &str, module: &str) -> std::process::Command {
    let mut c = cargo();
    c.args(["test", "-p", krate, "--test", "it", "--locked"])
        .args(["--", "--ignored", module]);
    c
}

/// What a run from a fresh clone leaves in `target/` at its peak (measured
/// 2026-11-26: 4.2 GB, 1.4 GB of it the Windows build).
const FRESH_RUN_GB: f64 = 4.5;

/// Says how much disk `target/` has, and warns when a fresh run would not
/// fit: running out of space half-way fails a late step with a linker error.
fn report_disk() {
    let root = root();
    let dir = if root.join("target").is_dir() {
        root.join("target")
    } else {
        root
    };
    let Ok(out) = std::process::Command::new("df")
        .arg("-Pk")
        .arg(&dir)
        .output()
    else {
        return;
    };
    // Filesystem 1024-blocks Used Available Capacity Mounted-on
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(free_kib) = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let free_gb = free_kib as f64 * 1024.0 / 1e9;
    println!(
        "xtask ci: {free_gb:.1} GB free for {} (a run from a fresh clone needs about {FRESH_RUN_GB} GB)",
        dir.display()
    );
    if free_gb < FRESH_RUN_GB {
        println!(
            "xtask ci: warning: a run that builds everything may run out of disk; \
             free space or remove target/windows and target/picow-fw"
        );
    }
}

/// rustfmt and clippy come with the toolchain; say how to get them if not.
fn check_components() -> Result {
    for (tool, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        let ok = cargo()
            .args([tool, "--version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return Err(format!(
                "`cargo {tool}` is missing: install it with `rustup component add {component}`"
            ));
        }
    }
    Ok(())
}
