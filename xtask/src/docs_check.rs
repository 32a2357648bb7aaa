//! `cargo xtask docs-check`: the first hour of a new user, literally
//! (issue 15). Part of `cargo xtask ci`, after the firmware steps.
//!
//! 1. From a fresh clone, in a temporary HOME: the README's first command as
//!    it is written (`cargo install … && picow serve`, serve bounded by a
//!    timeout) puts `picow` on the PATH and serve prints its listening line.
//!    The install shares the workspace's `target/` (`CARGO_TARGET_DIR`), so a
//!    machine that keeps `target/` rebuilds only what changed; cargo's
//!    registry (`CARGO_HOME`) and rustup's toolchains are the machine's, the
//!    binary goes to the temporary HOME (`CARGO_INSTALL_ROOT`).
//! 2. `cargo xtask fw build --chip esp32c3 --release` installs the firmware
//!    into a temporary data directory, and `picow flash --save-image` run
//!    from `/tmp` finds it; with an empty data directory the message names
//!    the PicoW's chip and the exact commands.
//! 3. Every block of README.md, README.zh-CN.md and docs/ marked runnable
//!    (a fence opened with ```` ```sh runnable ```` or ```` ```bash runnable ````)
//!    runs with bash (`set -euo pipefail`) in a temporary directory, with
//!    the installed `picow` on the PATH and the firmware of step 2 in its
//!    data directory, and must exit 0 within 120 s.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{root, step, Result};

/// Runs the three checks.
pub fn run() -> Result {
    let start = Instant::now();
    let tmp = TempDir::new("picow-docs-check")?;
    let picow = readme_first_command(&tmp.0)?;
    firmware_from_anywhere(&tmp.0, &picow)?;
    runnable_blocks(&tmp.0, &picow)?;
    println!(
        "<== docs-check: ok in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A directory removed at the end, also on failure.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Result<TempDir> {
        let p = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The first line of the first ```sh block under README's "## Start here".
pub fn readme_setup_commands(readme: &str) -> Result<Vec<String>> {
    let section = readme
        .split("\n## Start here")
        .nth(1)
        .ok_or("README.md has no `## Start here` section")?;
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .ok_or("README.md's `## Start here` has no ```sh block")?;
    let cmds: Vec<String> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if cmds.len() != 2 {
        return Err(format!(
            "README.md's set-up block must hold exactly two commands, has {}: {cmds:?}",
            cmds.len()
        ));
    }
    Ok(cmds)
}

fn real_home_dir(var: &str, default_under_home: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(default_under_home)))
}

/// Step 1. Returns the installed `picow`.
fn readme_first_command(tmp: &Path) -> Result<PathBuf> {
    let readme =
        std::fs::read_to_string(root().join("README.md")).map_err(|e| format!("README.md: {e}"))?;
    let cmds = readme_setup_commands(&readme)?;
    let (install, serve) = cmds[0]
        .split_once(" && ")
        .ok_or("README's first command must be `cargo install … && picow serve`")?;
    if !install.starts_with("cargo install ") || !serve.starts_with("picow serve") {
        return Err(format!(
            "README's first command is not install + serve: {}",
            cmds[0]
        ));
    }
    if cmds[1] != "cargo xtask ci" {
        return Err(format!(
            "README's second command is not `cargo xtask ci`: {}",
            cmds[1]
        ));
    }

    let clone = tmp.join("picow");
    step(
        "docs-check: a fresh clone",
        Command::new("git")
            .args(["clone", "--quiet", "--no-hardlinks"])
            .arg(root())
            .arg(&clone),
    )?;
    let home = tmp.join("home");
    let bin = home.join(".cargo/bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .map_err(|e| format!("PATH: {e}"))?;
    let env = |c: &mut Command| {
        c.current_dir(&clone)
            .env("HOME", &home)
            .env("PATH", &path)
            .env("CARGO_INSTALL_ROOT", home.join(".cargo"))
            .env("CARGO_TARGET_DIR", root().join("target"))
            .env_remove("CARGO")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("LC_ALL")
            .env("LANG", "C.UTF-8")
            // What a new user types, except that this check never
            // advertises on the machine's real network (no mDNS).
            .env("PICOW_NO_ADVERTISE", "1");
        for (var, under_home) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
            if let Some(d) = real_home_dir(var, under_home) {
                c.env(var, d);
            }
        }
    };

    println!("==> docs-check: README's first command, `{}`", cmds[0]);
    let t0 = Instant::now();
    let mut c = Command::new("sh");
    c.args(["-c", install]);
    env(&mut c);
    let status = c.status().map_err(|e| format!("sh -c {install}: {e}"))?;
    if !status.success() {
        return Err(format!("`{install}` failed ({status}) in a fresh clone"));
    }
    let install_secs = t0.elapsed().as_secs_f64();
    println!("    `{install}`: {install_secs:.0} s");

    // `picow serve` as typed, found on the PATH, until its listening line.
    let mut c = Command::new("sh");
    c.args(["-c", &format!("command -v picow && exec {serve}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env(&mut c);
    let mut child = c.spawn().map_err(|e| format!("{serve}: {e}"))?;
    let out = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut listening = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) => {
                listening |= l.starts_with("picow serve: listening on TCP");
                seen.push(l);
                if listening {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let waited = child.wait_with_output().ok();
    let installed = bin.join(if cfg!(windows) { "picow.exe" } else { "picow" });
    if seen.first().map(PathBuf::from) != Some(installed.clone()) {
        return Err(format!(
            "`picow` on the PATH is not the one `{install}` installed ({}): {seen:?}",
            installed.display()
        ));
    }
    if !listening {
        return Err(format!(
            "`{serve}` printed no listening line within 20 s: {seen:?} {}",
            waited
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_default()
        ));
    }
    println!("    `{serve}`: {}", seen[1]);
    Ok(installed)
}

/// Step 2.
fn firmware_from_anywhere(tmp: &Path, picow: &Path) -> Result {
    let data = tmp.join("data");
    step(
        "docs-check: cargo xtask fw build installs the firmware",
        crate::cargo()
            .args(["xtask", "fw", "build", "--chip", "esp32c3", "--release"])
            .env("XDG_DATA_HOME", &data),
    )?;
    let installed = data.join("picow/firmware/esp32c3/picow-fw.elf");
    if !installed.is_file() {
        return Err(format!("fw build did not install {}", installed.display()));
    }
    let image = tmp.join("picow-c3.bin");
    let flash = |data: &Path| {
        Command::new(picow)
            .current_dir("/tmp")
            .env("XDG_DATA_HOME", data)
            .env("LC_ALL", "C")
            .env_remove("PICOW_FIRMWARE")
            .args([
                "flash",
                "--wifi",
                "MyWiFi:password1",
                "--server",
                "192.0.2.1:10000",
            ])
            .arg("--save-image")
            .arg(&image)
            .output()
            .map_err(|e| format!("{}: {e}", picow.display()))
    };
    let out = flash(&data)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !stderr.contains(&installed.display().to_string()) {
        return Err(format!(
            "picow flash --save-image from /tmp did not use {}: {}\n{stderr}",
            installed.display(),
            out.status
        ));
    }
    let len = std::fs::metadata(&image).map(|m| m.len()).unwrap_or(0);
    if len != 4 << 20 {
        return Err(format!("the saved C3 image is {len} bytes, not 4 MB"));
    }
    let out = flash(&tmp.join("empty"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        "espup install",
        "cargo xtask fw build --chip esp32s3 --release",
    ] {
        if out.status.code() != Some(2) || !stderr.contains(want) {
            return Err(format!(
                "without firmware, picow flash should exit 2 naming `{want}`: {}\n{stderr}",
                out.status
            ));
        }
    }
    println!("    picow flash from /tmp found {}", installed.display());
    Ok(())
}

/// The blocks marked runnable in a Markdown text: (line number, script).
pub fn runnable(markdown: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let t = line.trim_start();
        match &mut current {
            None => {
                let info = t.strip_prefix("```").unwrap_or("");
                let mut words = info.split_whitespace();
                if matches!(words.next(), Some("sh" | "bash")) && words.any(|w| w == "runnable") {
                    current = Some((i + 1, String::new()));
                }
            }
            Some((_, script)) => {
                if t.starts_with("```") {
                    out.push(current.take().expect("in a block"));
                } else {
                    script.push_str(line);
                    script.push('\n');
                }
            }
        }
    }
    out
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md"), root().join("README.zh-CN.md")];
    let mut dirs = vec![root().join("docs")];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "md") {
                files.push(p);
            }
        }
    }
    files
}

/// Step 3.
fn runnable_blocks(tmp: &Path, picow: &Path) -> Result {
    let bin = picow.parent().expect("in a directory");
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .map_err(|e| format!("PATH: {e}"))?;
    let mut n = 0;
    for file in markdown_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let shown = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .display()
            .to_string();
        for (line, script) in runnable(&text) {
            n += 1;
            let dir = tmp.join(format!("block-{n}"));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let mut child = Command::new("bash")
                .args(["-euo", "pipefail", "-c", &script])
                .current_dir(&dir)
                .env("PATH", &path)
                .env("PICOW_REPO", root())
                // The firmware step 2 installed; the OTA passwords flash
                // makes up go to a temporary config directory.
                .env("XDG_DATA_HOME", tmp.join("data"))
                .env("PICOW_CONFIG_DIR", tmp.join("config"))
                .env("LC_ALL", "C")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("bash: {e}"))?;
            let deadline = Instant::now() + Duration::from_secs(120);
            let status = loop {
                if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
                    break Some(s);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            if status.is_none_or(|s| !s.success()) {
                return Err(format!(
                    "{shown}:{line}: the runnable block failed ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
                    status.map_or("timed out after 120 s".to_owned(), |s| s.to_string()),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            println!("    {shown}:{line}: ok");
        }
    }
    if n == 0 {
        return Err("no block in README.md or docs/ is marked runnable".into());
    }
    println!("    {n} runnable block(s) ran");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_has_two_setup_commands() {
        let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
        let cmds = readme_setup_commands(&readme).unwrap();
        assert!(cmds[0].starts_with("cargo install --locked --path crates/picow-cli"));
        assert_eq!(cmds[1], "cargo xtask ci");
        let three = "x\n## Start here\n\n```sh\na\nb\nc\n```\n";
        assert!(readme_setup_commands(three)
            .unwrap_err()
            .contains("exactly two"));
    }

    #[test]
    fn runnable_blocks_are_found() {
        let md = "```sh\nnot this\n```\n\n```sh runnable\npicow --version\necho ok\n```\n```bash runnable\nx\n```\n```text runnable\nno\n```\n";
        let blocks = runnable(md);
        assert_eq!(
            blocks,
            vec![
                (5, "picow --version\necho ok\n".to_owned()),
                (9, "x\n".to_owned())
            ]
        );
    }
}
