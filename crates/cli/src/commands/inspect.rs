//! `berth inspect` (containers, then images) and the typed `container inspect` / `image inspect`: the daemon's JSON
//! as an indented array in the daemon's key order, or `-f` templates per object.

use berth_client::{Client, ClientError, ErrorKind};
use clap::Args;

use crate::exit::{CmdResult, StatusError, describe};
use crate::output::template::{Formatter, json_to_value};

/// `berth inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container.
    #[arg(short = 's', long)]
    pub size: bool,
    /// Only inspect objects of the given type (container, image).
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Objects.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `berth container inspect` / `berth image inspect`.
#[derive(Debug, Args)]
pub struct TypedInspectArgs {
    /// Format output using a custom template.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Display total file sizes.
    #[arg(short = 's', long)]
    pub size: bool,
    /// Objects.
    #[arg(required = true)]
    pub names: Vec<String>,
}

impl TypedInspectArgs {
    /// The general form restricted to `kind`.
    pub fn into_args(self, kind: &str) -> InspectArgs {
        InspectArgs {
            format: self.format,
            size: self.size,
            kind: Some(kind.to_string()),
            names: self.names,
        }
    }
}

/// Re-indents compact JSON with four spaces (as Docker prints inspect), keeping key order.
pub fn indent_json(raw: &str, base: usize) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    let mut depth = base;
    let mut in_string = false;
    let mut escaped = false;
    let chars: Vec<char> = raw.chars().collect();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', depth * 4));
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let next = chars[i + 1..]
                    .iter()
                    .position(|c| !c.is_whitespace())
                    .map(|p| chars[i + 1 + p]);
                if next == Some(close) {
                    out.push(c);
                    out.push(close);
                    i += 1 + chars[i + 1..].iter().position(|&x| x == close).unwrap_or(0) + 1;
                    continue;
                }
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
        i += 1;
    }
    out
}

async fn fetch(
    client: &Client,
    name: &str,
    kind: Option<&str>,
    size: bool,
) -> Result<String, String> {
    let not_found = |e: &ClientError| e.kind() == ErrorKind::NotFound;
    if kind.is_none() || kind == Some("container") {
        let query: Vec<_> = size
            .then(|| ("size", "1".to_string()))
            .into_iter()
            .collect();
        match client
            .get_text(&format!("/containers/{name}/json"), &query)
            .await
        {
            Ok(v) => return Ok(v),
            Err(e) if not_found(&e) => {
                if kind == Some("container") {
                    return Err(format!("Error: No such container: {name}"));
                }
            }
            Err(e) => return Err(describe(&e)),
        }
    }
    match client.get_text(&format!("/images/{name}/json"), &[]).await {
        Ok(v) => Ok(v),
        Err(e) if not_found(&e) => Err(match kind {
            Some("image") => format!("Error: No such image: {name}"),
            _ => format!("Error: No such object: {name}"),
        }),
        Err(e) => Err(describe(&e)),
    }
}

/// `berth inspect`.
pub async fn inspect(client: &Client, args: InspectArgs) -> CmdResult {
    if let Some(k) = args.kind.as_deref()
        && k != "container"
        && k != "image"
    {
        return Err(StatusError::new(1, format!("\"{k}\" is not a valid value for --type")).into());
    }
    let formatter = match args.format.as_deref() {
        Some(f) if f != "json" => {
            Some(Formatter::new(f).map_err(|e| StatusError::new(1, e.to_string()))?)
        }
        _ => None,
    };
    let mut failed = false;
    let mut objects = Vec::new();
    for name in &args.names {
        match fetch(client, name, args.kind.as_deref(), args.size).await {
            Ok(v) => objects.push(v),
            Err(message) => {
                failed = true;
                eprintln!("{message}");
            }
        }
    }
    match formatter {
        Some(f) => {
            for raw in &objects {
                let v: serde_json::Value = serde_json::from_str(raw)?;
                println!("{}", f.render(&json_to_value(&v))?);
            }
        }
        None => {
            let items: Vec<String> = objects
                .iter()
                .map(|raw| format!("    {}", indent_json(raw.trim(), 1)))
                .collect();
            if items.is_empty() {
                println!("[]");
            } else {
                println!("[\n{}\n]", items.join(",\n"));
            }
        }
    }
    Ok(i32::from(failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_like_docker_inspect() {
        let got = indent_json(
            r#"{"Id":"a,b","Args":[],"Config":{"Env":["A=1"],"Labels":{}},"N":null}"#,
            0,
        );
        let want = "{\n    \"Id\": \"a,b\",\n    \"Args\": [],\n    \"Config\": {\n        \"Env\": [\n            \"A=1\"\n        ],\n        \"Labels\": {}\n    },\n    \"N\": null\n}";
        assert_eq!(got, want);
    }
}
