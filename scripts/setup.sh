#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine: system packages (PyTorch reference, OpenBLAS, Chromium
# for browser tests) and the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES=(python3-torch libopenblas0-pthread python3-pytest python3-numpy chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "setup: installing ${missing[*]}" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# onnxruntime-node's install script downloads CUDA libraries; the CPU binaries ship in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund
fi
