//! What one component instance's wasmtime `Store` holds, and what every instance of a component
//! shares.
//!
//! An instance serves many requests (see `instance.rs`), so everything here lives as long as the
//! instance: the resource table with the guest's open MySQL and Redis connections, its WASI
//! context, its memory limits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::{WasiHttpCtxView, WasiHttpView};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::instance::{InstanceLife, LiveInstance};
use crate::outbound::AllowedHosts;
use crate::outbound_http::OutboundHttp;
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
    pub hooks: OutboundHttp,
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
            hooks: OutboundHttp { ctx: ctx.clone() },
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
