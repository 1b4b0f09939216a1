//===- Passes.td - rope dialect passes ---------------------*- tablegen -*-===//
#ifndef MROPE_DIALECT_ROPE_TRANSFORMS_PASSES_TD
#define MROPE_DIALECT_ROPE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def RopeDecompose : Pass<"rope-decompose"> {
  let summary = "Split rope.apply into explicit cos/sin tables and rotations";
  let description = [{
    Rewrites each tensor-level `rope.apply` into one `rope.cos_sin` (the
    per-token merged tables, computed once) and one `rope.rotate` per rotated
    tensor. This is the form exported ONNX graphs spell, and the form the
    ONNX export lowers from. Memref-level `rope.apply` ops are left alone.

    ```mlir
    %q2, %k2 = rope.apply %q, %k by %pos : ... with #rope.semantics<...>
    // becomes
    %cos, %sin = rope.cos_sin %pos : ... with #rope.semantics<...>
    %q2 = rope.rotate neox %q by %cos, %sin : ...
    %k2 = rope.rotate neox %k by %cos, %sin : ...
    ```
  }];
  let dependentDialects = ["::mrope::rope::RopeDialect"];
}

#endif // MROPE_DIALECT_ROPE_TRANSFORMS_PASSES_TD
