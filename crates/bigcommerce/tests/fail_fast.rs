//! Issue 9 item 10: a base URL that cannot be reached fails on the first attempt, naming
//! the URL, instead of retrying a refused connection for minutes; once the host has
//! answered, connection errors are blips and keep the normal retry policy.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use bigcommerce::{ApiVersion, Client, Error, TransportKind};
use support::{Events, TOKEN, config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn refused_first_connection_fails_at_once_naming_the_url() {
    let base_url = format!("http://127.0.0.1:{}", closed_port());
    let events = Arc::new(Events::default());
    // config() allows 3 retries: before the fix this made 4 attempts.
    let client = Client::new(config(&base_url))
        .unwrap()
        .with_observer(events.clone());
    let err = client.get(ApiVersion::V2, "/store", &[]).await.unwrap_err();
    assert_eq!(events.0.lock().len(), 1, "attempts: {:?}", events.0.lock());
    assert_eq!(client.stats().retries, 0);
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("cannot reach {base_url}: ")),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
    assert!(
        msg.contains("--base-url") && msg.contains("network"),
        "{msg}"
    );
    assert!(!msg.contains(TOKEN), "{msg}");
}

#[tokio::test]
async fn unresolvable_host_fails_at_once() {
    // `.invalid` never resolves (RFC 2606).
    let base_url = "http://bcsync-test.invalid";
    let events = Arc::new(Events::default());
    let client = Client::new(config(base_url))
        .unwrap()
        .with_observer(events.clone());
    let err = client.get(ApiVersion::V2, "/store", &[]).await.unwrap_err();
    assert_eq!(events.0.lock().len(), 1, "attempts: {:?}", events.0.lock());
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(base_url), "{err}");
}

#[tokio::test]
async fn connection_errors_after_a_first_answer_are_retried() {
    // A server that answers one request, then goes away (its port refuses from then on).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending a request");
            request.extend_from_slice(&buf[..n]);
        }
        sock.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
        )
        .await
        .unwrap();
        sock.shutdown().await.unwrap();
        // The listener drops here: the port is closed.
    });
    let events = Arc::new(Events::default());
    let client = Client::new(config(&base_url))
        .unwrap()
        .with_observer(events.clone());
    client.get(ApiVersion::V2, "/store", &[]).await.unwrap();
    server.await.unwrap();

    let err = client.get(ApiVersion::V2, "/store", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Connect,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    // 1 answered + 1 try and 3 retries.
    assert_eq!(events.0.lock().len(), 5);
}
