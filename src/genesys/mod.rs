//! The Genesys Cloud client: OAuth client credentials, REST on a shared budget, the
//! Notifications API, and the wire models. No actors live here; the stream actor drives it.

pub mod models;
pub mod regions;
pub mod topics;
