//! agentcast's HTTP surface. Each module exposes `routes(cfg)` and reads its state from
//! `web::Data<…>` registered by the app wiring, so a test can mount one module alone;
//! [`routes`] mounts them all with the shared error handling of [`errors`] (every error is
//! JSON; wrap the app in [`errors::json_error_bodies`] too).

pub mod agents;
pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod errors;
pub mod ops;
mod paging;
pub mod stats;
pub mod subscribe;
pub mod webhooks;

use actix_web::web;

/// Every route of the service, with JSON answers for unparsable requests and unknown paths.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(errors::configure)
        .configure(ops::routes)
        .configure(stats::routes)
        .configure(agents::routes)
        .configure(subscribe::routes)
        .configure(webhooks::routes)
        .configure(audit::routes)
        .configure(dashboard::routes);
}
