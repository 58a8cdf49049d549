//! Application and component variables, resolved the way Spin resolves them: component variables
//! are templates over application variables; application variables come from a provider (here the
//! `SPIN_VARIABLE_<NAME>` environment, or values a test passes in) before their default.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use crate::manifest::VariableDecl;

/// Spin's rule for variable names: lowercase ASCII letters, digits and single underscores, starting
/// with a letter.
pub fn check_name(name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    let ok = bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        && !name.contains("__")
        && !name.ends_with('_');
    if ok {
        Ok(())
    } else {
        bail!("invalid variable name {name:?}: use lowercase letters, digits and single underscores, starting with a letter")
    }
}

/// The environment variable a Spin application variable is read from.
pub fn env_name(variable: &str) -> String {
    format!("SPIN_VARIABLE_{}", variable.to_ascii_uppercase())
}

/// One place application variable values come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Fixed values (`spin up --variable`, runtime-config `type = "static"`, or a test).
    Static(HashMap<String, String>),
    /// `<PREFIX>_<NAME>` from the process environment, else from a dotenv file.
    Env {
        prefix: String,
        dotenv: HashMap<String, String>,
    },
}

impl Source {
    /// Spin's built-in provider: `SPIN_VARIABLE_<NAME>`, falling back to `./.env`.
    pub fn builtin_env() -> Source {
        Source::Env {
            prefix: "SPIN_VARIABLE".to_owned(),
            dotenv: read_dotenv(Path::new(".env")),
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        match self {
            Source::Static(values) => values.get(name).cloned(),
            Source::Env { prefix, dotenv } => {
                let key = format!("{prefix}_{}", name.to_ascii_uppercase());
                std::env::var(&key)
                    .ok()
                    .or_else(|| dotenv.get(&key).cloned())
            }
        }
    }
}

/// `KEY=value` lines; blank lines and `#` comments skipped, one layer of quotes removed.
pub fn read_dotenv(path: &Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_owned(), unquoted.to_owned())
        })
        .collect()
}

/// Where application variable values come from, in precedence order, before defaults.
#[derive(Debug, Clone, Default)]
pub struct Provider {
    sources: Vec<Source>,
}

impl Provider {
    pub fn new(sources: Vec<Source>) -> Self {
        Provider { sources }
    }

    /// Values set programmatically (tests), keyed by variable name. They win over the environment.
    pub fn with_values(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Provider {
            sources: vec![
                Source::Static(values.into_iter().collect()),
                Source::builtin_env(),
            ],
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.sources.iter().find_map(|s| s.lookup(name))
    }
}

/// Application variables with their final values.
#[derive(Debug, Clone, Default)]
pub struct AppVariables {
    values: HashMap<String, String>,
    secret: Vec<String>,
}

impl AppVariables {
    pub fn resolve(decls: &BTreeMap<String, VariableDecl>, provider: &Provider) -> Result<Self> {
        let mut values = HashMap::new();
        let mut missing = Vec::new();
        for (name, decl) in decls {
            if decl.required == decl.default.is_some() {
                bail!("variable {name:?}: set either `required = true` or a `default`, not both or neither");
            }
            match provider.lookup(name).or_else(|| decl.default.clone()) {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            bail!(
                "required variables have no value: {} (set {})",
                missing.join(", "),
                missing
                    .iter()
                    .map(|m| env_name(m))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let secret = decls
            .iter()
            .filter(|(_, d)| d.secret)
            .map(|(n, _)| n.clone())
            .collect();
        Ok(AppVariables { values, secret })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.secret.iter().any(|s| s == name)
    }
}

/// Expands `{{ name }}` references to application variables in `template`.
pub fn expand(template: &str, app: &AppVariables) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| anyhow!("unclosed {{{{ in {template:?}"))?;
        let name = after[..end].trim();
        check_name(name)?;
        let value = app.get(name).ok_or_else(|| {
            anyhow!("template {template:?} refers to undefined variable {name:?}")
        })?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        bail!("unmatched }} in {template:?}");
    }
    out.push_str(rest);
    Ok(out)
}

/// A component's variables, expanded.
#[derive(Debug, Clone, Default)]
pub struct ComponentVariables {
    values: HashMap<String, String>,
}

/// What a guest's `variables.get` can fail with (fermyon:spin/variables@2.0.0 `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    InvalidName(String),
    Undefined(String),
}

impl ComponentVariables {
    pub fn resolve(templates: &BTreeMap<String, String>, app: &AppVariables) -> Result<Self> {
        let mut values = HashMap::new();
        for (name, template) in templates {
            let value = expand(template, app).map_err(|e| anyhow!("variable {name:?}: {e}"))?;
            values.insert(name.clone(), value);
        }
        Ok(ComponentVariables { values })
    }

    pub fn get(&self, name: &str) -> Result<String, GetError> {
        if check_name(name).is_err() {
            return Err(GetError::InvalidName(format!(
                "invalid variable name {name:?}"
            )));
        }
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| GetError::Undefined(format!("no variable for {name:?}")))
    }

    pub fn raw(&self) -> &HashMap<String, String> {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(default: Option<&str>, required: bool) -> VariableDecl {
        VariableDecl {
            default: default.map(str::to_owned),
            required,
            ..Default::default()
        }
    }

    #[test]
    fn names_follow_spin_rules() {
        for ok in ["a", "db_ess_url", "x1_y2"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "_a", "A", "a-b", "a__b", "a_", "a.b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(env_name("db_ess_url"), "SPIN_VARIABLE_DB_ESS_URL");
    }

    #[test]
    fn provider_beats_default_and_required_must_be_set() {
        let decls = BTreeMap::from([
            ("a".to_owned(), decl(Some("def"), false)),
            ("b".to_owned(), decl(None, true)),
            ("c".to_owned(), decl(Some(""), false)),
        ]);
        let provider = Provider::with_values([("b".to_owned(), "set".to_owned())]);
        let app = AppVariables::resolve(&decls, &provider).unwrap();
        assert_eq!(app.get("a"), Some("def"));
        assert_eq!(app.get("b"), Some("set"));
        assert_eq!(app.get("c"), Some(""));
        let neither = BTreeMap::from([("d".to_owned(), decl(None, false))]);
        assert!(AppVariables::resolve(&neither, &Provider::default()).is_err());

        let overridden = Provider::with_values([
            ("a".to_owned(), "over".to_owned()),
            ("b".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(
            AppVariables::resolve(&decls, &overridden).unwrap().get("a"),
            Some("over")
        );

        let err = AppVariables::resolve(&decls, &Provider::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("SPIN_VARIABLE_B"), "{err}");
    }

    #[test]
    fn environment_provides_values() {
        // A name no other test uses, so setting the process environment cannot race.
        let decls = BTreeMap::from([("solarhub_env_probe".to_owned(), decl(Some("d"), false))]);
        std::env::set_var("SPIN_VARIABLE_SOLARHUB_ENV_PROBE", "from-env");
        let app =
            AppVariables::resolve(&decls, &Provider::new(vec![Source::builtin_env()])).unwrap();
        assert_eq!(app.get("solarhub_env_probe"), Some("from-env"));
    }

    #[test]
    fn templates_expand_and_component_get_reports_spin_errors() {
        let decls = BTreeMap::from([
            ("host".to_owned(), decl(Some("db:3306"), false)),
            ("user".to_owned(), decl(Some("root"), false)),
        ]);
        let app = AppVariables::resolve(&decls, &Provider::default()).unwrap();
        assert_eq!(
            expand("mysql://{{user}}@{{ host }}/x", &app).unwrap(),
            "mysql://root@db:3306/x"
        );
        assert!(expand("{{ nope }}", &app).is_err());
        assert!(expand("{{ host ", &app).is_err());

        let templates = BTreeMap::from([("url".to_owned(), "mysql://{{ host }}".to_owned())]);
        let comp = ComponentVariables::resolve(&templates, &app).unwrap();
        assert_eq!(comp.get("url").unwrap(), "mysql://db:3306");
        assert!(matches!(comp.get("host"), Err(GetError::Undefined(_))));
        assert!(matches!(comp.get("Bad"), Err(GetError::InvalidName(_))));
    }
}
