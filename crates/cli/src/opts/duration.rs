//! Go's duration syntax (`1m30s`, `500ms`, `2h`) for `--health-interval`, `--since 10m` and friends.

/// Parses a Go duration string into nanoseconds.
pub fn parse_go_duration(input: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration \"{input}\"");
    if input == "0" {
        return Ok(0);
    }
    let (negative, mut rest) = match input.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, input.strip_prefix('+').unwrap_or(input)),
    };
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration \"{input}\""))?;
        let value: f64 = rest[..num_end].parse().map_err(|_| invalid())?;
        let after = &rest[num_end..];
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let scale = match &after[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration \"{input}\"")),
            unit => {
                return Err(format!(
                    "time: unknown unit \"{unit}\" in duration \"{input}\""
                ));
            }
        };
        total += value * scale;
        rest = &after[unit_end..];
    }
    let ns = total.round() as i64;
    Ok(if negative { -ns } else { ns })
}

/// Docker's `--since/--until` values: a Unix timestamp, a Go duration before now, or an RFC 3339 / date string;
/// returned as the `seconds[.nanos]` string the API expects.
pub fn parse_timestamp(input: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String, String> {
    if input.is_empty() {
        return Err("empty timestamp".to_string());
    }
    if input.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Ok(input.to_string());
    }
    if let Ok(ns) = parse_go_duration(input) {
        let at = now - chrono::Duration::nanoseconds(ns);
        return Ok(format_unix(at));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(input) {
        return Ok(format_unix(t.with_timezone(&chrono::Utc)));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(input, fmt) {
            return Ok(format_unix(t.and_utc()));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(input, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(format_unix(t.and_utc()));
    }
    Err(format!(
        "failed to parse value as time or duration: \"{input}\""
    ))
}

fn format_unix(t: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_go_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("10x").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn parses_timestamps_like_docker() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_timestamp("1700000000", now).unwrap(), "1700000000");
        assert_eq!(parse_timestamp("10m", now).unwrap(), "1795434600.000000000");
        assert_eq!(
            parse_timestamp("2026-11-23T11:00:00Z", now).unwrap(),
            "1795431600.000000000"
        );
        assert_eq!(
            parse_timestamp("2026-11-23", now).unwrap(),
            "1795392000.000000000"
        );
        assert!(parse_timestamp("yesterday", now).is_err());
    }
}
