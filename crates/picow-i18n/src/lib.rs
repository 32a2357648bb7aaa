//! picow's messages for people, in English or Chinese (zh-CN).
//!
//! One [Fluent](https://projectfluent.org) catalog per language,
//! `locales/en/picow.ftl` and `locales/zh-CN/picow.ftl`, embedded in the
//! binary at build time. The language is chosen once per process from the
//! environment ([`Lang::from_env`]): the first non-empty one of `LC_ALL`,
//! `LC_MESSAGES`, `LANG` that starts with `zh` means Chinese, any other value
//! (`C`, `POSIX`, `en_US.UTF-8`, …) English; with none of them set, Windows'
//! display language decides; elsewhere it is English.
//!
//! Only text for people is translated. Output that programs read (`--json`,
//! exit codes, `--log` files, the `@picow` console lines) never goes through
//! this crate and never changes with the language.
//!
//! # Adding a message
//!
//! 1. Add it to **both** catalogs with the same id and the same variables:
//!
//!    ```ftl
//!    # locales/en/picow.ftl
//!    serve-connected = { $time } #{ $id } connected from { $peer }
//!    # locales/zh-CN/picow.ftl
//!    serve-connected = { $time } #{ $id } 已连接，来自 { $peer }
//!    ```
//!
//! 2. Use it with [`tr!`]; arguments are named as in the catalog and take
//!    strings or numbers (use `.to_string()` for anything else):
//!
//!    ```
//!    use picow_i18n::{tr, Lang};
//!    picow_i18n::with_lang(Lang::ZhCn, || {
//!        let line = tr!("serve-connected", time = "09:12:01.234", id = 1, peer = "192.168.2.50:52314");
//!        assert_eq!(line, "09:12:01.234 #1 已连接，来自 192.168.2.50:52314");
//!    });
//!    ```
//!
//! 3. `cargo test -p picow-i18n` checks that both catalogs parse, hold the
//!    same ids with the same variables, and that every `tr!("id", …)` in the
//!    workspace's sources names a message that exists.
//!
//! Numbers select plural forms (`{ $n -> [one] … *[other] … }` in English;
//! Chinese has one form). Keep commands, flags and values that the user
//! types (`picow probe`, `--port`, `dialout`) untranslated inside messages.
#![warn(missing_docs)]

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

#[doc(hidden)]
pub use fluent_bundle::{FluentArgs as __Args, FluentValue};

/// The English catalog, the reference: every message exists here.
pub const EN_FTL: &str = include_str!("../locales/en/picow.ftl");
/// The Chinese (simplified, zh-CN) catalog.
pub const ZH_CN_FTL: &str = include_str!("../locales/zh-CN/picow.ftl");

/// A language picow speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English (the default, and the fallback for a missing translation).
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// The BCP 47 tag: `en`, `zh-CN`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The catalog's source text.
    pub fn catalog(self) -> &'static str {
        match self {
            Lang::En => EN_FTL,
            Lang::ZhCn => ZH_CN_FTL,
        }
    }

    /// The language a POSIX locale value asks for: `zh_CN.UTF-8`, `zh_TW`,
    /// `zh` → Chinese; any other non-empty value → English; empty → `None`
    /// (look at the next variable).
    pub fn from_locale(value: &str) -> Option<Lang> {
        let v = value.trim();
        if v.is_empty() {
            return None;
        }
        let lang = v
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        Some(if lang == "zh" { Lang::ZhCn } else { Lang::En })
    }

    /// The language the environment asks for: the first non-empty one of
    /// `LC_ALL`, `LC_MESSAGES`, `LANG` (the POSIX order), else Windows'
    /// display language, else English.
    pub fn from_env() -> Lang {
        Lang::from_vars(|name| std::env::var(name).ok()).unwrap_or_else(system_ui_lang)
    }

    /// [`Lang::from_env`]'s rule over any source of variables; `None` when
    /// none of them is set.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Option<Lang> {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .find_map(|name| get(name).as_deref().and_then(Lang::from_locale))
    }

    fn index(self) -> usize {
        match self {
            Lang::En => 0,
            Lang::ZhCn => 1,
        }
    }
}

/// Windows' display language (`GetUserDefaultUILanguage`): Chinese when its
/// primary language is `LANG_CHINESE`.
#[cfg(windows)]
fn system_ui_lang() -> Lang {
    // SAFETY: takes no arguments, returns a LANGID; no memory is involved.
    let langid = unsafe { windows_sys::Win32::Globalization::GetUserDefaultUILanguage() };
    if langid & 0x3ff == 0x04 {
        Lang::ZhCn
    } else {
        Lang::En
    }
}

#[cfg(not(windows))]
fn system_ui_lang() -> Lang {
    Lang::En
}

const UNSET: u8 = u8::MAX;
static PROCESS: AtomicU8 = AtomicU8::new(UNSET);

thread_local! {
    static THREAD: Cell<Option<Lang>> = const { Cell::new(None) };
}

/// The language of this process's messages: [`set`]'s, else the
/// environment's ([`Lang::from_env`], read once).
pub fn current() -> Lang {
    if let Some(l) = THREAD.with(Cell::get) {
        return l;
    }
    match PROCESS.load(Ordering::Relaxed) {
        0 => Lang::En,
        1 => Lang::ZhCn,
        _ => {
            let l = Lang::from_env();
            PROCESS.store(l.index() as u8, Ordering::Relaxed);
            l
        }
    }
}

/// Sets the language of every message of this process from now on.
pub fn set(lang: Lang) {
    PROCESS.store(lang.index() as u8, Ordering::Relaxed);
}

/// Runs `f` with messages in `lang` on this thread only (for tests that
/// check both languages side by side).
pub fn with_lang<R>(lang: Lang, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Lang>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(THREAD.with(|t| t.replace(Some(lang))));
    f()
}

fn bundles() -> &'static [FluentBundle<FluentResource>; 2] {
    static BUNDLES: OnceLock<[FluentBundle<FluentResource>; 2]> = OnceLock::new();
    BUNDLES.get_or_init(|| Lang::ALL.map(|l| bundle(l).unwrap_or_else(|e| panic!("{e}"))))
}

/// The catalog of `lang` as a bundle, or what is wrong with it.
pub fn bundle(lang: Lang) -> Result<FluentBundle<FluentResource>, String> {
    let res = FluentResource::try_new(lang.catalog().to_owned())
        .map_err(|(_, errs)| format!("locales/{}/picow.ftl: {errs:?}", lang.tag()))?;
    let id: unic_langid::LanguageIdentifier = lang.tag().parse().expect("a valid tag");
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // Terminals show Unicode isolation marks as garbage: plain text only.
    b.set_use_isolating(false);
    b.add_resource(res)
        .map_err(|errs| format!("locales/{}/picow.ftl: {errs:?}", lang.tag()))?;
    Ok(b)
}

/// Message `id` in `lang` with `args`; English when `lang` lacks it, the id
/// itself when English lacks it too (a test prevents that).
pub fn message_in(lang: Lang, id: &str, args: Option<&FluentArgs>) -> String {
    let all = bundles();
    for b in [&all[lang.index()], &all[0]] {
        if let Some(pattern) = b.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let s = b.format_pattern(pattern, args, &mut errors);
            debug_assert!(errors.is_empty(), "message {id}: {errors:?}");
            return s.into_owned();
        }
    }
    debug_assert!(false, "no message `{id}` in locales/en/picow.ftl");
    id.to_owned()
}

/// Message `id` in `lang` without arguments, if `lang`'s catalog has it
/// (no fallback to English).
pub fn lookup_in(lang: Lang, id: &str) -> Option<String> {
    let b = &bundles()[lang.index()];
    let pattern = b.get_message(id)?.value()?;
    let mut errors = Vec::new();
    Some(b.format_pattern(pattern, None, &mut errors).into_owned())
}

/// Message `id` in the [`current`] language.
pub fn message(id: &str, args: Option<&FluentArgs>) -> String {
    message_in(current(), id, args)
}

/// A value for a message argument: text or a number.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Text, shown as it is.
    Str(String),
    /// A whole number (selects plural forms).
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Another message, shown in the same language as the one that holds
    /// it (a sentence built from parts).
    Msg(Box<Msg>),
}

impl From<Msg> for Arg {
    fn from(m: Msg) -> Arg {
        Arg::Msg(Box::new(m))
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Str(s.to_owned())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Str(s)
    }
}
impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Str(s.clone())
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Arg {
        Arg::Float(v)
    }
}
macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                Arg::Int(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_arg!(u8, u16, u32, u64, usize, i32, i64);

/// A message kept as its id and arguments, to be shown later in any
/// language: in the user's ([`Msg::localized`]) where people read it, in
/// English ([`Display`](std::fmt::Display)) where programs do (`--json`
/// events, logs). Errors that people see carry one (`Send + Sync`).
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    id: &'static str,
    args: Vec<(&'static str, Arg)>,
}

impl Msg {
    /// Message `id` without arguments (add them with [`Msg::arg`]).
    pub fn new(id: &'static str) -> Msg {
        Msg {
            id,
            args: Vec::new(),
        }
    }

    /// Adds argument `name`.
    pub fn arg(mut self, name: &'static str, value: impl Into<Arg>) -> Msg {
        self.args.push((name, value.into()));
        self
    }

    /// Text that is shown as it is in every language (words that come
    /// from elsewhere: another program, the system, the user).
    pub fn text(text: impl Into<String>) -> Msg {
        Msg::new(TEXT_ID).arg("text", text.into())
    }

    /// The text of a [`Msg::text`], if it is one.
    pub fn as_text(&self) -> Option<&str> {
        match (self.id, self.args.first()) {
            (TEXT_ID, Some((_, Arg::Str(s)))) => Some(s),
            _ => None,
        }
    }

    /// The message id.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The text in `lang`.
    pub fn in_lang(&self, lang: Lang) -> String {
        let mut args = FluentArgs::new();
        for (name, v) in &self.args {
            match v {
                Arg::Str(s) => args.set(*name, FluentValue::from(s.as_str())),
                Arg::Int(i) => args.set(*name, FluentValue::from(*i)),
                Arg::Float(f) => args.set(*name, FluentValue::from(*f)),
                Arg::Msg(m) => args.set(*name, FluentValue::from(m.in_lang(lang))),
            }
        }
        message_in(lang, self.id, Some(&args))
    }

    /// The text in the [`current`] language.
    pub fn localized(&self) -> String {
        self.in_lang(current())
    }
}

/// The id of [`Msg::text`]: `{ $text }` in every catalog.
const TEXT_ID: &str = "plain-text";

impl From<String> for Msg {
    fn from(s: String) -> Msg {
        Msg::text(s)
    }
}

impl From<&str> for Msg {
    fn from(s: &str) -> Msg {
        Msg::text(s)
    }
}

/// English, whatever the user's language: the form for programs.
impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.in_lang(Lang::En))
    }
}

/// A [`Msg`]: `msg!("id")` or `msg!("id", name = value, …)`.
#[macro_export]
macro_rules! msg {
    ($id:literal $(,)?) => {
        $crate::Msg::new($id)
    };
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::Msg::new($id)$(.arg(stringify!($name), $value))+
    };
}

/// A message in the current language: `tr!("id")` or
/// `tr!("id", name = value, …)` with string or number values.
#[macro_export]
macro_rules! tr {
    ($id:literal $(,)?) => {
        $crate::message($id, None)
    };
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = $crate::__Args::new();
        $( args.set(stringify!($name), $crate::FluentValue::from($value)); )+
        $crate::message($id, Some(&args))
    }};
}

/// [`tr!`] in a given language: `tr_in!(lang, "id", name = value, …)`, for
/// the parts of a message that is rendered in a language of its own (an
/// English `Display` for programs next to the user's language for people).
#[macro_export]
macro_rules! tr_in {
    ($lang:expr, $id:literal $(,)?) => {
        $crate::message_in($lang, $id, None)
    };
    ($lang:expr, $id:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = $crate::__Args::new();
        $( args.set(stringify!($name), $crate::FluentValue::from($value)); )+
        $crate::message_in($lang, $id, Some(&args))
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_values() {
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Some(Lang::ZhCn));
        assert_eq!(Lang::from_locale("zh_TW.Big5"), Some(Lang::ZhCn));
        assert_eq!(Lang::from_locale("zh"), Some(Lang::ZhCn));
        assert_eq!(Lang::from_locale("zh-Hans"), Some(Lang::ZhCn));
        assert_eq!(Lang::from_locale("C"), Some(Lang::En));
        assert_eq!(Lang::from_locale("C.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::from_locale("POSIX"), Some(Lang::En));
        assert_eq!(Lang::from_locale("de_DE@euro"), Some(Lang::En));
        assert_eq!(Lang::from_locale("zhx_XX"), Some(Lang::En));
        assert_eq!(Lang::from_locale(""), None);
    }

    #[test]
    fn posix_order_first_non_empty_wins() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Lang::from_vars(env(&[])), None);
        assert_eq!(
            Lang::from_vars(env(&[("LANG", "zh_CN.UTF-8")])),
            Some(Lang::ZhCn)
        );
        // LC_ALL=C overrides a Chinese LANG (`LC_ALL=C picow …` is how
        // people ask for English output).
        assert_eq!(
            Lang::from_vars(env(&[("LC_ALL", "C"), ("LANG", "zh_CN.UTF-8")])),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_vars(env(&[("LC_MESSAGES", "zh_CN.UTF-8"), ("LANG", "C")])),
            Some(Lang::ZhCn)
        );
        // An empty LC_ALL does not count.
        assert_eq!(
            Lang::from_vars(env(&[("LC_ALL", ""), ("LANG", "zh_CN.UTF-8")])),
            Some(Lang::ZhCn)
        );
    }

    #[test]
    fn messages_in_both_languages_and_plurals() {
        let n = |lang, n: u64| {
            with_lang(lang, || {
                tr!(
                    "serve-summary",
                    clients = n,
                    refused = 0,
                    bytes_in = 10,
                    bytes_out = 20,
                    secs = "1.5"
                )
            })
        };
        assert_eq!(
            n(Lang::En, 2),
            "summary: 2 client(s), 0 refused, received 10 B, sent 20 B in 1.5 s"
        );
        assert_eq!(
            n(Lang::ZhCn, 2),
            "汇总：2 个客户端，拒绝 0 个，收到 10 B，发送 20 B，用时 1.5 秒"
        );
        // No isolation marks around arguments.
        assert!(!n(Lang::ZhCn, 1).contains('\u{2068}'));
        // A Msg shows in English for programs, in the user's language for people.
        let m = msg!("serve-timeout-last", id = 3u64, text = "I got:ping");
        assert_eq!(m.to_string(), "  last text from #3: I got:ping");
        assert_eq!(
            with_lang(Lang::ZhCn, || m.localized()),
            "  #3 最后发来的文本：I got:ping"
        );
        assert_eq!(with_lang(Lang::ZhCn, || m.to_string()), m.in_lang(Lang::En));
        // A message made of messages is in one language throughout.
        let whole = msg!("port-no-board", present = msg!("port-none-present"));
        assert!(
            whole.to_string().contains("is the board plugged in"),
            "{whole}"
        );
        let zh = whole.in_lang(Lang::ZhCn);
        assert!(zh.contains("开发板插上了吗"), "{zh}");
    }

    #[test]
    fn with_lang_is_per_thread_and_restores() {
        let before = current();
        with_lang(Lang::ZhCn, || {
            assert_eq!(current(), Lang::ZhCn);
            std::thread::spawn(|| assert_eq!(current(), Lang::from_env()))
                .join()
                .unwrap();
            with_lang(Lang::En, || assert_eq!(current(), Lang::En));
            assert_eq!(current(), Lang::ZhCn);
        });
        assert_eq!(current(), before);
    }
}
