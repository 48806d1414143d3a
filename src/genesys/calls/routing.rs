//! Utilization (capacity) limits, per agent and org-wide.

use super::segment;
use crate::genesys::{GenesysClient, GenesysError, models::UtilizationResponse};

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
}
