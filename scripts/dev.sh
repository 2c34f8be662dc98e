#!/usr/bin/env bash
# Runs a one-node development chain on the embedded dev genesis.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
exec cargo run --release -- node --dev "$@"
