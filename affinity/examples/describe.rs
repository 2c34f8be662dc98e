//! Prints what `affinity::detect()` sees: `cargo run --release -p affinity --example describe`.
//! Try it under `taskset -c 1` or with `HWLOC_COMPONENTS=...` to see the restricted and
//! degraded models.

fn main() {
    print!("{}", affinity::detect().describe());
}
