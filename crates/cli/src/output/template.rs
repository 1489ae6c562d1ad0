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
        .map(Value::String)
        .map_err(|e| FuncError::Generic(e.to_string()))
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
        ]);
        template
            .parse(unescape(body))
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
