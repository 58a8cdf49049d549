//! `runtime-config.toml`: the variable providers of Spin's runtime configuration (`[[variables_provider]]`,
//! or the legacy `[[config_provider]]`). Stores this app does not use are refused, not ignored.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::variables::{read_dotenv, Source};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeConfig {
    #[serde(default)]
    variables_provider: Vec<ProviderDecl>,
    #[serde(default)]
    config_provider: Vec<ProviderDecl>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ProviderDecl {
    Env {
        #[serde(default)]
        prefix: Option<String>,
        #[serde(default)]
        dotenv_path: Option<String>,
    },
    Static {
        values: HashMap<String, String>,
    },
}

/// The providers the file declares, in order; relative dotenv paths are relative to `base`.
pub fn load(path: &Path, base: &Path) -> Result<Vec<Source>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading runtime config {}", path.display()))?;
    parse(&text, base).with_context(|| format!("in runtime config {}", path.display()))
}

pub fn parse(text: &str, base: &Path) -> Result<Vec<Source>> {
    let config: RuntimeConfig = toml::from_str(text)?;
    let decls = if config.variables_provider.is_empty() {
        config.config_provider
    } else {
        config.variables_provider
    };
    let mut sources = Vec::new();
    for decl in decls {
        sources.push(match decl {
            ProviderDecl::Env {
                prefix,
                dotenv_path,
            } => {
                let prefix = prefix.unwrap_or_else(|| "SPIN_VARIABLE".to_owned());
                if prefix.is_empty() {
                    bail!("an env provider's prefix cannot be empty");
                }
                let dotenv = dotenv_path
                    .map(|p| read_dotenv(&base.join(p)))
                    .unwrap_or_default();
                Source::Env { prefix, dotenv }
            }
            ProviderDecl::Static { values } => Source::Static(values),
        });
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_env_and_static_providers() {
        let dir = std::env::temp_dir().join(format!("rc-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(".env.test"),
            "# c\nSOLARHUB_RC_PROBE_KEY=\"from dotenv\"\n",
        )
        .unwrap();
        let sources = parse(
            r#"
[[variables_provider]]
type = "env"
prefix = "SOLARHUB_RC_PROBE"
dotenv_path = ".env.test"

[[variables_provider]]
type = "static"
values = { key = "static" }
"#,
            &dir,
        )
        .unwrap();
        assert_eq!(sources.len(), 2);
        let decls = std::collections::BTreeMap::from([(
            "key".to_owned(),
            crate::manifest::VariableDecl {
                required: true,
                ..Default::default()
            },
        )]);
        let app = crate::variables::AppVariables::resolve(
            &decls,
            &crate::variables::Provider::new(sources),
        )
        .unwrap();
        assert_eq!(app.get("key"), Some("from dotenv"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn refuses_unknown_providers_and_tables() {
        let base = Path::new(".");
        assert!(parse(
            "[[variables_provider]]\ntype = \"vault\"\nurl = \"x\"",
            base
        )
        .is_err());
        assert!(parse("[key_value_store.default]\ntype = \"redis\"", base).is_err());
        assert!(parse("", base).unwrap().is_empty());
    }
}
