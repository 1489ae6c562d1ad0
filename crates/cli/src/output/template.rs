//! `--format` Go templates (gtmpl) with Docker's extra functions and the `table` prefix.

use std::collections::HashMap;

use gtmpl::{Context, Template};
use gtmpl_value::{FuncError, Value};

use crate::output::table::align_tabs;

/// A parsed `--format` value.
pub struct Formatter {
    template: Template,
    table: bool,
}

/// Why a template could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The template text does not parse.
    #[error("template parsing error: {0}")]
    Parse(String),
    /// Executing the template failed.
    #[error("template: {0}")]
    Execute(String),
}

/// Converts decoded JSON into template data (objects become Go-like maps keyed by field name).
pub fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::from(i),
            (None, Some(u), _) => Value::from(u),
            (_, _, Some(f)) => Value::from(f),
            _ => Value::Nil,
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// Converts template data back to JSON (for the `json` function).
pub fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => serde_json::Value::from(i),
            (None, Some(f)) => serde_json::Value::from(f),
            _ => serde_json::Value::Null,
        },
        Value::Array(a) => serde_json::Value::Array(a.iter().map(value_to_json).collect()),
        Value::Object(o) | Value::Map(o) => serde_json::Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::NoValue | Value::Nil => String::new(),
        other => other.to_string(),
    }
}

fn arg<'a>(args: &'a [Value], i: usize, name: &str, n: usize) -> Result<&'a Value, FuncError> {
    args.get(i)
        .ok_or_else(|| FuncError::ExactlyXArgs(name.to_string(), n))
}

fn func_json(args: &[Value]) -> Result<Value, FuncError> {
    let v = value_to_json(arg(args, 0, "json", 1)?);
    serde_json::to_string(&v)
        .map(|s| Value::String(go_json_escape(&s)))
        .map_err(|e| FuncError::Generic(e.to_string()))
}

/// Go's `json.Marshal` escapes `<`, `>`, `&`, U+2028 and U+2029; these only occur inside strings.
fn go_json_escape(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn func_join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = text(arg(args, 1, "join", 2)?);
    let items = match arg(args, 0, "join", 2)? {
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>(),
        other => vec![text(other)],
    };
    Ok(Value::String(items.join(&sep)))
}

fn func_split(args: &[Value]) -> Result<Value, FuncError> {
    let s = text(arg(args, 0, "split", 2)?);
    let sep = text(arg(args, 1, "split", 2)?);
    Ok(Value::Array(
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect(),
    ))
}

fn func_upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(
        text(arg(args, 0, "upper", 1)?).to_uppercase(),
    ))
}

fn func_lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(
        text(arg(args, 0, "lower", 1)?).to_lowercase(),
    ))
}

fn func_title(args: &[Value]) -> Result<Value, FuncError> {
    let s = text(arg(args, 0, "title", 1)?);
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    Ok(Value::String(out))
}

fn func_truncate(args: &[Value]) -> Result<Value, FuncError> {
    let s = text(arg(args, 0, "truncate", 2)?);
    let n = match arg(args, 1, "truncate", 2)? {
        Value::Number(n) => n.as_i64().unwrap_or(0).max(0) as usize,
        other => text(other).parse().unwrap_or(0),
    };
    Ok(Value::String(s.chars().take(n).collect()))
}

fn func_pad(args: &[Value]) -> Result<Value, FuncError> {
    let s = text(arg(args, 0, "pad", 3)?);
    let count = |v: &Value| match v {
        Value::Number(n) => n.as_i64().unwrap_or(0).max(0) as usize,
        other => text(other).parse().unwrap_or(0),
    };
    let left = count(arg(args, 1, "pad", 3)?);
    let right = count(arg(args, 2, "pad", 3)?);
    Ok(Value::String(format!(
        "{}{}{}",
        " ".repeat(left),
        s,
        " ".repeat(right)
    )))
}

fn func_println(args: &[Value]) -> Result<Value, FuncError> {
    let parts: Vec<String> = args.iter().map(text).collect();
    Ok(Value::String(format!("{}\n", parts.join(" "))))
}

/// Go's `%v` rendering of template data: `[a b]` for lists, `map[k:v]` (sorted) for maps, `<nil>` for null.
pub fn go_display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Nil => "<nil>".to_string(),
        Value::NoValue => "<no value>".to_string(),
        Value::Function(_) => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_display).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) | Value::Map(map) => {
            let mut parts: Vec<(&String, String)> =
                map.iter().map(|(k, v)| (k, go_display(v))).collect();
            parts.sort();
            let parts: Vec<String> = parts.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn func_goprint(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(go_display(arg(args, 0, "goprint", 1)?)))
}

/// Where the action starting at `open` (just after `{{`) ends: the index of its `}}`, skipping quoted text.
fn action_end(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// Whether an action prints its value (not a keyword, comment or variable declaration).
fn prints_value(body: &str) -> bool {
    let first = body
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    let assigns = body.contains(":=")
        || (body.starts_with('$') && body.split_whitespace().nth(1) == Some("="));
    !(body.is_empty() || body.starts_with("/*") || KEYWORDS.contains(&first) || assigns)
}

/// Wraps every printing action in `goprint (...)` so lists and maps print as Go prints them.
fn wrap_print_actions(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = 0;
    while let Some(pos) = text[rest..].find("{{") {
        let open = rest + pos + 2;
        let Some(close) = action_end(text, open) else {
            break;
        };
        out.push_str(&text[rest..open]);
        let inner = &text[open..close];
        let (left, inner) = match inner.strip_prefix("- ") {
            Some(r) => ("- ", r),
            None => ("", inner),
        };
        let (inner, right) = match inner.strip_suffix(" -") {
            Some(r) => (r, " -"),
            None => (inner, ""),
        };
        let body = inner.trim();
        if prints_value(body) {
            out.push_str(&format!("{left}goprint ({body}){right}"));
        } else {
            out.push_str(&format!("{left}{inner}{right}"));
        }
        out.push_str("}}");
        rest = close + 2;
    }
    out.push_str(&text[rest..]);
    out
}

/// Replaces Docker's escapes in format strings (`\t`, `\n`) with the characters.
fn unescape(format: &str) -> String {
    format.replace("\\t", "\t").replace("\\n", "\n")
}

impl Formatter {
    /// Parses a user format; `table ...` turns on header + column alignment.
    pub fn new(format: &str) -> Result<Self, TemplateError> {
        let trimmed = format.trim_matches(' ');
        let (table, body) = match trimmed.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => (true, rest.trim_start()),
            _ => (false, trimmed),
        };
        let body = if body == "json" { "{{json .}}" } else { body };
        let mut template = Template::default();
        template.add_funcs(&[
            ("json", func_json as gtmpl_value::Func),
            ("join", func_join),
            ("split", func_split),
            ("upper", func_upper),
            ("lower", func_lower),
            ("title", func_title),
            ("truncate", func_truncate),
            ("pad", func_pad),
            ("println", func_println),
            ("goprint", func_goprint),
        ]);
        template
            .parse(wrap_print_actions(&unescape(body)))
            .map_err(|e| TemplateError::Parse(e.to_string()))?;
        Ok(Formatter { template, table })
    }

    /// Renders one value.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        self.template
            .render(&Context::from(data.clone()))
            .map_err(|e| TemplateError::Execute(e.to_string()))
    }

    /// Renders rows (one line each); for tables, a header row rendered from `header` first and columns aligned.
    pub fn render_rows(
        &self,
        header: Option<&Value>,
        rows: &[Value],
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        if let (true, Some(h)) = (self.table, header) {
            out.push_str(&self.render(h)?);
            out.push('\n');
        }
        for row in rows {
            out.push_str(&self.render(row)?);
            out.push('\n');
        }
        Ok(if self.table { align_tabs(&out) } else { out })
    }
}

/// Builds a template object from `(field, value)` pairs.
pub fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Value {
        json_to_value(&serde_json::json!({
            "Name": "/web", "State": {"Status": "running", "Pid": 42},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"k": "v"}}
        }))
    }

    #[test]
    fn fields_and_functions() {
        let f = |t: &str| Formatter::new(t).unwrap().render(&data()).unwrap();
        assert_eq!(f("{{.State.Status}}"), "running");
        assert_eq!(f("{{.State.Pid}}"), "42");
        assert_eq!(f("{{json .State}}"), r#"{"Pid":42,"Status":"running"}"#);
        assert_eq!(f("{{json \"<a&b>\"}}"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(f("{{join .Config.Env \",\"}}"), "A=1,B=2");
        assert_eq!(f("{{upper .State.Status}}"), "RUNNING");
        assert_eq!(f("{{lower \"ABC\"}}"), "abc");
        assert_eq!(f("{{title \"hello world\"}}"), "Hello World");
        assert_eq!(f("{{truncate .Name 3}}"), "/we");
        assert_eq!(f("{{pad .State.Status 1 2}}"), " running  ");
        assert_eq!(f("{{index .Config.Labels \"k\"}}"), "v");
        assert_eq!(f("{{range .Config.Env}}[{{.}}]{{end}}"), "[A=1][B=2]");
        assert_eq!(f("{{len (split \"a:b:c\" \":\")}}"), "3");
        assert_eq!(f("{{println .State.Status}}"), "running\n");
        assert_eq!(f("{{.Name}}\\t{{.State.Status}}"), "/web\trunning");
    }

    #[test]
    fn values_print_as_go_prints_them() {
        let f = |t: &str| Formatter::new(t).unwrap().render(&data()).unwrap();
        assert_eq!(f("{{.Config.Env}}"), "[A=1 B=2]");
        assert_eq!(f("{{.Config.Labels}}"), "map[k:v]");
        assert_eq!(f("{{.State}}"), "map[Pid:42 Status:running]");
        assert_eq!(f("{{ .Name -}} x"), "/webx");
        assert_eq!(
            f("{{if eq .State.Status \"running\"}}up{{else}}down{{end}}"),
            "up"
        );
        assert_eq!(f("{{$s := .State}}{{$s.Pid}}"), "42");
        assert_eq!(f("{{/* c */}}{{.State.Status | upper}}"), "RUNNING");
        assert_eq!(
            f("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}}"),
            "k=v"
        );
        assert_eq!(f("{{with .State}}{{.Pid}}{{end}}"), "42");
        assert_eq!(f("{{\"}}\"}}"), "}}");
        let nil = json_to_value(&serde_json::json!({"A": null}));
        assert_eq!(
            Formatter::new("{{.A}}").unwrap().render(&nil).unwrap(),
            "<nil>"
        );
    }

    #[test]
    fn table_prefix_prints_aligned_header() {
        let f = Formatter::new("table {{.ID}}\\t{{.Status}}").unwrap();
        let header = object(vec![
            ("ID", Value::from("CONTAINER ID")),
            ("Status", Value::from("STATUS")),
        ]);
        let row = object(vec![
            ("ID", Value::from("abc")),
            ("Status", Value::from("Up 3 seconds")),
        ]);
        let got = f.render_rows(Some(&header), &[row]).unwrap();
        assert_eq!(got, "CONTAINER ID   STATUS\nabc            Up 3 seconds\n");
    }

    #[test]
    fn parse_errors_are_reported() {
        assert!(Formatter::new("{{.Foo").is_err());
    }
}
