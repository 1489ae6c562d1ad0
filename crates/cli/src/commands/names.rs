//! How ids and image references are shown and completed, as Docker does (12-character ids, `:latest`).

/// The short form of an id: without `sha256:`, 12 characters.
pub fn short_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

/// Splits `name[:tag]` (a `:` in the last path component is a tag; `@digest` is kept in the name).
pub fn split_tag(reference: &str) -> (&str, Option<&str>) {
    if reference.contains('@') {
        return (reference, None);
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&reference[..at], Some(&reference[at + 1..]))
        }
        None => (reference, None),
    }
}

/// The reference with `:latest` added when it has no tag or digest (`Unable to find image 'busybox:latest'`).
pub fn with_default_tag(reference: &str) -> String {
    match split_tag(reference) {
        (_, Some(_)) => reference.to_string(),
        (name, None) if name.contains('@') => reference.to_string(),
        (name, None) => format!("{name}:latest"),
    }
}

/// The fully qualified reference Docker prints after a pull (`busybox` -> `docker.io/library/busybox:latest`).
pub fn full_reference(reference: &str) -> String {
    let tagged = with_default_tag(reference);
    let (first, rest) = match tagged.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (tagged.as_str(), None),
    };
    let has_domain = first.contains('.') || first.contains(':') || first == "localhost";
    match (has_domain, rest) {
        (true, Some(_)) => tagged,
        (false, Some(_)) => format!("docker.io/{tagged}"),
        (_, None) => format!("docker.io/library/{tagged}"),
    }
}

/// Docker's `Ellipsis`: at most `max` characters, the last one `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Go's `strconv.Quote` for the printable strings we show (`"sh -c 'x'"`).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tags() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(
            split_tag("localhost:5000/a/b:t"),
            ("localhost:5000/a/b", Some("t"))
        );
        assert_eq!(split_tag("localhost:5000/a"), ("localhost:5000/a", None));
        assert_eq!(with_default_tag("busybox"), "busybox:latest");
        assert_eq!(with_default_tag("busybox:1.36"), "busybox:1.36");
        assert_eq!(with_default_tag("b@sha256:00"), "b@sha256:00");
        assert_eq!(
            full_reference("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full_reference("me/app:1"), "docker.io/me/app:1");
        assert_eq!(
            full_reference("localhost:5000/a/b:t"),
            "localhost:5000/a/b:t"
        );
        assert_eq!(full_reference("ghcr.io/x/y"), "ghcr.io/x/y:latest");
    }

    #[test]
    fn command_column_like_docker_ps() {
        assert_eq!(
            go_quote(&ellipsis("sh -c 'while true; do sleep 1; done'", 20)),
            "\"sh -c 'while true; …\""
        );
        assert_eq!(go_quote(&ellipsis("top", 20)), "\"top\"");
    }
}
