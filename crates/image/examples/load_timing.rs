//! Times `Store::load` of an archive into a fresh store, without the daemon in the way:
//! `load_timing ARCHIVE DATA_ROOT` (the data root must not exist). For looking at where a load
//! spends its time; `bench/image-load.sh` is the real, side-by-side benchmark.

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(archive), Some(root)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: load_timing ARCHIVE DATA_ROOT");
    };
    let store = berth_image::Store::open(std::path::Path::new(&root))?;
    let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&archive)?);
    let start = std::time::Instant::now();
    let loaded = store.load(file)?;
    println!("loaded {} image(s) in {:?}", loaded.len(), start.elapsed());
    Ok(())
}
