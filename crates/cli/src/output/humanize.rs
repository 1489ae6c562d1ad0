//! Docker's (go-units) human texts: "About a minute", "2 hours", `4.26MB` (base 1000).

use std::time::Duration;

/// go-units `HumanDuration`.
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    let minutes = seconds / 60;
    let hours = ((d.as_secs_f64() / 3600.0) + 0.5) as u64;
    if seconds < 1 {
        "Less than a second".to_string()
    } else if seconds == 1 {
        "1 second".to_string()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".to_string()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", (d.as_secs_f64() / 3600.0 / 24.0 / 365.0) as u64)
    }
}

/// "N units ago" from a Unix timestamp, as `docker ps`/`images` print CREATED.
pub fn time_ago(unix_seconds: i64, now: i64) -> String {
    let secs = (now - unix_seconds).max(0) as u64;
    format!("{} ago", human_duration(Duration::from_secs(secs)))
}

/// Go's `%.<precision>g`: shortest form with `precision` significant digits, trailing zeros removed.
pub fn format_g(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    let sci = format!("{:.*e}", precision.saturating_sub(1), value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{value:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn scaled(size: f64, base: f64, units: &[&str; 9], precision: usize) -> String {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", format_g(size, precision), units[i])
}

/// go-units `HumanSizeWithPrecision` (base 1000): `4.26MB` with precision 3.
pub fn human_size_precision(size: f64, precision: usize) -> String {
    scaled(size, 1000.0, &DECIMAL_UNITS, precision)
}

/// go-units `HumanSize` (precision 4).
pub fn human_size(size: f64) -> String {
    human_size_precision(size, 4)
}

/// go-units `BytesSize` (base 1024: `1.5MiB`), used by `docker stats`.
pub fn bytes_size(size: f64) -> String {
    scaled(size, 1024.0, &BINARY_UNITS, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_go_units() {
        let d = |s| human_duration(Duration::from_secs(s));
        assert_eq!(
            human_duration(Duration::from_millis(200)),
            "Less than a second"
        );
        assert_eq!(d(1), "1 second");
        assert_eq!(d(3), "3 seconds");
        assert_eq!(d(59), "59 seconds");
        assert_eq!(d(60), "About a minute");
        assert_eq!(d(119), "About a minute");
        assert_eq!(d(120), "2 minutes");
        assert_eq!(d(3599), "59 minutes");
        assert_eq!(d(3600), "About an hour");
        assert_eq!(d(2 * 3600), "2 hours");
        assert_eq!(d(47 * 3600), "47 hours");
        assert_eq!(d(48 * 3600), "2 days");
        assert_eq!(d(15 * 86400), "2 weeks");
        assert_eq!(d(70 * 86400), "2 months");
        assert_eq!(d(800 * 86400), "2 years");
        assert_eq!(time_ago(100, 103), "3 seconds ago");
    }

    #[test]
    fn sizes_match_go_units() {
        assert_eq!(human_size_precision(4_261_000.0, 3), "4.26MB");
        assert_eq!(human_size_precision(1_240_000.0, 3), "1.24MB");
        assert_eq!(human_size_precision(0.0, 3), "0B");
        assert_eq!(human_size_precision(999.0, 3), "999B");
        assert_eq!(human_size_precision(1000.0, 3), "1kB");
        assert_eq!(human_size_precision(77_800_000.0, 3), "77.8MB");
        assert_eq!(human_size(1_234_567.0), "1.235MB");
        assert_eq!(human_size(12.0), "12B");
        assert_eq!(bytes_size(1536.0 * 1024.0), "1.5MiB");
        assert_eq!(format_g(999.9, 3), "1e+03");
        assert_eq!(format_g(0.000012, 2), "1.2e-05");
    }
}
