//! From files on disk to compiled components: `{ component = "..." }` dependencies are composed
//! into their importer, the HTTP component must be a WASIp3 handler, and the compiled result is
//! cached on disk so a restart skips Cranelift.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The handler interface Spin 4.0.2 serves with instance reuse (spin-sdk 6's `#[http_service]`).
/// Spin matches this exact version; the final `wasi:http/handler@0.3.0` (spin-sdk 7) is not it.
pub const P3_HANDLER: &str = "wasi:http/handler@0.3.0-rc-2026-03-15";

/// Checks that `bytes` is a component. A core module (a wasip1 build, spin-sdk 5) is refused:
/// Spin would wrap it with the preview1 adapter and serve it as a WASIp2 handler, a fresh
/// instance per request, which this host no longer does.
pub fn require_component(bytes: &[u8], origin: &Path) -> Result<()> {
    // The binary header: magic, then the version (1 for modules) and layer (1 for components).
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => bail!(
            "{} is a core WebAssembly module (a wasm32-wasip1 build); this host runs only \
             components: build it for wasm32-wasip2 (spin-sdk 6)",
            origin.display()
        ),
        _ => bail!(
            "{} is not a WebAssembly module or component",
            origin.display()
        ),
    }
}

/// Checks that an HTTP component exports the WASIp3 handler, naming what it exports instead.
pub fn require_p3_handler(engine: &Engine, component: &Component) -> Result<()> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    if exports.iter().any(|name| name == P3_HANDLER) {
        return Ok(());
    }
    let handler = exports.iter().find(|name| {
        name.starts_with("wasi:http/incoming-handler@")
            || name.starts_with("wasi:http/handler@")
            || name.starts_with("fermyon:spin/inbound-http")
    });
    match handler {
        Some(other) => bail!(
            "it exports {other}, but this host serves only WASIp3 handlers ({P3_HANDLER}, \
             spin-sdk 6's #[http_service])"
        ),
        None => bail!("it exports no HTTP handler (expected {P3_HANDLER})"),
    }
}

/// One dependency to plug into a component: the manifest key (`ns:pkg/iface`, `ns:pkg` or a
/// versioned name), the export to take (defaults to the matched import name) and its bytes.
pub struct Dependency {
    pub key: String,
    pub export: Option<String>,
    pub bytes: Vec<u8>,
    /// `dependencies_inherit_configuration`: when false, Spin plugs the dependency's capability
    /// imports with a deny-all adapter; this host cannot, so it refuses such dependencies.
    pub inherit_configuration: bool,
    pub name: String,
}

/// Whether an import name matches a manifest dependency key, by Spin's rules: `ns:pkg` matches every
/// interface of the package, `ns:pkg/iface` any version of it, a versioned key only itself.
pub fn key_matches(key: &str, import: &str) -> bool {
    if key.contains('@') {
        return key == import;
    }
    let unversioned = import.split('@').next().unwrap_or(import);
    if key.contains('/') {
        unversioned == key
    } else {
        unversioned.split('/').next() == Some(key)
    }
}

/// Capability imports Spin's deny-all adapter would block for a dependency that does not inherit.
fn is_capability(import: &str) -> bool {
    [
        "fermyon:spin/",
        "spin:",
        "wasi:http/outgoing-handler",
        "wasi:sockets/",
        "wasi:keyvalue/",
        "wasi:config/",
    ]
    .iter()
    .any(|prefix| import.starts_with(prefix))
}

pub fn compose(app: Vec<u8>, deps: &[Dependency]) -> Result<Vec<u8>> {
    if deps.is_empty() {
        return Ok(app);
    }
    let mut graph = CompositionGraph::new();
    let app_pkg = Package::from_bytes("app", None, app, graph.types_mut())?;
    let app_id = graph.register_package(app_pkg)?;
    let app_imports: Vec<String> = graph.types()[graph[app_id].ty()]
        .imports
        .keys()
        .cloned()
        .collect();
    let app_exports: Vec<String> = graph.types()[graph[app_id].ty()]
        .exports
        .keys()
        .cloned()
        .collect();
    let app_instance = graph.instantiate(app_id);

    for (i, dep) in deps.iter().enumerate() {
        let pkg = Package::from_bytes(
            &format!("dep{i}"),
            None,
            dep.bytes.clone(),
            graph.types_mut(),
        )
        .with_context(|| format!("dependency {:?}", dep.key))?;
        let dep_id = graph.register_package(pkg)?;
        if !dep.inherit_configuration {
            let world = &graph.types()[graph[dep_id].ty()];
            if let Some(cap) = world.imports.keys().find(|name| is_capability(name)) {
                bail!(
                    "dependency {:?} ({}) imports {cap}; without dependencies_inherit_configuration = true Spin would deny it through an adapter this host does not have",
                    dep.key,
                    dep.name
                );
            }
        }
        let matched: Vec<&String> = app_imports
            .iter()
            .filter(|imp| key_matches(&dep.key, imp))
            .collect();
        if matched.is_empty() {
            bail!(
                "dependency '{}' doesn't match any imports of the component",
                dep.key
            );
        }
        let dep_instance = graph.instantiate(dep_id);
        for import in matched {
            let export_name = dep.export.clone().unwrap_or_else(|| import.clone());
            let export = graph
                .alias_instance_export(dep_instance, &export_name)
                .with_context(|| {
                    format!(
                        "dependency {} doesn't export '{export_name}' to satisfy import '{import}'",
                        dep.name
                    )
                })?;
            graph.set_instantiation_argument(app_instance, import, export)?;
        }
    }
    for name in app_exports {
        let export = graph.alias_instance_export(app_instance, &name)?;
        graph.export(export, &name)?;
    }
    Ok(graph.encode(EncodeOptions::default())?)
}

/// Compiled-code cache: one file per distinct (component bytes, engine configuration).
pub struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        CompileCache { dir }
    }

    pub fn default_dir() -> Option<PathBuf> {
        if let Ok(dir) = std::env::var("SOLARHUB_HOST_CACHE") {
            return (!dir.is_empty()).then(|| PathBuf::from(dir));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("solarhub-host"))
    }

    /// Compiles `bytes`, or loads the code compiled for the same bytes and engine before.
    pub fn compile(&self, engine: &Engine, bytes: &[u8]) -> Result<Component> {
        let Some(dir) = &self.dir else {
            return Ok(Component::new(engine, bytes)?);
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut hasher);
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        let path = dir.join(format!("{:016x}-{}.cwasm", hasher.finish(), bytes.len()));
        if path.exists() {
            // SAFETY: the file was written by `Engine::precompile_component` below, in a cache
            // directory owned by the user running this host; wasmtime checks engine compatibility.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => eprintln!("cache: ignoring {}: {e}", path.display()),
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        std::fs::create_dir_all(dir).ok();
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &compiled)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
        // SAFETY: `compiled` was produced by this engine just now.
        Ok(unsafe { Component::deserialize(engine, &compiled) }?)
    }
}

#[cfg(test)]
mod tests {
    use super::key_matches;

    #[test]
    fn dependency_keys_match_like_spin() {
        assert!(key_matches(
            "solarhub:auth/guard",
            "solarhub:auth/guard@0.1.0"
        ));
        assert!(key_matches("solarhub:auth/guard", "solarhub:auth/guard"));
        assert!(key_matches("solarhub:auth", "solarhub:auth/guard@0.1.0"));
        assert!(key_matches(
            "solarhub:auth/guard@0.1.0",
            "solarhub:auth/guard@0.1.0"
        ));
        assert!(!key_matches(
            "solarhub:auth/guard@0.2.0",
            "solarhub:auth/guard@0.1.0"
        ));
        assert!(!key_matches(
            "solarhub:auth/guardian",
            "solarhub:auth/guard@0.1.0"
        ));
        assert!(!key_matches("solarhub:au", "solarhub:auth/guard"));
    }
}
