#!/usr/bin/env bash
# Installs the system packages the build and the tests need, only when one is missing.
set -euo pipefail
need=()
# libhwloc-dev: the affinity crate reads the topology through hwloc 2.x (hwlocality);
# libudev-dev: hwloc-sys links -ludev.
# libfontconfig1-dev, libfreetype-dev, fonts-dejavu-core: the plot of `carbyne bench`
# (plotters finds and renders a system font).
# python3, python3-venv: the third-party client test (scripts/python-client.sh) puts
# the Python `bitshares` package in a virtualenv.
for pkg in pkg-config build-essential libhwloc-dev libudev-dev \
  libfontconfig1-dev libfreetype-dev fonts-dejavu-core python3 python3-venv; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
