//! Accepting connections and serving each one with hyper, under the time limits: a
//! request head must arrive within [`Timeouts::header_read`](super::Timeouts), and a
//! connection silent for [`Timeouts::idle`](super::Timeouts) while the server is not
//! holding its answer is closed. Runs on the server thread.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::oneshot;

use super::activity::{Activity, Watched};
use super::handler::handle;
use super::pacer::Pacer;
use super::shared::Shared;

pub(super) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors, for instance: wait a little and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    // Returning drops the runtime's remaining tasks: open connections are closed.
}

async fn connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let timeouts = shared.timeouts;
    // One pacer per connection: HTTP/1.1 sends one response at a time on it.
    let pacer = shared
        .settings
        .bandwidth
        .map(|rate| Arc::new(Mutex::new(Pacer::new(rate))));
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let service_activity = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |req| {
        handle(
            req,
            Arc::clone(&shared),
            pacer.clone(),
            Arc::clone(&service_activity),
        )
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .serve_connection(io, service);
    tokio::pin!(conn);
    loop {
        let check = activity
            .idle_deadline(timeouts.idle)
            .unwrap_or_else(|| Instant::now() + timeouts.idle);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep_until(check.into()) => {
                if activity
                    .idle_deadline(timeouts.idle)
                    .is_some_and(|deadline| deadline <= Instant::now())
                {
                    // Dropping the connection closes its socket.
                    return;
                }
            }
        }
    }
}
