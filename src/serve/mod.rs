//! `lakectl serve` and `lakectl schedule --http`: a read-only web server over the lake. The
//! dashboard page at `/` updates itself (server-sent events on `/api/events`, the panels
//! fetched again from `/panels`); `/api/dashboard`, `/api/status` and `/api/jobs` answer the
//! JSON of `dashboard --json`, `status --json` and `jobs --json`; `/metrics` the Prometheus
//! text format; `/healthz` "ok".
//!
//! axum on hyper, accepted here (through hyper-util) so each connection gets hyper's
//! header-read timeout and header-size limit: a client that sends its request one byte a
//! second, or a request head of megabytes, is cut off without holding the others. tower
//! layers bound each request's time and body. It binds to loopback unless given a token;
//! with one, every request must carry it (compared in constant time). No route runs SQL or
//! writes: the answers come from one [`snapshot`] refreshed every interval.

pub mod assets;
pub mod routes;
pub mod snapshot;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::cli::Globals;
use crate::metrics::Metrics;
use crate::shutdown::StopFlag;

/// A request head (request line and headers) must arrive within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A handler must answer within this (server-sent events excepted).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The request head, at most (hyper answers 431 past it).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// A request body, at most (no route reads one).
pub const MAX_BODY_BYTES: usize = 16 << 10;
/// Connections open at once; more are closed as soon as accepted.
pub const MAX_CONNECTIONS: usize = 1024;

/// What the server needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `HOST:PORT` (port 0 picks one).
    pub addr: String,
    /// The token every request must carry; required off loopback.
    pub token: Option<String>,
    /// How often the figures are checked against the tables.
    pub interval: Duration,
    /// Where the spec is.
    pub globals: Globals,
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Not `HOST:PORT`.
    #[error("`{addr}` is not an address to listen on (HOST:PORT, e.g. 127.0.0.1:8080): {reason}")]
    BadAddr {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Off loopback without a token.
    #[error(
        "refusing to serve on {addr} without a token: that address is reachable from other \
         machines, and the lake's figures would be open to anyone there. Give one with \
         --token or LAKECTL_HTTP_TOKEN (requests then need `Authorization: Bearer TOKEN`, or \
         open http://{addr}/?token=TOKEN once in a browser), or bind 127.0.0.1"
    )]
    TokenRequired {
        /// The address.
        addr: String,
    },
    /// An empty or too short token.
    #[error("the token must be at least 16 characters (got {len})")]
    WeakToken {
        /// Its length.
        len: usize,
    },
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl crate::exit::ExitCode for ServeError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Bind { .. } => crate::exit::FAILURE,
            _ => crate::exit::USAGE,
        }
    }
}

/// A bound server, not answering yet.
pub struct Server {
    listener: TcpListener,
    opts: ServeOptions,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.local_addr())
            .finish()
    }
}

fn resolve(addr: &str) -> Result<SocketAddr, ServeError> {
    use std::net::ToSocketAddrs;
    let bad = |reason: String| ServeError::BadAddr {
        addr: addr.to_string(),
        reason,
    };
    addr.to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("it resolves to no address".into()))
}

impl Server {
    /// Checks the options (a token off loopback) and binds the address.
    pub async fn bind(opts: ServeOptions) -> Result<Self, ServeError> {
        let sock = resolve(&opts.addr)?;
        match &opts.token {
            Some(t) if t.chars().count() < 16 => {
                return Err(ServeError::WeakToken {
                    len: t.chars().count(),
                })
            }
            None if !sock.ip().is_loopback() => {
                return Err(ServeError::TokenRequired {
                    addr: opts.addr.clone(),
                })
            }
            _ => {}
        }
        if let Some(t) = &opts.token {
            crate::redact::register(t);
        }
        let listener = TcpListener::bind(sock)
            .await
            .map_err(|source| ServeError::Bind {
                addr: opts.addr.clone(),
                source,
            })?;
        Ok(Self { listener, opts })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `stop`.
    pub async fn run(self, metrics: Metrics, stop: StopFlag) {
        let latest = snapshot::start(
            self.opts.globals.clone(),
            self.opts.interval,
            metrics.clone(),
            stop.clone(),
        )
        .await;
        let app = routes::router(routes::AppState {
            latest,
            metrics,
            token: self.opts.token.clone().map(Arc::from),
            interval: self.opts.interval,
            stop: stop.clone(),
        });
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = stop.stopped() => return,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!("http accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!("http: {MAX_CONNECTIONS} connections open, closing {peer}");
                continue;
            };
            let app = app.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    use tower::ServiceExt;
                    app.clone().oneshot(req)
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .max_buf_size(MAX_HEAD_BYTES)
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(e) = conn.await {
                    tracing::debug!("http connection from {peer}: {e}");
                }
                drop(slot);
            });
        }
    }
}
