//===- Passes.td - passes over imported ONNX graphs --------*- tablegen -*-===//
#ifndef MROPE_TRANSFORMS_PASSES_TD
#define MROPE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"
include "mrope/Transforms/ArchOption.td"

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
    RopeArchOption,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write the JSON report to this file ('-' for stdout)">,
  ];
  // Sites carry #rope.semantics.
  let dependentDialects = ["::mrope::rope::RopeDialect"];
}

def RopeRaise : Pass<"rope-raise", "::mlir::ModuleOp"> {
  let summary = "Raise whole RoPE sites of ONNX graphs to rope.apply";
  let description = [{
    For every RoPE site the analysis finds (see `rope-classify`), replaces
    every rotation `x * cos + rotate(x) * sin` the site's tables feed by
    `rope.apply` on tensors inside the `onnx.graph`; the rotations of one
    layer (q and k) share one op when everything they rotate is defined
    where the first of them is combined. The op's results replace the
    rotated outputs (the Add nodes), and the nodes only the old tables,
    section merge and rotations used are removed.

    The op rotates by the positions exactly as the graph has them: a graph
    input, a Range (`[S]`, one sequence for the whole batch, given as
    `[B, S]` through Unsqueeze and Expand to the batch of q; a float Range
    of whole numbers through a Cast to int64), or the `[A, B, S]` rows
    the graph computes itself (get_rope_index from token ids and grids).
    Degenerate M-RoPE rotates by the three rows the graph builds, so the op
    computes what the graph computed. Tables gathered from constant caches
    rotate by the Gather's indices; the caches are recomputed, which is
    done only when every row of them is within 1e-6 of cos/sin of the f32
    angle `f32(p) * inv_freq`. A vision tower's `(h, w)` pairs `[N, 2]` are
    given as `[2, 1, N]`. `freqs` is an initializer `mrope_raise.inv_freq`
    with the graph's own frequency table (exact f32 bits; for caches, what
    the analysis recovers) and `semantics` the recovered `#rope.semantics`
    (sections, rotary dim, theta, pair layout, interleaving, per-section
    frequencies).

    rope.apply rotates `[B, H, S, D]`. Operands laid out `[B, S, H, D]`
    (the table broadcast as `[B, S, 1, R]`, GPT-J) are transposed around
    the op, and a vision tower's `[S, H, D]` (table `[S, 1, R]`) becomes
    `[1, H, S, D]` and back. Where the graph left q/k unranked, an Identity
    gives the op the type the table broadcast proves. Partial rotary is
    raised on the rotated slice: the op rotates the slice the graph rotates
    (`rotary_dim` = its width) and the graph's own Concat re-joins the
    untouched channels.

    Each op carries discardable attributes naming its site (see
    `include/mrope/Transforms/RopeRaise.h`): `mrope.site` (i64, the site's
    index in the order `rope-classify` reports sites), `mrope.rotations`
    (the labels of the graph nodes whose outputs its results replace, in
    result order) and, on a vision tower's rotations, `mrope.vision`.

    A site is left as it is, with a remark saying why, unless rope.apply
    provably computes what it computes: its tables reach every rotation only
    through views, broadcasts, float casts, identity scalings (Mul by 1) and
    the section merge; each rotation adds `x * cos` and `rotate(x) * sin`,
    `rotate(x)` spelled `Concat(-x2, x1)` or `stack(-x_odd, x_even)`, with
    the table broadcast over a heads axis; the angles are not reordered
    by data beyond the positions (Qwen2.5-VL's window index is refused); the
    positions are integer rows of a shape the op takes.

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

    A buggy site left as ONNX nodes (rope-raise could not express it, or did
    not run) is an error naming the site and why it is not raised; a correct
    one is left as it is. New rope ops are left for `convert-rope-to-onnx`. The old `[batch, seq]` positions input is retyped
    in place when nothing else uses it; nodes only the old positions or
    tables used are removed. Correct sites and the rest of the graph are not
    touched.
  }];
  let options = [
    RopeArchOption,
    ListOption<"sections", "sections", "int64_t",
               "M-RoPE sections for sites without any (default: the "
               "architecture's, scaled)">,
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

#endif // MROPE_TRANSFORMS_PASSES_TD
