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
