#!/usr/bin/env bash
# The third-party client check (issue 4): the Python `bitshares` package, installed
# from PyPI into a virtualenv made here, reads a dev node started here.
# Needs a built `target/release/carbyne` (scripts/test.sh builds it first).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/py-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import bitshares" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "bitshares==0.7.1"
fi
data=$(mktemp -d)
log="$data/node.log"
./target/release/carbyne node --dev --rpc-listen 127.0.0.1:0 --ingest-listen 127.0.0.1:0 \
  --data-dir "$data/data" >"$log" 2>&1 &
node=$!
# Stop the node however the script ends, keeping the script's own exit status.
trap 'st=$?; kill $node 2>/dev/null; wait $node 2>/dev/null || true; rm -rf "$data"; exit $st' EXIT
addr=""
for _ in $(seq 1 100); do
  addr=$(sed -n 's/.*JSON-RPC on http:\/\/\([0-9.:]*\).*/\1/p' "$log" | head -1)
  [ -n "$addr" ] && break
  kill -0 $node 2>/dev/null || { cat "$log"; echo "the dev node exited"; exit 1; }
  sleep 0.2
done
[ -n "$addr" ] || { cat "$log"; echo "the dev node never logged its RPC address"; exit 1; }
sleep 2 # a block or two
"$venv/bin/python" tests/python/bitshares_client.py "ws://$addr"
