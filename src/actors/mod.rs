//! The actors of the pipeline, one per file or folder:
//! stream (upstream channels) → validator (pool) → hub → sessions, webhook, audit.

pub mod ingest_metrics;
pub mod stream;
pub mod validator;
