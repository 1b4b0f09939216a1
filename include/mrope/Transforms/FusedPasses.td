//===- FusedPasses.td - passes over fused RoPE ops ---------*- tablegen -*-===//
#ifndef MROPE_TRANSFORMS_FUSEDPASSES_TD
#define MROPE_TRANSFORMS_FUSEDPASSES_TD

include "mlir/Pass/PassBase.td"
include "mrope/Transforms/ArchOption.td"

def RopeClassifyFused : Pass<"rope-classify-fused", "::mlir::ModuleOp"> {
  let summary = "Find RoPE done by fused ONNX ops and say what their positions are";
  let description = [{
    Reports every fused RoPE site of every `onnx.graph`:
    `com.microsoft.RotaryEmbedding`, `com.microsoft.MRotaryEmbedding`,
    opset-23 `RotaryEmbedding` and `com.microsoft.GroupQueryAttention` with
    `do_rotary = 1`. Nodes sharing positions, caches and attributes form one
    site. Each site gets a remark on its first node: positions kind (`1d`,
    `mrope`, `mrope-interleaved`, `mrope-degenerate`, `per-token`),
    sections, pair layout, rotary dim, theta fitted to constant caches, the
    number of rotated tensors, where the positions come from, and whether
    it is a bug for `arch`. `report` receives the sites as JSON entries in
    the format of `mrope-fix --report`. Nothing is changed.
  }];
  let options = [
    RopeArchOption,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write the JSON site list to this file ('-' for stdout)">,
  ];
}

def RopeFixFused : Pass<"rope-fix-fused", "::mlir::ModuleOp"> {
  let summary = "Rewrite fused RoPE ops with the 1D-positions bug to true M-RoPE";
  let description = [{
    Fixes every fused site `rope-classify-fused` calls a bug:
    `com.microsoft.RotaryEmbedding` becomes `MRotaryEmbedding` over the same
    caches; opset-23 `RotaryEmbedding` keeps its op with per-token caches
    gathered by the three position rows; `GroupQueryAttention` gets
    `do_rotary = 0` and an `MRotaryEmbedding` on its query and key;
    degenerate three-row copies are replaced by the input. The positions
    become int64 `[3, batch, seq]` (the old `[batch, seq]` input retyped when
    nothing else reads it). Then the graph is analysed again: same rotated
    tensors, no bug left. Each change gets a remark.

    With `positions=compute` the `[3, batch, seq]` input the sites read is
    then replaced by `rope.mrope_index` over `input_ids`, `attention_mask`
    and the grids (added as inputs where missing; `rope_deltas` becomes an
    output), read through an Identity named `mrope_fix/position_ids`, as
    `mrope-fix --positions compute` does; a correct M-RoPE model's
    `[3, batch, seq]` input is replaced the same way. The `rope.mrope_index`
    op is left for `convert-rope-to-onnx`. Unlike `mrope-fix`, the pass does
    not prove the fix on probe positions.
  }];
  let options = [
    RopeArchOption,
    ListOption<"sections", "sections", "int64_t",
               "M-RoPE sections (default: the architecture's, scaled)">,
    Option<"positions", "positions", "::mrope::PositionsMode",
           /*default=*/"::mrope::PositionsMode::Input",
           "input: a [3, batch, seq] graph input; compute: rope.mrope_index "
           "from the token ids and grids", [{::llvm::cl::values(
             clEnumValN(::mrope::PositionsMode::Input, "input",
                        "a [3, batch, seq] graph input"),
             clEnumValN(::mrope::PositionsMode::Compute, "compute",
                        "rope.mrope_index from the token ids and grids"))}]>,
  ];
  let dependentDialects = ["::mrope::rope::RopeDialect",
                           "::mrope::onnx::OnnxDialect"];
}

#endif // MROPE_TRANSFORMS_FUSEDPASSES_TD
