//! Module boundaries that keep the dependency graph one-way: the hub and the sessions meet only
//! in `crate::fanout` (and the hub's messages and handle), API keys live outside `http`, and
//! reference data knows nothing of the actors that load or read it.
//!
//! The check reads the sources under `src/`: every `use` tree is expanded into full paths
//! (`use crate::a::{b, c::d}` gives `crate::a::b` and `crate::a::c::d`), every inline path that
//! starts at `crate`, `super` or `self` is taken too, each is resolved against the file's own
//! module, and the paths a rule forbids are reported with the file they are in. Comments are
//! ignored (a doc may mention its caller; code may not import it).

use std::{
    fs,
    path::{Path, PathBuf},
};

/// One boundary: what the files under `under` (folders or files below `src/`) may not use.
struct Rule {
    under: &'static [&'static str],
    /// Path prefixes (by whole segments) that are refused...
    forbidden: &'static [&'static str],
    /// ...unless the path is exactly one of these.
    allowed: &'static [&'static str],
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        under: &["actors/hub"],
        forbidden: &["crate::actors::session"],
        allowed: &[],
        why: "the hub shares what it hands sessions through crate::fanout, and knows no session",
    },
    Rule {
        under: &["actors/session"],
        forbidden: &["crate::actors::hub", "crate::actors::BroadcastHubActor"],
        allowed: &[
            "crate::actors::hub::HubHandle",
            "crate::actors::hub::Subscribe",
            "crate::actors::hub::UpdateFilter",
            "crate::actors::hub::Unsubscribe",
        ],
        why: "a session uses the hub's messages and handle only; the rest is in crate::fanout",
    },
    Rule {
        under: &["fanout"],
        forbidden: &[
            "crate::actors::hub",
            "crate::actors::session",
            "crate::actors::BroadcastHubActor",
            "crate::actors::HubHandle",
        ],
        allowed: &[],
        why: "what the hub and the sessions share depends on neither",
    },
    Rule {
        under: &["actors/hub", "actors/session", "fanout", "auth.rs"],
        forbidden: &["crate::http"],
        allowed: &[],
        why: "the routes call these; API keys and grants are in crate::auth",
    },
    Rule {
        under: &["auth.rs"],
        forbidden: &["crate::actors"],
        allowed: &[],
        why: "API keys and grants are used by the hub and the sessions, not the reverse",
    },
    Rule {
        under: &["reference"],
        forbidden: &["crate::actors"],
        allowed: &[],
        why: "reference data is read by the validators and written by the ReferenceActor",
    },
    Rule {
        under: &["actors/validator"],
        forbidden: &["crate::actors::reference"],
        allowed: &[],
        why: "the ReferenceActor tells the validators to re-evaluate; they only read its cache",
    },
];

#[test]
fn no_module_imports_across_the_fan_out_auth_and_reference_boundaries() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for rule in RULES {
        for under in rule.under {
            let files = rust_files(&src.join(under));
            if files.is_empty() {
                violations.push(format!("no sources under src/{under}: update the rule"));
            }
            check(rule, &src, &files, &mut violations);
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

fn check(rule: &Rule, src: &Path, files: &[PathBuf], violations: &mut Vec<String>) {
    for file in files {
        let text = fs::read_to_string(file).expect("a readable source file");
        for path in paths_used(&text, &module_of(src, file)) {
            if refused(rule, &path) {
                violations.push(format!(
                    "{} uses {path} ({})",
                    file.strip_prefix(src).unwrap_or(file).display(),
                    rule.why
                ));
            }
        }
    }
}

#[test]
fn the_check_sees_grouped_relative_and_inline_paths_and_skips_comments() {
    let module = ["crate", "actors", "hub", "store"]
        .map(String::from)
        .to_vec();
    let text = "
        //! Mentions crate::actors::session::SessionActor in a doc: fine.
        use std::sync::Arc;
        pub(crate) use crate::{
            actors::{audit, session::{self, outbox::Outbox}},
            event::Broadcast,
        };
        use super::super::session::SessionId; // crate::http::ignored
        fn f() { crate::http::auth::hash_key_hex(\"k\"); self::g(); }
    ";
    let paths = paths_used(text, &module);
    for expected in [
        "crate::actors::audit",
        "crate::actors::session",
        "crate::actors::session::outbox::Outbox",
        "crate::event::Broadcast",
        "crate::actors::session::SessionId",
        "crate::http::auth::hash_key_hex",
        "crate::actors::hub::store::g",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} in {paths:?}"
        );
    }
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("SessionActor") || p.contains("ignored"))
    );

    let session = RULES
        .iter()
        .find(|r| r.under == ["actors/session"])
        .expect("the session's rule");
    assert!(refused(session, "crate::actors::hub::admission::Permit"));
    assert!(refused(session, "crate::actors::hub"));
    assert!(refused(session, "crate::actors::hub::*"));
    assert!(!refused(session, "crate::actors::hub::Subscribe"));
    assert!(!refused(session, "crate::actors::hubris"));
}

/// Whether a rule refuses a path.
fn refused(rule: &Rule, path: &str) -> bool {
    let starts_with = |prefix: &str| {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with("::"))
    };
    rule.forbidden.iter().any(|f| starts_with(f)) && !rule.allowed.contains(&path)
}

/// The `.rs` files at `path` (a file, or a folder searched recursively).
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let Ok(entries) = fs::read_dir(path) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The module a file is: `src/actors/hub/mod.rs` and `src/actors/hub.rs` are `crate::actors::hub`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src/");
    let mut module = vec!["crate".to_owned()];
    for part in relative.with_extension("").iter() {
        let part = part.to_string_lossy();
        if part != "mod" && part != "lib" && part != "main" {
            module.push(part.into_owned());
        }
    }
    module
}

/// Every path a source file uses, resolved to start at `crate` where it is the crate's own
/// (paths into other crates come out as given). `super` in an inline `mod tests` resolves one
/// level high, which only ever names a module closer to the file itself.
fn paths_used(text: &str, module: &[String]) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let mut outside_use = String::new();
    let mut rest = code.as_str();
    while let Some(at) = find_keyword(rest, "use") {
        outside_use.push_str(&rest[..at]);
        let tree = &rest[at + "use".len()..];
        let end = tree.find(';').unwrap_or(tree.len());
        expand(tree[..end].trim(), "", &mut paths);
        rest = &tree[end..];
    }
    outside_use.push_str(rest);
    paths.extend(inline_paths(&outside_use));
    paths.iter().map(|p| resolve(p, module)).collect()
}

/// Where `keyword` next starts as a word of its own.
fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(found) = text[from..].find(keyword) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + keyword.len()..].chars().next();
        if !before.is_some_and(is_ident) && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + keyword.len();
    }
    None
}

/// Expands a `use` tree (`a::{b, c::{d, self}}`, `x as y`, `*`) into full paths.
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let join = |tail: &str| match (prefix.is_empty(), tail) {
        (true, _) => tail.to_owned(),
        (false, "self") => prefix.to_owned(),
        (false, _) => format!("{prefix}::{tail}"),
    };
    let tree = tree.trim().trim_start_matches("::");
    let Some(open) = tree.find('{') else {
        let name = tree.split(" as ").next().unwrap_or(tree).trim();
        if !name.is_empty() {
            out.push(join(&name.split_whitespace().collect::<String>()));
        }
        return;
    };
    let head = tree[..open].trim().trim_end_matches("::").trim();
    let inner_prefix = if head.is_empty() {
        prefix.to_owned()
    } else {
        join(&head.split_whitespace().collect::<String>())
    };
    let close = tree.rfind('}').unwrap_or(tree.len());
    for item in split_top_level(&tree[open + 1..close]) {
        expand(item, &inner_prefix, out);
    }
}

/// Splits a brace group's contents at its top-level commas.
fn split_top_level(group: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items.into_iter().filter(|i| !i.trim().is_empty()).collect()
}

/// Paths written out in code (`crate::x::y(...)`, `super::z`), outside `use` lines too.
fn inline_paths(code: &str) -> Vec<String> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut paths = Vec::new();
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(root) {
            let at = from + found;
            from = at + root.len();
            if code[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|&c| is_ident(c) || c == ':')
                .collect();
            paths.push(path.trim_end_matches(':').to_owned());
        }
    }
    paths
}

/// A path from the file's point of view, made absolute if it starts at `self` or `super`.
fn resolve(path: &str, module: &[String]) -> String {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base: Vec<String> = module.to_vec();
    match segments.first() {
        Some(&"self") => {
            segments.remove(0);
        }
        Some(&"super") => {
            while segments.first() == Some(&"super") {
                segments.remove(0);
                if base.len() > 1 {
                    base.pop();
                }
            }
        }
        _ => return path.to_owned(),
    }
    base.extend(segments.iter().map(|s| (*s).to_owned()));
    base.join("::")
}
