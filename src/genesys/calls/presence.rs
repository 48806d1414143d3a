//! Presence definitions: the current endpoint and the deprecated, paged one.

use super::query;
use crate::genesys::{
    GenesysClient, GenesysError,
    models::{OrganizationPresence, PresenceDefinition, PresenceDefinitionListing},
};

/// Page size for the deprecated endpoint (the official tutorial uses 100).
const LEGACY_PAGE_SIZE: u32 = 100;

impl GenesysClient {
    /// Active presence definitions (`GET /api/v2/presence/definitions`, not paged).
    pub async fn presence_definitions(&self) -> Result<Vec<PresenceDefinition>, GenesysError> {
        let listing: PresenceDefinitionListing = self
            .get_json(
                "GET /api/v2/presence/definitions",
                &format!(
                    "/api/v2/presence/definitions{}",
                    query([("deactivated", "false")])
                ),
            )
            .await?;
        Ok(listing.entities)
    }

    /// Every page of the deprecated `GET /api/v2/presencedefinitions`.
    pub async fn legacy_presence_definitions(
        &self,
    ) -> Result<Vec<OrganizationPresence>, GenesysError> {
        let size = LEGACY_PAGE_SIZE.to_string();
        self.all_pages("GET /api/v2/presencedefinitions", |page_number| {
            let number = page_number.to_string();
            format!(
                "/api/v2/presencedefinitions{}",
                query([
                    ("pageNumber", number.as_str()),
                    ("pageSize", size.as_str()),
                    ("deleted", "false")
                ])
            )
        })
        .await
    }
}
