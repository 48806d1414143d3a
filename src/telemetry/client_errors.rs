//! actix-http logs every connection it ends with an error at ERROR ("stream error: …"), whatever
//! the cause, so a client that sends malformed HTTP or hangs up mid-request reads like a server
//! fault. [`ClientErrors`] takes those events out and logs them again at their cause's level:
//! WARN for a malformed request (actix-http answered it with 400 or 431 and closed the
//! connection: worth a look if it recurs, e.g. a proxy in front speaking something else), DEBUG
//! for a client that went away. Every other actix-http error keeps ERROR.
//!
//! The new event is logged from inside the subscriber's `event_enabled`, which works under the
//! global subscriber [`super::init`] installs (tracing hands a nested event under a scoped
//! `with_default` subscriber to no one).

use std::fmt::{self, Write as _};

use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::layer::{Context, Layer};

/// The module whose `error!("stream error: {}", err)` reports how a connection ended.
const DISPATCHER_TARGET: &str = "actix_http::h1::dispatcher";

/// Re-levels actix-http's client-caused connection errors; see the module doc.
pub struct ClientErrors;

/// Who ended a connection, as far as its error says.
#[derive(Debug, PartialEq, Eq)]
enum ClientCause {
    /// The request could not be parsed (`DispatchError::Parse`).
    Malformed,
    /// Reading from the client failed: it reset or closed the connection (`DispatchError::Io`).
    WentAway,
}

/// The client-caused part of a dispatcher message, or `None` if the cause is the server's.
fn client_cause(message: &str) -> Option<(ClientCause, &str)> {
    let cause = message.strip_prefix("stream error: ")?;
    if cause.starts_with("request parse error") {
        Some((ClientCause::Malformed, cause))
    } else if cause.starts_with("I/O error") {
        Some((ClientCause::WentAway, cause))
    } else {
        None
    }
}

impl<S: Subscriber> Layer<S> for ClientErrors {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if *metadata.level() != Level::ERROR || metadata.target() != DISPATCHER_TARGET {
            return true;
        }
        let mut message = Message::default();
        event.record(&mut message);
        match client_cause(&message.0) {
            None => true,
            Some((ClientCause::Malformed, cause)) => {
                tracing::warn!(
                    target: "agentcast::http",
                    error = cause,
                    "A client sent a malformed HTTP request; it was refused and its connection closed."
                );
                false
            }
            Some((ClientCause::WentAway, cause)) => {
                tracing::debug!(
                    target: "agentcast::http",
                    error = cause,
                    "A client connection ended in the middle of a request."
                );
                false
            }
        }
    }
}

/// The `message` field of an event, formatted.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parse_and_read_errors_are_the_clients() {
        assert_eq!(
            client_cause("stream error: request parse error: invalid Header provided"),
            Some((
                ClientCause::Malformed,
                "request parse error: invalid Header provided"
            ))
        );
        assert_eq!(
            client_cause("stream error: I/O error: Connection reset by peer (os error 104)")
                .map(|(cause, _)| cause),
            Some(ClientCause::WentAway)
        );
        for servers in [
            "stream error: internal error",
            "stream error: body error: boom",
            "Upgrade handler error: x",
            "write zero; closing",
        ] {
            assert_eq!(client_cause(servers), None, "{servers}");
        }
    }
}
