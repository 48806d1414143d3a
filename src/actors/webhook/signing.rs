//! Standard Webhooks signatures (v1, symmetric).
//!
//! A delivery carries `webhook-id` (the event id, the same on every retry),
//! `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature`: `v1,` + base64 of
//! HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the endpoint secret (`whsec_` +
//! base64 of 24–64 random bytes). During a key rotation an endpoint has several secrets and the
//! header lists one signature per secret, space-separated; a receiver holding either accepts.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::WebhookSecrets;
pub use crate::config::{SECRET_PREFIX, SecretError};

/// The event id, stable across retries.
pub const HEADER_ID: &str = "webhook-id";
/// Unix seconds of the attempt.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// `v1,<base64>` per secret, space-separated.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

type HmacSha256 = Hmac<Sha256>;

/// One endpoint's secrets, ready to sign. Its `Debug` shows how many, never what.
#[derive(Clone)]
pub struct Signer {
    /// One keyed HMAC state per secret, cloned for each signature (no re-keying per event).
    keys: Vec<HmacSha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} secret(s))", self.keys.len())
    }
}

impl Signer {
    /// Parses one or more secrets separated by spaces or commas (`whsec_new whsec_old`); the
    /// checks are the configuration's ([`WebhookSecrets::parse`]).
    pub fn parse(secrets: &str) -> Result<Self, SecretError> {
        WebhookSecrets::parse(secrets).map(|secrets| Self::new(&secrets))
    }

    /// Keys one HMAC state per secret.
    pub fn new(secrets: &WebhookSecrets) -> Self {
        Self {
            keys: secrets
                .keys()
                // expect: HMAC takes keys of any length.
                .map(|key| HmacSha256::new_from_slice(key).expect("HMAC accepts any key length"))
                .collect(),
        }
    }

    /// The `webhook-signature` value for one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut header = String::with_capacity(self.keys.len() * 48);
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                header.push(' ');
            }
            header.push_str("v1,");
            STANDARD.encode_string(mac(key, id, timestamp, body), &mut header);
        }
        header
    }

    /// Whether any `v1` signature in `header` was made by one of these secrets, compared in
    /// constant time (what a receiver does; the test receivers use it).
    pub fn verify(&self, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        header
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
            .any(|sig| {
                self.keys.iter().any(|key| {
                    let mut mac = key.clone();
                    feed(&mut mac, id, timestamp, body);
                    mac.verify_slice(&sig).is_ok()
                })
            })
    }
}

fn feed(mac: &mut HmacSha256, id: &str, timestamp: i64, body: &[u8]) {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
}

fn mac(key: &HmacSha256, id: &str, timestamp: i64, body: &[u8]) -> impl AsRef<[u8]> {
    let mut mac = key.clone();
    feed(&mut mac, id, timestamp, body);
    mac.finalize().into_bytes()
}

/// A new random secret in the `whsec_` form (32 bytes, as Outpost uses).
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vector A (webhook reference §1.3: the spec's Python tests, the Go/JS/PHP libraries, Svix).
    const A: (&str, &str, i64, &str, &str) = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        r#"{"test": 2432232314}"#,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
    /// Vector B (webhook reference §1.3: the Rust library's test).
    const B: (&str, &str, i64, &str, &str) = (
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1649367553,
        r#"{"email":"test@example.com","username":"test_user"}"#,
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    );

    #[test]
    fn the_specs_test_vectors_pass() {
        for (secret, id, ts, body, expected) in [A, B] {
            let signer = Signer::parse(secret).unwrap();
            assert_eq!(signer.sign(id, ts, body.as_bytes()), expected);
            assert!(signer.verify(id, ts, body.as_bytes(), expected));
            assert!(!signer.verify(id, ts + 1, body.as_bytes(), expected));
        }
    }

    #[test]
    fn secrets_are_read_with_or_without_prefix_and_padding() {
        let (secret, id, ts, body, expected) = A;
        let bare = secret.strip_prefix(SECRET_PREFIX).unwrap();
        // 24 bytes encode to 32 characters without padding; make a padded variant from B-like
        // 25 bytes to check both padding modes.
        for form in [secret, bare] {
            assert_eq!(
                Signer::parse(form).unwrap().sign(id, ts, body.as_bytes()),
                expected
            );
        }
        let padded = format!("{SECRET_PREFIX}{}", STANDARD.encode([7u8; 25]));
        assert!(padded.ends_with('='));
        let unpadded = padded.trim_end_matches('=');
        let a = Signer::parse(&padded).unwrap().sign(id, ts, b"x");
        let b = Signer::parse(unpadded).unwrap().sign(id, ts, b"x");
        assert_eq!(a, b);
    }

    #[test]
    fn bad_secrets_are_refused_with_a_reason() {
        assert_eq!(Signer::parse("  ").unwrap_err(), SecretError::Empty);
        assert_eq!(
            Signer::parse("whsec_not*base64").unwrap_err(),
            SecretError::Base64
        );
        let short = format!("{SECRET_PREFIX}{}", STANDARD.encode([1u8; 8]));
        assert_eq!(Signer::parse(&short).unwrap_err(), SecretError::Length(8));
        assert_eq!(
            format!("{:?}", Signer::parse(A.0).unwrap()),
            "Signer(1 secret(s))"
        );
    }

    #[test]
    fn during_a_rotation_a_verifier_holding_either_secret_accepts() {
        let (old, new) = (A.0, generate_secret());
        let signer = Signer::parse(&format!("{new} {old}")).unwrap();
        let (id, ts) = ("evt_01JDROTATION", chrono::Utc::now().timestamp());
        let body = br#"{"type":"agent.state"}"#;
        let header = signer.sign(id, ts, body);
        assert_eq!(header.split(' ').count(), 2, "{header}");

        let mut headers = http::HeaderMap::new();
        headers.insert(HEADER_ID, id.parse().unwrap());
        headers.insert(HEADER_TIMESTAMP, ts.to_string().parse().unwrap());
        headers.insert(HEADER_SIGNATURE, header.parse().unwrap());
        for secret in [old, new.as_str()] {
            // The independent verifier (the standardwebhooks crate) holding one secret.
            standardwebhooks::Webhook::new(secret)
                .unwrap()
                .verify(body, &headers)
                .unwrap_or_else(|e| panic!("{secret}: {e}"));
            assert!(Signer::parse(secret).unwrap().verify(id, ts, body, &header));
        }
        let stranger = standardwebhooks::Webhook::new(&generate_secret()).unwrap();
        assert!(stranger.verify(body, &headers).is_err());
    }

    #[test]
    fn signatures_agree_with_the_independent_implementation() {
        let secret = generate_secret();
        let ours = Signer::parse(&secret)
            .unwrap()
            .sign("evt_1", 1_700_000_000, b"{}");
        let theirs = standardwebhooks::Webhook::new(&secret)
            .unwrap()
            .sign("evt_1", 1_700_000_000, b"{}")
            .unwrap();
        assert_eq!(ours, theirs);
    }
}
