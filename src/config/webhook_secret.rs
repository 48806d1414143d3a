//! Webhook signing secrets in the Standard Webhooks form: `whsec_` + base64 of 24–64 random
//! bytes, several separated by spaces during a key rotation. They are checked here only; the
//! webhook actor signs with the decoded keys.

use std::ops::RangeInclusive;

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use secrecy::{ExposeSecret, SecretSlice};

/// How secrets are written.
pub const SECRET_PREFIX: &str = "whsec_";
/// The spec's bounds on the secret's length, in bytes.
const SECRET_BYTES: RangeInclusive<usize> = 24..=64;
/// Secrets are accepted with or without base64 padding, as the reference libraries do.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a secret is refused; never includes the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("no secret given")]
    Empty,
    #[error("a secret is not valid base64 after the whsec_ prefix")]
    Base64,
    #[error("a secret decodes to {0} bytes; Standard Webhooks secrets are 24 to 64 bytes")]
    Length(usize),
}

/// One endpoint's secrets, decoded (newest first, as written). Its `Debug` shows how many,
/// never what.
#[derive(Clone)]
pub struct WebhookSecrets {
    keys: Vec<SecretSlice<u8>>,
}

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets({} secret(s))", self.keys.len())
    }
}

impl WebhookSecrets {
    /// Parses one or more secrets separated by spaces or commas (`whsec_new whsec_old`), each
    /// with or without the `whsec_` prefix and padding.
    pub fn parse(secrets: &str) -> Result<Self, SecretError> {
        let keys = secrets
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(parse_key)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self { keys })
    }

    /// The decoded key bytes, one per secret.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().map(|k| k.expose_secret())
    }
}

fn parse_key(secret: &str) -> Result<SecretSlice<u8>, SecretError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let bytes = LENIENT_BASE64
        .decode(encoded)
        .map_err(|_| SecretError::Base64)?;
    let len = bytes.len();
    // Into the secret box first, so the bytes are wiped on every path.
    let key = SecretSlice::from(bytes);
    if !SECRET_BYTES.contains(&len) {
        return Err(SecretError::Length(len));
    }
    Ok(key)
}

/// Whether a value written where a variable name belongs is a secret: it carries the `whsec_`
/// prefix, or it parses as one.
pub fn looks_like_a_secret(value: &str) -> bool {
    let value = value.trim();
    value
        .get(..SECRET_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(SECRET_PREFIX))
        || WebhookSecrets::parse(value).is_ok()
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn secrets_parse_with_or_without_prefix_and_padding_and_bad_ones_say_why() {
        let padded = format!("{SECRET_PREFIX}{}", STANDARD.encode([7u8; 25]));
        assert!(padded.ends_with('='));
        for form in [
            padded.as_str(),
            padded.trim_end_matches('='),
            &padded[SECRET_PREFIX.len()..],
        ] {
            let keys: Vec<Vec<u8>> = WebhookSecrets::parse(form)
                .unwrap()
                .keys()
                .map(<[u8]>::to_vec)
                .collect();
            assert_eq!(keys, [vec![7u8; 25]]);
        }
        assert_eq!(WebhookSecrets::parse("  ").unwrap_err(), SecretError::Empty);
        assert_eq!(
            WebhookSecrets::parse("whsec_not*base64").unwrap_err(),
            SecretError::Base64
        );
        let short = format!("{SECRET_PREFIX}{}", STANDARD.encode([1u8; 8]));
        assert_eq!(
            WebhookSecrets::parse(&short).unwrap_err(),
            SecretError::Length(8)
        );
        let two = WebhookSecrets::parse(&format!("{padded} {padded}")).unwrap();
        assert_eq!(format!("{two:?}"), "WebhookSecrets(2 secret(s))");
    }

    #[test]
    fn a_secret_is_told_from_a_variable_name() {
        let bare = STANDARD.encode([3u8; 32]);
        for secret in [
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "WHSEC_anything",
            "whsec_short",
            bare.as_str(),
        ] {
            assert!(looks_like_a_secret(secret), "{secret}");
        }
        for name in ["CRM_WEBHOOK_SECRET", "WEBHOOK_SECRET", "hook_secret_2"] {
            assert!(!looks_like_a_secret(name), "{name}");
        }
    }
}
