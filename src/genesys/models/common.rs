//! Shapes shared by every endpoint: entity references, the `ErrorBody` of failed calls, and
//! the OAuth token answers.

use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// `{"id": "...", "selfUri": "..."}`, the reference Genesys uses for users, units, schedules.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRef {
    pub id: String,
    pub self_uri: Option<String>,
}

impl EntityRef {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            self_uri: None,
        }
    }
}

/// The body of every failed Platform API call (`ErrorBody` in the SDKs).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub message: Option<String>,
    pub code: Option<String>,
    pub status: Option<u16>,
    pub entity_id: Option<String>,
    pub entity_name: Option<String>,
    pub message_with_params: Option<String>,
    pub message_params: Option<serde_json::Map<String, serde_json::Value>>,
    pub context_id: Option<String>,
    pub details: Option<Vec<ErrorDetail>>,
    pub errors: Option<Vec<ErrorBody>>,
    pub limit: Option<serde_json::Value>,
}

impl ErrorBody {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status: Some(status),
            code: Some(code.to_owned()),
            message: Some(message.into()),
            ..Self::default()
        }
    }
}

#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub error_code: Option<String>,
    pub field_name: Option<String>,
    pub entity_id: Option<String>,
    pub entity_name: Option<String>,
}

/// `POST /oauth/token` success (`AuthResponse` in the Go SDK).
#[skip_serializing_none]
#[derive(Clone, Serialize, Deserialize)]
pub struct AuthResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// `POST /oauth/token` failure (`AuthErrorResponse` in the Go SDK).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthErrorResponse {
    pub error: Option<String>,
    pub description: Option<String>,
    pub error_description: Option<String>,
}
