//! The README's performance figures are backed by what the benchmarks printed: every row of its
//! Performance table links to a JSON file under `docs/benchmarks/` that exists and parses, and
//! the webhook latency it quotes is the run with the default `synchronous` setting.

use std::{fs, path::Path};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The README's Performance section, from its heading to the next one.
fn performance_section() -> String {
    let readme = fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = readme
        .find("\n## Performance")
        .expect("a Performance section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |at| at + 3);
    rest[..end].to_owned()
}

/// The targets of `(…)` links in `text` that point under docs/benchmarks/.
fn benchmark_links(text: &str) -> Vec<&str> {
    text.match_indices("](docs/benchmarks/")
        .map(|(at, _)| {
            let target = &text[at + 2..];
            &target[..target.find(')').expect("a closed link")]
        })
        .collect()
}

fn json_at(link: &str) -> Value {
    let text = fs::read_to_string(root().join(link)).unwrap_or_else(|e| panic!("{link}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{link} is not JSON: {e}"))
}

#[test]
fn every_figure_links_to_the_json_it_came_from() {
    let section = performance_section();
    let rows: Vec<&str> = section
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| what "))
        .collect();
    assert!(rows.len() >= 5, "the Performance table was not found");
    for row in rows {
        let links = benchmark_links(row);
        assert!(!links.is_empty(), "a figure without its output: {row}");
        for link in links {
            assert!(link.ends_with(".json"), "{link}: figures link to JSON");
            json_at(link);
        }
    }
    for link in benchmark_links(&section) {
        json_at(link);
    }
}

#[test]
fn the_webhook_latency_quoted_is_the_default_synchronous_setting() {
    let section = performance_section();
    let row = section
        .lines()
        .find(|line| line.starts_with("| signed webhook deliveries"))
        .expect("the webhook row");
    let link = benchmark_links(row)
        .into_iter()
        .find(|link| link.ends_with("webhook.json"))
        .expect("the webhook row links to webhook.json");
    let report = json_at(link);
    let default = report["latency"]
        .as_array()
        .expect("latency runs")
        .iter()
        .find(|run| run["default"] == true)
        .expect("a run with the default setting");
    let p99 = default["accept_to_2xx_ms"]["p99"].as_f64().expect("a p99");
    let quoted = format!(
        "**p99 {p99:.1} ms** with the default `synchronous = \"{}\"`",
        default["synchronous"].as_str().expect("its setting")
    );
    assert!(row.contains(&quoted), "expected {quoted:?} in {row}");
}
