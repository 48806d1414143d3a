//! `[http]`: the address of agentcast's own HTTP server, and binding it.

use std::{io, net::SocketAddr, net::TcpListener};

use serde::{Deserialize, Serialize};

use super::{Problem, Problems};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: String,
}

/// Why `http.listen` could not be bound.
#[derive(Debug)]
pub enum BindError {
    /// Another process holds the port: a failure at run time, not a configuration problem.
    InUse(io::Error),
    /// The address cannot be had on this host (not one of its addresses, a port it may not
    /// use): the configuration is unusable here.
    Unusable(Problem),
}

impl HttpSettings {
    pub(super) fn validate(&self, p: &mut Problems) {
        p.check(
            self.listen.parse::<SocketAddr>().is_ok(),
            "http.listen",
            format!("{:?} is not an address such as 127.0.0.1:8080", self.listen),
        );
    }

    /// Binds the listener (`agentcast run`; `check-config` binds and lets go).
    pub fn bind(&self) -> Result<TcpListener, BindError> {
        TcpListener::bind(&self.listen).map_err(|err| match err.kind() {
            io::ErrorKind::AddrInUse => BindError::InUse(err),
            _ => BindError::Unusable(Problem::new(
                "http.listen",
                format!("cannot listen on {}: {err}", self.listen),
            )),
        })
    }
}
