#!/usr/bin/env bash
# Regenerates docs/generated/ from the ODS definitions (test/docs.test checks
# that the committed copies are current).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MROPE_BUILD_DIR:-$root/build}
cmake --build "$build" --target mrope-doc
mkdir -p "$root/docs/generated"
cp "$build/docs/Dialects/RopeDialect.md" "$root/docs/generated/RopeDialect.md"
cp "$build/docs/RopePasses.md" "$root/docs/generated/RopePasses.md"
cp "$build/docs/ConversionPasses.md" "$root/docs/generated/ConversionPasses.md"
cp "$build/docs/Dialects/OnnxDialect.md" "$root/docs/generated/OnnxDialect.md"
cp "$build/docs/TransformsPasses.md" "$root/docs/generated/TransformsPasses.md"
cp "$build/docs/FusedTransformsPasses.md" "$root/docs/generated/FusedTransformsPasses.md"
cp "$build/docs/AnalysisPasses.md" "$root/docs/generated/AnalysisPasses.md"
