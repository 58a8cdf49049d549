//! A loaded application: its router and, per routed component, a pre-instantiated component with its
//! resolved configuration.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wasmtime::component::Linker;
use wasmtime::{Config, Engine};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::loader::{self, CompileCache, Dependency};
use crate::manifest::{ComponentRef, DependencyDecl, Manifest, RouteDecl};
use crate::outbound::AllowedHosts;
use crate::routes::Router;
use crate::state::{ComponentContext, RequestState, StoreClients};
use crate::variables::{AppVariables, ComponentVariables, Provider, Source};

#[derive(Debug, Clone)]
pub struct HostOptions {
    pub manifest: PathBuf,
    pub runtime_config: Option<PathBuf>,
    /// Variable values that win over every provider (`--variable`, tests).
    pub variables: Vec<(String, String)>,
    pub cache_dir: Option<PathBuf>,
    /// A request still running after this is stopped (its guest traps) and answered with a 500.
    pub request_timeout: Duration,
    /// Linear memory one instance may grow to.
    pub max_instance_memory: usize,
}

impl HostOptions {
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        HostOptions {
            manifest: manifest.into(),
            runtime_config: None,
            variables: Vec::new(),
            cache_dir: CompileCache::default_dir(),
            request_timeout: Duration::from_secs(30),
            max_instance_memory: 128 << 20,
        }
    }
}

pub struct LoadedComponent {
    pub pre: ProxyPre<RequestState>,
    pub ctx: Arc<ComponentContext>,
}

pub struct App {
    pub name: String,
    pub engine: Engine,
    pub router: Router,
    pub components: HashMap<String, LoadedComponent>,
    pub stores: Arc<StoreClients>,
    pub options: HostOptions,
    ticker_stop: Arc<AtomicBool>,
}

/// Epoch ticks per second: the granularity of the request deadline.
pub const EPOCH_TICKS_PER_SEC: u64 = 100;

impl App {
    pub fn load(options: HostOptions) -> Result<App> {
        let started = Instant::now();
        let (manifest, dir) = Manifest::load(&options.manifest)?;

        let mut sources = vec![Source::Static(options.variables.iter().cloned().collect())];
        if let Some(rc) = &options.runtime_config {
            let base = rc.parent().map(PathBuf::from).unwrap_or_default();
            sources.extend(crate::runtime_config::load(rc, &base)?);
        }
        sources.push(Source::builtin_env());
        let app_vars = AppVariables::resolve(&manifest.variables, &Provider::new(sources))?;

        let engine = new_engine(options.max_instance_memory)?;
        let mut linker: Linker<RequestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        crate::bindings::SpinImports::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |s| s,
        )?;

        let routes: Vec<(String, String)> = manifest
            .trigger
            .http
            .iter()
            .filter_map(|t| match (&t.route, &t.component) {
                (RouteDecl::Path(route), ComponentRef::Named(id)) => {
                    Some((route.clone(), id.clone()))
                }
                _ => None,
            })
            .collect();
        let (router, warnings) = Router::new(routes).map_err(|e| anyhow::anyhow!(e.0))?;
        for w in warnings {
            eprintln!("{w}");
        }

        let cache = CompileCache::new(options.cache_dir.clone());
        let stores = Arc::new(StoreClients::default());
        let mut components = HashMap::new();
        let mut triggered: Vec<&String> = manifest
            .trigger
            .http
            .iter()
            .filter_map(|t| match &t.component {
                ComponentRef::Named(id) => Some(id),
                ComponentRef::Inline(_) => None,
            })
            .collect();
        triggered.sort();
        triggered.dedup();
        for id in triggered {
            let decl = &manifest.component[id];
            let read = |component: &str| -> Result<Vec<u8>> {
                let path = manifest.source_path(&dir, component)?;
                let bytes = std::fs::read(&path).with_context(|| {
                    format!(
                        "component {component:?}: reading {} (did you run `make build`?)",
                        path.display()
                    )
                })?;
                loader::componentize(bytes, &path)
            };
            let mut deps = Vec::new();
            for (key, dep) in &decl.dependencies {
                if let DependencyDecl::Local { component, export } = dep {
                    deps.push(Dependency {
                        key: key.clone(),
                        export: export.clone(),
                        bytes: read(component)?,
                        inherit_configuration: decl.dependencies_inherit_configuration,
                        name: component.clone(),
                    });
                }
            }
            let bytes = loader::compose(read(id)?, &deps)
                .with_context(|| format!("composing component {id:?}"))?;
            let component = cache
                .compile(&engine, &bytes)
                .with_context(|| format!("compiling component {id:?}"))?;
            let pre = linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!("component {id:?} imports something this host does not provide")
                })?;
            let pre = ProxyPre::new(pre)?;
            let ctx = Arc::new(ComponentContext {
                id: id.clone(),
                variables: ComponentVariables::resolve(&decl.variables, &app_vars)
                    .with_context(|| format!("component {id:?}"))?,
                allowed: AllowedHosts::parse(&decl.allowed_outbound_hosts, &app_vars)
                    .with_context(|| format!("component {id:?}"))?,
                environment: decl
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                stores: stores.clone(),
            });
            components.insert(id.clone(), LoadedComponent { pre, ctx });
        }

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(&engine, ticker_stop.clone());
        eprintln!(
            "Loaded {} ({} components) in {} ms",
            manifest.application.name,
            components.len(),
            started.elapsed().as_millis()
        );
        Ok(App {
            name: manifest.application.name,
            engine,
            router,
            components,
            stores,
            options,
            ticker_stop,
        })
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Concurrent instances the pooling allocator reserves room for (each request holds one).
const POOLED_INSTANCES: u32 = 256;

fn new_engine(max_instance_memory: usize) -> Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    // Like Spin: pre-reserved slots for instances, memories, tables and fiber stacks make a fresh
    // instance per request cheap (no mmap/munmap per request).
    let mut pooling = wasmtime::PoolingAllocationConfig::default();
    pooling
        .total_component_instances(POOLED_INSTANCES)
        .total_core_instances(POOLED_INSTANCES * 8)
        .total_memories(POOLED_INSTANCES * 4)
        .total_tables(POOLED_INSTANCES * 4)
        .total_stacks(POOLED_INSTANCES)
        .max_core_instances_per_component(16)
        .max_memories_per_component(8)
        .max_tables_per_component(8)
        .max_memory_size(max_instance_memory);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    Ok(Engine::new(&config)?)
}

/// Advances the engine's epoch so request deadlines (set in ticks) can interrupt a guest that never
/// yields, such as one stuck in a loop.
fn spawn_epoch_ticker(engine: &Engine, stop: Arc<AtomicBool>) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            let tick = Duration::from_millis(1000 / EPOCH_TICKS_PER_SEC);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawning the epoch ticker thread");
}
