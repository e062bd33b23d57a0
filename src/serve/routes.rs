//! The routes, the token check and the headers every answer carries.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use futures::Stream;
use subtle::ConstantTimeEq;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use super::assets;
use super::snapshot::{Latest, Snapshot};
use crate::metrics::Metrics;
use crate::shutdown::StopFlag;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The latest answers.
    pub latest: Latest,
    /// The process's metrics.
    pub metrics: Metrics,
    /// The token requests must carry, if any.
    pub token: Option<Arc<str>>,
    /// The refresh interval (the page's polling fallback uses it).
    pub interval: Duration,
    /// Ends the event streams when the server stops.
    pub stop: StopFlag,
}

/// The cookie a browser keeps the token in after opening `/?token=…` once.
const COOKIE: &str = "lakectl_token";

/// The policy: nothing but this server's own script, style sheet and requests; no frames,
/// no forms, no plugins.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The router with its layers.
pub fn router(state: AppState) -> Router {
    let headers = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    let timed = Router::new()
        .route("/", get(index))
        .route("/panels", get(panels))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", assets::APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", crate::dashboard::html::CSS) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset("image/svg+xml", assets::ICON) }),
        )
        .route("/api/dashboard", get(api_dashboard))
        .route("/api/status", get(api_status))
        .route("/api/jobs", get(api_jobs))
        .route("/metrics", get(metrics))
        .route(
            "/healthz",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    "ok\n",
                )
            }),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            super::REQUEST_TIMEOUT,
        ));
    let mut app = timed
        .route("/api/events", get(events))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(RequestBodyLimitLayer::new(super::MAX_BODY_BYTES));
    for (name, value) in headers {
        app = app.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    app.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
    .with_state(state)
}

fn asset(ctype: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn tokens_match(given: &str, token: &str) -> bool {
    given.as_bytes().ct_eq(token.as_bytes()).into()
}

/// The token of a request: `Authorization: Bearer …` or the cookie.
fn presented(req: &Request) -> Option<String> {
    let h = req.headers();
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some(t.trim().to_string());
        }
    }
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// GET only; the token when one is set; counts every answer by route and status.
async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(other)".to_string(), |p| p.as_str().to_string());
    let resp = check(&st, req, next).await;
    st.metrics.add(
        "lakectl_http_requests_total",
        &[("route", &route), ("code", resp.status().as_str())],
        1.0,
    );
    resp
}

async fn check(st: &AppState, req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "read-only: GET only\n",
        )
            .into_response();
    }
    let Some(token) = &st.token else {
        return next.run(req).await;
    };
    if presented(&req).is_some_and(|t| tokens_match(&t, token)) {
        return next.run(req).await;
    }
    // `/?token=…` once in a browser: keep it in a cookie and drop it from the address bar.
    if req.uri().path() == "/" {
        if let Ok(Query(q)) = Query::<TokenQuery>::try_from_uri(req.uri()) {
            if q.token.as_deref().is_some_and(|t| tokens_match(t, token)) {
                let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
                let mut r = Redirect::to("/").into_response();
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                return r;
            }
        }
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"lakectl\"")],
        "401: this server needs its token (Authorization: Bearer TOKEN, or open /?token=TOKEN)\n",
    )
        .into_response()
}

fn latest(st: &AppState) -> Arc<Snapshot> {
    st.latest.borrow().clone()
}

fn html(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn json(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn index(State(st): State<AppState>) -> Response {
    html(latest(&st).page.clone())
}

async fn panels(State(st): State<AppState>) -> Response {
    let s = latest(&st);
    let mut r = html(s.panels.clone());
    let meta = serde_json::json!({
        "seq": s.seq,
        "checked_at": s.checked_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "error": s.error,
    });
    if let Ok(v) = HeaderValue::from_str(&meta.to_string()) {
        r.headers_mut()
            .insert(HeaderName::from_static("x-lakectl-snapshot"), v);
    }
    r
}

async fn api_dashboard(State(st): State<AppState>) -> Response {
    json(latest(&st).dashboard.clone())
}

async fn api_status(State(st): State<AppState>) -> Response {
    json(latest(&st).status.clone())
}

async fn api_jobs(State(st): State<AppState>) -> Response {
    json(latest(&st).jobs.clone())
}

async fn metrics(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        st.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// One event per snapshot: `{"seq", "checked_at", "error"}`; the page then fetches `/panels`.
async fn events(State(st): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = st.latest.clone();
    let stop = st.stop.clone();
    let stream = futures::stream::unfold((rx, stop, true), |(mut rx, stop, first)| async move {
        if !first {
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return None },
                _ = stop.stopped() => return None,
            }
        }
        let s = rx.borrow_and_update().clone();
        let data = serde_json::json!({
            "seq": s.seq,
            "checked_at": s.checked_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "error": s.error,
        });
        let ev = Event::default()
            .event("snapshot")
            .id(s.seq.to_string())
            .data(data.to_string());
        Some((Ok(ev), (rx, stop, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(tokens_match("abcdefghijklmnop", "abcdefghijklmnop"));
        assert!(!tokens_match("abcdefghijklmno", "abcdefghijklmnop"));
        assert!(!tokens_match("", "abcdefghijklmnop"));
        assert!(!tokens_match("abcdefghijklmnoX", "abcdefghijklmnop"));
    }
}
