//! berth-runtime: an OCI runtime with runc's command line, built on the berth-runtime library.

mod args;
mod foreground;
mod lifecycle;
mod logging;
mod spec_template;
mod terminal;

use clap::Parser;

fn main() {
    let cli = args::Cli::parse();
    let logger = logging::Logger::open(&cli.global);
    let code = match lifecycle::dispatch(&cli, &logger) {
        Ok(code) => code,
        Err(err) => {
            let msg = render(&err);
            logger.error(&msg);
            eprintln!("berth-runtime: {msg}");
            1
        }
    };
    std::process::exit(code);
}

/// The error and its causes, skipping causes whose text the message already carries.
fn render(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}
