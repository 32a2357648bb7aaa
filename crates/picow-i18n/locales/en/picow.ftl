# picow's messages for people, in English (the reference catalog: every
# message exists here; zh-CN/picow.ftl has the same ids and variables).
# How to add one: see the doc comment of crates/picow-i18n/src/lib.rs.
# Commands, flags and values the user types stay as they are in every language.

## Text shown as it is in every language (picow_i18n::Msg::text)

plain-text = { $text }

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
serve-advertised = advertised on the LAN (mDNS) as "{ $instance }" ({ $service }) at { $host }:{ $port }: boards flashed with --server auto find it, --server auto:{ $instance } picks it
serve-advertised-host-taken = { $preferred } is taken on this network, so serve answers as { $host }; advertised on the LAN (mDNS) as "{ $instance }" ({ $service }) at { $host }:{ $port }: boards flashed with --server auto find it, --server auto:{ $instance } picks it
serve-not-advertised = not advertised on the LAN ({ $error }): boards flashed with --server auto will not find this serve; give them --server HOST:PORT
serve-mdns-bad-name = --name { $name }: { $error }
serve-mdns-cannot-start = cannot start mDNS: { $error }
serve-mdns-cannot-describe = cannot describe the service: { $error }
serve-mdns-cannot-advertise = cannot advertise: { $error }
serve-give-board = give the board this server:
serve-give-board-many = give the board this server (* = most likely):
serve-kind-other = other
serve-client-row = #{ $id } { $peer } since { $since }  { $kind } in { $bytes_in } B, out { $bytes_out } B
serve-connected = { $time } #{ $id } connected from { $peer }
serve-picow = { $time } #{ $id } is a PicoW
serve-picow-named = { $time } #{ $id } is a PicoW named { $name }
serve-firmware = #{ $id } runs { $project } { $version } ({ $chip })
serve-firmware-slot = #{ $id } runs { $project } { $version } from ota_{ $slot } ({ $chip })
serve-update-started = #{ $id } updating over Wi-Fi with { $firmware }
serve-update-started-default = #{ $id } updating over Wi-Fi with the built firmware
serve-update-uploaded = #{ $id } image sent and verified; the board reboots into it
serve-update-done = #{ $id } update done: the board runs { $version }
serve-update-unchanged = #{ $id } the board already runs this image ({ $version }): nothing sent
serve-update-failed = #{ $id } update failed: { $error }
serve-update-not-picow = #{ $id } is not a PicoW (it did not greet as one): /update needs a picow board
serve-cmd-update-needs = /update needs a client id: /update ID [FIRMWARE]
serve-cmd-update-file = /update: FIRMWARE { $path }: { $reason }
serve-refused = { $time } refused { $peer }: { $reason }
serve-disconnected = { $time } #{ $id } disconnected: { $reason } (received { $bytes_in } B, sent { $bytes_out } B)
serve-reason-closed-by-peer = closed by peer
serve-reason-met = expectations met
serve-reason-timeout = timeout
serve-reason-stopped = server stopped
serve-reason-user = disconnected by the user
serve-reason-closed-unsent = closed by peer (unsent data dropped)
serve-reason-reset = reset by peer
serve-reason-aborted = aborted
serve-reason-read-failed = read failed: { $error }
serve-reason-write-failed = write failed: { $error }
serve-reason-socket-failed = error: { $error }
serve-reason-file-failed = reading the file failed: { $error }
serve-reason-not-reading = not reading: more than { $max } bytes waiting to be sent (--max-queue)
serve-reason-idle = idle for { $idle } (--udp-idle)
serve-reason-too-many = { $connected } clients already connected (--max-clients { $max })
serve-auto-every = auto-send every { $every }
serve-auto-stopped = auto-send stopped
serve-auto-gone = auto-send stopped: #{ $id } is gone ({ $count } sent)
serve-no-client-id = no client #{ $id }: see /list
serve-send-failed = sending to #{ $id }: { $error }
serve-accept-failed = accept failed: { $error }
serve-udp-socket = UDP socket: { $error }
serve-cmd-help = commands: /list, /select ID|all, /disconnect ID, /hex BYTES, /file PATH, /ending none|lf|cr|crlf, /auto DUR TEXT, /auto stop, /update ID [FIRMWARE], /quit; other lines are sent as text (start a line with // to send one beginning with /)
serve-cmd-unknown = unknown command /{ $name }; { $help }
serve-cmd-sending-one = sending to #{ $id }
serve-cmd-sending-all = sending to all clients
serve-cmd-ending = line ending: { $ending }
serve-cmd-bad-ending = `{ $value }` is not a line ending: use none, lf, cr or crlf
serve-cmd-bad-id = `{ $value }` is not a client id: give a number such as 1 or #1
serve-cmd-file-needs-path = /file needs a path
serve-cmd-file = /file: { $reason }
serve-cmd-auto-bad = /auto: { $reason }
serve-cmd-auto-needs = /auto needs a duration and a text, e.g. /auto 1s ping
file-cannot-read = cannot read { $path }: { $reason }
file-not-regular = { $path } is { $kind }, not a regular file
file-kind-char = a character device
file-kind-block = a block device
file-kind-fifo = a FIFO (named pipe)
file-kind-socket = a socket
file-kind-dir = a directory
file-kind-other = not a regular file
file-too-large = { $path } is { $len } bytes, more than the { $limit } bytes allowed
duration-syntax = `{ $value }` is not a duration: write a number of seconds or a number with a unit, e.g. 90, 90s, 1m30s, 1m 30s, 500ms
duration-negative = `{ $value }` is negative: a duration must be more than 0
duration-too-short = `{ $value }` is too short: the least is { $min }
duration-too-long = `{ $value }` is too long: the most is { $max }
send-error-not-hex = `{ $at }` is not a hex digit: give bytes such as `48 65 6c`
send-error-odd-hex = `{ $at }` has an odd number of hex digits: give two per byte, e.g. `48 65 6c`
send-error-lone-backslash = ends with a lone `\`: write `\\` for a backslash
send-error-short-hex-escape = `\x` needs two hex digits, e.g. `\x0d`
send-error-unknown-escape = unknown escape `{ $at }`: use \r, \n, \t, \0, \\ or \xNN
send-error-unmappable = `{ $at }` cannot be written in { $encoding }: remove it, send it as hex (/hex), or choose another encoding (/encoding utf-8)
send-error-no-encoder = text cannot be sent as { $encoding }: choose another encoding (/encoding utf-8)
serve-expect-seen = { $time } expect { $n } /{ $pattern }/ seen from #{ $id }
serve-no-clients = no clients connected
serve-error = { $time } error: { $message }
serve-timeout = timed out (--timeout)
serve-timeout-clients = { "  " }still waiting for { $n } more client(s) (--clients)
serve-timeout-unmet = { "  " }not seen: /{ $pattern }/
serve-timeout-nothing = { "  " }no text was received
serve-timeout-last = { "  " }last text from #{ $id }: { $text }
serve-summary = summary: { $clients } client(s), { $refused } refused, received { $bytes_in } B, sent { $bytes_out } B in { $secs } s
serve-interrupted = stopped before every expectation was met
serve-cut-off = { "  " }not read at the stop: { $bytes } B that { $clients } client(s) sent after it{ $unfinished ->
    [0] {""}
   *[other] ; { $unfinished } client(s) were still busy when the 2 s were up
}

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

## The ROM loader (picow-cli esp/device.rs)

device-no-loader = no answer from the ESP ROM loader on { $port } ({ $detail }); put the board in download mode: unplug it and hold the KEY (BOOT) button while plugging the data cable back in (on a board with a RESET button: hold BOOT, press and release RESET), then run the command again (`picow probe` shows whether it answers)

## picow sim: bad input (cmd/sim.rs)

path-dir-missing = invalid { $flag }: the directory { $dir } of { $path } does not exist; create it or choose another path
sim-link-exists = invalid --link { $path }: it exists and is not a symlink; choose another path
sim-ota-port-taken = invalid --ota-port { $port }: cannot listen on { $addr } ({ $reason }); give another port, or 0 for any free one

## picow probe: plain output (cmd/probe.rs)

probe-no-ports = no serial ports found: is the board plugged in with a data cable?
probe-download = ESP chip in download mode (`picow probe --port` for details)
probe-picow-fw = picow-fw { $version }: wifi { $wifi }, ip { $ip }, server { $server }
probe-micropython = vendor MicroPython: hold BOOT and replug it to flash
probe-unknown = unknown ({ $detail })
probe-not-usb = not a USB device; give --port to examine it
probe-no-answer = no answer to the console's `status` nor to a ROM loader SYNC
probe-net-none = no picow board answered on the LAN within { $secs } s: is it on this network, running picow-fw, and joined? (a virtual board needs `picow sim --mdns`; some networks block multicast: see `picow probe --port` for a board on a cable)

## picow flash: warnings and updates over Wi-Fi (cmd/flash.rs, ota/)

flash-loopback-server = --server { $server } is a loopback address: on the board it means the board itself, so it will never reach picow serve on this computer (only a virtual board, picow sim, can use it). Give the LAN address that `picow serve` prints, or --server auto.
flash-saved = wrote { $path } ({ $size }, { $firmware } for { $chip }): { $regions }
flash-written = { $region } { $bytes } bytes written and verified in { $secs } s
flash-skipped = { $region } unchanged, skipped
flash-done = done in { $secs } s: { $written } region(s) written, { $skipped } unchanged; Wi-Fi { $ssid } (password { $password }), server { $server }{ $reset }
flash-done-reset = ; the board was reset into the app
ota-pw-given = OTA password { $shown } (as given)
ota-pw-board = OTA password { $shown } (the one the board had)
ota-pw-new = OTA password { $shown }: made up for this board and kept in { $path } (picow flash --ota finds it there; --show-secrets prints it)
ota-pw-kept = OTA password { $shown } (kept for this board in { $path })
ota-pw-none = no OTA password: updates over Wi-Fi are off (give --ota-password)
flash-micropython-hint = { $port } is a board running the vendor MicroPython (USB 303a:80d1), which cannot be reset into the bootloader from the PC: hold the BOOT (KEY) button, unplug and plug the cable back in, then release BOOT
flash-waiting = { $hint }. Waiting up to { $wait } for the board in download mode…
flash-found-download = found { $port } in download mode
flash-no-download = no board appeared in download mode within { $wait }; { $hint }, then run the command again
ota-unreachable = { $board }: cannot connect to { $addr } ({ $reason }): nothing listens for updates there. Is the board on and on this network (its console says `@picow wifi-joined`)? A board flashed by an older picow, or running MicroPython, takes no updates over Wi-Fi: flash it once over USB (picow flash --keep-config); the board still runs its previous image

## Firmware (picow flash, picow monitor)

fw-missing =
    no picow firmware for the { $chip } found (looked in { $places }). To build it once: { $command }; picow then finds it from any directory. Or give --firmware ELF
fw-missing-any =
    no picow firmware found (looked in { $places }). For the WalnutPi PicoW (ESP32-S3): { $command }. For an ESP32-C3 or C6 board: `cargo xtask fw build --chip esp32c3 --release` (or esp32c6). picow then finds it from any directory. Or give --firmware ELF
fw-s3-toolchain = install Espressif's Rust toolchain once (`cargo install espup --locked && espup install`, then `. $HOME/export-esp.sh`), then run `cargo xtask fw build --chip esp32s3 --release` in the picow repository
fw-riscv-build = run `cargo xtask fw build --chip { $chip } --release` in the picow repository
fw-wrong-chip =
    chip mismatch: the board on { $port } is an { $board }, but the firmware found is for { $chips } ({ $paths }). For the { $board }: { $command }; or give --firmware ELF. Nothing was written

## picow serve: the terminal view (picow-cli cmd/serve/tui)

view-key-enter = send the line (or run the /command)
view-key-alt-enter = a line break in the input line
view-key-esc = clear the input line; close help; leave find (never quits)
view-key-ctrl-q = quit (asks first while boards are connected)
view-key-ctrl-c = quit at once
view-key-f1 = this help (? when the input line is empty)
view-key-tab = select the next / previous client, or all
view-key-f2 = display: text, hex, hex+text
view-key-f3 = times: local, UTC, off
view-key-f4 = encoding (shown and sent): UTF-8, GBK, GB18030, ...
view-key-f5 = line ending added to sent lines: none, lf, cr, crlf
view-key-f6 = wrap long lines / cut them (Shift-Left/Right scroll)
view-key-f7 = pause the view (data is still received, counted, kept)
view-key-f8 = keep the text after sending (to send it again)
view-key-f9 = input: text, text with escapes (\r \n \xNN), hex
view-key-f10 = show only the selected client's data
view-key-pgup = scroll the data; Shift-Up/Down one line
view-key-ctrl-home = oldest line / follow new lines again
view-key-ctrl-f = find (Enter or Up: older match, Down: newer)
view-key-ctrl-l = clear the data pane
view-key-ctrl-r = reset the byte counters
view-key-ctrl-g = open / close the group of departed clients
view-key-alt-digit = send macro 1 .. 10
view-key-left-right = move the cursor; Ctrl- or Alt- by word
view-key-home-end = start / end of the line (also Ctrl-A, Ctrl-E)
view-key-up-down = history of sent lines (kept between runs)
view-key-ctrl-u-k = delete to the start / to the end of the line
view-key-ctrl-w = delete the word before the cursor
view-key-ctrl-y = put back what was deleted last
view-cmd-help = this help
view-cmd-list = the connected clients with their counters
view-cmd-select = where typed text goes (also Tab)
view-cmd-disconnect = close a client
view-cmd-hex = send bytes given in hex
view-cmd-file = send a file's bytes
view-cmd-auto = send TEXT every DUR (e.g. 1s); /auto stop
view-cmd-update = update a PicoW over Wi-Fi (default: the built firmware)
view-cmd-m = send macro N; with TEXT set it (saved); /m lists
view-cmd-save = write received bytes to a new FILE (-t: text lines with times; -a: append to FILE)
view-cmd-save-stop = stop writing
view-cmd-display = how data is shown (F2)
view-cmd-time = the times (F3)
view-cmd-encoding = gbk, utf-8, big5, ... for showing and sending (F4)
view-cmd-ending = line ending of sent lines (F5)
view-cmd-input = how typed text becomes bytes (F9)
view-cmd-toggles = on|off: F6, F8, F10
view-cmd-find = highlight TEXT and go to it; /find alone clears
view-cmd-pause = F7, Ctrl-L, Ctrl-R
view-cmd-gone = open / close the departed clients (Ctrl-G)
view-cmd-quit = close every connection and exit
view-cmd-slash = send text that starts with /
view-help-keys = Keys
view-help-commands = Commands (type them in the input line)
view-help-other = Other lines are sent as text to the selected client(s).
view-help-title = Help · Esc closes · ↑↓ PgUp PgDn scroll
view-clients = { $gone ->
        [0] Clients: { $live } live
       *[other] Clients: { $live } live, { $gone } gone
    }
view-all-clients = all clients
view-gone-group = gone ({ $n })  Ctrl-G
view-gone-at = gone { $time }
view-gone-waiting = { $reason }; waiting for it
view-no-board = no board connected yet
view-give-fw = picow-fw: picow flash --server
view-give-mp = MicroPython:
view-bar-give = give the board { $server } or { $micropython }
view-bar-loopback = { $ip } only: a board on Wi-Fi cannot reach it; leave out --bind
view-bar-gone = gone, waiting for it
view-bar-all = all:
view-bar-tab = Tab: next
view-data = Data
view-only = only #{ $id }
view-paused = PAUSED, { $n } new · F7 resumes
view-scrolled = scrolled up, { $n } new · Ctrl-End: live
view-find = find: { $text }
view-find-prompt = find>
view-to = to { $target }
view-all-n = all ({ $n })
view-target-gone-label = { $label } (gone)
view-st-paused = PAUSED
view-st-save = ● save { $file } { $size }
view-st-auto = auto { $every } → { $to } ×{ $n }
view-st-counts = in { $rx } out { $tx }
view-st-end = end { $end }
view-st-input = input { $mode }
view-st-time = time { $clock }
view-st-wrap = wrap
view-st-cut = cut +{ $n }
view-st-keep = keep
view-mode-text = text
view-mode-hex = hex
view-mode-both = hex+text
view-clock-local = local
view-clock-utc = UTC
view-clock-off = off
view-input-escapes = escapes
view-hint-help = help
view-hint-client = client
view-hint-hex = hex
view-hint-time = time
view-hint-enc = enc
view-hint-end = end
view-hint-wrap = wrap
view-hint-pause = pause
view-hint-find = find
view-hint-clear = clear
view-hint-quit = quit
view-quit-title = Quit picow serve?
view-quit-clients = { $n } client(s) connected: quitting disconnects them.
view-quit-mp = (The tutorial's MicroPython board does not reconnect.)
view-quit-yes = quit
view-quit-any = any other key (Enter too)
view-quit-stay = stay
view-esc-hint = Esc clears the input line; /quit, Ctrl-Q or Ctrl-C quits
view-not-quitting = not quitting
view-counters-reset = counters reset
view-not-sent = not sent: { $reason }
view-encoding-set = encoding { $name }: received data is shown and typed text is sent in it
view-find-count = `{ $text }`: { $n } line(s); Ctrl-F then Enter finds the next older
view-find-none = `{ $text }` is not in the scroll-back
view-find-no-older = no older line with `{ $text }`
view-find-no-newer = no newer line with `{ $text }`
view-saving-bytes = saving the bytes received from { $whose } to { $path }; /save alone stops
view-saving-text = saving text lines from { $whose } to { $path }; /save alone stops
view-every-client = every client
view-saved = saved { $n } B to { $path }
view-not-saving = not saving: /save FILE starts (raw bytes received), /save -t FILE saves text lines with times
view-already-saving = already saving to { $path }: /save alone stops it first
view-save-usage = /save needs a file name: /save FILE (raw bytes received), /save -t FILE (text lines with times), /save -a FILE (append to FILE)
view-save-exists = { $path } exists: /save -a { $path } appends to it; or give another name
view-save-cannot = cannot open { $path } for writing: { $reason }
view-save-unknown-option = /save has no option { $option }: -t (text lines with times), -a (append)
view-save-stopped = /save { $path } stopped: { $reason }
view-takes-on-off = /{ $command } takes on or off, not `{ $value }`
view-display-takes = /display takes text, hex or both, not `{ $value }`
view-time-takes = /time takes local, utc or off, not `{ $value }`
view-input-takes = /input takes text, escapes or hex, not `{ $value }`
view-unknown-encoding = unknown encoding `{ $value }`: use a WHATWG label such as utf-8, gbk, gb18030, big5
view-macro-bad-number = `{ $value }` is not a macro number: /m N sends macro N
view-macro-bad = /m { $n }: { $reason }
view-macro-range = macros are numbered 1 to { $max }
view-macros-cannot-read = cannot read { $path }: { $reason }
view-macros-invalid = { $path } is not a valid macro file: { $reason }
view-macros-cannot-write = cannot write { $path }: { $reason }
view-can-send = { $to } is connected: Enter sends the text
view-auto-waits = /auto waits for { $label } to come back (nothing is sent meanwhile)
view-auto-follows = /auto follows { $label } (was #{ $old })
view-loopback-local = programs on this computer (picow sim, a test script) can connect to { $addr }
view-st-all = all
view-st-auto-waiting = { $auto } (waiting)
view-macro-unset = macro { $n } is not set: /m { $n } TEXT sets it
view-macro-saved = macro { $n } saved in { $path }
view-macro-set = macro { $n } set (not saved: no config file)
view-no-macros = no macros yet: /m 1 TEXT sets macro 1 (Alt-1 sends it)
view-history-failed = history not saved to { $path }: { $reason }
view-macros-off = { $reason }; macros are off until it is fixed
web-page = web page: { $url } (open it in a browser)
web-page-lan = web page on the LAN: { $url }
web-no-quick-sends = the page has no quick sends: { $reason }
web-page-reachable = the page is reachable from other computers: anyone with the address above (it holds the token) can use it
web-no-browser = picow serve: could not open a browser ({ $error }): open { $url } yourself
view-no-client = no client is connected: the text stays here until a board connects
view-target-gone = { $label } is gone ({ $reason }): the text stays here; the selection follows the board when it reconnects, Tab chooses another
view-target-unknown = no client #{ $id }: Tab chooses one
view-listening = listening on { $proto } { $addrs }
view-give-board = give the board this computer's address (* = most likely):
view-offer = { $mark } { $iface }: picow flash --server { $server }
view-offer-virtual = { $mark } { $iface } (virtual adapter): picow flash --server { $server }
view-offer-mp = { "    " }MicroPython: { $micropython }
view-connected = #{ $id } connected from { $peer }
view-picow = #{ $id } is a PicoW
view-picow-named = #{ $id } is a PicoW named { $name }
view-back = { $name } is back as #{ $id }: the selection follows it
view-back-ip = #{ $id } is the selected board back: text goes to #{ $id } now
view-disconnected = #{ $id } disconnected: { $reason }
view-refused = refused { $peer }: { $reason }
view-expect = expect { $n } /{ $pattern }/ seen from #{ $id }
view-client-row = #{ $id } { $peer } { $name } in { $rx } B out { $tx } B
## picow --help (cli.rs localize): the English is the text each translation
## was made from; where clap's doc comment differs, English is shown.

help-heading-usage = Usage:
help-heading-options = Options
help-heading-commands = Commands
help-flag-help = Print help
help-flag-version = Print version
help-about = Rust tooling for both ends of the WalnutPi PicoW socket workflow
help-after = Exit codes: 0 success, 1 runtime failure, 2 invalid input or usage, 124 timed out waiting for an expectation.
help-arg-verbose = More log output on stderr (-v debug, -vv trace); RUST_LOG overrides
help-arg-quiet = Less output: only errors
help-arg-color = When to use colours; NO_COLOR in the environment means never for auto
help-arg-json = Print data as JSON (one object per line for event streams)
help-arg-utc = Timestamps for people in UTC instead of local time (JSON and logs are always RFC 3339 in UTC)
help-arg-debug = Technical details with errors (with RUST_BACKTRACE=1 also where they happened), for bug reports
help-sub-serve = Run the PC-side TCP/UDP server the board connects to (replaces NetAssist)
help-sub-flash = Write the firmware, Wi-Fi and server settings to a board
help-sub-monitor = Show a board's serial output; survives resets and replugs
help-sub-probe = Find serial ports and identify the boards behind them
help-sub-sim = Run a virtual PicoW on a pseudo-terminal (no hardware needed)
help-sub-completions = Print a shell completion script
help-serve-port = TCP (or UDP) port to listen on, 1 to 65535; 0 picks a free one (the first line and the `listening` event say which)
help-serve-bind = Address to listen on (default: every IPv4 and IPv6 address)
help-serve-udp = Serve UDP instead of TCP; each peer address counts as a client
help-serve-encoding = How received bytes are shown as text: utf-8, gbk, gb18030, big5, ...
help-serve-hex = Show received and sent data as hex bytes instead of text
help-serve-send = Send TEXT to each client when it connects (repeatable, in order). Escapes: \r \n \t \0 \\ \xNN
help-serve-expect = Wait for text matching REGEX (repeatable, matched in order); exit 0 when all have been seen
help-serve-timeout = Give up after DUR (e.g. 20s): exit 124 if --expect/--clients are not met, exit 0 after DUR otherwise
help-serve-log = Append every byte received and sent to FILE as JSON lines
help-serve-ota_port = The port of the boards' OTA listeners, where serve asks a PicoW what firmware it runs and sends /update and --update
help-serve-ota_password = The boards' OTA password (else PICOW_OTA_PASSWORD, else the one picow keeps for each board's MAC)
help-serve-update = Update every PicoW that connects running another image than FIRMWARE (an ELF or app image) over Wi-Fi, once per board
help-serve-plain = Plain lines on a terminal too (no full-screen view)
help-flash-server = The server: HOST:PORT, [IPv6]:PORT, NAME.local:PORT (found by mDNS), auto (the first `picow serve` on the LAN), auto:NAME (the one named NAME); tcp://… or udp://…
help-flash-port = The serial port (default: the one Espressif USB device plugged in)
help-flash-chip = The chip the firmware is for; the board must be this chip
help-flash-firmware = The firmware ELF (default: the last `cargo xtask fw build` for the chip)
help-flash-save_image = Write the merged flash image to FILE instead of a board
help-monitor-port = Serial port (default: $PICOW_PORT, else the one Espressif board found)
help-monitor-baud = Baud rate, 50 to 12000000 (ignored by native USB)
help-monitor-timestamps = Host time (local, HH:MM:SS.mmm) at the start of each line
help-monitor-log = Also write everything received, byte for byte, to FILE (replaced)
help-monitor-reset = Reset the board after opening the port (opening alone never resets it)
help-probe-port = Examine this port in depth instead of listing all
