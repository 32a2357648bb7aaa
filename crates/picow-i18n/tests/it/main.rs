//! The catalogs: both parse, both hold the same messages with the same
//! variables, and every message the workspace's code asks for exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fluent_syntax::ast;
use picow_i18n::{bundle, Lang};

/// Message id -> the variables it uses.
fn messages(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
    let res = fluent_syntax::parser::parse(lang.catalog())
        .unwrap_or_else(|(_, errs)| panic!("locales/{}/picow.ftl: {errs:?}", lang.tag()));
    let mut out = BTreeMap::new();
    for entry in res.body {
        match entry {
            ast::Entry::Message(m) => {
                let mut vars = BTreeSet::new();
                if let Some(p) = &m.value {
                    pattern_vars(p, &mut vars);
                }
                assert!(
                    m.attributes.is_empty(),
                    "{}: no attributes please",
                    m.id.name
                );
                assert!(
                    out.insert(m.id.name.to_string(), vars).is_none(),
                    "locales/{}/picow.ftl: {} twice",
                    lang.tag(),
                    m.id.name
                );
            }
            ast::Entry::Junk { content } => {
                panic!("locales/{}/picow.ftl: cannot parse {content:?}", lang.tag())
            }
            _ => {}
        }
    }
    out
}

fn pattern_vars(p: &ast::Pattern<&str>, vars: &mut BTreeSet<String>) {
    for el in &p.elements {
        if let ast::PatternElement::Placeable { expression } = el {
            expr_vars(expression, vars);
        }
    }
}

fn expr_vars(e: &ast::Expression<&str>, vars: &mut BTreeSet<String>) {
    match e {
        ast::Expression::Inline(i) => inline_vars(i, vars),
        ast::Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for v in variants {
                pattern_vars(&v.value, vars);
            }
        }
    }
}

fn inline_vars(i: &ast::InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match i {
        ast::InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_string());
        }
        ast::InlineExpression::Placeable { expression } => expr_vars(expression, vars),
        _ => {}
    }
}

#[test]
fn both_catalogs_load() {
    for lang in Lang::ALL {
        bundle(lang).unwrap();
    }
}

#[test]
fn same_messages_and_variables_in_every_language() {
    let en = messages(Lang::En);
    assert!(en.len() > 20, "{en:?}");
    for lang in [Lang::ZhCn] {
        let other = messages(lang);
        let missing: Vec<_> = en.keys().filter(|k| !other.contains_key(*k)).collect();
        let extra: Vec<_> = other.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "locales/{}/picow.ftl: missing {missing:?}, not in English {extra:?}",
            lang.tag()
        );
        for (id, vars) in &en {
            assert_eq!(
                &other[id],
                vars,
                "locales/{}/picow.ftl: {id} uses other variables than English",
                lang.tag()
            );
        }
    }
}

/// Every `tr!("id"`, `msg!("id"` and `Msg::new("id"` in the workspace's
/// Rust sources names a message of the English catalog.
#[test]
fn every_message_used_in_code_exists() {
    let en = messages(Lang::En);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut used = Vec::new();
    for dir in ["crates", "xtask"] {
        scan(&root.join(dir), &mut used);
    }
    let unknown: Vec<_> = used
        .iter()
        .filter(|(_, id)| !en.contains_key(id.as_str()))
        .collect();
    assert!(unknown.is_empty(), "no such message: {unknown:?}");
}

fn scan(dir: &Path, used: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "target" && name != ".git" {
                scan(&p, used);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            for marker in ["tr!(", "tr_in!(", "msg!(", "Msg::new("] {
                for (at, _) in text.match_indices(marker) {
                    // `include_str!(` is not `tr!(`.
                    let before = text[..at].chars().next_back().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' {
                        continue;
                    }
                    // The id: the first string literal of the call.
                    let rest = &text[at + marker.len()..];
                    let Some(q) = rest.find('"') else { continue };
                    if rest[..q].contains([')', ';', '"']) {
                        continue;
                    }
                    let rest = &rest[q + 1..];
                    let id = &rest[..rest.find('"').unwrap_or(0)];
                    // Ids are identifiers (not this file's markers); `id` is
                    // the doc example's.
                    let ident = !id.is_empty()
                        && id
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    if ident && id != "id" {
                        used.push((p.display().to_string(), id.to_string()));
                    }
                }
            }
        }
    }
}
