//! The dashboard at `/`: a static page embedded in the binary (no build step, no external
//! network) that reads everything over the public API with the viewer's key, like any other
//! subscriber. The files live in `assets/dashboard/`.
//!
//! State: none.

use actix_web::{HttpResponse, http::header, web};

/// One embedded file: its name under `/dashboard/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_str!("../../assets/dashboard/index.html"),
};

const ASSETS: [Asset; 3] = [
    Asset {
        name: "dashboard.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/dashboard/dashboard.js"),
    },
    Asset {
        name: "stream.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/dashboard/stream.js"),
    },
    Asset {
        name: "dashboard.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../assets/dashboard/dashboard.css"),
    },
];

/// Same-origin only: the page talks to this server and nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; \
     img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").get(index))
        .service(web::resource("/dashboard/{file}").get(asset));
}

async fn index() -> HttpResponse {
    serve(&INDEX)
}

async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|asset| asset.name == file.as_str()) {
        Some(asset) => serve(asset),
        None => HttpResponse::NotFound().json(serde_json::json!({
            "error": format!("no dashboard file {:?}", file.as_str())
        })),
    }
}

fn serve(asset: &Asset) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(asset.content_type)
        // Small files, and a new binary may bring new ones: revalidate every time.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(asset.body)
}
