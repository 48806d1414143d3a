//! Typed Platform API calls, one file per API area. Each is a method on
//! [`GenesysClient`](super::GenesysClient) and goes through its token, budget and retries.

mod notifications;
mod presence;
mod routing;
mod users;
mod wfm;

pub use notifications::{ChannelSubscription, IncludeChannels};
pub use users::UserExpand;
pub use wfm::SCHEDULE_SEARCH_MAX_POLLS;

use serde::de::DeserializeOwned;

use super::{GenesysClient, GenesysError, models::PagedListing};

impl GenesysClient {
    /// Every page of a paged listing, page after page until `pageCount` (or, without it,
    /// until there is no `nextUri` or a page comes back empty). `path` builds a page's
    /// path and query from its number.
    pub(crate) async fn all_pages<T: DeserializeOwned>(
        &self,
        route: &'static str,
        path: impl Fn(u32) -> String,
    ) -> Result<Vec<T>, GenesysError> {
        let mut all = Vec::new();
        let mut page_number = 1;
        loop {
            let page: PagedListing<T> = self.get_json(route, &path(page_number)).await?;
            let fetched = page.entities.len();
            all.extend(page.entities);
            let last = match page.page_count {
                Some(count) => page_number >= count,
                None => page.next_uri.is_none(),
            };
            if last || fetched == 0 {
                return Ok(all);
            }
            page_number += 1;
        }
    }
}

/// `?a=1&b=2`, percent-encoded; empty when there are no pairs.
fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (key, value) in pairs {
        serializer.append_pair(key, value);
        any = true;
    }
    if any {
        format!("?{}", serializer.finish())
    } else {
        String::new()
    }
}

/// A path segment, percent-encoded (ids come from upstream data).
fn segment(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}
