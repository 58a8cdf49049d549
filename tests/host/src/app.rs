//! A loaded application: its router and, per routed component, a pre-instantiated WASIp3 handler
//! with its resolved configuration and the instances that serve it (see `instance.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};
use wasmtime_wasi_http::handler::ProxyHandler;

use crate::instance::{Instances, ReuseConfig, EPOCH_TICKS_PER_SEC};
use crate::loader::{self, CompileCache, Dependency};
use crate::manifest::{ComponentRef, DependencyDecl, Manifest, RouteDecl};
use crate::outbound::AllowedHosts;
use crate::redis_trigger::RedisTriggers;
use crate::routes::Router;
use crate::state::{ComponentContext, InstanceState, StoreCounters};
use crate::variables::{expand, AppVariables, ComponentVariables, Provider, Source};

#[derive(Debug, Clone)]
pub struct HostOptions {
    pub manifest: PathBuf,
    pub runtime_config: Option<PathBuf>,
    /// Variable values that win over every provider (`--variable`, tests).
    pub variables: Vec<(String, String)>,
    pub cache_dir: Option<PathBuf>,
    /// A request still running after this is answered with a 500 and its instance is stopped
    /// (a busy guest traps at the next epoch tick). Spin 4.0.2 has no deadline by default
    /// (`--request-timeout`); this host keeps one so a stuck guest cannot hang a test.
    pub request_timeout: Duration,
    /// Requests one instance serves before it is dropped (Spin: `--max-instance-reuse-count`, 128).
    pub max_instance_reuse_count: usize,
    /// Requests one instance serves at once (Spin: `--max-instance-concurrent-reuse-count`, 16).
    pub max_instance_concurrent_reuse_count: usize,
    /// An instance with no work for this long is dropped (Spin: `--idle-instance-timeout`, 1 s).
    pub idle_instance_timeout: Duration,
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
            max_instance_reuse_count: 128,
            max_instance_concurrent_reuse_count: 16,
            idle_instance_timeout: Duration::from_secs(1),
            max_instance_memory: 128 << 20,
        }
    }

    fn reuse(&self) -> ReuseConfig {
        ReuseConfig {
            max_instance_reuse_count: self.max_instance_reuse_count.max(1),
            max_instance_concurrent_reuse_count: self.max_instance_concurrent_reuse_count.max(1),
            idle_instance_timeout: self.idle_instance_timeout,
            request_timeout: self.request_timeout,
            max_instance_memory: self.max_instance_memory,
        }
    }
}

pub struct LoadedComponent {
    /// Hands requests to this component's instances (wasmtime-wasi-http's reuse machinery).
    pub handler: ProxyHandler<Instances>,
    pub ctx: Arc<ComponentContext>,
}

impl LoadedComponent {
    /// Instances created so far (the first is 1).
    pub fn instances_started(&self) -> u64 {
        self.handler
            .state()
            .counter
            .started
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Instances that ended with an error (a trap, a deadline).
    pub fn instances_failed(&self) -> u64 {
        self.handler
            .state()
            .counter
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

pub struct App {
    pub name: String,
    pub engine: Engine,
    pub router: Router,
    pub components: HashMap<String, LoadedComponent>,
    /// The Redis triggers; their subscribers run once started (`RedisTriggers::spawn`).
    pub redis: Arc<RedisTriggers>,
    pub stores: Arc<StoreCounters>,
    pub options: HostOptions,
    ticker_stop: Arc<AtomicBool>,
}

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
        // What spin-sdk 6 components import: WASI 0.2 from Rust's std on wasm32-wasip2, WASI and
        // wasi:http at 0.3.0-rc from the handler bindings, and the fermyon:spin@2.0.0 stores.
        let mut linker: Linker<InstanceState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi::p3::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
        crate::bindings::SpinImports::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |s| s,
        )?;
        crate::redis_trigger::add_to_linker(&mut linker)?;

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
        let stores = Arc::new(StoreCounters::default());
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
        // A component as loaded for any trigger: its dependencies composed in, compiled, with
        // its configuration resolved.
        let build = |id: &String| -> Result<(Component, Arc<ComponentContext>)> {
            let decl = &manifest.component[id];
            let read = |component: &str| -> Result<Vec<u8>> {
                let path = manifest.source_path(&dir, component)?;
                let bytes = std::fs::read(&path).with_context(|| {
                    format!(
                        "component {component:?}: reading {} (did you run `make build`?)",
                        path.display()
                    )
                })?;
                loader::require_component(&bytes, &path)?;
                Ok(bytes)
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
            Ok((component, ctx))
        };
        for id in triggered {
            let (component, ctx) = build(id)?;
            loader::require_p3_handler(&engine, &component)
                .with_context(|| format!("component {id:?} cannot serve HTTP here"))?;
            let pre = linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!("component {id:?} imports something this host does not provide")
                })?;
            let handler = Instances::handler(engine.clone(), ctx.clone(), options.reuse(), pre)
                .with_context(|| format!("component {id:?}"))?;
            components.insert(id.clone(), LoadedComponent { handler, ctx });
        }

        let mut redis = RedisTriggers::new(
            engine.clone(),
            options.request_timeout,
            options.max_instance_memory,
        );
        for trigger in &manifest.trigger.redis {
            let id = &trigger.component;
            let (component, ctx) = build(id)?;
            redis
                .add_component(&linker, &component, ctx)
                .with_context(|| format!("component {id:?} cannot run on a Redis trigger"))?;
            // As Spin: the trigger's own address, else the application's; both may use variables.
            let address = trigger
                .address
                .as_deref()
                .or(manifest.redis_address())
                .unwrap_or_default();
            let address = expand(address, &app_vars)
                .with_context(|| format!("Redis trigger address of {id:?}"))?;
            let channel = expand(&trigger.channel, &app_vars)
                .with_context(|| format!("Redis trigger channel of {id:?}"))?;
            redis.subscribe(address, channel, id.clone());
        }

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(&engine, ticker_stop.clone());
        eprintln!(
            "Loaded {} ({} components) in {} ms",
            manifest.application.name,
            components.len() + redis.components.len(),
            started.elapsed().as_millis()
        );
        Ok(App {
            name: manifest.application.name,
            engine,
            router,
            components,
            redis: Arc::new(redis),
            stores,
            options,
            ticker_stop,
        })
    }
}

impl App {
    /// Waits (at most `patience`) until no instance of any component is alive.
    pub async fn instances_ended(&self, patience: Duration) -> bool {
        let until = Instant::now() + patience;
        loop {
            let live: u64 = self
                .components
                .values()
                .map(|c| c.handler.state().counter.live.load(Ordering::Relaxed))
                .sum();
            if live == 0 {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Live instances the pooling allocator reserves room for (each serves up to
/// `max_instance_concurrent_reuse_count` requests at once).
const POOLED_INSTANCES: u32 = 256;

fn new_engine(max_instance_memory: usize) -> Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    // Like Spin: pre-reserved slots for instances, memories, tables and fiber stacks make a new
    // instance cheap (no mmap/munmap per instance).
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
