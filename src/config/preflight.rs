//! The pre-flight checks: what only the running system can tell about valid settings. The
//! OAuth credentials and every webhook secret are in the environment and well-formed, the
//! listen address can be bound here, and the outbox and the audit trail can be opened (two
//! different files). `agentcast check-config` and `agentcast run` both call
//! [`Settings::preflight`] before anything starts, so they agree on every problem and report
//! it in the same words.

use std::{io, net::TcpListener, path::Path};

use super::{BindError, ConfigError, Credentials, Problem, Problems, Settings, store_path};

/// What the pre-flight checks found usable.
#[derive(Debug)]
pub struct Preflight {
    pub credentials: Credentials,
    pub listener: Listener,
}

/// The listen address, bound, or held by another process (a failure at run time, which
/// `check-config` only notes: the service it checks may be the one holding it).
#[derive(Debug)]
pub enum Listener {
    Bound(TcpListener),
    InUse(io::Error),
}

impl Settings {
    /// Runs every pre-flight check (see the module docs), reading the environment with `var`,
    /// and reports every problem at once.
    pub fn preflight(
        &self,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Preflight, ConfigError> {
        let mut problems = Problems::new();
        let credentials = Credentials::read(var)
            .map_err(|missing| problems.extend(missing))
            .ok();
        for (i, hook) in self.webhooks.iter().enumerate() {
            if let Err(found) = hook.resolve(i, &self.webhook, var) {
                problems.extend(found);
            }
        }
        let listener = match self.http.bind() {
            Ok(listener) => Some(Listener::Bound(listener)),
            Err(BindError::InUse(err)) => Some(Listener::InUse(err)),
            Err(BindError::Unusable(problem)) => {
                problems.push(problem);
                None
            }
        };
        let outbox = Path::new(&self.webhook.outbox_path);
        let audit = Path::new(&self.audit.path);
        store_path::check("webhook.outbox_path", outbox, &mut problems);
        store_path::check("audit.path", audit, &mut problems);
        if store_path::identity(outbox) == store_path::identity(audit) {
            problems.push(Problem::new(
                "webhook.outbox_path",
                format!(
                    "{} is also audit.path; the webhook outbox and the audit trail need a file each",
                    outbox.display()
                ),
            ));
        }
        match (credentials, listener) {
            (Some(credentials), Some(listener)) if problems.is_empty() => Ok(Preflight {
                credentials,
                listener,
            }),
            _ => Err(ConfigError::Invalid(problems.into_vec())),
        }
    }
}
