//! The `filters` query parameter: Docker sends a JSON map in two historical shapes; both decode to one type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Filters keyed by name (`status`, `label`, `until`, ...), each with the values asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filters(pub BTreeMap<String, Vec<String>>);

/// The two wire forms: `{"status":["running"]}` and the older `{"status":{"running":true}}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum FilterValues {
    List(Vec<String>),
    Map(BTreeMap<String, bool>),
}

impl Filters {
    /// Parses the query parameter; an empty string means no filters.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.trim().is_empty() {
            return Ok(Filters::default());
        }
        let decoded: BTreeMap<String, FilterValues> = serde_json::from_str(raw)
            .map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?;
        let map = decoded
            .into_iter()
            .map(|(key, values)| {
                let values = match values {
                    FilterValues::List(list) => list,
                    FilterValues::Map(map) => map
                        .into_iter()
                        .filter(|(_, on)| *on)
                        .map(|(v, _)| v)
                        .collect(),
                };
                (key, values)
            })
            .collect();
        Ok(Filters(map))
    }

    /// The values given for one filter name (empty when absent).
    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the filter name was given at all.
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Whether no filter was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Rejects filter names outside `allowed`, with Docker's message.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::invalid(format!("invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// Whether a `label` filter set matches the given labels (`key` or `key=value`; all must match).
    pub fn labels_match(&self, labels: &std::collections::HashMap<String, String>) -> bool {
        self.get("label")
            .iter()
            .all(|want| match want.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
                None => labels.contains_key(want.as_str()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let f = Filters::parse(r#"{"status":["running","paused"]}"#).unwrap();
        assert_eq!(f.get("status"), ["running", "paused"]);
        let f = Filters::parse(r#"{"status":{"running":true,"exited":false}}"#).unwrap();
        assert_eq!(f.get("status"), ["running"]);
        assert!(Filters::parse("").unwrap().is_empty());
        assert!(Filters::parse("{").is_err());
        assert!(Filters::parse(r#"{"a":1}"#).is_err());
    }

    #[test]
    fn label_matching() {
        let f = Filters::parse(r#"{"label":["a","b=2"]}"#).unwrap();
        let mut labels = std::collections::HashMap::new();
        labels.insert("a".to_string(), "x".to_string());
        assert!(!f.labels_match(&labels));
        labels.insert("b".to_string(), "2".to_string());
        assert!(f.labels_match(&labels));
    }
}
