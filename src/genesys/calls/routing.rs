//! Routing: utilization (capacity) limits, per agent and org-wide; queues and members.

use super::{query, segment};
use crate::genesys::{
    GenesysClient, GenesysError,
    models::{Queue, QueueMember, UtilizationResponse},
};

/// Page size for queue and member listings.
const QUEUE_PAGE_SIZE: &str = "100";

impl GenesysClient {
    /// The org-wide default (`GET /api/v2/routing/utilization`).
    pub async fn org_utilization(&self) -> Result<UtilizationResponse, GenesysError> {
        self.get_json(
            "GET /api/v2/routing/utilization",
            "/api/v2/routing/utilization",
        )
        .await
    }

    /// One agent's limits; the org default when the agent has none (`level` tells which).
    pub async fn user_utilization(
        &self,
        user_id: &str,
    ) -> Result<UtilizationResponse, GenesysError> {
        self.get_json(
            "GET /api/v2/routing/users/{userId}/utilization",
            &format!("/api/v2/routing/users/{}/utilization", segment(user_id)),
        )
        .await
    }

    /// Every queue (`GET /api/v2/routing/queues`, all pages).
    pub async fn queues(&self) -> Result<Vec<Queue>, GenesysError> {
        self.all_pages("GET /api/v2/routing/queues", |page_number| {
            let number = page_number.to_string();
            format!(
                "/api/v2/routing/queues{}",
                query([
                    ("pageSize", QUEUE_PAGE_SIZE),
                    ("pageNumber", number.as_str())
                ])
            )
        })
        .await
    }

    /// The members of a queue who are joined (active) in it
    /// (`GET /api/v2/routing/queues/{queueId}/members?joined=true`, all pages).
    pub async fn joined_queue_members(
        &self,
        queue_id: &str,
    ) -> Result<Vec<QueueMember>, GenesysError> {
        let queue = segment(queue_id);
        self.all_pages(
            "GET /api/v2/routing/queues/{queueId}/members",
            |page_number| {
                let number = page_number.to_string();
                format!(
                    "/api/v2/routing/queues/{queue}/members{}",
                    query([
                        ("pageSize", QUEUE_PAGE_SIZE),
                        ("pageNumber", number.as_str()),
                        ("joined", "true")
                    ])
                )
            },
        )
        .await
    }
}
