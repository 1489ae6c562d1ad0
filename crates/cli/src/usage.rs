//! Usage errors worded as Docker's CLI words them (`invalid argument "x" for "-m, --memory" flag: ...`,
//! `unknown flag: --foo`, then `See 'berth run --help'.`), exit status 125.

use clap::error::{ContextKind, ContextValue, ErrorKind};

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// The command path the user typed (`berth container ls`), found by walking argv through the command tree and
/// skipping the global flags and their values.
pub fn command_path(cmd: &clap::Command, args: &[String]) -> String {
    let mut path = vec!["berth".to_string()];
    let mut current = cmd;
    let mut iter = args.iter().skip(1);
    while let Some(word) = iter.next() {
        if matches!(
            word.as_str(),
            "-H" | "--host" | "-l" | "--log-level" | "--config"
        ) {
            iter.next();
            continue;
        }
        if word.starts_with('-') {
            continue;
        }
        match current.find_subcommand(word) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                current = sub;
            }
            None => break,
        }
    }
    path.join(" ")
}

/// Docker's flag name pair (`-m, --memory`) for clap's `--memory <MEMORY>` rendering.
fn flag_names(cmd: &clap::Command, path: &str, rendered: &str) -> String {
    let long = rendered.split_whitespace().next().unwrap_or(rendered);
    let mut current = cmd;
    for word in path.split_whitespace().skip(1) {
        match current.find_subcommand(word) {
            Some(sub) => current = sub,
            None => break,
        }
    }
    let name = long.trim_start_matches('-');
    let short = current
        .get_arguments()
        .find(|a| a.get_long() == Some(name))
        .and_then(clap::Arg::get_short);
    match short {
        Some(s) => format!("-{s}, {long}"),
        None => long.to_string(),
    }
}

/// Docker's exit status for a usage error: 1 for a missing argument, 125 for bad flags.
pub fn usage_status(e: &clap::Error) -> i32 {
    if e.kind() == ErrorKind::MissingRequiredArgument {
        1
    } else {
        125
    }
}

/// The Docker-style text for a usage error, or `None` to let clap print its own.
pub fn docker_usage_message(
    e: &clap::Error,
    cmd: &clap::Command,
    args: &[String],
) -> Option<String> {
    let path = command_path(cmd, args);
    let first = match e.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let arg = context(e, ContextKind::InvalidArg)?;
            let value = context(e, ContextKind::InvalidValue).unwrap_or_default();
            let reason = std::error::Error::source(e)
                .map(ToString::to_string)
                .unwrap_or_else(|| "invalid value".to_string());
            format!(
                "invalid argument \"{value}\" for \"{}\" flag: {reason}",
                flag_names(cmd, &path, &arg)
            )
        }
        ErrorKind::UnknownArgument => {
            let arg = context(e, ContextKind::InvalidArg)?;
            match arg.strip_prefix("--") {
                Some(_) => format!("unknown flag: {arg}"),
                None => {
                    let c = arg.trim_start_matches('-').chars().next().unwrap_or('?');
                    format!("unknown shorthand flag: '{c}' in {arg}")
                }
            }
        }
        ErrorKind::MissingRequiredArgument => format!("\"{path}\" requires at least 1 argument."),
        _ => return None,
    };
    Some(format!("{first}\nSee '{path} --help'."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Cli;
    use clap::{CommandFactory, Parser};

    fn message(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).err().unwrap();
        let args: Vec<String> = args.iter().map(ToString::to_string).collect();
        docker_usage_message(&e, &Cli::command(), &args).unwrap()
    }

    #[test]
    fn invalid_values_read_like_docker() {
        assert_eq!(
            message(&["berth", "run", "-m", "x", "busybox"]),
            "invalid argument \"x\" for \"-m, --memory\" flag: invalid size: 'x'\nSee 'berth run --help'."
        );
        assert_eq!(
            message(&["berth", "run", "--ulimit", "foo=1", "busybox"]),
            "invalid argument \"foo=1\" for \"--ulimit\" flag: invalid ulimit type: foo\nSee 'berth run --help'."
        );
    }

    #[test]
    fn command_paths_skip_global_flags() {
        let args: Vec<String> = ["berth", "-H", "unix:///x", "container", "ls", "-a"]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(command_path(&Cli::command(), &args), "berth container ls");
    }

    #[test]
    fn missing_arguments_read_like_docker() {
        let args = ["berth", "rm"];
        let e = Cli::try_parse_from(args).err().unwrap();
        assert_eq!(usage_status(&e), 1);
        assert_eq!(
            message(&args),
            "\"berth rm\" requires at least 1 argument.\nSee 'berth rm --help'."
        );
    }

    #[test]
    fn unknown_flags_read_like_docker() {
        assert_eq!(
            message(&["berth", "ps", "--bogus"]),
            "unknown flag: --bogus\nSee 'berth ps --help'."
        );
    }
}
