//! berthd: the berth daemon. Parses flags and daemon.json, then serves the Docker Engine API
//! on unix sockets and TCP (optionally TLS) with the engine as backend until SIGTERM or SIGINT (containers keep
//! running: live restore is always on).

mod instance_lock;
mod listen;
mod malloc_tuning;
mod options;
mod serve;
mod ulimits;

fn main() -> anyhow::Result<()> {
    malloc_tuning::reexec_with_tunables();
    let opts = options::Options::load()?;
    serve::init_logging(&opts.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()?;
    runtime.block_on(serve::run(opts))
}
