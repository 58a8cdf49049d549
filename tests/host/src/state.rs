//! What one component instance's wasmtime `Store` holds, and what every instance of a component
//! shares.
//!
//! An instance serves many requests (see `instance.rs`), so everything here lives as long as the
//! instance: the resource table with the guest's open MySQL and Redis connections, its WASI
//! context, its memory limits.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p3::{RequestOptions, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::instance::{InstanceLife, LiveInstance};
use crate::outbound::AllowedHosts;
use crate::variables::ComponentVariables;

/// Server connections opened by guests, counted for tests and benchmarks (real Spin has no such
/// counters; the benchmark counts them at the servers).
#[derive(Default)]
pub struct ConnectionCounter {
    /// Connections established (a failed attempt opens none).
    pub opens: AtomicU64,
    /// Connections closed because the guest dropped its handle or its instance went away.
    pub closes: AtomicU64,
}

impl ConnectionCounter {
    pub fn opened(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }

    pub fn closed(&self) -> u64 {
        self.closes.load(Ordering::Relaxed)
    }

    /// Connections open right now.
    pub fn live(&self) -> u64 {
        self.opened().saturating_sub(self.closed())
    }
}

/// Per-store counters shared by every component and instance of one running host.
#[derive(Default)]
pub struct StoreCounters {
    pub mysql: Arc<ConnectionCounter>,
    pub redis: Arc<ConnectionCounter>,
}

/// A component's configuration, resolved once at load.
pub struct ComponentContext {
    pub id: String,
    pub variables: ComponentVariables,
    pub allowed: AllowedHosts,
    pub environment: Vec<(String, String)>,
    pub stores: Arc<StoreCounters>,
}

/// The data of one instance's `Store`.
pub struct InstanceState {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: DenyOutboundHttp,
    pub limits: StoreLimits,
    pub ctx: Arc<ComponentContext>,
    /// This instance's requests in flight and how it ended, shared with the requests it serves.
    pub life: Arc<InstanceLife>,
    _live: LiveInstance,
}

impl InstanceState {
    pub fn new(
        ctx: Arc<ComponentContext>,
        life: Arc<InstanceLife>,
        live: LiveInstance,
        max_memory: usize,
    ) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout()
            .inherit_stderr()
            .envs(&ctx.environment);
        InstanceState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: DenyOutboundHttp,
            limits: wasmtime::StoreLimitsBuilder::new()
                .memory_size(max_memory)
                .instances(64)
                .build(),
            ctx,
            life,
            _live: live,
        }
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The app makes no outbound HTTP requests yet, so none are allowed: `allowed_outbound_hosts`
/// lists no http(s) destinations and Spin would deny them too.
pub struct DenyOutboundHttp;

type Body = UnsyncBoxBody<Bytes, ErrorCode>;
type IoResult = Box<dyn Future<Output = Result<(), ErrorCode>> + Send>;

impl WasiHttpHooks for DenyOutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<Body>,
        _options: Option<RequestOptions>,
        _fut: IoResult,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (http::Response<Body>, IoResult),
                    wasmtime_wasi::TrappableError<ErrorCode>,
                >,
            > + Send,
    > {
        eprintln!(
            "Warning: outbound HTTP to {} denied: this host allows no outbound HTTP",
            request.uri()
        );
        Box::new(async { Err(ErrorCode::HttpRequestDenied.into()) })
    }
}
