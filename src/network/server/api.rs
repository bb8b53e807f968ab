//! The server's side of the STAC API ([`crate::network::stac_api`] answers): the method
//! checked, a search body read within limits of size and time, the answer as a response.

use std::pin::Pin;

use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;
use hyper::body::Incoming;

use super::body::{BoxedBody, Whole, text_response};
use super::shared::Shared;
use crate::network::stac_api;

/// The STAC API's answer to `req` ([`stac_api`]): 405 for a method the endpoint does not
/// take, the search body read within limits (size, and the header timeout for its time).
pub(super) async fn api_response(
    req: Request<Incoming>,
    endpoint: &stac_api::Endpoint,
    shared: &Shared,
) -> Response<BoxedBody> {
    let method = req.method().clone();
    if !endpoint.allows(&method) {
        let mut r = text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "405 Method Not Allowed: {} answers {}; {method} is not one of them",
                req.uri().path(),
                endpoint.allow()
            ),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(endpoint.allow()));
        return r;
    }
    let query = req.uri().query().map(str::to_owned);
    let body = if method == http::Method::POST {
        let limit = stac_api::MAX_BODY_BYTES;
        match tokio::time::timeout(
            shared.timeouts.header_read,
            read_body(req.into_body(), limit),
        )
        .await
        {
            Ok(Ok(body)) => body,
            Ok(Err(BodyError::TooLarge)) => {
                return api_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("a search body is at most {limit} bytes"),
                );
            }
            Ok(Err(BodyError::Read(e))) => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read: {e}"),
                );
            }
            Err(_) => {
                return api_error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the search body did not arrive in time".into(),
                );
            }
        }
    } else {
        Vec::new()
    };
    let answer = stac_api::answer(&stac_api::ApiRequest {
        endpoint,
        method: &method,
        query: query.as_deref(),
        body: &body,
        root: &shared.root,
        base_url: &shared.base_url,
    });
    api_body(answer)
}

fn api_error(status: StatusCode, description: String) -> Response<BoxedBody> {
    api_body(stac_api::Answer::error(status, description))
}

fn api_body(answer: stac_api::Answer) -> Response<BoxedBody> {
    let mut r = Response::new(Box::pin(Whole(Some(answer.body))) as BoxedBody);
    *r.status_mut() = answer.status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    r
}

enum BodyError {
    TooLarge,
    Read(hyper::Error),
}

/// A request body, whole, refused beyond `limit` bytes.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}
