#!/usr/bin/env bash
# Installs what mrope needs on Debian 12 (idempotent): LLVM/MLIR 22, ONNX and
# protobuf for C++, Python's numpy/onnx/torch for the reference and the model
# zoo, and ONNX Runtime (from npm) for running models.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential cmake ninja-build ccache git time
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-format-22
  libonnx-dev protobuf-compiler libprotobuf-dev
  python3 python3-numpy python3-onnx python3-torch python3-pytest
  nodejs npm
  python3-venv python3-pip python3-setuptools python3-wheel chromium python3-pil
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere (nvm, the image); only install it when absent.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime for tests. --ignore-scripts: its install script would download
# from outside; the bundled linux-x64 CPU library is all we need.
if [ -f "$root/package.json" ] && [ ! -d "$root/node_modules/onnxruntime-node" ]; then
  echo "setup: installing onnxruntime-node from npm"
  (cd "$root" && npm ci --ignore-scripts --no-audit --no-fund)
fi
