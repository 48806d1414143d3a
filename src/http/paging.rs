//! `limit=` on the list endpoints (`/v1/audit`, a webhook's dead letters): a whole number from
//! 1 up; absent means the endpoint's default, more than its maximum gets the maximum (and a
//! next page). `0`, a negative number or anything else is refused with 400: a client asking
//! for nothing has made a mistake worth telling it about.

/// The `limit` to use, or the one-line reason `raw` is refused.
pub fn limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, String> {
    let Some(raw) = raw else {
        return Ok(default.min(max));
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n.min(max)),
        _ => Err(format!(
            "limit={raw:?}: expected a whole number from 1 to {max}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::limit;

    #[test]
    fn a_limit_is_a_whole_number_from_one_capped_at_the_maximum() {
        assert_eq!(limit(None, 100, 1000), Ok(100));
        assert_eq!(limit(Some("1"), 100, 1000), Ok(1));
        assert_eq!(limit(Some("1000"), 100, 1000), Ok(1000));
        assert_eq!(limit(Some("5000"), 100, 1000), Ok(1000));
        for refused in ["0", "-1", "", "ten", "1.5"] {
            let err = limit(Some(refused), 100, 1000).unwrap_err();
            assert!(
                err.contains(&format!("{refused:?}")) && err.contains("1 to 1000"),
                "{err}"
            );
        }
    }
}
