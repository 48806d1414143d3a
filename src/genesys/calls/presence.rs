//! Presence definitions: the current endpoint and the deprecated, paged one.

use super::query;
use crate::genesys::{
    GenesysClient, GenesysError,
    models::{
        LegacyPresenceListing, OrganizationPresence, PresenceDefinition, PresenceDefinitionListing,
    },
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
        let mut all = Vec::new();
        let mut page_number = 1u32;
        loop {
            let (size, number) = (LEGACY_PAGE_SIZE.to_string(), page_number.to_string());
            let page: LegacyPresenceListing = self
                .get_json(
                    "GET /api/v2/presencedefinitions",
                    &format!(
                        "/api/v2/presencedefinitions{}",
                        query([
                            ("pageNumber", number.as_str()),
                            ("pageSize", size.as_str()),
                            ("deleted", "false")
                        ])
                    ),
                )
                .await?;
            let fetched = page.entities.len();
            all.extend(page.entities);
            let last = page
                .page_count
                .map_or(page.next_uri.is_none(), |count| page_number >= count);
            if last || fetched == 0 {
                return Ok(all);
            }
            page_number += 1;
        }
    }
}
