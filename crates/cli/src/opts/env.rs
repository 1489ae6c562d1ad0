//! `-e` and `--env-file` values as Docker reads them: `KEY=value` verbatim, bare `KEY` taken from our environment.

use std::path::Path;

/// Resolves one `-e` value: `KEY=value` stays; a bare `KEY` becomes `KEY=<our value>` or is dropped when unset.
pub fn resolve_env(entry: &str, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    if entry.contains('=') {
        return Some(entry.to_string());
    }
    lookup(entry).map(|v| format!("{entry}={v}"))
}

/// Parses an env file's text: skips blank lines and `#` comments, rejects names with whitespace.
pub fn parse_env_file_text(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (line, None),
        };
        let name = name.trim_start();
        if name.is_empty() {
            return Err(format!("no variable name on line '{line}'"));
        }
        if name.contains(char::is_whitespace) {
            return Err(format!("variable '{name}' contains whitespaces"));
        }
        match value {
            Some(v) => out.push(format!("{name}={v}")),
            None => {
                if let Some(v) = lookup(name) {
                    out.push(format!("{name}={v}"));
                }
            }
        }
    }
    Ok(out)
}

/// Reads and parses an env file from disk.
pub fn read_env_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("open {}: {}", path.display(), io_reason(&e)))?;
    parse_env_file_text(&text, |k| std::env::var(k).ok())
}

/// Go-style lower-case reason text for an I/O error ("no such file or directory").
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(k: &str) -> Option<String> {
        (k == "HOME_X").then(|| "/root".to_string())
    }

    #[test]
    fn env_file_lines() {
        let text = "\u{feff}# comment\n\nA=1\n  B= two \nHOME_X\nUNSET_Y\nC=\nD=x=y\n";
        let got = parse_env_file_text(text, lookup).unwrap();
        assert_eq!(got, ["A=1", "B= two ", "HOME_X=/root", "C=", "D=x=y"]);
    }

    #[test]
    fn env_file_errors() {
        assert_eq!(
            parse_env_file_text("B =1\n", lookup).unwrap_err(),
            "variable 'B ' contains whitespaces"
        );
        assert_eq!(
            parse_env_file_text("=1\n", lookup).unwrap_err(),
            "no variable name on line '=1'"
        );
    }

    #[test]
    fn bare_env_flag_reads_our_environment() {
        assert_eq!(resolve_env("A=b", lookup).as_deref(), Some("A=b"));
        assert_eq!(
            resolve_env("HOME_X", lookup).as_deref(),
            Some("HOME_X=/root")
        );
        assert_eq!(resolve_env("NOPE", lookup), None);
    }

    #[test]
    fn missing_env_file_reads_like_docker() {
        let e = read_env_file(Path::new("/nonexistent/berth.env")).unwrap_err();
        assert_eq!(e, "open /nonexistent/berth.env: no such file or directory");
    }
}
