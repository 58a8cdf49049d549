//! A small HTTP receiver on a loopback port, standing in for a webhook, LINE or Slack endpoint:
//! it records every request (when it arrived, path, headers, body) and answers each path with
//! the status the test chose for it.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, Mutex};

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    rx: Mutex<mpsc::UnboundedReceiver<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Answers a request for `path` with `status(path)`.
    pub async fn start(status: fn(&str) -> u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let tx = Arc::new(tx);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let tx = tx.clone();
                            async move {
                                let at = Instant::now();
                                let path = req.uri().path().to_owned();
                                let headers = req
                                    .headers()
                                    .iter()
                                    .map(|(n, v)| {
                                        (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                                    })
                                    .collect();
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                let code = status(&path);
                                let _ = tx.send(Received {
                                    at,
                                    path,
                                    headers,
                                    body: body.to_vec(),
                                });
                                let mut answer = hyper::Response::new(Full::new(Bytes::new()));
                                *answer.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
                                Ok::<_, Infallible>(answer)
                            }
                        },
                    );
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            rx: Mutex::new(rx),
            task,
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next request, if one arrives within `patience`.
    pub async fn next(&self, patience: Duration) -> Option<Received> {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(patience, rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Every request that arrives within `patience`.
    pub async fn all(&self, patience: Duration) -> Vec<Received> {
        let until = Instant::now() + patience;
        let mut all = Vec::new();
        while let Some(r) = self
            .next(until.saturating_duration_since(Instant::now()))
            .await
        {
            all.push(r);
        }
        all
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
