//! API keys for routes a test mounts in an app of its own (`actix_web::test`): one with
//! admin rights and one without, neither with a scope.

use agentcast::auth::{ApiKeys, Grant};

/// The key with admin rights in [`admin_and_viewer`].
pub const ADMIN_KEY: &str = "admin-key";
/// The key without admin rights in [`admin_and_viewer`].
pub const VIEWER_KEY: &str = "viewer-key";

/// [`ADMIN_KEY`] (named `ops`, admin) and [`VIEWER_KEY`] (named `wall`, not admin).
pub fn admin_and_viewer() -> ApiKeys {
    let mut keys = ApiKeys::default();
    keys.insert(
        ADMIN_KEY,
        Grant {
            name: "ops".into(),
            scopes: vec![],
            admin: true,
        },
    );
    keys.insert(
        VIEWER_KEY,
        Grant {
            name: "wall".into(),
            scopes: vec![],
            admin: false,
        },
    );
    keys
}
