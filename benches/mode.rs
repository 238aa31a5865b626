//! How a bench binary was run: `cargo bench` passes `--bench`; `cargo test --benches` passes
//! nothing, and criterion's own `--test`, `--list` and `--profile-time` do not measure either.

/// Whether this run measures, rather than checking that each routine runs, listing or
/// profiling them.
pub fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|arg| arg == "--bench")
        && !args.iter().any(|arg| matches!(arg.as_str(), "--test" | "--list" | "--profile-time"))
}
