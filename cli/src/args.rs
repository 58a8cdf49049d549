//! Hand-rolled argument parsing: `--name value`, `--name=value` and boolean `--flag`.

use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;

pub struct Args {
    values: BTreeMap<String, Option<String>>,
    positional: Vec<String>,
}

impl Args {
    /// Parses `args`; `flags` names the options that take no value.
    pub fn parse(args: &[String], flags: &[&str]) -> Result<Args> {
        let mut values = BTreeMap::new();
        let mut positional = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (name, None),
                };
                let value = if flags.contains(&name) {
                    if inline.is_some() {
                        bail!("--{name} takes no value");
                    }
                    None
                } else {
                    Some(match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| anyhow!("--{name} needs a value"))?,
                    })
                };
                if values.insert(name.to_string(), value).is_some() {
                    bail!("--{name} given twice");
                }
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Args { values, positional })
    }

    /// Fails on any option not in `known` and on positional arguments.
    pub fn only(&self, known: &[&str]) -> Result<()> {
        if let Some(p) = self.positional.first() {
            bail!("unexpected argument '{p}'");
        }
        for k in self.values.keys() {
            if !known.contains(&k.as_str()) {
                bail!("unknown option --{k}");
            }
        }
        Ok(())
    }

    pub fn flag(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.as_deref())
    }

    pub fn parse_or<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow!("--{name}: invalid value '{v}'")),
        }
    }

    pub fn required(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| anyhow!("--{name} is required"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_forms() {
        let a = Args::parse(&v(&["--days", "7", "--seed=3", "--quiet"]), &["quiet"]).unwrap();
        a.only(&["days", "seed", "quiet"]).unwrap();
        assert_eq!(a.parse_or("days", 1u32).unwrap(), 7);
        assert_eq!(a.parse_or("seed", 0u64).unwrap(), 3);
        assert_eq!(a.parse_or("end", 5u8).unwrap(), 5);
        assert!(a.flag("quiet"));
        assert!(a.only(&["days"]).is_err());
        assert!(Args::parse(&v(&["--days"]), &[]).is_err());
        assert!(Args::parse(&v(&["--a", "1", "--a", "2"]), &[]).is_err());
        assert!(Args::parse(&v(&["x"]), &[]).unwrap().only(&[]).is_err());
        let bad = Args::parse(&v(&["--days", "x"]), &[]).unwrap();
        assert!(bad.parse_or("days", 1u32).is_err());
    }
}
