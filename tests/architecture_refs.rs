//! The code's references to the architecture and to the reference documents resolve: every
//! "architecture §N" names a section of docs/architecture.md, every "Genesys reference §N.M" a
//! section of docs/reference/genesys-cloud-api.md, every "webhook reference §N.M" one of
//! docs/reference/webhooks.md, and no comment cites a design document the repository lacks.

use std::{fs, path::Path};

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("a readable source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("a readable source file");
            out.push((path.display().to_string(), text));
        }
    }
}

/// The section numbers a Markdown document has (`## 3. …` → "3", `### 3.7 …` → "3.7").
fn sections(doc: &str) -> Vec<String> {
    let text = fs::read_to_string(doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
    text.lines()
        .filter(|line| line.starts_with('#'))
        .filter_map(|line| line.trim_start_matches('#').split_whitespace().next())
        .map(|number| number.trim_end_matches('.').to_owned())
        .filter(|number| number.starts_with(|c: char| c.is_ascii_digit()))
        .collect()
}

/// The section numbers cited after `prefix` in `text` ("§3", "§3.7").
fn citations<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches('.')
        })
        .collect()
}

#[test]
fn every_section_the_code_cites_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches"] {
        sources(&root.join(dir), &mut files);
    }
    // This file names the prefixes it looks for.
    files.retain(|(path, _)| !path.ends_with("architecture_refs.rs"));
    let docs = [
        ("architecture §", "docs/architecture.md"),
        ("Genesys reference §", "docs/reference/genesys-cloud-api.md"),
        ("webhook reference §", "docs/reference/webhooks.md"),
    ];
    let mut missing = Vec::new();
    let mut cited = 0;
    for (prefix, doc) in docs {
        let known = sections(&root.join(doc).display().to_string());
        for (path, text) in &files {
            for number in citations(text, prefix) {
                cited += 1;
                if !known.iter().any(|k| k == number) {
                    missing.push(format!(
                        "{path}: {prefix}{number} is not a section of {doc}"
                    ));
                }
            }
        }
    }
    for (path, text) in &files {
        if text.contains("design §") || text.contains("design.md") {
            missing.push(format!(
                "{path} cites a design document the repository lacks"
            ));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert!(
        cited > 10,
        "only {cited} citations found: is the scan looking in the right place?"
    );
}
