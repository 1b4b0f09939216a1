//===- Passes.td - passes over imported ONNX graphs --------*- tablegen -*-===//
#ifndef MROPE_TRANSFORMS_PASSES_TD
#define MROPE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def RopeClassify : Pass<"rope-classify", "::mlir::ModuleOp"> {
  let summary = "Find the RoPE sites of ONNX graphs and say what their positions are";
  let description = [{
    Runs the RoPE site analysis on every `onnx.graph` and reports, per site
    (one cos/sin producer), the kind of positions (`1d`, `2d`, `mrope`,
    `mrope-interleaved`, `mrope-degenerate`), the sections, pair layout,
    theta, rotary dim, the number of rotations, and whether it is a bug for
    the declared architecture. Each site gets a remark on its Cos node; the
    JSON report (the one `mrope-fix --report` writes) goes to `report`.
    Nothing is changed.
  }];
  let options = [
    Option<"arch", "arch", "std::string", /*default=*/"\"auto\"",
           "auto, qwen2-vl, qwen2.5-vl, qwen3-vl or text">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write the JSON report to this file ('-' for stdout)">,
  ];
  // Sites carry #rope.semantics.
  let dependentDialects = ["::mrope::rope::RopeDialect"];
}

def RopeRaise : Pass<"rope-raise", "::mlir::ModuleOp"> {
  let summary = "Raise the cos/sin tables of RoPE sites in ONNX graphs to rope.cos_sin";
  let description = [{
    For every RoPE site the analysis finds (see `rope-classify`) whose tables
    are computed from positions (a Cos/Sin pair), replaces the per-token
    tables the rotations consume — after Hugging Face's section merge when
    there is one — by one `rope.cos_sin` of the site's positions under the
    recovered `#rope.semantics` (sections, layout, interleaving, theta) and
    the graph's own frequency table, and removes the nodes only the old
    tables used. Degenerate M-RoPE is raised as what it computes: M-RoPE of
    the three rows the graph builds.

    Sites are left alone (with a remark) when the graph scales or casts the
    tables between Cos and the merge in a way `rope.cos_sin` does not say,
    when the tables are gathered from constant caches, and for the vision
    tower (its positions are `[tokens, 2]`).

    `convert-rope-to-onnx` lowers the raised ops back to ONNX nodes;
    `test/models/zoo-raise.test` checks in ONNX Runtime that the round trip
    computes what the original graph computes.
  }];
  let dependentDialects = ["::mrope::rope::RopeDialect",
                           "::mrope::onnx::OnnxDialect"];
}

def RopeFix : Pass<"rope-fix", "::mlir::ModuleOp"> {
  let summary = "Rewrite buggy RoPE sites of ONNX graphs to true 3D M-RoPE";
  let description = [{
    Rewrites every site `rope-classify` calls a bug for `arch`.

    A site `rope-raise` turned into `rope.apply` is fixed on the op, and only
    its `#rope.semantics` and positions operand change: degenerate M-RoPE
    (three rows built in the graph from one 1D tensor) gets a graph input
    `position_ids` int64 `[3, batch, seq]` in place of the built rows; plain
    1D RoPE in a model declared Qwen VL gets M-RoPE sections (the
    architecture's, scaled to the rotary dim, or `sections`; Qwen3-VL
    interleaved) and those positions, keeping `freqs`, the pair layout and
    the rotary dim; the vision tower's flat patch index becomes 2D (h, w)
    RoPE from a `vision_position_ids` [patches, 2] input. With
    `positions=compute` the positions are `rope.mrope_index` over
    `input_ids`, `attention_mask` and the grids instead (and a correct
    M-RoPE model's `[3, batch, seq]` input is replaced by it).

    A site left as ONNX nodes is fixed the old way, on its tables
    (`rope.cos_sin`); the remark says "fallback". New rope ops are left for
    `convert-rope-to-onnx`. The old `[batch, seq]` positions input is retyped
    in place when nothing else uses it; nodes only the old positions or
    tables used are removed. Correct sites and the rest of the graph are not
    touched.
  }];
  let options = [
    Option<"arch", "arch", "std::string", /*default=*/"\"auto\"",
           "auto, qwen2-vl, qwen2.5-vl, qwen3-vl or text">,
    ListOption<"sections", "sections", "int64_t",
               "M-RoPE sections for sites without any (default: the "
               "architecture's, scaled)">,
    Option<"positions", "positions", "std::string", /*default=*/"\"input\"",
           "input: a [3, batch, seq] graph input; compute: rope.mrope_index "
           "from the token ids and grids">,
  ];
  let dependentDialects = ["::mrope::rope::RopeDialect",
                           "::mrope::onnx::OnnxDialect"];
}

#endif // MROPE_TRANSFORMS_PASSES_TD
