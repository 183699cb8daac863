//! Plain HTTP, for what no well-behaved CSP client sends and for the
//! endpoints that are not CSP (`/metrics`).

use http_body_util::{BodyExt, Empty, Full};

/// A raw POST: status, Content-Type and body of the answer.
pub async fn post_raw(
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Option<String>, Vec<u8>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", content_type)
        .body(Full::new(bytes::Bytes::from(body)))
        .expect("request is valid");
    let resp = client.request(req).await.expect("server answers");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("whole body read")
        .to_bytes()
        .to_vec();
    (status, ct, body)
}

/// A GET: status and body as text.
pub async fn get_text(url: &str) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let resp = client
        .get(url.parse().expect("a valid URL"))
        .await
        .expect("server answers");
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("whole body read")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
