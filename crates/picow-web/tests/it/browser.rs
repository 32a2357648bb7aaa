//! The page in a real browser (Debian's headless Chromium through
//! chromedriver), against serve's engine and fake boards on 127.0.0.1.

use std::time::Duration;

use picow_bench::chrome::fantoccini::{Client, Locator};
use serde_json::Value;

use crate::support::Setup;
use crate::support::{browser, js, output_dir, until, Board, Browser, Serve};

fn css(s: &str) -> Locator<'_> {
    Locator::Css(s)
}

/// Clicks the element `sel` as a person would (a WebDriver click), finding
/// it again if the page replaced it in between.
async fn click(c: &Client, sel: &str) {
    for _ in 0..10 {
        let Ok(el) = c.find(css(sel)).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        match el.click().await {
            Ok(()) => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("could not click {sel}");
}

async fn open(c: &Client, serve: &Serve) {
    c.goto(&serve.url()).await.unwrap();
    until("the page's WebSocket is open", 20, || async {
        js(c, &data_of("link-state", "state")).await == "open"
    })
    .await;
}

/// The names in the client list, live ones first, in order.
async fn names(c: &Client) -> Value {
    js(
        c,
        "return [...document.querySelectorAll('[data-testid=client-list] [data-testid=client-row]')]
            .map(r => [r.dataset.id, r.querySelector('.name').textContent, r.classList.contains('gone')])",
    )
    .await
}

async fn view_text(c: &Client) -> String {
    c.find(css("[data-testid=data-view]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn wait_view(c: &Client, what: &str) {
    until(&format!("`{what}` in the data view"), 15, || async {
        view_text(c).await.contains(what)
    })
    .await;
}

/// Waits until serve has seen client `id` greet (so ids follow the order
/// the boards connect in).
async fn greeted(serve: &Serve, id: u64) {
    until(&format!("#{id} greeting"), 10, || async {
        serve
            .json()
            .iter()
            .any(|e| e["event"] == "picow" && e["id"] == id)
    })
    .await;
}

/// Boards that greet with these names, as clients #1, #2, ... in order.
async fn boards(serve: &Serve, names: &[&str]) -> Vec<Board> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        out.push(Board::connect(serve.port, name).await);
        greeted(serve, i as u64 + 1).await;
    }
    out
}

/// A browser in `lang` with the page open; dropping it (also when the test
/// fails) stops the browser and removes its profile and downloads.
struct Page {
    c: Client,
    browser: Browser,
}

impl Page {
    async fn open(serve: &Serve, lang: &str) -> Page {
        let browser = browser(lang).await;
        let c = browser.client.clone();
        open(&c, serve).await;
        Page { c, browser }
    }

    async fn close(self) {
        self.browser.close().await;
    }
}

/// Waits until `script` returns `want`.
async fn until_js(c: &Client, what: &str, script: &str, want: impl Into<Value>) {
    let want = want.into();
    until(what, 10, || async { js(c, script).await == want }).await;
}

/// A `data-*` value of the element with `data-testid` `id`.
fn data_of(id: &str, key: &str) -> String {
    format!("return document.querySelector('[data-testid={id}]').dataset.{key}")
}

/// Types `text` into the element `sel`, as keys.
async fn type_into(c: &Client, sel: &str, text: &str) {
    c.find(css(sel))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_reaches_only_the_selected_board_its_echo_shows_and_hex_is_exact() {
    let serve = Serve::start(Setup::default()).await;
    let [alpha, beta]: [Board; 2] = boards(&serve, &["alpha", "beta"]).await.try_into().unwrap();
    let page = Page::open(&serve, "en").await;
    let c = &page.c;
    until("both boards listed with their names", 10, || async {
        names(c).await == serde_json::json!([["1", "alpha", false], ["2", "beta", false]])
    })
    .await;

    // Select beta and send: only beta gets it, and its echo shows.
    click(c, "[data-testid=client-row][data-id='2']").await;
    let input = c.find(css("[data-testid=send-input]")).await.unwrap();
    input.send_keys("ping-beta").await.unwrap();
    click(c, "[data-testid=send-button]").await;
    until("beta receives ping-beta", 10, || async {
        beta.received() == b"ping-beta"
    })
    .await;
    wait_view(c, "I got:ping-beta").await;
    let echo = js(
        c,
        "return [...document.querySelectorAll('[data-testid=data-view] .l.in')]
            .filter(e => e.textContent.includes('I got:ping-beta')).map(e => e.dataset.id)",
    )
    .await;
    assert_eq!(echo, serde_json::json!(["2"]));
    assert_eq!(alpha.received(), b"", "alpha must get nothing");
    // The text stays in the box for re-sending (NetAssist does the same).
    assert_eq!(
        input.prop("value").await.unwrap().as_deref(),
        Some("ping-beta")
    );
    // Enter sends too.
    input.send_keys("\u{E007}").await.unwrap();
    until("beta receives ping-beta twice", 10, || async {
        beta.received() == b"ping-betaping-beta"
    })
    .await;

    // Both echoes shown first, so that the next bytes come in a read of
    // their own (a coalesced read would put them in another hex row).
    until("the second echo", 10, || async {
        view_text(c).await.matches("I got:ping-beta").count() == 2
    })
    .await;
    // Hex view: the exact bytes.
    beta.send(&[0x00, 0x01, 0xfe, b'A', b'\n']);
    wait_view(c, "\\x00\\x01\\xfeA").await;
    click(c, "[data-testid=view-hex]").await;
    wait_view(c, "00 01 fe 41 0a").await;
    // Both: hex and text side by side.
    click(c, "[data-testid=view-both]").await;
    wait_view(c, "49 20 67 6f 74 3a").await;
    wait_view(c, "I got:ping-beta").await;

    // A reload keeps the boards connected and shows the same state again.
    c.refresh().await.unwrap();
    until_js(
        c,
        "the page's WebSocket is open again",
        &data_of("link-state", "state"),
        "open",
    )
    .await;
    until("both boards listed after the reload", 10, || async {
        names(c).await == serde_json::json!([["1", "alpha", false], ["2", "beta", false]])
    })
    .await;
    wait_view(c, "00 01 fe 41 0a").await;
    alpha.send(b"still here\n");
    click(c, "input[name=view][value=text]").await;
    wait_view(c, "still here").await;
    assert!(
        !serve.json().iter().any(|e| e["event"] == "disconnected"),
        "a reload must not disconnect a board"
    );
    page.close().await;
    serve.stop().await;
}

/// Visible words of the page's own text that are in no catalog's Chinese:
/// data (the data view, addresses, names) is left out.
const ENGLISH_WORDS: &str = r#"
const skip = (el) => el.closest('[data-testid=data-view], #client-rows, #net-addrs, #net-local, #net-proto, .brand, #plot, #plot-legend, #opt-encoding, #send-history, #send-target, #plot-source, #macros input, #lang-switch, #total-rx, #total-tx, #client-count, title');
const allowed = new Set(['PicoW', 'UTF', 'GBK', 'HEX', 'CSV', 'CR', 'LF', 'CRLF', 'MicroPython', 'picow', 'serve', 'flash', 'server', 'xNN', 'KiB', 'ping', 'temp', 'hum', 'log', 'max', 'queue', 'clients', 'bind', 'timeout', 'Ctrl', 'Shift', 'TCP', 'UDP', 'Wi', 'Fi', 'UTC']);
const words = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const el = n.parentElement;
  if (!el || skip(el) || el.closest('[hidden]')) continue;
  for (const w of n.textContent.match(/[A-Za-z]{2,}/g) || []) if (!allowed.has(w)) words.push(w);
}
for (const el of document.querySelectorAll('[placeholder], [title]')) {
  if (skip(el)) continue;
  for (const a of ['placeholder', 'title']) {
    for (const w of (el.getAttribute(a) || '').match(/[A-Za-z]{2,}/g) || []) if (!allowed.has(w)) words.push(a + ':' + w);
  }
}
return words;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_speaks_the_browsers_language_and_switches() {
    let serve = Serve::start(Setup::default()).await;
    let [desk, lab]: [Board; 2] = boards(&serve, &["desk", "lab"]).await.try_into().unwrap();
    // Sensor lines for the plot in the screenshots.
    for i in 0..60 {
        let x = f64::from(i) / 6.0;
        desk.send(
            format!(
                "t:{i},temp:{:.2},hum:{:.1}\n",
                22.0 + 2.0 * x.sin(),
                55.0 + 5.0 * (x / 2.0).cos()
            )
            .as_bytes(),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lab.send("温度正常\n".as_bytes());
    let out = output_dir();

    // Chinese from the browser's language.
    let page = Page::open(&serve, "zh-CN").await;
    let c = &page.c;
    assert_eq!(
        js(c, "return navigator.languages").await,
        serde_json::json!(["zh-CN"])
    );
    until("the page in Chinese", 10, || async {
        js(c, "return document.documentElement.lang").await == "zh-CN"
    })
    .await;
    let send = c.find(css("[data-testid=send-button]")).await.unwrap();
    assert_eq!(send.text().await.unwrap(), "发送");
    wait_view(c, "温度正常").await;
    click(c, "[data-testid=plot-toggle]").await;
    click(c, "[data-testid=client-row][data-id='1']").await;
    until("the plot has its series", 10, || async {
        js(
            c,
            "return document.querySelectorAll('[data-testid=plot-series]').length",
        )
        .await
            == 3
    })
    .await;
    let english = js(c, ENGLISH_WORDS).await;
    assert_eq!(
        english,
        serde_json::json!([]),
        "English-only text in the Chinese page"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(out.join("page-zh-CN.png"), c.screenshot().await.unwrap()).unwrap();

    // The switch: English at once, and remembered.
    c.find(css("[data-testid=lang-switch]"))
        .await
        .unwrap()
        .select_by_value("en")
        .await
        .unwrap();
    until("the page in English", 10, || async {
        js(c, "return document.documentElement.lang").await == "en"
    })
    .await;
    assert_eq!(send.text().await.unwrap(), "Send");
    c.refresh().await.unwrap();
    open(c, &serve).await;
    until("English after a reload", 10, || async {
        js(
            c,
            "return document.querySelector('[data-testid=send-button]').textContent",
        )
        .await
            == "Send"
    })
    .await;
    page.close().await;

    // English from an English browser.
    let page = Page::open(&serve, "en").await;
    let c = &page.c;
    until("the page in English", 10, || async {
        js(c, "return document.documentElement.lang").await == "en"
    })
    .await;
    let send = c.find(css("[data-testid=send-button]")).await.unwrap();
    assert_eq!(send.text().await.unwrap(), "Send");
    click(c, "[data-testid=plot-toggle]").await;
    click(c, "[data-testid=client-row][data-id='1']").await;
    wait_view(c, "temp:").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(out.join("page-en.png"), c.screenshot().await.unwrap()).unwrap();
    page.close().await;
    if std::env::var_os("PICOW_UPDATE_SCREENSHOTS").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/images");
        std::fs::create_dir_all(&docs).unwrap();
        for f in ["page-zh-CN.png", "page-en.png"] {
            std::fs::copy(out.join(f), docs.join(format!("web-{f}"))).unwrap();
        }
    }
    serve.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_plotted_per_series_and_the_file_has_the_exact_bytes() {
    let serve = Serve::start(Setup::default()).await;
    let board = boards(&serve, &["sensor"]).await.remove(0);
    let page = Page::open(&serve, "en").await;
    let c = &page.c;

    // The formats people already use.
    let parsed = js(c,
        "const p = window.picowTest.parsePlotLine;
         return [p('t:1,temp:23.5'), p('>temp:1.5'), p('a=1 b=-2e3'), p('1 2\t3'), p('temp: 4'),
                 p('I got:ping'), p('Hello WalnutPi!'), p('error 42'), p('>t:1627551892437:7|g'), p('')]",
    )
    .await;
    assert_eq!(
        parsed,
        serde_json::json!([
            [["t", 1], ["temp", 23.5]],
            [["temp", 1.5]],
            [["a", 1], ["b", -2000]],
            [["1", 1], ["2", 2], ["3", 3]],
            [["temp", 4]],
            null,
            null,
            null,
            [["t", 7]],
            null
        ])
    );

    click(c, "[data-testid=plot-toggle]").await;
    let mut sent = b"Hello WalnutPi! (sensor)".to_vec();
    for (i, v) in ["23.5", "23.75", "24.125"].iter().enumerate() {
        let line = format!("t:{},temp:{v}\n", i + 1);
        // Split across reads: the page joins a line cut in two.
        let (a, b) = line.as_bytes().split_at(5);
        board.send(a);
        tokio::time::sleep(Duration::from_millis(30)).await;
        board.send(b);
        sent.extend_from_slice(line.as_bytes());
    }
    until("a temp series whose last point is 24.125", 10, || async {
        js(
            c,
            "const s = document.querySelector('[data-testid=plot-series][data-name=temp]');
             return s ? s.dataset.last : null",
        )
        .await
            == "24.125"
    })
    .await;
    assert_eq!(
        js(
            c,
            "return document.querySelector('[data-testid=plot-series][data-name=t]').dataset.last"
        )
        .await,
        "3"
    );
    assert_eq!(
        js(
            c,
            "return document.querySelectorAll('#plot canvas').length > 0"
        )
        .await,
        true
    );

    // Bytes that are not text, then save: the file has exactly what came.
    let raw: &[u8] = b"\x00\xff\xfe raw\r\n\xe4\xb8\xad";
    board.send(raw);
    sent.extend_from_slice(raw);
    wait_view(c, "raw").await;
    click(c, "[data-testid=client-row][data-id='1']").await;
    click(c, "[data-testid=save-button]").await;
    let dir = page.browser.downloads.clone();
    let saved = move || -> Option<Vec<u8>> {
        let file = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "bin"))?;
        std::fs::read(file).ok()
    };
    until("the download", 15, || {
        let done = saved().is_some();
        async move { done }
    })
    .await;
    let got = saved();
    assert_eq!(
        got.unwrap(),
        sent,
        "the saved file must hold exactly the received bytes"
    );
    page.close().await;
    serve.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_encoding_switch_decodes_and_encodes_gbk() {
    let serve = Serve::start(Setup::default()).await;
    let board = boards(&serve, &["gbk"]).await.remove(0);
    let page = Page::open(&serve, "zh-CN").await;
    let c = &page.c;
    board.send(&[0xd6, 0xd0, 0xce, 0xc4, b'\n']);
    wait_view(c, "\\xd6\\xd0\\xce\\xc4").await;
    c.find(css("[data-testid=opt-encoding]"))
        .await
        .unwrap()
        .select_by_value("gbk")
        .await
        .unwrap();
    // The history is shown again, decoded as GBK.
    wait_view(c, "中文").await;
    type_into(c, "[data-testid=send-input]", "中文").await;
    click(c, "[data-testid=send-button]").await;
    until("the board receives GBK bytes", 10, || async {
        board.received() == [0xd6, 0xd0, 0xce, 0xc4]
    })
    .await;
    // A character GBK cannot write is refused, with the reason, and nothing is sent.
    let input = c.find(css("[data-testid=send-input]")).await.unwrap();
    input.clear().await.unwrap();
    c.execute(
        "document.querySelector('[data-testid=send-input]').value = 'x\u{1F600}'",
        vec![],
    )
    .await
    .unwrap();
    click(c, "[data-testid=send-button]").await;
    until_js(
        c,
        "the send error",
        &data_of("send-error", "code"),
        "unmappable",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(board.received(), [0xd6, 0xd0, 0xce, 0xc4]);
    page.close().await;
    serve.stop().await;
}

/// The rest of the window, as a NetAssist user would use it: search,
/// pause, clear, counters, hex send errors, auto-send, disconnect, the
/// departed group and a selection that follows a board that comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_of_the_window_works() {
    let serve = Serve::start(Setup::default()).await;
    let [alpha, beta]: [Board; 2] = boards(&serve, &["alpha", "beta"]).await.try_into().unwrap();
    let page = Page::open(&serve, "zh-CN").await;
    let c = &page.c;
    alpha.send(b"ping one\nping two\n");
    wait_view(c, "ping two").await;

    // Search: matches marked and counted.
    type_into(c, "[data-testid=search-input]", "PING").await;
    until("two matches marked", 10, || async {
        js(
            c,
            "return document.querySelectorAll('[data-testid=data-view] mark').length",
        )
        .await
            == 2
    })
    .await;
    assert_eq!(
        js(
            c,
            "return document.querySelector('[data-testid=search-count]').textContent"
        )
        .await,
        "找到 2 处"
    );

    // Pause: nothing new is shown, everything is still counted.
    click(c, "[data-testid=opt-pause]").await;
    let rx = || async {
        js(c, "return Number(document.querySelector('[data-testid=total-rx]').textContent.replace(/,/g, ''))")
            .await
            .as_u64()
            .unwrap()
    };
    let before = rx().await;
    alpha.send(b"while paused\n");
    until("the paused data counted", 10, || async {
        rx().await == before + 13
    })
    .await;
    assert!(!view_text(c).await.contains("while paused"));
    click(c, "[data-testid=opt-pause]").await;
    wait_view(c, "while paused").await;

    // Clear, and counters reset.
    click(c, "[data-testid=clear-button]").await;
    until("an empty view", 10, || async {
        view_text(c).await.is_empty()
    })
    .await;
    click(c, "[data-testid=reset-counters]").await;
    until("the counters at zero", 10, || async { rx().await == 0 }).await;
    beta.send(b"abc");
    until("counting from zero", 10, || async { rx().await == 3 }).await;

    // Hex send with a bad byte: the reason in the page's language, the
    // text kept, nothing sent.
    click(c, "[data-testid=client-row][data-id='2']").await;
    click(c, "[data-testid=opt-hexsend]").await;
    let input = c.find(css("[data-testid=send-input]")).await.unwrap();
    input.send_keys("41 4g").await.unwrap();
    click(c, "[data-testid=send-button]").await;
    until_js(
        c,
        "the hex error",
        &data_of("send-error", "code"),
        "not_hex",
    )
    .await;
    let msg = js(
        c,
        "return document.querySelector('[data-testid=send-error]').textContent",
    )
    .await;
    assert!(msg.as_str().unwrap().contains("不是十六进制数字"), "{msg}");
    assert_eq!(input.prop("value").await.unwrap().as_deref(), Some("41 4g"));
    assert_eq!(beta.received(), b"");
    input.clear().await.unwrap();
    input.send_keys("41 42 0d 0a").await.unwrap();
    click(c, "[data-testid=send-button]").await;
    until("beta gets the hex bytes", 10, || async {
        beta.received() == b"AB\r\n"
    })
    .await;
    click(c, "[data-testid=opt-hexsend]").await;

    // Auto-send: its running state is shown, and it sends.
    input.clear().await.unwrap();
    input.send_keys("tick").await.unwrap();
    let every = c.find(css("[data-testid=opt-every]")).await.unwrap();
    every.clear().await.unwrap();
    every.send_keys("100").await.unwrap();
    click(c, "[data-testid=opt-auto]").await;
    until_js(
        c,
        "auto-send shown as running",
        &data_of("auto-state", "running"),
        "true",
    )
    .await;
    until("beta gets ticks", 10, || async {
        beta.received().windows(4).filter(|w| w == b"tick").count() >= 3
    })
    .await;
    let state = js(
        c,
        "return document.querySelector('[data-testid=auto-state]').textContent",
    )
    .await;
    assert!(state.as_str().unwrap().contains("100"), "{state}");
    click(c, "[data-testid=opt-auto]").await;
    until_js(
        c,
        "auto-send stopped",
        &data_of("auto-state", "running"),
        "false",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ticks = beta.received().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(beta.received().len(), ticks, "no tick after stopping");

    // Disconnect alpha from the page: greyed in the departed group; then it
    // comes back (same name) and the selection follows it.
    click(c, "[data-testid=client-row][data-id='1']").await;
    click(c, "[data-testid=disconnect][data-id='1']").await;
    until("alpha departed", 10, || async {
        names(c).await == serde_json::json!([["2", "beta", false], ["1", "alpha", true]])
    })
    .await;
    let _alpha2 = Board::connect(serve.port, "alpha").await;
    until("the selection follows alpha to #3", 10, || async {
        js(
            c,
            "return document.querySelector('#client-rows tr.sel')?.dataset.id",
        )
        .await
            == "3"
    })
    .await;
    std::fs::write(
        output_dir().join("page-features-zh-CN.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    page.close().await;
    serve.stop().await;
}

/// serve's `--hex`, `--utc` and `--line-ending` are what the page starts
/// with; what the user sets in the page wins from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_flags_are_the_pages_defaults_until_the_user_chooses() {
    let serve = Serve::start(Setup {
        defaults: picow_web::Defaults {
            utc: true,
            hex: true,
            ending: picow_web::protocol::Ending::Crlf,
        },
        ..Setup::default()
    })
    .await;
    let board = boards(&serve, &["desk"]).await.remove(0);
    let page = Page::open(&serve, "en").await;
    let c = &page.c;
    board.send(b"AB");
    wait_view(c, "41 42").await;
    assert_eq!(
        js(
            c,
            "return document.querySelector('[data-testid=opt-time]').value"
        )
        .await,
        "utc"
    );
    assert_eq!(
        js(
            c,
            "return document.querySelector('[data-testid=opt-ending]').value"
        )
        .await,
        "crlf"
    );
    // The timestamps are UTC.
    let shown = js(
        c,
        "return document.querySelector('[data-testid=data-view] .p').textContent",
    )
    .await;
    let utc_now = js(
        c,
        "const d = new Date(); return String(d.getUTCHours()).padStart(2, '0')",
    )
    .await;
    assert!(
        shown
            .as_str()
            .unwrap()
            .starts_with(utc_now.as_str().unwrap()),
        "{shown} {utc_now}"
    );
    // Typed text gets CRLF.
    type_into(c, "[data-testid=send-input]", "hi").await;
    click(c, "[data-testid=send-button]").await;
    until("the board gets hi\\r\\n", 10, || async {
        board.received() == b"hi\r\n"
    })
    .await;
    // The user picks text: it stays text after a reload.
    click(c, "input[name=view][value=text]").await;
    wait_view(c, "AB").await;
    c.refresh().await.unwrap();
    open(c, &serve).await;
    wait_view(c, "AB").await;
    assert_eq!(
        js(
            c,
            "return document.querySelector('input[name=view][value=text]').checked"
        )
        .await,
        true
    );
    page.close().await;
    serve.stop().await;
}

/// A browser test that fails (here: panics with the page open) leaves no
/// chromedriver, no Chromium, no helper of either and no profile behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_that_fails_leaves_no_browser_behind() {
    use picow_bench::chrome::{processes_in_group, processes_naming};
    let serve = Serve::start(Setup::default()).await;
    let url = serve.url();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let failing = tokio::spawn(async move {
        let b = browser("en").await;
        b.client.goto(&url).await.unwrap();
        let group = b.process_group().unwrap();
        // The browser runs: its processes are in chromedriver's group and
        // its profile is on disk.
        assert!(
            processes_in_group(group).len() >= 3,
            "chromedriver, chromium and its helpers"
        );
        assert!(!processes_naming(b.dir()).is_empty());
        // Chromium's temporary files are in the guard's directory, not in /tmp.
        let tmp: Vec<String> = std::fs::read_dir(b.dir().join("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            tmp.iter().any(|n| n.starts_with("org.chromium.Chromium.")),
            "{tmp:?}"
        );
        let _ = tx.send((group, b.dir().to_owned()));
        panic!("a browser test made to fail");
    });
    let err = failing.await.unwrap_err();
    assert!(err.is_panic());
    let (group, dir) = rx.await.unwrap();
    assert_eq!(
        processes_in_group(group),
        Vec::<i32>::new(),
        "processes of the browser's group"
    );
    assert_eq!(
        processes_naming(&dir),
        Vec::<i32>::new(),
        "processes naming {}",
        dir.display()
    );
    assert!(!dir.exists(), "{} is left behind", dir.display());
    serve.stop().await;
}

/// The data view is a virtual list: however much comes, only the rows in
/// view are in the DOM; the rest is in a bounded ring (the scroll-back),
/// scrolled to, searched and counted as if it were all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_view_keeps_only_the_visible_rows_and_counts_every_byte() {
    let serve = Serve::start(Setup::default()).await;
    let board = boards(&serve, &["flood"]).await.remove(0);
    let page = Page::open(&serve, "en").await;
    let c = &page.c;

    // The cutting of lines into rows: character cells, CJK two wide.
    assert_eq!(
        js(
            c,
            "const p = window.picowTest;
             return [p.cells('中a'), p.cut('abcdefg', 3), p.cut('中中中', 4), p.cut('41 42 43 44', 7, 3),
                     p.cut('', 5), p.cut('a中', 2)]"
        )
        .await,
        serde_json::json!([3, [0, 3, 6], [0, 2], [0, 6], [0], [0, 1]])
    );

    // A scroll-back of 100 entries, then 400 lines.
    js(
        c,
        "const s = document.querySelector('[data-testid=opt-scrollback]');
         s.value = '100'; s.dispatchEvent(new Event('change')); return 1",
    )
    .await;
    let mut sent = b"Hello WalnutPi! (flood)".len() as u64;
    for i in 0..400u32 {
        let line = if i == 350 {
            format!("line {i} needle\n")
        } else {
            format!("line {i}\n")
        };
        sent += line.len() as u64;
        board.send(line.as_bytes());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    wait_view(c, "line 399").await;
    let st = js(c, "return window.picowTest.state()").await;
    assert!(st["shown"].as_u64().unwrap() <= 100, "{st}");
    assert!(st["entries"].as_u64().unwrap() <= 100, "{st}");
    let dom = st["domRows"].as_u64().unwrap();
    assert!(st["rows"].as_u64().unwrap() >= 100, "{st}");
    assert!(
        dom > 5 && dom < 80,
        "only the rows in view are in the DOM: {st}"
    );
    assert_eq!(
        js(
            c,
            "return document.querySelectorAll('[data-testid=data-view] .l').length"
        )
        .await,
        dom
    );
    assert!(
        !view_text(c).await.contains("needle"),
        "50 rows up is not in the DOM"
    );
    let rx = || async {
        js(
            c,
            "return Number(document.querySelector('[data-testid=total-rx]').textContent.replace(/,/g, ''))",
        )
        .await
        .as_u64()
        .unwrap()
    };
    until("every byte counted", 10, || async { rx().await == sent }).await;

    // The oldest entry kept is drawn when scrolled to: the first line of
    // the 100th entry from the end, as serve reported the reads.
    let entries: Vec<String> = serve
        .json()
        .iter()
        .filter(|e| e["event"] != "listening" && e["event"] != "clients")
        .map(|e| e["text"].as_str().unwrap_or("").to_owned())
        .collect();
    let oldest = entries[entries.len() - 100]
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(oldest.starts_with("line "), "{oldest}");
    js(
        c,
        "document.querySelector('[data-testid=data-view]').scrollTop = 0; return 1",
    )
    .await;
    until("the top of the scroll-back drawn", 10, || async {
        !view_text(c).await.contains("line 399")
    })
    .await;
    let first = js(
        c,
        "return document.querySelector('[data-testid=data-view] .l').textContent",
    )
    .await;
    assert!(
        first.as_str().unwrap().ends_with(&format!("< {oldest}")),
        "the first row {first}, the oldest kept {oldest}"
    );
    assert!(
        js(c, "return window.picowTest.state().domRows")
            .await
            .as_u64()
            .unwrap()
            < 80
    );
    // New data does not move what the user looks at; a button offers the end.
    board.send(b"line 400\n");
    until_js(
        c,
        "the jump button",
        "return !document.getElementById('jump').hidden",
        true,
    )
    .await;
    assert!(!view_text(c).await.contains("line 400"));

    // Search counts and finds what is not in the DOM.
    type_into(c, "[data-testid=search-input]", "needle").await;
    until_js(
        c,
        "one match counted",
        "return document.querySelector('[data-testid=search-count]').textContent",
        "1 found",
    )
    .await;
    c.find(css("[data-testid=search-input]"))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    until_js(
        c,
        "the match scrolled to and marked",
        "return document.querySelector('[data-testid=data-view] mark.cur') !== null",
        true,
    )
    .await;
    let cur = js(
        c,
        "const m = document.querySelector('[data-testid=data-view] mark.cur'); return m && m.parentElement.textContent",
    )
    .await;
    assert!(
        cur.as_str().is_some_and(|t| t.ends_with("line 350 needle")),
        "{cur}"
    );
    c.find(css("[data-testid=search-input]"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    click(c, "#jump").await;
    wait_view(c, "line 400").await;
    page.close().await;
    serve.stop().await;
}

/// Long lines are cut into rows that fit the view (a CJK character is two
/// cells), nothing cut off and nothing lost; without wrap a line is one row
/// and the view scrolls sideways. 60 boards that came and went are still
/// counted after a reload, though the page lists only the last 50.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lines_wrap_whole_and_departed_boards_stay_counted() {
    let serve = Serve::start(Setup::default()).await;
    let board = boards(&serve, &["wide"]).await.remove(0);
    let page = Page::open(&serve, "zh-CN").await;
    let c = &page.c;
    let latin: String = (0..300)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let han: String = "汉字".repeat(100);
    board.send(format!("{latin}\n{han}\n").as_bytes());
    wait_view(c, "汉字汉字").await;
    // The rows of the read: the first has the prefix, the others are its
    // continuation; together they are the two lines exactly.
    let rows = || async {
        js(
            c,
            "const v = document.querySelector('[data-testid=data-view]');
             return [...v.querySelectorAll('.l.in')].filter(r => !r.textContent.includes('Hello'))
               .map(r => [r.classList.contains('cont') ? '' : r.querySelector('.p').textContent,
                          r.classList.contains('cont') ? r.textContent : r.textContent.slice(r.querySelector('.p').textContent.length),
                          r.scrollWidth <= r.clientWidth + 1, r.getBoundingClientRect().right <= v.getBoundingClientRect().right])",
        )
        .await
    };
    let got = rows().await;
    let got = got.as_array().unwrap();
    assert!(got.len() >= 4, "both lines wrap: {got:?}");
    let starts: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, r)| r[0] != "")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts.len(), 2, "two lines, each with its prefix: {got:?}");
    let joined = |from: usize, to: usize| -> String {
        got[from..to]
            .iter()
            .map(|r| r[1].as_str().unwrap())
            .collect()
    };
    assert_eq!(joined(starts[0], starts[1]), latin);
    assert_eq!(joined(starts[1], got.len()), han);
    for r in got {
        assert_eq!(r[2], true, "a row is cut off: {r}");
        assert_eq!(r[3], true, "a row goes past the view: {r}");
    }
    std::fs::write(
        output_dir().join("wrap-zh-CN.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // No wrap: one row a line, and the view scrolls sideways to its end.
    click(c, "[data-testid=opt-wrap]").await;
    until("one row a line", 10, || async {
        rows().await.as_array().unwrap().len() == 2
    })
    .await;
    assert_eq!(
        js(
            c,
            "const v = document.querySelector('[data-testid=data-view]'); return v.scrollWidth > v.clientWidth + 500"
        )
        .await,
        true
    );
    click(c, "[data-testid=opt-wrap]").await;

    // 60 boards come and go; after a reload the page counts every byte,
    // the 10 it no longer lists too.
    let mut sent: u64 = serve
        .json()
        .iter()
        .filter(|e| e["event"] == "data")
        .map(|e| e["len"].as_u64().unwrap())
        .sum();
    for i in 0..60 {
        let b = Board::connect(serve.port, &format!("b{i}")).await;
        sent += format!("Hello WalnutPi! (b{i})").len() as u64;
        let id = i + 2;
        greeted(&serve, id).await;
        drop(b);
        until(&format!("#{id} gone"), 10, || async {
            serve
                .json()
                .iter()
                .any(|e| e["event"] == "disconnected" && e["id"] == id)
        })
        .await;
    }
    c.refresh().await.unwrap();
    open(c, &serve).await;
    until_js(
        c,
        "every byte counted after the reload",
        "return document.querySelector('[data-testid=total-rx]').textContent.replace(/,/g, '')",
        sent.to_string(),
    )
    .await;
    assert_eq!(
        js(
            c,
            "return document.querySelectorAll('#client-rows tr.gone').length"
        )
        .await,
        50
    );
    page.close().await;
    serve.stop().await;
}

/// The terminal view's macros (serve.toml) are the page's quick sends, and
/// they go out as the terminal view sends them: text with escapes (the
/// page's own escapes setting is off here) and the line ending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_views_macros_are_the_quick_sends() {
    let serve = Serve::start(Setup {
        macros: vec!["AT\\r\\n".into(), String::new(), "temp?\\x21".into()],
        ..Setup::default()
    })
    .await;
    let board = boards(&serve, &["m"]).await.remove(0);
    let page = Page::open(&serve, "en").await;
    let c = &page.c;
    until_js(
        c,
        "serve.toml's macros in the quick sends",
        "return [...document.querySelectorAll('[data-testid=macro-text]')].map(e => e.value)",
        serde_json::json!(["AT\\r\\n", "", "temp?\\x21", "", "", ""]),
    )
    .await;
    assert!(js(
        c,
        "return document.querySelector('[data-testid=macro-send]').title"
    )
    .await
    .as_str()
    .unwrap()
    .contains("serve.toml"));
    click(c, "#macros .macro:nth-child(3) button").await;
    until("the third macro, its escape decoded", 10, || async {
        board.received() == b"temp?!"
    })
    .await;
    click(c, "#macros .macro:nth-child(1) button").await;
    until("the first macro, CR LF as bytes", 10, || async {
        board.received() == b"temp?!AT\r\n"
    })
    .await;
    wait_view(c, "I got:AT").await;
    page.close().await;
    serve.stop().await;
}
