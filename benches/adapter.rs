//! The benchmark harness: `cargo bench --bench adapter` (everything, ~10 min),
//! `cargo bench --bench adapter -- --only relay`, `-- --quick` (a few iterations), `--out
//! FILE` (also write the markdown report there). See `benches/harness/mod.rs` and
//! BENCHMARKS.md.

#[path = "harness/mod.rs"]
mod harness;

fn main() -> std::process::ExitCode {
    harness::main()
}
