//! deploy/ checked offline: the SpinKube manifests against the SpinApp and SpinAppExecutor CRD
//! schemas vendored from spin-operator v0.6.1 (deploy/kubernetes/crd/), the SpinApp's variables
//! against spin.toml (every secret from a Kubernetes Secret, never inline), and every runtime
//! config example against the fields Spin 4.0.2's variables providers accept.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Value};

fn deploy() -> PathBuf {
    common::repo_root().join("deploy")
}

/// Every document of a YAML file, as JSON values.
fn yaml_documents(path: &PathBuf) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// The CRD of `kind`, and the OpenAPI v3 schema of its `version`.
fn crd_schema(kind: &str, version: &str) -> (Value, Value) {
    let file = match kind {
        "SpinApp" => "core.spinkube.dev_spinapps.yaml",
        "SpinAppExecutor" => "core.spinkube.dev_spinappexecutors.yaml",
        other => panic!("no vendored CRD for {other}"),
    };
    let crd = yaml_documents(&deploy().join("kubernetes/crd").join(file)).remove(0);
    assert_eq!(crd["spec"]["names"]["kind"], kind);
    let schema = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("{kind} CRD has no version {version}"))["schema"]
        ["openAPIV3Schema"]
        .clone();
    (crd, schema)
}

/// Schema violations of a manifest document (empty: valid). Kubernetes' structural schemas are
/// OpenAPI 3.0 schema objects, a subset of JSON Schema draft 4; its `x-kubernetes-*` extensions
/// are not JSON Schema and are ignored here (they steer merging, not validity).
fn violations(doc: &Value) -> Vec<String> {
    let kind = doc["kind"].as_str().unwrap();
    let (group, version) = doc["apiVersion"].as_str().unwrap().split_once('/').unwrap();
    let (crd, schema) = crd_schema(kind, version);
    assert_eq!(crd["spec"]["group"], group, "{kind}'s apiVersion group");
    let validator = jsonschema::draft4::new(&schema).expect("the CRD schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn spinkube_documents() -> Vec<Value> {
    yaml_documents(&deploy().join("kubernetes/spinapp.yaml"))
}

fn spin_app() -> Value {
    spinkube_documents()
        .into_iter()
        .find(|d| d["kind"] == "SpinApp")
        .expect("a SpinApp")
}

#[test]
fn spinkube_manifests_match_the_vendored_crds() {
    let docs = spinkube_documents();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["SpinAppExecutor", "SpinApp"]);
    for doc in &docs {
        assert_eq!(violations(doc), Vec::<String>::new(), "{}", doc["kind"]);
    }
    let app = spin_app();
    let executor = &docs[0];
    assert_eq!(app["spec"]["executor"], executor["metadata"]["name"]);
    // Spin >= 4.0 runs WASIp3 handlers: the executor's image must be one.
    let image = executor["spec"]["deploymentConfig"]["spinImage"]
        .as_str()
        .unwrap();
    let tag = image.rsplit(':').next().unwrap();
    assert!(tag.starts_with("v4."), "{image}");
    assert!(app["spec"]["replicas"].as_i64().unwrap() >= 2);
    for key in ["cpu", "memory"] {
        assert!(app["spec"]["resources"]["limits"][key].is_string(), "{key}");
        assert!(
            app["spec"]["resources"]["requests"][key].is_string(),
            "{key}"
        );
    }
}

#[test]
fn the_crd_schema_catches_broken_manifests() {
    let app = spin_app();
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut doc = app.clone();
        edit(&mut doc);
        violations(&doc)
    };
    assert!(!broken(&|d| d["spec"]["replicas"] = json!("two")).is_empty());
    assert!(!broken(&|d| d["spec"]["resources"]["limits"]["memory"] = json!("lots")).is_empty());
    assert!(!broken(&|d| {
        d["spec"]["checks"]["readiness"]["httpGet"]
            .as_object_mut()
            .unwrap()
            .remove("path");
    })
    .is_empty());
    assert!(!broken(&|d| {
        d["spec"]["variables"][0]
            .as_object_mut()
            .unwrap()
            .remove("name");
    })
    .is_empty());
    assert!(!broken(&|d| {
        d["spec"].as_object_mut().unwrap().remove("image");
    })
    .is_empty());
}

/// spin.toml's application variables: name → (required, secret).
fn app_variables() -> Vec<(String, bool, bool)> {
    let manifest: toml::Table = fs::read_to_string(common::repo_root().join("spin.toml"))
        .unwrap()
        .parse()
        .unwrap();
    manifest["variables"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(name, v)| {
            let flag = |k: &str| v.get(k).and_then(toml::Value::as_bool).unwrap_or(false);
            (name.clone(), flag("required"), flag("secret"))
        })
        .collect()
}

#[test]
fn spinapp_variables_are_the_apps_and_secrets_come_from_secrets() {
    let app = spin_app();
    let bound = app["spec"]["variables"].as_array().unwrap();
    let declared = app_variables();
    let mut secret_keys = BTreeSet::new();
    for var in bound {
        let name = var["name"].as_str().unwrap();
        let (_, _, secret) = declared
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("{name} is not a variable of spin.toml"));
        match (&var["value"], &var["valueFrom"]["secretKeyRef"]) {
            (Value::Null, Value::Object(reference)) => {
                assert_eq!(reference["name"], "solarhub-secrets", "{name}");
                assert_eq!(reference["key"], name, "{name}: key named as the variable");
                secret_keys.insert(name.to_owned());
            }
            (Value::String(_), Value::Null) => {
                assert!(
                    !secret,
                    "{name} is secret: bind it from the Secret, not inline"
                )
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    for (name, required, secret) in &declared {
        if *required || *secret {
            assert!(
                secret_keys.contains(name),
                "{name} (secret or required) is not bound from solarhub-secrets"
            );
        }
    }
    // secrets.env.example lists exactly the keys the SpinApp reads.
    let example = fs::read_to_string(deploy().join("kubernetes/secrets.env.example")).unwrap();
    let listed: BTreeSet<String> = example
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once('=').unwrap().0.to_owned())
        .collect();
    assert_eq!(listed, secret_keys);
    assert!(!example.contains("\njwt_secret=\n"));

    // Liveness asks Spin; readiness asks the app's health route, which spin.toml routes.
    let checks = &app["spec"]["checks"];
    assert_eq!(
        checks["liveness"]["httpGet"]["path"],
        "/.well-known/spin/health"
    );
    let readiness = checks["readiness"]["httpGet"]["path"].as_str().unwrap();
    let manifest = fs::read_to_string(common::repo_root().join("spin.toml")).unwrap();
    assert!(
        manifest.contains(&format!("route = \"{readiness}\"")),
        "{readiness}"
    );
    // The runtime config comes from a Secret too.
    assert_eq!(
        app["spec"]["runtimeConfig"]["loadFromSecret"],
        "solarhub-runtime-config"
    );
}

/// Every runtime config in deploy/ (and the repository's own) uses only providers and fields that
/// Spin 4.0.2 accepts (its provider configs deny unknown fields), and holds no real credential.
#[test]
fn runtime_config_examples_use_only_what_spin_accepts() {
    let mut files: Vec<PathBuf> = fs::read_dir(deploy().join("runtime-config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(deploy().join("kubernetes/runtime-config.toml"));
    files.push(common::repo_root().join("runtime-config.toml"));
    let mut types = BTreeSet::new();
    for file in &files {
        let config: toml::Table = fs::read_to_string(file).unwrap().parse().unwrap();
        let providers = config["variables_provider"].as_array().unwrap();
        assert_eq!(
            providers[0]["type"].as_str(),
            Some("env"),
            "{}: the environment first, so non-secret variables never reach a remote store",
            file.display()
        );
        for provider in providers {
            let provider = provider.as_table().unwrap();
            let kind = provider["type"].as_str().unwrap();
            let allowed: &[&str] = match kind {
                "env" => &["type", "prefix", "dotenv_path"],
                "vault" => &["type", "url", "token", "mount", "prefix"],
                "azure_key_vault" => &[
                    "type",
                    "vault_url",
                    "client_id",
                    "client_secret",
                    "tenant_id",
                    "authority_host",
                ],
                other => panic!("{}: unknown provider {other}", file.display()),
            };
            for key in provider.keys() {
                assert!(allowed.contains(&key.as_str()), "{}: {key}", file.display());
            }
            if let Some(token) = provider.get("token").and_then(toml::Value::as_str) {
                assert!(
                    token.starts_with("REPLACE"),
                    "a real token in {}",
                    file.display()
                );
            }
            types.insert(kind.to_owned());
        }
    }
    assert_eq!(
        types,
        BTreeSet::from(["azure_key_vault".into(), "env".into(), "vault".into()])
    );
}
