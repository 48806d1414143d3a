//! Users: the roster (all pages), one user, routing status and presences.

use super::{query, segment};
use crate::genesys::{
    GenesysClient, GenesysError,
    models::{RoutingStatus, User, UserListing, UserPresence},
};

/// Largest id list the bulk presence endpoint takes.
pub const BULK_PRESENCE_MAX_IDS: usize = 50;

/// What `expand=` adds to each user ("best effort" on the real service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserExpand {
    Presence,
    RoutingStatus,
    ConversationSummary,
}

impl UserExpand {
    fn as_str(self) -> &'static str {
        match self {
            Self::Presence => "presence",
            Self::RoutingStatus => "routingStatus",
            Self::ConversationSummary => "conversationSummary",
        }
    }

    fn join(expand: &[UserExpand]) -> String {
        expand
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl GenesysClient {
    /// One page of active users (`GET /api/v2/users`).
    pub async fn users_page(
        &self,
        page_number: u32,
        page_size: u32,
        expand: &[UserExpand],
    ) -> Result<UserListing, GenesysError> {
        let (size, number, expand) = (
            page_size.to_string(),
            page_number.to_string(),
            UserExpand::join(expand),
        );
        let mut pairs = vec![
            ("pageSize", size.as_str()),
            ("pageNumber", number.as_str()),
            ("state", "active"),
        ];
        if !expand.is_empty() {
            pairs.push(("expand", expand.as_str()));
        }
        self.get_json(
            "GET /api/v2/users",
            &format!("/api/v2/users{}", query(pairs)),
        )
        .await
    }

    /// Every active user, page after page.
    pub async fn all_users(&self, expand: &[UserExpand]) -> Result<Vec<User>, GenesysError> {
        let (size, expand) = (
            self.config().users_page_size.to_string(),
            UserExpand::join(expand),
        );
        self.all_pages("GET /api/v2/users", |page_number| {
            let number = page_number.to_string();
            let mut pairs = vec![
                ("pageSize", size.as_str()),
                ("pageNumber", number.as_str()),
                ("state", "active"),
            ];
            if !expand.is_empty() {
                pairs.push(("expand", expand.as_str()));
            }
            format!("/api/v2/users{}", query(pairs))
        })
        .await
    }

    /// One user (`GET /api/v2/users/{userId}`).
    pub async fn user(&self, user_id: &str, expand: &[UserExpand]) -> Result<User, GenesysError> {
        let expand = UserExpand::join(expand);
        let q = if expand.is_empty() {
            String::new()
        } else {
            query([("expand", expand.as_str())])
        };
        self.get_json(
            "GET /api/v2/users/{userId}",
            &format!("/api/v2/users/{}{q}", segment(user_id)),
        )
        .await
    }

    /// `GET /api/v2/users/{userId}/routingstatus` (`OFF_QUEUE` for an unknown user).
    pub async fn routing_status(&self, user_id: &str) -> Result<RoutingStatus, GenesysError> {
        self.get_json(
            "GET /api/v2/users/{userId}/routingstatus",
            &format!("/api/v2/users/{}/routingstatus", segment(user_id)),
        )
        .await
    }

    /// `GET /api/v2/users/{userId}/presences/purecloud`.
    pub async fn user_presence(&self, user_id: &str) -> Result<UserPresence, GenesysError> {
        self.get_json(
            "GET /api/v2/users/{userId}/presences/purecloud",
            &format!("/api/v2/users/{}/presences/purecloud", segment(user_id)),
        )
        .await
    }

    /// Presences of many users, 50 ids per request (`GET /api/v2/users/presences/purecloud/bulk`).
    pub async fn presences_bulk(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<UserPresence>, GenesysError> {
        let mut presences = Vec::with_capacity(user_ids.len());
        for chunk in user_ids.chunks(BULK_PRESENCE_MAX_IDS) {
            let ids = chunk.join(",");
            let page: Vec<UserPresence> = self
                .get_json(
                    "GET /api/v2/users/presences/purecloud/bulk",
                    &format!(
                        "/api/v2/users/presences/purecloud/bulk{}",
                        query([("id", ids.as_str())])
                    ),
                )
                .await?;
            presences.extend(page);
        }
        Ok(presences)
    }
}
