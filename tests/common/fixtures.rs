//! Recorded Genesys answers (`tests/fixtures/genesys`) and a structural comparison of the
//! emulator's JSON against them: same keys, same JSON types.

use serde_json::Value;

/// A fixture from `tests/fixtures/genesys`.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/genesys/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    if let Value::Object(map) = &mut value {
        map.remove("_source");
    }
    value
}

/// Checks that every key of `actual` exists in `fixture` with the same JSON type,
/// recursively (array elements against the fixture's first element; a fixture `null`
/// accepts any type; a fixture object whose only key is `<placeholder>` is a map whose
/// values follow that entry). Returns the mismatches.
pub fn mismatches(actual: &Value, fixture: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(actual, fixture, "", &mut out);
    out
}

fn walk(actual: &Value, fixture: &Value, path: &str, out: &mut Vec<String>) {
    match (actual, fixture) {
        (_, Value::Null) => {}
        (Value::Object(a), Value::Object(f)) => {
            let placeholder = (f.len() == 1)
                .then(|| f.iter().next())
                .flatten()
                .filter(|(k, _)| k.starts_with('<') && k.ends_with('>'));
            for (key, value) in a {
                let expected = match placeholder {
                    Some((_, v)) => Some(v),
                    None => f.get(key),
                };
                match expected {
                    Some(expected) => walk(value, expected, &format!("{path}/{key}"), out),
                    None => out.push(format!("{path}/{key}: not in the fixture")),
                }
            }
        }
        (Value::Array(a), Value::Array(f)) => {
            if let Some(first) = f.first() {
                for (i, item) in a.iter().enumerate() {
                    walk(item, first, &format!("{path}/{i}"), out);
                }
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        (a, f) => out.push(format!(
            "{path}: {} where the fixture has {}",
            kind(a),
            kind(f)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Asserts `actual` conforms to the fixture and has each essential JSON pointer.
pub fn assert_conforms(actual: &Value, fixture_name: &str, essential: &[&str]) {
    let fixture = fixture(fixture_name);
    let problems = mismatches(actual, &fixture);
    assert!(
        problems.is_empty(),
        "{fixture_name}: {problems:#?}\nactual: {actual:#}"
    );
    for pointer in essential {
        assert!(
            fixture.pointer(pointer).is_some(),
            "{fixture_name}: the fixture lacks essential key {pointer}"
        );
        assert!(
            actual.pointer(pointer).is_some_and(|v| !v.is_null()),
            "{fixture_name}: essential key {pointer} missing in {actual:#}"
        );
    }
}
