// convert-rope-to-onnx lowers rope.apply in the form `emit` asks for.
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx | FileCheck %s --check-prefix=PLAIN
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx=emit=ort | FileCheck %s --check-prefix=ORT
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx=emit=onnx23 -verify-diagnostics | FileCheck %s --check-prefix=O23

// M-RoPE, q and k in one op: plain rotates with per-token tables and
// rotate-half; ort uses MRotaryEmbedding over caches built from the
// positions; onnx23 is refused at opset 17.
// PLAIN-LABEL: onnx.graph @mrope
// PLAIN: onnx.initializer "mrope.rows" : tensor<8xi64> = dense<[0, 1, 1, 2, 0, 1, 1, 2]>
// PLAIN: onnx.node "Gather"
// PLAIN: onnx.node "Cos"
// PLAIN: onnx.node "Neg"
// PLAIN: onnx.node "Concat"
// PLAIN-NOT: rope.apply
// PLAIN-NOT: RotaryEmbedding
// ORT-LABEL: onnx.graph @mrope
// ORT: %[[MAX:.*]] = onnx.node "ReduceMax"(%{{.*}}) {attrs = {keepdims = 0 : i64}
// ORT: onnx.node "Range"
// ORT: %[[COS:.*]] = onnx.node "Cos"
// ORT: %[[SIN:.*]] = onnx.node "Sin"
// ORT: onnx.node "MRotaryEmbedding"(%{{[a-z0-9_]+}}, %[[POS:[a-z0-9_]+]], %[[COS]], %[[SIN]]) {attrs = {interleaved = 0 : i64, mrope_layout = 0 : i64, mrope_section = array<i64: 1, 2, 1>, num_heads = 2 : i64}, domain = "com.microsoft"
// ORT: onnx.node "MRotaryEmbedding"(%{{[a-z0-9_]+}}, %[[POS]], %[[COS]], %[[SIN]])
// ORT-NOT: rope.apply
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @mrope(%q: tensor<1x2x5x8xf32> {onnx.name = "q"}, %k: tensor<1x1x5x8xf32> {onnx.name = "k"}, %pos: tensor<3x1x5xi64> {onnx.name = "position_ids"}) -> (tensor<1x2x5x8xf32> {onnx.name = "q_out"}, tensor<1x1x5x8xf32> {onnx.name = "k_out"}) {
    // expected-error @+1 {{emit=onnx23 needs the model's opset to be 23 or newer for RotaryEmbedding (the model imports 17)}}
    %q2, %k2 = rope.apply %q, %k by %pos : tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4>
    onnx.return %q2, %k2 : tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32>
  }
}

// -----

// 1D, GPT-J pairs, partial rotary (8 of 12 channels), opset 23: plain pairs
// channels on a [.., F, 2] view and concatenates the pass-through; ort uses
// RotaryEmbedding with [B, S] positions; onnx23 per-token caches.
// PLAIN-LABEL: onnx.graph @gptj_partial
// PLAIN: onnx.node "Reshape"({{.*}} -> tensor<1x2x5x4x2xf32>
// PLAIN: onnx.node "Concat"({{.*}}) {attrs = {axis = 4 : i64}
// PLAIN: onnx.node "Concat"({{.*}}) {attrs = {axis = 3 : i64}{{.*}} -> tensor<1x2x5x12xf32>
// ORT-LABEL: onnx.graph @gptj_partial
// ORT: onnx.node "RotaryEmbedding"(%{{.*}}) {attrs = {interleaved = 1 : i64, num_heads = 2 : i64, rotary_embedding_dim = 8 : i64}, domain = "com.microsoft"
// O23-LABEL: onnx.graph @gptj_partial
// O23: %[[C:.*]] = onnx.node "Cos"({{.*}} -> tensor<1x5x4xf32>
// O23: %[[S:.*]] = onnx.node "Sin"
// O23: onnx.node "RotaryEmbedding"(%{{[a-z0-9_]+}}, %[[C]], %[[S]]) {attrs = {interleaved = 1 : i64, rotary_embedding_dim = 8 : i64}
// O23-NOT: domain = "com.microsoft"
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @gptj_partial(%q: tensor<1x2x5x12xf32> {onnx.name = "q"}, %pos: tensor<1x5xi64> {onnx.name = "position_ids"}) -> (tensor<1x2x5x12xf32> {onnx.name = "q_out"}) {
    %q2 = rope.apply %q by %pos : tensor<1x2x5x12xf32> by tensor<1x5xi64> with #rope.semantics<sections = [4], rotary_dim = 8, theta = 1.0e4, layout = gptj>
    onnx.return %q2 : tensor<1x2x5x12xf32>
  }
}

// -----

// 2D vision RoPE (frequencies restart per axis): MRotaryEmbedding cannot say
// it, so ort merges per-token caches [B * S, F] and indexes them b * S + s.
// ORT-LABEL: onnx.graph @vision
// ORT: onnx.node "ReduceProd"
// ORT: onnx.node "Range"
// ORT: onnx.node "RotaryEmbedding"({{.*}}domain = "com.microsoft"
// ORT-NOT: MRotaryEmbedding
// O23-LABEL: onnx.graph @vision
// O23: onnx.node "RotaryEmbedding"
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @vision(%q: tensor<1x1x6x8xf32> {onnx.name = "q"}, %pos: tensor<2x1x6xi64> {onnx.name = "hw"}) -> (tensor<1x1x6x8xf32> {onnx.name = "q_out"}) {
    %q2 = rope.apply %q by %pos : tensor<1x1x6x8xf32> by tensor<2x1x6xi64> with #rope.semantics<sections = [2, 2], rotary_dim = 8, theta = 1.0e4, freqs = per_section>
    onnx.return %q2 : tensor<1x1x6x8xf32>
  }
}
