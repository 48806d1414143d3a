//! agentcast's HTTP surface. Each module exposes `routes(cfg)` and reads its state from
//! `web::Data<…>` registered by the app wiring, so a test can mount one module alone.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod ops;
pub mod stats;
pub mod subscribe;
pub mod webhooks;
