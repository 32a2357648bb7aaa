//! The page's files, embedded in the binary at build time (nothing is
//! fetched from the network, at build time or at run time).

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its URL path.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub mime: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $mime:literal) => {
        Asset {
            path: concat!("/", $path),
            mime: $mime,
            body: include_bytes!(concat!("../assets/", $path)),
        }
    };
}

/// Every file but the page itself ([`INDEX`]).
pub static ASSETS: &[Asset] = &[
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("plot.js", "text/javascript; charset=utf-8"),
    asset!("parse.js", "text/javascript; charset=utf-8"),
    asset!("view.js", "text/javascript; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("i18n/en.json", "application/json"),
    asset!("i18n/zh-CN.json", "application/json"),
    asset!(
        "vendor/uplot/uPlot.iife.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!("vendor/uplot/uPlot.min.css", "text/css; charset=utf-8"),
    asset!("vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
];

/// The page, with `{{token}}` where the token goes (empty on loopback).
pub const INDEX: &str = include_str!("../assets/index.html");

/// The catalogs, one per language: (language tag, JSON).
pub static CATALOGS: &[(&str, &str)] = &[
    ("en", include_str!("../assets/i18n/en.json")),
    ("zh-CN", include_str!("../assets/i18n/zh-CN.json")),
];

/// The embedded file at `path`.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The page with the token filled in. The token is hex, so it needs no
/// escaping in the attribute.
pub fn index(token: Option<&str>) -> String {
    INDEX.replace("{{token}}", token.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(json: &str) -> BTreeSet<String> {
        let v: serde_json::Value = serde_json::from_str(json).expect("a catalog is JSON");
        v.as_object()
            .expect("a catalog is one object")
            .keys()
            .cloned()
            .collect()
    }

    /// The keys the page uses: `data-i18n*="key"` in the HTML and
    /// `t("key"` in the scripts.
    fn used_keys() -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        let html = INDEX;
        for attr in [
            "data-i18n=\"",
            "data-i18n-title=\"",
            "data-i18n-placeholder=\"",
        ] {
            for part in html.split(attr).skip(1) {
                used.insert(part.split('"').next().unwrap_or_default().to_owned());
            }
        }
        for a in ASSETS
            .iter()
            .filter(|a| a.path.ends_with(".js") && !a.path.contains("vendor"))
        {
            let js = std::str::from_utf8(a.body).unwrap();
            for quote in ['"', '\'', '`'] {
                let pat = format!("t({quote}");
                for (at, _) in js.match_indices(&pat) {
                    // `t(` itself, not the end of `select(` or `split(`.
                    let before = js[..at].chars().next_back().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' || before == '.' {
                        continue;
                    }
                    let part = &js[at + pat.len()..];
                    let key = part.split(quote).next().unwrap_or_default();
                    // Keys built at run time (`link.${state}`) are checked
                    // by the browser tests.
                    if !key.is_empty() && !key.contains(' ') && !key.contains('$') {
                        used.insert(key.to_owned());
                    }
                }
            }
        }
        used
    }

    #[test]
    fn both_catalogs_have_the_same_keys_and_every_key_the_page_uses() {
        let en = keys(CATALOGS[0].1);
        let zh = keys(CATALOGS[1].1);
        let only_en: Vec<_> = en.difference(&zh).collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in zh-CN.json: {only_en:?}");
        assert!(only_zh.is_empty(), "missing in en.json: {only_zh:?}");
        let used = used_keys();
        assert!(
            used.len() > 50,
            "found only {} keys in the page",
            used.len()
        );
        let missing: Vec<_> = used.difference(&en).collect();
        assert!(
            missing.is_empty(),
            "used by the page but in no catalog: {missing:?}"
        );
    }

    #[test]
    fn the_chinese_catalog_is_chinese() {
        let v: serde_json::Value = serde_json::from_str(CATALOGS[1].1).unwrap();
        let en: serde_json::Value = serde_json::from_str(CATALOGS[0].1).unwrap();
        for (k, zh) in v.as_object().unwrap() {
            let zh = zh.as_str().unwrap();
            let has_han = zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
            // A few strings are the same in both (names, units, symbols).
            let same = en[k].as_str() == Some(zh);
            assert!(
                has_han || same,
                "zh-CN `{k}` = `{zh}` has no Chinese and differs from English"
            );
        }
    }

    #[test]
    fn every_element_the_script_looks_up_is_in_the_page() {
        let app = std::str::from_utf8(find("/app.js").unwrap().body).unwrap();
        let mut missing = Vec::new();
        for part in app.split("$('").skip(1) {
            let id = part.split('\'').next().unwrap_or_default();
            if !INDEX.contains(&format!("id=\"{id}\"")) {
                missing.push(id.to_owned());
            }
        }
        assert!(
            missing.is_empty(),
            "app.js looks up ids not in index.html: {missing:?}"
        );
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        let html = INDEX;
        let urls = ["src=\"", "href=\""]
            .into_iter()
            .flat_map(|attr| html.split(attr).skip(1));
        for part in urls {
            let url = part.split('"').next().unwrap_or_default();
            if url.starts_with('#') {
                continue;
            }
            assert!(
                find(&format!("/{url}")).is_some(),
                "index.html refers to `{url}`, which is not embedded"
            );
        }
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(html.contains("{{token}}"));
        assert!(!index(Some("abc")).contains("{{token}}"));
    }
}
