//! Instances of a component and their reuse, exactly as Spin 4.0.2 does it for WASIp3 handlers:
//! wasmtime-wasi-http's `handler` module runs each instance as a worker task that takes requests
//! until it has served `max_instance_reuse_count`, never more than
//! `max_instance_concurrent_reuse_count` at once, and ends after `idle_instance_timeout` without
//! work. This module supplies the per-instance `Store` (Spin's `HttpHandlerState::new_store`) plus
//! what this host adds on top:
//!
//! - a request deadline enforced inside the guest: an epoch callback traps the instance once a
//!   request it accepted has run longer than `request_timeout` (the handler's own timeout cannot
//!   fire while a busy guest holds the store);
//! - why an instance ended, so every request it was serving can log the cause under its own id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use wasmtime::component::InstancePre;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi_http::handler::{HandlerState, ProxyHandler, ProxyPre, StoreBundle};
use wasmtime_wasi_http::p3::bindings::ServicePre;

use crate::state::{ComponentContext, InstanceState};

/// How instances are reused and how long a request may take (Spin's `spin up` flags).
#[derive(Debug, Clone, Copy)]
pub struct ReuseConfig {
    pub max_instance_reuse_count: usize,
    pub max_instance_concurrent_reuse_count: usize,
    pub idle_instance_timeout: Duration,
    pub request_timeout: Duration,
    pub max_instance_memory: usize,
}

/// Instances started, failed and alive, per component.
#[derive(Default)]
pub struct InstanceCounter {
    pub started: AtomicU64,
    pub failed: AtomicU64,
    pub live: AtomicU64,
}

/// Held by an instance's store: counts it as live until the store is dropped.
pub struct LiveInstance(Arc<InstanceCounter>);

impl LiveInstance {
    pub(crate) fn new(counter: &Arc<InstanceCounter>) -> Self {
        counter.live.fetch_add(1, Ordering::Relaxed);
        LiveInstance(counter.clone())
    }
}

impl Drop for LiveInstance {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A deadline `timeout` after `from`, or practically never for a timeout too large to add.
pub fn deadline(from: Instant, timeout: Duration) -> Instant {
    from.checked_add(timeout)
        .unwrap_or_else(|| from + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// One instance as the requests it serves see it.
pub struct InstanceLife {
    /// 1, 2, ... per component, in the order instances were created (for logs and tests).
    pub number: u64,
    /// When each request in flight on this instance must be done by.
    deadlines: Mutex<Vec<(u64, Instant)>>,
    next_ticket: AtomicU64,
    /// Why the instance ended, once it has failed.
    failure: tokio::sync::watch::Sender<Option<Arc<str>>>,
}

impl InstanceLife {
    pub(crate) fn new(number: u64) -> Self {
        InstanceLife {
            number,
            deadlines: Mutex::new(Vec::new()),
            next_ticket: AtomicU64::new(0),
            failure: tokio::sync::watch::Sender::new(None),
        }
    }

    /// Registers a request accepted by this instance; the deadline holds until the guard drops.
    pub fn begin(self: &Arc<Self>, deadline: Instant) -> InFlight {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        self.lock().push((ticket, deadline));
        InFlight {
            life: self.clone(),
            ticket,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Instant)>> {
        self.deadlines.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn overdue(&self, now: Instant) -> bool {
        self.lock().iter().any(|(_, deadline)| *deadline <= now)
    }

    /// Waits (at most `patience`) for the reason this instance failed.
    pub async fn failure(&self, patience: Duration) -> Option<Arc<str>> {
        let mut rx = self.failure.subscribe();
        let waited = tokio::time::timeout(patience, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(cause)) => cause.clone(),
            _ => None,
        }
    }
}

/// A request in flight on an instance (see [`InstanceLife::begin`]).
pub struct InFlight {
    life: Arc<InstanceLife>,
    ticket: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.life.lock().retain(|(t, _)| *t != self.ticket);
    }
}

/// Epoch ticks per second: the granularity of the request deadline and of the guest's yields.
pub const EPOCH_TICKS_PER_SEC: u64 = 100;

/// Makes the stores of one component's instances (the handler's `HandlerState`).
pub struct Instances {
    engine: Engine,
    ctx: Arc<ComponentContext>,
    config: ReuseConfig,
    pub counter: Arc<InstanceCounter>,
    /// The instance each worker task runs, so `handle_worker_error` (called on that task after
    /// the store is gone) can tell the instance's requests why it failed.
    by_worker: Mutex<HashMap<tokio::task::Id, Worker>>,
}

struct Worker {
    number: u64,
    life: Weak<InstanceLife>,
    /// Its instance was already gone at the last clean-up (the next one forgets it): a failed
    /// worker reports right after dropping its instance, so it is found in between.
    gone: bool,
}

impl Instances {
    pub fn handler(
        engine: Engine,
        ctx: Arc<ComponentContext>,
        config: ReuseConfig,
        pre: InstancePre<InstanceState>,
    ) -> anyhow::Result<ProxyHandler<Instances>> {
        let pre = ServicePre::new(pre)?;
        let state = Instances {
            engine,
            ctx,
            config,
            counter: Arc::default(),
            by_worker: Mutex::new(HashMap::new()),
        };
        Ok(ProxyHandler::new(state, ProxyPre::P3(pre)))
    }

    pub fn config(&self) -> &ReuseConfig {
        &self.config
    }

    fn workers(&self) -> std::sync::MutexGuard<'_, HashMap<tokio::task::Id, Worker>> {
        self.by_worker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl HandlerState for Instances {
    type StoreData = InstanceState;

    fn new_store(&self, _req_id: Option<u64>) -> wasmtime::Result<StoreBundle<InstanceState>> {
        let number = self.counter.started.fetch_add(1, Ordering::Relaxed) + 1;
        let life = Arc::new(InstanceLife::new(number));
        if let Some(task) = tokio::task::try_id() {
            let mut workers = self.workers();
            // Instances that ended without failing leave entries behind: forget them here.
            workers.retain(|_, worker| !worker.gone);
            for worker in workers.values_mut() {
                worker.gone = worker.life.strong_count() == 0;
            }
            let worker = Worker {
                number,
                life: Arc::downgrade(&life),
                gone: false,
            };
            workers.insert(task, worker);
        }
        let data = InstanceState::new(
            self.ctx.clone(),
            life,
            LiveInstance::new(&self.counter),
            self.config.max_instance_memory,
        );
        let mut store = Store::new(&self.engine, data);
        store.limiter(|s| s.limiter());
        // Every tick a running guest checks in: it traps once a request it is serving is past its
        // deadline, and otherwise yields so other tasks on this thread run (2 cores, many guests).
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            let life = &ctx.data().life;
            if life.overdue(Instant::now()) {
                wasmtime::bail!(
                    "a request on instance {} ran past its deadline",
                    life.number
                );
            }
            Ok(UpdateDeadline::Yield(1))
        });
        Ok(StoreBundle {
            store,
            write_profile: Box::new(|_| ()),
        })
    }

    fn request_timeout(&self) -> Duration {
        self.config.request_timeout
    }

    fn idle_instance_timeout(&self) -> Duration {
        self.config.idle_instance_timeout
    }

    fn max_instance_reuse_count(&self) -> usize {
        self.config.max_instance_reuse_count
    }

    fn max_instance_concurrent_reuse_count(&self) -> usize {
        self.config.max_instance_concurrent_reuse_count
    }

    fn handle_worker_error(&self, error: wasmtime::Error) {
        self.counter.failed.fetch_add(1, Ordering::Relaxed);
        let worker = tokio::task::try_id().and_then(|task| self.workers().remove(&task));
        let cause: Arc<str> = format!("{error:#}").into();
        let id = &self.ctx.id;
        match worker {
            Some(worker) => {
                eprintln!(
                    "Instance {} of component {id:?} failed: {cause}",
                    worker.number
                );
                // The requests it was serving are waiting to log why.
                if let Some(life) = worker.life.upgrade() {
                    life.failure.send_replace(Some(cause));
                }
            }
            None => eprintln!("An instance of component {id:?} failed: {cause}"),
        }
    }
}
