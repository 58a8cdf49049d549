//! A fault-injecting TCP proxy for the store-fault tests. It stands between the app and MariaDB or
//! Redis (the app's store URLs and allow-list point at it) and, on the test's command, passes the
//! bytes through, delays them, cuts every connection and refuses new ones (the store is down), or
//! resets connections in the middle of the server's replies (the network fails mid-query).
//!
//! It speaks no protocol: faults land wherever the bytes happen to be, as real network faults do.
//! A reset is a TCP RST on the app's side (what a crashed server or a firewall looks like to the
//! app) and a close on the server's side, so the server ends the session and rolls back whatever
//! transaction the app had open on it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes go through untouched.
    Pass,
    /// The store is gone: every open connection is reset and new ones are reset on arrival.
    Down,
    /// Every piece of data, either way, waits this long before it is passed on.
    Latency(Duration),
    /// Every `n`th piece of a server's reply (counted over all connections) reaches the app only
    /// half-way; then the connection is reset.
    CutReplies(u64),
}

/// What the proxy did, for the scenario reports.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub refused: AtomicU64,
    pub resets: AtomicU64,
    /// Reply pieces seen, for `CutReplies`.
    pieces: AtomicU64,
}

impl Stats {
    pub fn summary(&self) -> String {
        format!(
            "{} connections, {} refused, {} reset",
            self.connections.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.resets.load(Ordering::Relaxed)
        )
    }
}

/// A proxy listening on a loopback port of its own, forwarding to `upstream`; stopped (and every
/// connection through it reset) when dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    fault: Arc<watch::Sender<Fault>>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (fault, watching) = watch::channel(Fault::Pass);
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(accept(listener, upstream, watching, stats.clone()));
        Proxy {
            addr,
            stats,
            fault: Arc::new(fault),
            task,
        }
    }

    /// From now on, `fault`; connections already open follow it from their next piece of data
    /// (or at once, for `Down`).
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// [`set`](Self::set) for a task of its own.
    pub fn control(&self) -> impl Fn(Fault) + Send + 'static {
        let fault = self.fault.clone();
        move |f| {
            fault.send_replace(f);
        }
    }

    /// `host:port`, for the app's allow-list variables.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Open connections see the sender go and reset themselves.
        self.task.abort();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: watch::Receiver<Fault>,
    stats: Arc<Stats>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let _ = client.set_nodelay(true);
        if *fault.borrow() == Fault::Down {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            reset(client);
            continue;
        }
        stats.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(relay(client, upstream, fault.clone(), stats.clone()));
    }
}

/// An abortive close: the peer reads "connection reset", as from a crashed server.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// How a relayed connection ended.
enum End {
    /// One side closed or failed: close the other.
    Closed,
    /// A fault: reset the app's side, close the server's.
    Fault,
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut fault: watch::Receiver<Fault>,
    stats: Arc<Stats>,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        reset(client);
        return;
    };
    let _ = server.set_nodelay(true);
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    // One loop for both directions: the stores' protocols are request/reply, so serialising the
    // two directions costs nothing, and a fault can act on both sockets at once.
    let end = loop {
        let now = *fault.borrow_and_update();
        if now == Fault::Down {
            break End::Fault;
        }
        tokio::select! {
            read = client.read(&mut from_client) => {
                let n = match read {
                    Ok(0) | Err(_) => break End::Closed,
                    Ok(n) => n,
                };
                delay(now).await;
                if server.write_all(&from_client[..n]).await.is_err() {
                    break End::Closed;
                }
            }
            read = server.read(&mut from_server) => {
                let n = match read {
                    Ok(0) | Err(_) => break End::Closed,
                    Ok(n) => n,
                };
                if let Fault::CutReplies(every) = now {
                    if stats.replies_cut_now(every) {
                        let _ = client.write_all(&from_server[..n / 2]).await;
                        break End::Fault;
                    }
                }
                delay(now).await;
                if client.write_all(&from_server[..n]).await.is_err() {
                    break End::Closed;
                }
            }
            changed = fault.changed() => {
                if changed.is_err() {
                    break End::Fault; // the proxy is gone
                }
            }
        }
    };
    if let End::Fault = end {
        stats.resets.fetch_add(1, Ordering::Relaxed);
        reset(client);
    }
    drop(server);
}

async fn delay(fault: Fault) {
    if let Fault::Latency(d) = fault {
        tokio::time::sleep(d).await;
    }
}

impl Stats {
    /// Counts one reply piece; true for every `every`th.
    fn replies_cut_now(&self, every: u64) -> bool {
        let n = self.pieces.fetch_add(1, Ordering::Relaxed) + 1;
        n.is_multiple_of(every.max(1))
    }
}
