# picow's messages for people, in English (the reference catalog: every
# message exists here; zh-CN/picow.ftl has the same ids and variables).
# How to add one: see the doc comment of crates/picow-i18n/src/lib.rs.
# Commands, flags and values the user types stay as they are in every language.

## Errors and reports (picow-cli exit.rs / output.rs)

error-line = error: { $message }
error-debug-hint = (for the technical details run again with --debug and RUST_BACKTRACE=1)
panic-report =
    picow crashed: this is a bug in picow, not something you did.
    Please report it with the text below and the command you ran, so that it can be fixed.

log-error = error:{ " " }
log-warning = warning:{ " " }
log-info = note:{ " " }
log-debug = debug:{ " " }

## picow serve: plain output

serve-listening = picow serve: listening on { $proto } { $addrs }
serve-lan = LAN addresses: { $ips }
serve-no-lan = no LAN address found: connect this computer to the board's Wi-Fi network
serve-lan-virtual = { $ip } ({ $iface }, virtual)
serve-warning = warning: { $message }
serve-loopback-only = listening on { $ip } only: a board on Wi-Fi cannot reach it (only programs on this computer can, such as picow sim). Leave out --bind, or --bind a LAN address.
serve-give-board = give the board this server:
serve-give-board-many = give the board this server (* = most likely):
serve-kind-other = other
serve-client-row = #{ $id } { $peer } since { $since }  { $kind } in { $bytes_in } B, out { $bytes_out } B
serve-connected = { $time } #{ $id } connected from { $peer }
serve-picow = { $time } #{ $id } is a PicoW
serve-picow-named = { $time } #{ $id } is a PicoW named { $name }
serve-refused = { $time } refused { $peer }: { $reason }
serve-disconnected = { $time } #{ $id } disconnected: { $reason } (received { $bytes_in } B, sent { $bytes_out } B)
serve-reason-closed-by-peer = closed by peer
serve-reason-met = expectations met
serve-reason-timeout = timeout
serve-reason-stopped = server stopped
serve-reason-user = disconnected by the user
serve-expect-seen = { $time } expect { $n } /{ $pattern }/ seen from #{ $id }
serve-no-clients = no clients connected
serve-error = { $time } error: { $message }
serve-timeout = timed out (--timeout)
serve-timeout-clients = { "  " }still waiting for { $n } more client(s) (--clients)
serve-timeout-unmet = { "  " }not seen: /{ $pattern }/
serve-timeout-nothing = { "  " }no text was received
serve-timeout-last = { "  " }last text from #{ $id }: { $text }
serve-summary = summary: { $clients } client(s), { $refused } refused, received { $bytes_in } B, sent { $bytes_out } B in { $secs } s

## Serial ports (picow-cli port.rs)

port-not-found = serial port { $path } not found; { $present }. Check the name with `picow probe` (on Windows COM3, or \\.\COM10 from COM10 on); a board that was just reset or replugged may be back under another name
port-present = ports present: { $ports }
port-none-present = no serial ports are present: is the board plugged in with a data cable (a charge-only cable has no data lines)?
port-no-board =
    no Espressif board (USB 303a:xxxx) found. Plug the board in with a data cable (a charge-only cable shows no port); if it still does not appear, hold the KEY (BOOT) button while plugging it in. Then run `picow probe` to see the ports and what is behind each, or pass --port. { $present }
port-ambiguous = several Espressif boards found ({ $ports }); choose one with --port (`picow probe` says which is which)
port-permission = permission denied opening { $path }; { $hint }
port-permission-linux = add yourself to the `dialout` group (`sudo usermod -aG dialout $USER`, then log in again) or install picow's udev rules (contrib/99-picow.rules into /etc/udev/rules.d/, then `sudo udevadm control --reload && sudo udevadm trigger`)
port-permission-windows = another program may hold the port, or the driver refuses access; close other serial programs and replug the board
port-permission-other = check the device's permissions
port-busy = serial port { $path } is busy: another program ({ $holders }) has it open; close that program and try again
port-busy-windows = NetAssist, Thonny, PuTTY, the Arduino IDE, a serial monitor or another picow
port-busy-unix = another monitor, espflash, a serial terminal, ModemManager
port-other = could not open serial port { $path }: { $reason }
port-list = could not list serial ports: { $reason }

## Firmware (picow flash, picow monitor)

fw-missing =
    no picow firmware for the { $chip } found (looked in { $places }). To build it once: { $command }; picow then finds it from any directory. Or give --firmware ELF
fw-missing-any =
    no picow firmware found (looked in { $places }). For the WalnutPi PicoW (ESP32-S3): { $command }. For an ESP32-C3 or C6 board: `cargo xtask fw build --chip esp32c3 --release` (or esp32c6). picow then finds it from any directory. Or give --firmware ELF
fw-s3-toolchain = install Espressif's Rust toolchain once (`cargo install espup --locked && espup install`, then `. $HOME/export-esp.sh`), then run `cargo xtask fw build --chip esp32s3 --release` in the picow repository
fw-riscv-build = run `cargo xtask fw build --chip { $chip } --release` in the picow repository
fw-wrong-chip =
    chip mismatch: the board on { $port } is an { $board }, but the firmware found is for { $chips } ({ $paths }). For the { $board }: { $command }; or give --firmware ELF. Nothing was written
