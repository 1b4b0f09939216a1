#!/usr/bin/env bash
# Builds mrope (scripts/build.sh) and packs it as a Debian package:
#   build/package/mrope_<version>_<arch>.deb
# Install it with: sudo apt install ./build/package/mrope_*.deb
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MROPE_BUILD_DIR:-$root/build}
out=${1:-$build/package}

"$root/scripts/build.sh"
mkdir -p "$out"
(cd "$build" && cpack -G DEB -B "$out" > "$out/cpack.log")
deb=$(ls -t "$out"/mrope_*.deb | head -1)
echo "$deb"
