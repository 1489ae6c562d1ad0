//! Docker's size syntax (go-units `RAMInBytes`): `512`, `64k`, `1.5g`, `2MiB`, base 1024.

/// Parses a memory size as `docker run -m` does; the error text is go-units' `invalid size: 'x'`.
pub fn parse_ram_size(input: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{input}'");
    let number_end = input
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(input.len());
    let (number, rest) = input.split_at(number_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(invalid());
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars().peekable();
    let multiplier: f64 = match chars.peek().map(|c| c.to_ascii_lowercase()) {
        Some('k') => 1024f64,
        Some('m') => 1024f64.powi(2),
        Some('g') => 1024f64.powi(3),
        Some('t') => 1024f64.powi(4),
        Some('p') => 1024f64.powi(5),
        Some('b') | None => 1.0,
        Some(_) => return Err(invalid()),
    };
    if multiplier > 1.0 {
        chars.next();
        if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'i')) {
            chars.next();
        }
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'b')) {
        chars.next();
    }
    if chars.next().is_some() {
        return Err(invalid());
    }
    Ok((value * multiplier) as i64)
}

/// Like [`parse_ram_size`] but `-1` means unlimited (for `--memory-swap`).
pub fn parse_swap_size(input: &str) -> Result<i64, String> {
    if input == "-1" {
        Ok(-1)
    } else {
        parse_ram_size(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dockers_forms() {
        assert_eq!(parse_ram_size("512"), Ok(512));
        assert_eq!(parse_ram_size("64k"), Ok(64 * 1024));
        assert_eq!(parse_ram_size("64K"), Ok(64 * 1024));
        assert_eq!(parse_ram_size("32m"), Ok(32 * 1024 * 1024));
        assert_eq!(parse_ram_size("1g"), Ok(1 << 30));
        assert_eq!(parse_ram_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_ram_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_ram_size("2mb"), Ok(2 << 20));
        assert_eq!(parse_ram_size("10 MB"), Ok(10 << 20));
        assert_eq!(parse_ram_size("100b"), Ok(100));
    }

    #[test]
    fn rejects_with_go_units_message() {
        assert_eq!(parse_ram_size("x"), Err("invalid size: 'x'".to_string()));
        assert_eq!(
            parse_ram_size("10x"),
            Err("invalid size: '10x'".to_string())
        );
        assert_eq!(parse_ram_size(""), Err("invalid size: ''".to_string()));
        assert_eq!(parse_ram_size("-1"), Err("invalid size: '-1'".to_string()));
        assert_eq!(
            parse_ram_size("1gg"),
            Err("invalid size: '1gg'".to_string())
        );
        assert_eq!(parse_swap_size("-1"), Ok(-1));
    }
}
