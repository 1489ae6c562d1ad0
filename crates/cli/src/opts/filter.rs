//! `--filter key=value` flags collected into the map the API's `filters` parameter encodes.

use berth_client::containers::FilterMap;

/// Parses repeated `--filter` values; Docker's error for a missing `=` is `bad format of filter (expected name=value)`.
pub fn parse_filters(values: &[String]) -> Result<FilterMap, String> {
    let mut map = FilterMap::new();
    for raw in values {
        let (key, value) = raw
            .split_once('=')
            .ok_or_else(|| "bad format of filter (expected name=value)".to_string())?;
        map.entry(key.trim().to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_string());
    }
    Ok(map)
}

/// Parses `KEY=value` pairs (labels, log options, build args) into a map; a bare `KEY` maps to "".
pub fn parse_key_values(values: &[String]) -> std::collections::HashMap<String, String> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) => (k.to_string(), val.to_string()),
            None => (v.clone(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_filters_by_key() {
        let f = parse_filters(&[
            "status=running".into(),
            "status=exited".into(),
            "label=a=b".into(),
        ])
        .unwrap();
        assert_eq!(f["status"], ["running", "exited"]);
        assert_eq!(f["label"], ["a=b"]);
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"label":["a=b"],"status":["running","exited"]}"#
        );
        assert_eq!(
            parse_filters(&["oops".into()]).unwrap_err(),
            "bad format of filter (expected name=value)"
        );
    }

    #[test]
    fn key_values() {
        let m = parse_key_values(&["a=1".into(), "b".into(), "c=x=y".into()]);
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "");
        assert_eq!(m["c"], "x=y");
    }
}
