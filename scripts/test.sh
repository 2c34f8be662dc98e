#!/usr/bin/env bash
# Runs every test: formatting, lints, unit, property and integration tests, and checks
# that the benches build.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
export CARGO_TERM_COLOR=never
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo test --release --workspace --all-targets
# The ring between pipeline stages, model-checked under loom (every interleaving).
cargo test --release --features loom --lib pipeline::ring::loom_tests
# A real third-party client: the Python `bitshares` package reads a dev node.
cargo build --release --bin carbyne
./scripts/python-client.sh
