// convert-rope-to-onnx lowers rope.apply in the form `emit` asks for.
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx | FileCheck %s --check-prefix=PLAIN
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx=emit=ort | FileCheck %s --check-prefix=ORT
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx=emit=onnx23 -verify-diagnostics | FileCheck %s --check-prefix=O23

// M-RoPE, q and k in one op: plain rotates with per-token tables and
// rotate-half; ort uses com.microsoft.RotaryEmbedding over merged per-token
// caches [B * S, F] indexed by b * S + s (faster in ONNX Runtime than
// MRotaryEmbedding); onnx23 is refused at opset 17.
// PLAIN-LABEL: onnx.graph @mrope
// PLAIN: onnx.initializer "mrope.rows" : tensor<8xi64> = dense<[0, 1, 1, 2, 0, 1, 1, 2]>
// PLAIN: onnx.node "Gather"
// PLAIN: onnx.node "Cos"
// PLAIN: onnx.node "Neg"
// PLAIN: onnx.node "Concat"
// PLAIN-NOT: rope.apply
// PLAIN-NOT: RotaryEmbedding
// ORT-LABEL: onnx.graph @mrope
// ORT: onnx.initializer "mrope.rows" : tensor<4xi64> = dense<[0, 1, 1, 2]>
// ORT: %[[COS:.*]] = onnx.node "Reshape"({{.*}}) {name = "mrope/rope_{{[0-9]+}}/tables/Reshape"} : (tensor<1x5x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
// ORT: %[[SIN:.*]] = onnx.node "Reshape"
// ORT: onnx.node "ReduceProd"
// ORT: onnx.node "Range"
// ORT: %[[IDS:.*]] = onnx.node "Reshape"({{.*}}) -> tensor<1x5xi64>
// ORT: onnx.node "RotaryEmbedding"(%q, %[[IDS]], %[[COS]], %[[SIN]]) {attrs = {interleaved = 0 : i64, num_heads = 2 : i64}, domain = "com.microsoft"
// ORT: onnx.node "RotaryEmbedding"(%k, %[[IDS]], %[[COS]], %[[SIN]]) {attrs = {interleaved = 0 : i64, num_heads = 1 : i64}, domain = "com.microsoft"
// ORT-NOT: MRotaryEmbedding
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

// -----

// Two layers rotate by the same positions: one set of tables, built right
// after the positions, feeds both; a third op with another theta must get
// its own. The first layer's q is the usual Transpose of [B, S, H, D] that
// nothing else reads: the fused forms rotate the [B, S, H * D] view and
// transpose after (the Transpose moves, keeping its name); the second
// layer's q is also read by the graph output, so the fused op takes it as
// it is.
// PLAIN-LABEL: onnx.graph @layers
// PLAIN-COUNT-2: onnx.node "Cos"{{.*}}/tables/Cos"
// PLAIN-NOT: onnx.node "Cos"
// PLAIN: onnx.node "Transpose"(%y)
// PLAIN-NOT: RotaryEmbedding
// ORT-LABEL: onnx.graph @layers
// ORT-COUNT-2: onnx.node "Cos"{{.*}}/tables/Cos"
// ORT-NOT: onnx.node "Cos"
// ORT-NOT: onnx.node "Transpose"(%y)
// ORT: %[[V:.*]] = onnx.node "Reshape"(%y, %{{.*}}) {{.*}} -> tensor<1x5x16xf32>
// ORT: %[[R:.*]] = onnx.node "RotaryEmbedding"(%[[V]], %[[IDS:[0-9]+]], %[[COS:[0-9]+]], %[[SIN:[0-9]+]]) {attrs = {interleaved = 0 : i64, num_heads = 2 : i64}, domain = "com.microsoft"{{.*}} -> tensor<1x5x16xf32>
// ORT: %[[SHAPE:.*]] = onnx.node "Shape"(%y)
// ORT: %[[B:.*]] = onnx.node "Reshape"(%[[R]], %[[SHAPE]]) {{.*}} -> tensor<1x5x2x8xf32>
// ORT: %[[Q1:.*]] = onnx.node "Transpose"(%[[B]]) {attrs = {perm = array<i64: 0, 2, 1, 3>}, name = "q/Transpose"}
// ORT: onnx.node "RotaryEmbedding"(%k, %[[IDS]], %[[COS]], %[[SIN]]) {attrs = {interleaved = 0 : i64, num_heads = 1 : i64}
// ORT: onnx.node "RotaryEmbedding"(%[[Q1]], %[[IDS]], %[[COS]], %[[SIN]]) {attrs = {interleaved = 0 : i64, num_heads = 2 : i64}
// ORT: onnx.node "RotaryEmbedding"(%[[Q1]],
// ORT: onnx.return
// O23-LABEL: onnx.graph @layers
// O23-COUNT-2: onnx.node "Cos"{{.*}}/tables/Cos"
// O23-NOT: onnx.node "Cos"
// O23: onnx.node "Reshape"(%y, %{{.*}}) {{.*}} -> tensor<1x5x16xf32>
// O23: onnx.node "RotaryEmbedding"({{.*}}) {attrs = {interleaved = 0 : i64, num_heads = 2 : i64}{{.*}} -> tensor<1x5x16xf32>
// O23: onnx.node "RotaryEmbedding"(%k, {{.*}}) {attrs = {interleaved = 0 : i64}
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @layers(%y: tensor<1x5x2x8xf32> {onnx.name = "y"}, %k: tensor<1x1x5x8xf32> {onnx.name = "k"}, %pos: tensor<3x1x5xi64> {onnx.name = "position_ids"}) -> (tensor<1x2x5x8xf32> {onnx.name = "q_out"}, tensor<1x1x5x8xf32> {onnx.name = "k_out"}, tensor<1x2x5x8xf32> {onnx.name = "q_mid"}, tensor<1x2x5x8xf32> {onnx.name = "q_other"}) {
    %q = onnx.node "Transpose"(%y) {attrs = {perm = array<i64: 0, 2, 1, 3>}, name = "q/Transpose"} : (tensor<1x5x2x8xf32>) -> tensor<1x2x5x8xf32>
    %q1, %k1 = rope.apply %q, %k by %pos : tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4>
    %q2 = rope.apply %q1 by %pos : tensor<1x2x5x8xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4>
    %q3 = rope.apply %q1 by %pos : tensor<1x2x5x8xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e6>
    onnx.return %q2, %k1, %q1, %q3 : tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
  }
}

// -----

// Only Transpose(y, [0, 2, 1, 3]) is a token-major view: another perm stays
// where it is and the fused op reads its [B, H, S, D] result.
// ORT-LABEL: onnx.graph @other_perm
// ORT: %[[T:.*]] = onnx.node "Transpose"(%y) {attrs = {perm = array<i64: 0, 1, 3, 2>}
// ORT: onnx.node "RotaryEmbedding"(%[[T]], {{.*}}) {attrs = {interleaved = 0 : i64, num_heads = 2 : i64}{{.*}} -> tensor<1x2x5x8xf32>
// O23-LABEL: onnx.graph @other_perm
// O23: %[[T:.*]] = onnx.node "Transpose"(%y) {attrs = {perm = array<i64: 0, 1, 3, 2>}
// O23: onnx.node "RotaryEmbedding"(%[[T]], {{.*}}) {attrs = {interleaved = 0 : i64}{{.*}} -> tensor<1x2x5x8xf32>
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @other_perm(%y: tensor<1x2x8x5xf32> {onnx.name = "y"}, %pos: tensor<3x1x5xi64> {onnx.name = "position_ids"}) -> (tensor<1x2x5x8xf32> {onnx.name = "q_out"}) {
    %q = onnx.node "Transpose"(%y) {attrs = {perm = array<i64: 0, 1, 3, 2>}, name = "q/Transpose"} : (tensor<1x2x8x5xf32>) -> tensor<1x2x5x8xf32>
    %q1 = rope.apply %q by %pos : tensor<1x2x5x8xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4>
    onnx.return %q1 : tensor<1x2x5x8xf32>
  }
}
