//! `cargo xtask <task>`: project automation in Rust, so that it runs the same
//! everywhere. `cargo xtask ci` is exactly what CI runs.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod bench;
mod ci;
mod docs_check;
mod fw;
mod ota;
mod sim_check;
mod tools;
mod windows;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci        everything CI checks: fmt, clippy, tests, docs, no_std build, fuzz targets
  fw        firmware builds: `cargo xtask fw build --chip esp32c3 [--release]`
  bench     benchmarks: `cargo xtask bench <name>`
  sim-check the virtual board against esptool (part of ci)
  docs-check the README's set-up command from a fresh clone, firmware from anywhere,
            the doc blocks marked runnable (part of ci)
  windows   picow.exe for Windows and its smoke test under Wine: `cargo xtask windows [build|smoke]`
  tools     install what ci needs on a fresh Debian machine (packages as root, the esptool venv)
  help      this text
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("fw") => fw::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("sim-check") => sim_check::run(),
        Some("windows") => windows::run(&args[1..]),
        Some("docs-check") => docs_check::run(),
        Some("tools") => tools::run(&args[1..]),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => {
            eprint!("xtask: unknown task `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Bad arguments exit 2, as picow's own input errors do.
        Err(e) if e.starts_with(BAD_INPUT) => {
            eprintln!("xtask: {}", &e[BAD_INPUT.len()..]);
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The start of an error that is about the arguments (exit 2, not 1).
const BAD_INPUT: &str = "bad input: ";

/// An error about the arguments given to a task: `cargo xtask` exits 2.
pub fn bad_input(msg: impl std::fmt::Display) -> String {
    format!("{BAD_INPUT}{msg}")
}

/// An xtask failure: a message saying what failed and what to do.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// The cargo that runs this xtask (rustup's, with the workspace toolchain).
pub fn cargo() -> Command {
    let mut c = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs a command as one named step, printing its name and duration.
pub fn step(name: &str, cmd: &mut Command) -> Result {
    println!("==> {name}");
    let start = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{name}: could not start {:?}: {e}", cmd.get_program()))?;
    let secs = start.elapsed().as_secs_f64();
    if status.success() {
        println!("<== {name}: ok in {secs:.1} s");
        Ok(())
    } else {
        Err(format!("{name}: failed ({status}) after {secs:.1} s"))
    }
}
