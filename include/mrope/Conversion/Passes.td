//===- Passes.td - conversions out of the rope dialect -----*- tablegen -*-===//
#ifndef MROPE_CONVERSION_PASSES_TD
#define MROPE_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertRopeToLoops : Pass<"convert-rope-to-loops"> {
  let summary = "Lower in-place rope.apply on memrefs to fused vector loops";
  let description = [{
    Lowers each memref-level (in-place) `rope.apply` into one fused loop nest:

    - `scf.parallel` over the tokens `(b, s)`;
    - per token, the positions of every axis are loaded once and the angles
      of all `F = rotary_dim / 2` frequencies are formed as one
      `vector<F x f32>` (`f32(p[axis(i)]) * inv_freq[i]`, the axis of each
      frequency resolved at compile time into constant lane masks), then
      cos and sin are computed once, with range reduction in f64 that is
      accurate for any angle an f32 position can produce;
    - an `scf.for` over the heads of every rotated tensor (q and k share the
      cos/sin of the token) rotates the channel pairs with contiguous
      `vector.load`/`vector.store` of whole halves (`neox`) or of the whole
      rotary span with an in-register pair swap (`gptj`); no gathers.

    Tensor-level `rope.apply` must be bufferized first
    (`one-shot-bufferize`, see `docs/lowering.md`). f16/bf16 tensors are
    rotated in f32 and rounded once.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // MROPE_CONVERSION_PASSES_TD
