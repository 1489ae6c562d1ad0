//! `--ulimit name=soft[:hard]`: clap's value parser over berth-api's shared ulimit notation.

use berth_api::config::Ulimit;

/// Parses one `--ulimit` value with go-units' error texts.
pub fn parse_ulimit(spec: &str) -> Result<Ulimit, String> {
    berth_api::ulimit::parse_ulimit(spec).map_err(|e| e.to_string())
}
