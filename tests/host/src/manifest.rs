//! `spin.toml` (manifest version 2): the parts a Spin HTTP application uses.
//!
//! Anything the manifest says that this host cannot honour is an error at load time, never
//! silently ignored: an app that runs here must mean the same thing on Spin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Deserialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub trigger: Option<toml::Table>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
    #[serde(default)]
    pub redis: Vec<RedisTrigger>,
    /// Other trigger types, kept only to refuse them clearly.
    #[serde(flatten)]
    pub other: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
pub struct HttpTrigger {
    pub route: RouteDecl,
    pub component: ComponentRef,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub executor: Option<toml::Table>,
}

/// `[[trigger.redis]]`: messages on `channel` of the Redis at `address` (default: the
/// application's `[application.trigger.redis] address`) go to `component`. Spin resolves variable
/// templates in both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisTrigger {
    pub component: String,
    pub channel: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RouteDecl {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ComponentRef {
    Named(String),
    Inline(Box<toml::Table>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentDecl {
    pub source: SourceDecl,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub allowed_http_hosts: Option<Vec<String>>,
    #[serde(default)]
    pub files: Vec<toml::Value>,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    #[serde(default)]
    pub ai_models: Vec<String>,
    #[serde(default)]
    pub build: Option<BuildDecl>,
    #[serde(default)]
    pub dependencies_inherit_configuration: bool,
    #[serde(default)]
    pub dependencies: BTreeMap<String, DependencyDecl>,
    #[serde(default)]
    pub tool: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SourceDecl {
    Path(String),
    Other(toml::Table),
}

#[derive(Debug, Deserialize)]
pub struct BuildDecl {
    pub command: toml::Value,
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub watch: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DependencyDecl {
    Local {
        component: String,
        #[serde(default)]
        export: Option<String>,
    },
    Other(toml::Table),
}

impl Manifest {
    pub fn load(path: &Path) -> Result<(Manifest, PathBuf)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        let manifest =
            Manifest::parse(&text).with_context(|| format!("in manifest {}", path.display()))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok((manifest, dir))
    }

    pub fn parse(text: &str) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text)?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<()> {
        if self.spin_manifest_version != 2 {
            bail!("spin_manifest_version must be 2");
        }
        if let Some(kind) = self.trigger.other.keys().next() {
            bail!("trigger type {kind:?} is not supported by this host (HTTP and Redis only)");
        }
        for trigger in &self.trigger.redis {
            if !self.component.contains_key(&trigger.component) {
                bail!(
                    "Redis trigger refers to unknown component {:?}",
                    trigger.component
                );
            }
            if trigger.address.is_none() && self.redis_address().is_none() {
                bail!(
                    "Redis trigger of {:?} has no address, and [application.trigger.redis] none",
                    trigger.component
                );
            }
        }
        if let Some(table) = self.application.trigger.as_ref() {
            if let Some(kind) = table
                .keys()
                .find(|k| !matches!(k.as_str(), "http" | "redis"))
            {
                bail!("[application.trigger.{kind}] is not supported by this host");
            }
            if let Some(redis) = table.get("redis").and_then(|r| r.as_table()) {
                if let Some(key) = redis.keys().find(|k| k.as_str() != "address") {
                    bail!("[application.trigger.redis] has unknown field {key:?}");
                }
            }
        }
        for name in self.variables.keys() {
            crate::variables::check_name(name)?;
        }
        for trigger in &self.trigger.http {
            match &trigger.component {
                ComponentRef::Named(id) if self.component.contains_key(id) => {}
                ComponentRef::Named(id) => bail!("trigger refers to unknown component {id:?}"),
                ComponentRef::Inline(_) => {
                    bail!("inline trigger components are not supported by this host; name them")
                }
            }
            if trigger.executor.is_some() {
                bail!("HTTP executors other than the default are not supported by this host");
            }
        }
        for (id, c) in &self.component {
            if let SourceDecl::Other(_) = c.source {
                bail!("component {id:?}: only local file sources are supported by this host");
            }
            if c.allowed_http_hosts.is_some() {
                bail!("component {id:?}: allowed_http_hosts is manifest v1; use allowed_outbound_hosts");
            }
            let unsupported = [
                ("files", c.files.is_empty()),
                ("key_value_stores", c.key_value_stores.is_empty()),
                ("sqlite_databases", c.sqlite_databases.is_empty()),
                ("ai_models", c.ai_models.is_empty()),
            ];
            if let Some((what, _)) = unsupported.iter().find(|(_, empty)| !empty) {
                bail!("component {id:?}: {what} is not supported by this host");
            }
            for var in c.variables.keys() {
                crate::variables::check_name(var)
                    .with_context(|| format!("component {id:?} variable"))?;
            }
            for (iface, dep) in &c.dependencies {
                match dep {
                    DependencyDecl::Local { component, .. } => {
                        if !self.component.contains_key(component) {
                            bail!("component {id:?}: dependency {iface:?} names unknown component {component:?}");
                        }
                        if component == id {
                            bail!("component {id:?} cannot depend on itself");
                        }
                    }
                    DependencyDecl::Other(_) => bail!(
                        "component {id:?}: dependency {iface:?}: only {{ component = \"...\" }} dependencies are supported by this host"
                    ),
                }
            }
        }
        Ok(())
    }

    /// `[application.trigger.redis] address`, the default of every Redis trigger (a template).
    pub fn redis_address(&self) -> Option<&str> {
        self.application
            .trigger
            .as_ref()?
            .get("redis")?
            .get("address")?
            .as_str()
    }

    pub fn source_path(&self, dir: &Path, component: &str) -> Result<PathBuf> {
        match &self
            .component
            .get(component)
            .context("unknown component")?
            .source
        {
            SourceDecl::Path(p) => Ok(dir.join(p)),
            SourceDecl::Other(_) => bail!("component {component:?} has no local source"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
url = { default = "x" }
key = { required = true, secret = true }
[[trigger.http]]
route = "/a/..."
component = "a"
[[trigger.http]]
route = { private = true }
component = "b"
[component.a]
source = "a.wasm"
allowed_outbound_hosts = ["mysql://{{ host }}"]
dependencies_inherit_configuration = true
[component.a.variables]
host = "{{ url }}"
[component.a.dependencies]
"x:y/z" = { component = "b" }
[component.b]
source = "b.wasm"
"#;

    #[test]
    fn parses_a_typical_manifest() {
        let m = Manifest::parse(MINIMAL).unwrap();
        assert_eq!(m.trigger.http.len(), 2);
        assert!(matches!(
            m.trigger.http[1].route,
            RouteDecl::Private { private: true }
        ));
        let a = &m.component["a"];
        assert!(a.dependencies_inherit_configuration);
        assert!(m.variables["key"].required && m.variables["key"].secret);
    }

    #[test]
    fn parses_redis_triggers_like_spin() {
        let text = MINIMAL.replacen(
            "[[trigger.http]]",
            "[[trigger.redis]]\nchannel = \"{{ url }}alerts\"\ncomponent = \"b\"\n\n[[trigger.http]]",
            1,
        );
        let text = text.replacen(
            "name = \"t\"",
            "name = \"t\"\n[application.trigger.redis]\naddress = \"redis://h:6379\"",
            1,
        );
        let m = Manifest::parse(&text).unwrap();
        assert_eq!(m.redis_address(), Some("redis://h:6379"));
        assert_eq!(m.trigger.redis[0].channel, "{{ url }}alerts");
        assert_eq!(m.trigger.redis[0].component, "b");
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let cases = [
            ("spin_manifest_version = 2", "spin_manifest_version = 1"),
            ("component = \"a\"", "component = \"nope\""),
            (
                "source = \"b.wasm\"",
                "source = { url = \"https://x\", digest = \"sha256:0\" }",
            ),
            (
                "\"x:y/z\" = { component = \"b\" }",
                "\"x:y/z\" = { component = \"nope\" }",
            ),
            (
                "\"x:y/z\" = { component = \"b\" }",
                "\"x:y/z\" = { version = \"1.0\" }",
            ),
            (
                "[component.b]",
                "[[trigger.mqtt]]\ncomponent = \"b\"\n[component.b]",
            ),
            (
                "[component.b]",
                "[[trigger.redis]]\ncomponent = \"b\"\nchannel = \"c\"\n[component.b]",
            ),
            (
                "url = { default = \"x\" }",
                "Bad-Name = { default = \"x\" }",
            ),
        ];
        for (from, to) in cases {
            let text = MINIMAL.replacen(from, to, 1);
            assert!(Manifest::parse(&text).is_err(), "accepted: {to}");
        }
    }
}
