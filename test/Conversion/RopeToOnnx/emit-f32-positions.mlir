// convert-rope-to-onnx on f32 positions (Qwen3-Omni's): the rows are gathered
// and multiplied by inv_freq with no Cast in any form; emit=ort builds
// per-token caches indexed by b * S + s even for one axis, since its
// position caches would need int64 position ids (numbers:
// check_emit.py's _f32 cases, emit-ort.test).
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx | FileCheck %s --check-prefix=PLAIN
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx=emit=ort | FileCheck %s --check-prefix=ORT
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx=emit=onnx23 | FileCheck %s --check-prefix=O23

// Interleaved M-RoPE [2, 1, 1] on f32 [3, B, S] positions.
// PLAIN-LABEL: onnx.graph @omni
// PLAIN-NOT: "Cast"
// PLAIN: %[[G:.*]] = onnx.node "Gather"(%position_ids, {{.*}} : (tensor<3x1x5xf32>, tensor<8xi64>) -> tensor<8x1x5xf32>
// PLAIN: %[[T:.*]] = onnx.node "Transpose"(%[[G]]) {{.*}} -> tensor<1x5x8xf32>
// PLAIN: onnx.node "Mul"(%[[T]], %{{.*}}) {{.*}} : (tensor<1x5x8xf32>, tensor<8xf32>) -> tensor<1x5x8xf32>
// PLAIN-NOT: "Cast"
// PLAIN-NOT: rope.apply
// ORT-LABEL: onnx.graph @omni
// ORT-NOT: "Cast"
// ORT: onnx.node "Range"
// ORT: onnx.node "RotaryEmbedding"({{.*}}domain = "com.microsoft"
// O23-LABEL: onnx.graph @omni
// O23-NOT: "Cast"
// O23: onnx.node "RotaryEmbedding"
// O23-NOT: domain = "com.microsoft"
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @omni(%q: tensor<1x2x5x8xf32> {onnx.name = "q"}, %pos: tensor<3x1x5xf32> {onnx.name = "position_ids"}) -> (tensor<1x2x5x8xf32> {onnx.name = "q_out"}) {
    %q2 = rope.apply %q by %pos : tensor<1x2x5x8xf32> by tensor<3x1x5xf32> with #rope.semantics<sections = [2, 1, 1], rotary_dim = 8, theta = 1.0e6, order = interleaved>
    onnx.return %q2 : tensor<1x2x5x8xf32>
  }
}

// -----

// One axis, f32 [B, S]: ort takes the per-token caches [B * S, F] (no
// ReduceMax over the positions, no position-indexed cache) and Range ids.
// ORT-LABEL: onnx.graph @text_f32
// ORT-NOT: "ReduceMax"
// ORT-NOT: "Cast"
// ORT: %[[COS:.*]] = onnx.node "Reshape"({{.*}}) -> tensor<?x4xf32>
// ORT: %[[SIN:.*]] = onnx.node "Reshape"
// ORT: onnx.node "ReduceProd"
// ORT: onnx.node "Range"
// ORT: %[[IDS:.*]] = onnx.node "Reshape"({{.*}}) -> tensor<2x5xi64>
// ORT: onnx.node "RotaryEmbedding"(%q, %[[IDS]], %[[COS]], %[[SIN]]) {{.*}}domain = "com.microsoft"
// PLAIN-LABEL: onnx.graph @text_f32
// PLAIN-NOT: "Cast"
// PLAIN: onnx.node "Unsqueeze"(%position_ids, {{.*}} -> tensor<1x2x5xf32>
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @text_f32(%q: tensor<2x2x5x8xf32> {onnx.name = "q"}, %pos: tensor<2x5xf32> {onnx.name = "position_ids"}) -> (tensor<2x2x5x8xf32> {onnx.name = "q_out"}) {
    %q2 = rope.apply %q by %pos : tensor<2x2x5x8xf32> by tensor<2x5xf32> with #rope.semantics<sections = [4], rotary_dim = 8, theta = 1.0e4>
    onnx.return %q2 : tensor<2x2x5x8xf32>
  }
}
