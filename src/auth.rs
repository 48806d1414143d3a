//! API keys: who may subscribe, to which scopes, and who may use the admin API.
//!
//! Keys are configured by SHA-256 hash. A presented key is hashed and looked up; the key itself
//! is never stored, logged or audited, only its holder's name. What a key may do ([`Grant`])
//! is what the HTTP routes, the hub's filters and the sessions check; reading the key from a
//! request and answering a refusal are HTTP's, in `crate::http::auth`.

use std::{collections::HashMap, sync::Arc};

use sha2::{Digest, Sha256};

use crate::{config::ApiKeySettings, event::Scope};

/// What a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The key holder's name from the configuration.
    pub name: String,
    /// Scopes the key may receive.
    pub scopes: Vec<Scope>,
    /// Whether the key may use the admin API.
    pub admin: bool,
}

impl Grant {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The configured keys, by hash. Checking an HTTP request against them (`authenticate`,
/// `authenticate_admin`) is in `crate::http::auth`.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    by_hash: HashMap<[u8; 32], Arc<Grant>>,
}

impl ApiKeys {
    /// From validated settings (entries with an unparsable hash are skipped; validation
    /// reports them).
    pub fn from_settings(keys: &[ApiKeySettings]) -> Self {
        let by_hash = keys
            .iter()
            .filter_map(|key| {
                let hash: [u8; 32] = hex::decode(key.sha256.trim()).ok()?.try_into().ok()?;
                let scopes = if key.scopes.iter().any(|s| s == "*") {
                    Scope::ALL.to_vec()
                } else {
                    key.scopes.iter().filter_map(|s| Scope::parse(s)).collect()
                };
                Some((
                    hash,
                    Arc::new(Grant {
                        name: key.name.clone(),
                        scopes,
                        admin: key.admin,
                    }),
                ))
            })
            .collect();
        Self { by_hash }
    }

    /// Adds a key given in clear (the demo's generated viewer key).
    pub fn insert(&mut self, key: &str, grant: Grant) {
        self.by_hash.insert(hash_key(key), Arc::new(grant));
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The grant of a presented key.
    pub fn lookup(&self, presented: &str) -> Option<Arc<Grant>> {
        self.by_hash.get(&hash_key(presented)).cloned()
    }
}

/// A new random key (for the demo's viewer): 32 characters from [A-Za-z0-9], about 190 bits.
pub fn generate_key() -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// SHA-256 of a key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Lower-case hex SHA-256 of a key, as configured in `api_keys[].sha256`.
pub fn hash_key_hex(key: &str) -> String {
    hex::encode(hash_key(key))
}
