//! Benchmark (`cargo xtask bench sim-latency`): how long the virtual board
//! takes to answer, measured as a tool sees it, over a real pty.
//!
//! One round trip = write a READ_REG request frame to the pty, read the
//! whole 14-byte response frame. Baseline: the same write and read through
//! a bare pty whose master side echoes the request's length back at once (a
//! thread doing `read` then `write`), i.e. the pty round trip with no
//! emulation at all. Prints p50/p90/p99 for both and their ratio.

#[cfg(not(unix))]
fn main() {
    eprintln!("pty_latency: picow sim is Unix-only");
    std::process::exit(2);
}

#[cfg(unix)]
fn main() {
    unix::main();
}

#[cfg(unix)]
mod unix {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::time::{Duration, Instant};

    use picow_sim::command::{op, Request};
    use picow_sim::device::{Sim, SimOptions};
    use picow_sim::wifi::WifiTable;
    use picow_sim::{slip, Chip, Flash, Mac};

    const ROUNDS: usize = 3000;

    fn percentiles(mut v: Vec<Duration>) -> [Duration; 3] {
        v.sort();
        let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
        [at(0.5), at(0.9), at(0.99)]
    }

    fn raw(f: &std::fs::File) {
        let mut t = nix::sys::termios::tcgetattr(f.as_fd()).unwrap();
        nix::sys::termios::cfmakeraw(&mut t);
        nix::sys::termios::tcsetattr(f.as_fd(), nix::sys::termios::SetArg::TCSANOW, &t).unwrap();
    }

    fn round_trips(port: &mut std::fs::File, request: &[u8], reply_len: usize) -> Vec<Duration> {
        let mut buf = vec![0u8; 256];
        let mut out = Vec::with_capacity(ROUNDS);
        for i in 0..ROUNDS + 100 {
            let start = Instant::now();
            port.write_all(request).unwrap();
            let mut got = 0;
            while got < reply_len {
                got += port.read(&mut buf[got..]).unwrap();
            }
            if i >= 100 {
                out.push(start.elapsed());
            }
        }
        out
    }

    pub fn main() {
        let request = slip::encode(&Request::encode(
            op::READ_REG,
            &0x4000_1000u32.to_le_bytes(),
            0,
        ));
        // READ_REG response: 12 bytes + 2 delimiters, no escapes for this value.
        let reply_len = 14;

        // The virtual board.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("picow-sim-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sim = rt
            .block_on(Sim::start(SimOptions {
                chip: Chip::Esp32s3,
                mac: Mac::DEFAULT,
                flash: Flash::in_memory(8 << 20),
                wifi: WifiTable::default(),
                link: None,
                control: dir.join("ctl"),
                boot: false,
                baud_pacing: false,
                firmware: None,
                multicast: None,
                ota_listener: None,
            }))
            .unwrap();
        let mut port = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(sim.pty())
            .unwrap();
        raw(&port);
        // Skip the download banner.
        std::thread::sleep(Duration::from_millis(200));
        nix::sys::termios::tcflush(port.as_fd(), nix::sys::termios::FlushArg::TCIFLUSH).unwrap();
        let sim_times = percentiles(round_trips(&mut port, &request, reply_len));
        drop(port);
        rt.block_on(sim.stop()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);

        // Baseline: a bare pty with an echoing master.
        let pair = nix::pty::openpty(None, None).unwrap();
        let slave_path = nix::unistd::ttyname(&pair.slave).unwrap();
        let mut port = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&slave_path)
            .unwrap();
        raw(&port);
        let master = std::fs::File::from(pair.master);
        let req_len = request.len();
        std::thread::spawn(move || {
            let mut m = master;
            let mut buf = vec![0u8; 256];
            let reply = vec![0x55u8; 14];
            let mut pending = 0;
            loop {
                let Ok(n) = m.read(&mut buf) else { return };
                if n == 0 {
                    return;
                }
                pending += n;
                while pending >= req_len {
                    pending -= req_len;
                    if m.write_all(&reply).is_err() {
                        return;
                    }
                }
            }
        });
        let base_times = percentiles(round_trips(&mut port, &request, reply_len));

        println!("READ_REG round trip over a pty, {ROUNDS} rounds (after 100 warm-up)");
        println!("| | p50 | p90 | p99 |");
        println!("|---|---|---|---|");
        let us = |d: Duration| format!("{:.0} µs", d.as_secs_f64() * 1e6);
        println!(
            "| picow sim | {} | {} | {} |",
            us(sim_times[0]),
            us(sim_times[1]),
            us(sim_times[2])
        );
        println!(
            "| bare pty echo (baseline) | {} | {} | {} |",
            us(base_times[0]),
            us(base_times[1]),
            us(base_times[2])
        );
        println!(
            "| ratio | {:.1} | {:.1} | {:.1} |",
            sim_times[0].as_secs_f64() / base_times[0].as_secs_f64(),
            sim_times[1].as_secs_f64() / base_times[1].as_secs_f64(),
            sim_times[2].as_secs_f64() / base_times[2].as_secs_f64()
        );
    }
}
