//! Query-string parsing with Docker's rules: first value wins, unknown keys are ignored, bad values are a 400.

use std::str::FromStr;

use axum::extract::FromRequestParts;
use berth_api::{ApiError, Filters};
use http::request::Parts;

use crate::error::HttpError;

/// The decoded query string of a request.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a raw query string (`a=1&b=x`).
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map(Params)
            .map_err(|e| ApiError::invalid(format!("invalid query string: {e}")))
    }

    /// The first value of `key`, if present.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key` as an owned string, treating empty as absent.
    pub fn string(&self, key: &str) -> Option<String> {
        self.str(key).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// Every value of a repeated key (`names=a&names=b`).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean flag: Docker's false words (`""`, `0`, `no`, `false`, `none`) and true words (`1`, `true`,
    /// `yes`, `on`, `y`), case-insensitive; anything else is a 400. Absent gives `default`.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        let Some(raw) = self.str(key) else {
            return Ok(default);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "no" | "false" | "none" | "n" | "off" => Ok(false),
            "1" | "true" | "yes" | "on" | "y" => Ok(true),
            _ => Err(ApiError::invalid(format!(
                "invalid boolean value for {key}: {raw:?}"
            ))),
        }
    }

    /// A boolean flag that defaults to false.
    pub fn bool(&self, key: &str) -> Result<bool, ApiError> {
        self.bool_or(key, false)
    }

    /// A number; absent or empty gives `None`, unparsable is a 400.
    pub fn num<T: FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.str(key).map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| {
                ApiError::invalid(format!("invalid value for {key}: {raw:?} is not a number"))
            }),
        }
    }

    /// The `filters` parameter (JSON, both of Docker's shapes).
    pub fn filters(&self) -> Result<Filters, ApiError> {
        Filters::parse(self.str("filters").unwrap_or(""))
    }

    /// A JSON-encoded parameter (`buildargs`, `labels`, `cachefrom`); absent or empty gives the default.
    pub fn json<T: serde::de::DeserializeOwned + Default>(&self, key: &str) -> Result<T, ApiError> {
        match self.str(key).map(str::trim) {
            None | Some("") => Ok(T::default()),
            Some(raw) => serde_json::from_str(raw)
                .map_err(|e| ApiError::invalid(format!("invalid value for {key}: {e}"))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or(""))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_ints_and_repeats() {
        let p = Params::parse("all=1&size=False&t=5&names=a&names=b&bad=maybe&n=x").unwrap();
        assert!(p.bool("all").unwrap());
        assert!(!p.bool("size").unwrap());
        assert!(p.bool_or("absent", true).unwrap());
        assert!(p.bool("bad").is_err());
        assert_eq!(p.num::<i64>("t").unwrap(), Some(5));
        assert!(p.num::<i64>("n").is_err());
        assert_eq!(p.all("names"), ["a", "b"]);
    }
}
