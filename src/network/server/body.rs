//! Response bodies: sent whole, or paced by the bandwidth caps while the bytes that leave
//! are counted; and the plain-text answers the server gives on its own.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};

use super::activity::{Activity, Hold};
use super::pacer::Pacer;
use super::shared::Shared;

pub(super) type BoxedBody = Pin<Box<dyn Body<Data = Bytes, Error = io::Error> + Send>>;
pub(super) fn text_response(status: StatusCode, text: String) -> Response<BoxedBody> {
    let mut r = Response::new(Box::pin(Whole(Some(Bytes::from(text)))) as BoxedBody);
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A body sent in one piece.
pub(super) struct Whole(pub(super) Option<Bytes>);

impl Body for Whole {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// A response body paced by the connection's (and the total) bandwidth, counting the
/// bytes it lets through.
pub(super) struct ShapedBody {
    inner: BoxedBody,
    pacer: Option<Arc<Mutex<Pacer>>>,
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    worker: Option<u32>,
    /// A piece waiting for its time to leave.
    held: Option<Bytes>,
    /// The wait for that time, during which the server holds the connection's answer.
    sleep: Option<(Pin<Box<tokio::time::Sleep>>, Hold)>,
}

impl ShapedBody {
    /// `inner` paced by `pacer` (the connection's) and the total cap, its bytes counted for
    /// `worker`.
    pub(super) fn new(
        inner: BoxedBody,
        pacer: Option<Arc<Mutex<Pacer>>>,
        shared: Arc<Shared>,
        activity: Arc<Activity>,
        worker: Option<u32>,
    ) -> ShapedBody {
        ShapedBody {
            inner,
            pacer,
            shared,
            activity,
            worker,
            held: None,
            sleep: None,
        }
    }

    /// When a piece of `bytes` may leave: the later of the connection's and the total cap.
    fn release_at(&self, bytes: u64) -> Option<Instant> {
        let now = Instant::now();
        let mut at = None;
        for pacer in [self.pacer.as_deref(), self.shared.total_pacer.as_ref()]
            .into_iter()
            .flatten()
        {
            let t = pacer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .reserve(now, bytes);
            at = Some(at.map_or(t, |a: Instant| a.max(t)));
        }
        at.filter(|t| *t > now)
    }
}

impl Body for ShapedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some((sleep, _)) = this.sleep.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            }
            if let Some(data) = this.held.take() {
                this.shared.counters().bytes(this.worker, data.len() as u64);
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        if let Some(at) = this.release_at(data.len() as u64) {
                            this.sleep = Some((
                                Box::pin(tokio::time::sleep_until(at.into())),
                                this.activity.hold(),
                            ));
                        }
                        this.held = Some(data);
                    }
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
