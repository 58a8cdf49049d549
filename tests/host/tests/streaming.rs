//! Streamed response bodies (`shared::http::Body::Stream`) on both runtimes, with the fixture
//! probe: the pieces arrive chunked and whole, large ones included (the guest waits for the
//! client), a producer may wait between pieces, and a piece that fails aborts the transfer — no
//! final chunk — instead of ending a short body as if it were complete. (Pieces made just before
//! the failure may be lost with the transfer on both runtimes: only the abort is promised.) The
//! instance keeps serving.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::runtime::{Runtime, TestApp};
use solarhub_host::client::{get, parse, request_raw};

async fn start(rt: Runtime) -> TestApp {
    let vars = vec![("token".to_owned(), "t0ken".to_owned())];
    common::runtime::start(
        rt,
        common::repo_root().join("tests/fixtures/spin.toml"),
        vars,
    )
    .await
}

fn expected(pieces: u32, size: usize) -> Vec<u8> {
    let mut all = Vec::new();
    for n in 1..=pieces {
        let line = format!("piece {n}\n");
        all.extend(std::iter::repeat_n(b'.', size.saturating_sub(line.len())));
        all.extend(line.into_bytes());
    }
    all
}

async fn raw(app: &TestApp, path: &str) -> Vec<u8> {
    request_raw(app.addr, "GET", path, &[], b"").await.unwrap()
}

async fn streamed_bodies_arrive_chunked_and_whole(rt: Runtime) {
    let app = start(rt).await;
    let reply = get(app.addr, "/probe/stream?pieces=5").await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    assert_eq!(reply.header("content-length"), None);
    assert_eq!(reply.body, expected(5, 0));
    // 8 MiB in 64 KiB pieces: more than any socket buffer holds, so the guest has to wait for
    // the client to read.
    let big = get(app.addr, "/probe/stream?pieces=128&size=65536")
        .await
        .unwrap();
    assert_eq!(big.body.len(), 128 * 65536);
    assert_eq!(big.body, expected(128, 65536));
    // A producer that waits between pieces (as an event stream would).
    let started = Instant::now();
    let slow = get(app.addr, "/probe/stream?pieces=3&wait_ms=150")
        .await
        .unwrap();
    assert_eq!(slow.body, expected(3, 0));
    assert!(started.elapsed() >= Duration::from_millis(450));
    // No pieces at all is an empty, complete body.
    let none = raw(&app, "/probe/stream?pieces=0").await;
    assert!(
        none.ends_with(b"\r\n0\r\n\r\n"),
        "{}",
        String::from_utf8_lossy(&none)
    );
    app.stop().await.unwrap();
}

async fn a_failing_piece_aborts_the_transfer(rt: Runtime) {
    let app = start(rt).await;
    let bytes = raw(&app, "/probe/stream?pieces=5&fail_at=3").await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("transfer-encoding: chunked"), "{text}");
    assert!(!text.contains("piece 3"), "{text}");
    assert!(!bytes.ends_with(b"0\r\n\r\n"), "no final chunk: {text}");
    assert!(
        parse(&bytes).is_err(),
        "a cut-off chunked body is not a whole one"
    );
    // Failing at the first piece: the head went out, the body never completes.
    let bytes = raw(&app, "/probe/stream?pieces=5&fail_at=1").await;
    assert!(
        parse(&bytes).is_err(),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    // The instance (or a new one) goes on serving.
    let after = get(app.addr, "/probe/stream?pieces=2").await.unwrap();
    assert_eq!(after.body, expected(2, 0));
    app.stop().await.unwrap();
}

on_both_runtimes!(
    streamed_bodies_arrive_chunked_and_whole,
    a_failing_piece_aborts_the_transfer,
);
