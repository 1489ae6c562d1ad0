//! Links the berth-shim binary as a non-PIE executable: a PIE's read-only-after-relocation
//! data (vtables, string tables: ~260 KiB here) is written by the loader at every start and so
//! becomes private memory in every shim; at a fixed address the linker resolves it once and
//! the pages stay shared, clean and mostly not resident. The shim runs one per container.

fn main() {
    println!("cargo:rustc-link-arg-bin=berth-shim=-no-pie");
}
