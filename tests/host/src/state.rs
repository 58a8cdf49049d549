//! What one request's wasmtime `Store` holds, and what every request of a component shares.

use std::future::Future;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use crate::mysql::MysqlPools;
use crate::outbound::AllowedHosts;
use crate::redis::RedisClients;
use crate::variables::ComponentVariables;

/// Store clients shared by every component and request of one running host.
#[derive(Default)]
pub struct StoreClients {
    pub mysql: MysqlPools,
    pub redis: RedisClients,
}

/// A component's configuration, resolved once at load.
pub struct ComponentContext {
    pub id: String,
    pub variables: ComponentVariables,
    pub allowed: AllowedHosts,
    pub environment: Vec<(String, String)>,
    pub stores: Arc<StoreClients>,
}

pub struct RequestState {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: DenyOutboundHttp,
    pub limits: StoreLimits,
    pub ctx: Arc<ComponentContext>,
}

impl RequestState {
    pub fn new(ctx: Arc<ComponentContext>, max_memory: usize) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout()
            .inherit_stderr()
            .envs(&ctx.environment);
        RequestState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: DenyOutboundHttp,
            limits: wasmtime::StoreLimitsBuilder::new()
                .memory_size(max_memory)
                .instances(64)
                .build(),
            ctx,
        }
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The app makes no outbound HTTP requests, so none are allowed: `allowed_outbound_hosts` lists no
/// http(s) destinations and Spin would deny them too.
pub struct DenyOutboundHttp;

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
)>;

impl WasiHttpHooks for DenyOutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        eprintln!(
            "Warning: outbound HTTP to {} denied: this host allows no outbound HTTP",
            request.uri()
        );
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}
