//! `/docs`: an interactive API reference (Swagger UI) over `/openapi.json` (docs/API.md §10).
//!
//! The Swagger UI files are compiled into the binary from the `utoipa-swagger-ui-vendored`
//! crate, so the page needs no third-party host, at build time or at run time. The page and
//! its assets carry a content security policy of their own that allows exactly what the
//! page does (its own scripts and styles, the inline styles and `data:` icons Swagger UI
//! uses, and requests to this server); every other answer keeps the default policy.
//! `DOCS_ENABLED=false` leaves the routes out, so `/docs` is `404`.

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_SECURITY_POLICY;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::app::AppState;

/// Where the page lives.
pub const PATH: &str = "/docs";

/// The policy of the page and its assets.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The page's routes (`/docs`, `/docs/`, `/docs/*`).
pub fn routes() -> Router<AppState> {
    let ui = SwaggerUi::new(PATH).config(
        Config::new(["/openapi.json"])
            .try_it_out_enabled(true)
            .display_request_duration(true),
    );
    Router::from(ui).layer(SetResponseHeaderLayer::overriding(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    ))
}
