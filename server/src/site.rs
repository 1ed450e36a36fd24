//! What answers on the socket: while the state loads, a small router that
//! says so (`/_emulator/health` 503 `{"Status":"loading"}`, everything
//! else 503 `ServiceUnavailable`); once it is loaded, the [`router`].
//!
//! The socket is bound before the state loads, so a probe sees "loading"
//! rather than a refused connection, however long a large state or import
//! takes.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::any;
use eci_imagecache::ids::RequestIds;
use tower::ServiceExt;

use crate::app::App;
use crate::health::{HEALTH_PATH, loading_body};
use crate::refusal::Refusal;
use crate::router::{Access, json_response, router};

/// The router of the moment: loading, then ready.
#[derive(Debug)]
pub struct Site {
    access: Access,
    loading: Router,
    ready: OnceLock<Router>,
}

impl Site {
    /// A site still loading, for the access rules of `access`.
    pub fn loading(access: Access) -> Arc<Site> {
        let ids = Arc::new(Mutex::new(RequestIds::random()));
        let unavailable = move || {
            let id = ids.lock().unwrap_or_else(|e| e.into_inner()).next_id();
            let refusal = Refusal::new(
                503,
                "ServiceUnavailable",
                "The emulator is loading its state; try again shortly.",
            );
            let reply = refusal.reply(id);
            std::future::ready(json_response(reply.http_status, reply.body))
        };
        let loading = Router::new()
            .route(
                HEALTH_PATH,
                any(|| async { json_response(503, loading_body()) }),
            )
            .fallback(unavailable);
        Arc::new(Site {
            access,
            loading,
            ready: OnceLock::new(),
        })
    }

    /// From now on, `app` answers (once; later calls change nothing).
    pub fn ready(&self, app: Arc<App>) {
        let _ = self.ready.set(router(app, self.access.clone()));
    }

    /// The address it answers on.
    pub fn listen(&self) -> std::net::SocketAddr {
        self.access.listen
    }

    /// Whether the state is loaded.
    pub fn is_ready(&self) -> bool {
        self.ready.get().is_some()
    }

    /// Answers one request with the router of the moment.
    pub(crate) async fn answer(self: Arc<Site>, request: Request) -> Result<Response, Infallible> {
        let router = self.ready.get().unwrap_or(&self.loading).clone();
        router.oneshot(request).await
    }
}
