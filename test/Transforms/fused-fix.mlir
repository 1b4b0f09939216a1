// rope-fix-fused rewrites fused RoPE with the 1D bug to true M-RoPE, and
// leaves correct sites alone.
// RUN: mrope-opt %s -split-input-file --rope-fix-fused="arch=qwen2-vl sections=1,1,2" 2>/dev/null | FileCheck %s
// Under --arch auto plain 1D is not the bug: nothing changes.
// RUN: mrope-opt %s -split-input-file --rope-fix-fused=arch=auto 2>/dev/null | FileCheck %s --check-prefix=AUTO

// com.microsoft.RotaryEmbedding -> MRotaryEmbedding over the same caches; the
// [B, S] input becomes [3, B, S] in place (nothing else reads it).
// CHECK-LABEL: onnx.graph @ms_rotary
// CHECK-SAME: %[[POS:[a-z_0-9]+]]: tensor<3x1x3xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"}
// CHECK: onnx.node "MRotaryEmbedding"(%{{.*}}, %[[POS]], %[[COS:[a-z_0-9]+]], %[[SIN:[a-z_0-9]+]]) {attrs = {interleaved = 0 : i64, mrope_layout = 0 : i64, mrope_section = array<i64: 1, 1, 2>, num_heads = 2 : i64}, domain = "com.microsoft", name = "rope_q"}
// CHECK: onnx.node "MRotaryEmbedding"(%{{.*}}, %[[POS]], %[[COS]], %[[SIN]]) {{.*}}name = "rope_k"
// CHECK-NOT: "RotaryEmbedding"
// AUTO-LABEL: onnx.graph @ms_rotary
// AUTO: onnx.node "RotaryEmbedding"
// AUTO: onnx.node "RotaryEmbedding"
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @ms_rotary(%q: tensor<1x3x16xf32> {onnx.name = "q"}, %k: tensor<1x3x8xf32> {onnx.name = "k"}, %pos: tensor<1x3xi64> {onnx.name = "position_ids", onnx.dim_params = ["batch", "seq"]}, %cos: tensor<64x4xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x4xf32> {onnx.name = "sin_cache"}) -> (tensor<1x3x16xf32> {onnx.name = "q_out"}, tensor<1x3x8xf32> {onnx.name = "k_out"}) {
    %0 = onnx.node "RotaryEmbedding"(%q, %pos, %cos, %sin) {domain = "com.microsoft", name = "rope_q", attrs = {num_heads = 2 : i64, interleaved = 0 : i64}} : (tensor<1x3x16xf32>, tensor<1x3xi64>, tensor<64x4xf32>, tensor<64x4xf32>) -> tensor<1x3x16xf32>
    %1 = onnx.node "RotaryEmbedding"(%k, %pos, %cos, %sin) {domain = "com.microsoft", name = "rope_k", attrs = {num_heads = 1 : i64, interleaved = 0 : i64}} : (tensor<1x3x8xf32>, tensor<1x3xi64>, tensor<64x4xf32>, tensor<64x4xf32>) -> tensor<1x3x8xf32>
    onnx.return %0, %1 : tensor<1x3x16xf32>, tensor<1x3x8xf32>
  }
}

// -----

// Opset-23 RotaryEmbedding keeps its op (standard ONNX) with per-token caches
// gathered by the three rows: cache[pos[axis(i)], i] = flat[pos * F + i].
// The [B, S] input is still read elsewhere: a new input is added.
// CHECK-LABEL: onnx.graph @onnx23
// CHECK-SAME: %[[OLD:[a-z_0-9]+]]: tensor<1x3xi64> {onnx.name = "position_ids"}
// CHECK-SAME: %[[NEW:[a-z_0-9]+]]: tensor<3x1x3xi64> {onnx.name = "position_ids_3d"}
// CHECK-DAG: %[[ROWS:.*]] = onnx.initializer "mrope.fused.rows" : tensor<4xi64> = dense<[0, 1, 2, 2]>
// CHECK-DAG: %[[WIDTH:.*]] = onnx.initializer "mrope.fused.width" : tensor<i64> = dense<4>
// CHECK-DAG: %[[CHANNEL:.*]] = onnx.initializer "mrope.fused.channel" : tensor<4xi64> = dense<[0, 1, 2, 3]>
// CHECK: %[[G:.*]] = onnx.node "Gather"(%[[NEW]], %[[ROWS]]) {attrs = {axis = 0 : i64}
// CHECK: %[[T:.*]] = onnx.node "Transpose"(%[[G]]) {attrs = {perm = array<i64: 1, 2, 0>}
// CHECK: %[[M:.*]] = onnx.node "Mul"(%[[T]], %[[WIDTH]])
// CHECK: %[[IDX:.*]] = onnx.node "Add"(%[[M]], %[[CHANNEL]])
// CHECK: %[[FC:.*]] = onnx.node "Reshape"(%{{.*}}, %{{.*}})
// CHECK: %[[C:.*]] = onnx.node "Gather"(%[[FC]], %[[IDX]])
// CHECK: %[[FS:.*]] = onnx.node "Reshape"(%{{.*}}, %{{.*}})
// CHECK: %[[S:.*]] = onnx.node "Gather"(%[[FS]], %[[IDX]])
// CHECK: onnx.node "RotaryEmbedding"(%{{.*}}, %[[C]], %[[S]]) {attrs = {num_heads = 2 : i64}
// CHECK: onnx.node "Identity"(%[[OLD]])
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @onnx23(%x: tensor<1x3x16xf32> {onnx.name = "x"}, %pos: tensor<1x3xi64> {onnx.name = "position_ids"}, %cos: tensor<64x4xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x4xf32> {onnx.name = "sin_cache"}) -> (tensor<1x3x16xf32> {onnx.name = "y"}, tensor<1x3xi64> {onnx.name = "pos_out"}) {
    %0 = onnx.node "RotaryEmbedding"(%x, %cos, %sin, %pos) {attrs = {num_heads = 2 : i64}} : (tensor<1x3x16xf32>, tensor<64x4xf32>, tensor<64x4xf32>, tensor<1x3xi64>) -> tensor<1x3x16xf32>
    %1 = onnx.node "Identity"(%pos) : (tensor<1x3xi64>) -> tensor<1x3xi64>
    onnx.return %0, %1 : tensor<1x3x16xf32>, tensor<1x3xi64>
  }
}

// -----

// GroupQueryAttention: do_rotary = 0, query and key rotated first; the caches
// leave the node (it has no inputs after them).
// CHECK-LABEL: onnx.graph @gqa
// CHECK-SAME: %[[POS:[a-z_0-9]+]]: tensor<3x?x?xi64> {onnx.name = "position_ids"}
// CHECK: %[[Q:.*]] = onnx.node "MRotaryEmbedding"(%{{.*}}, %[[POS]], %{{.*}}, %{{.*}}) {attrs = {interleaved = 1 : i64, mrope_layout = 0 : i64, mrope_section = array<i64: 1, 1, 2>, num_heads = 2 : i64, rotary_embedding_dim = 8 : i64}, domain = "com.microsoft", name = "attn/mrope_q"}
// CHECK: %[[K:.*]] = onnx.node "MRotaryEmbedding"({{.*}}num_heads = 1 : i64{{.*}}name = "attn/mrope_k"
// CHECK: onnx.node "GroupQueryAttention"(%[[Q]], %[[K]], %{{[^,]*}}, %{{[^,]*}}, %{{[^,]*}}, %{{[^,]*}}, %{{[^,)]*}}) {attrs = {do_rotary = 0 : i64, kv_num_heads = 1 : i64, num_heads = 2 : i64}
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @gqa(%q: tensor<1x3x16xf32> {onnx.name = "q"}, %k: tensor<1x3x8xf32> {onnx.name = "k"}, %v: tensor<1x3x8xf32> {onnx.name = "v"}, %pk: tensor<1x1x0x8xf32> {onnx.name = "pk"}, %pv: tensor<1x1x0x8xf32> {onnx.name = "pv"}, %sl: tensor<1xi32> {onnx.name = "seqlens_k"}, %tot: tensor<i32> {onnx.name = "total"}, %cos: tensor<64x4xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x4xf32> {onnx.name = "sin_cache"}) -> (tensor<1x3x16xf32> {onnx.name = "o"}) {
    %0:3 = onnx.node "GroupQueryAttention"(%q, %k, %v, %pk, %pv, %sl, %tot, %cos, %sin) {domain = "com.microsoft", name = "attn", attrs = {num_heads = 2 : i64, kv_num_heads = 1 : i64, do_rotary = 1 : i64, rotary_interleaved = 1 : i64}} : (tensor<1x3x16xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x1x0x8xf32>, tensor<1x1x0x8xf32>, tensor<1xi32>, tensor<i32>, tensor<64x4xf32>, tensor<64x4xf32>) -> (tensor<1x3x16xf32>, tensor<1x1x3x8xf32>, tensor<1x1x3x8xf32>)
    onnx.return %0#0 : tensor<1x3x16xf32>
  }
}

// -----

// Degenerate: the Expanded copies give way to the input, and their nodes go.
// CHECK-LABEL: onnx.graph @expand
// CHECK-SAME: %[[POS:[a-z_0-9]+]]: tensor<3x1x3xi64> {onnx.name = "position_ids"}
// CHECK-NOT: "Expand"
// CHECK-NOT: "Unsqueeze"
// CHECK: onnx.node "MRotaryEmbedding"(%{{.*}}, %[[POS]],
// AUTO-LABEL: onnx.graph @expand
// AUTO-SAME: tensor<3x1x3xi64> {onnx.name = "position_ids"}
// AUTO-NOT: "Expand"
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @expand(%q: tensor<1x2x3x4xf32> {onnx.name = "q"}, %pos: tensor<1x3xi64> {onnx.name = "position_ids"}, %cos: tensor<64x2xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x2xf32> {onnx.name = "sin_cache"}) -> (tensor<1x2x3x4xf32> {onnx.name = "q_out"}) {
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<0>
    %shape = onnx.initializer "shape" : tensor<3xi64> = dense<[3, 1, 3]>
    %u = onnx.node "Unsqueeze"(%pos, %axes) : (tensor<1x3xi64>, tensor<1xi64>) -> tensor<1x1x3xi64>
    %rows = onnx.node "Expand"(%u, %shape) : (tensor<1x1x3xi64>, tensor<3xi64>) -> tensor<3x1x3xi64>
    %0 = onnx.node "MRotaryEmbedding"(%q, %rows, %cos, %sin) {domain = "com.microsoft", attrs = {mrope_section = array<i64: 1, 0, 1>}} : (tensor<1x2x3x4xf32>, tensor<3x1x3xi64>, tensor<64x2xf32>, tensor<64x2xf32>) -> tensor<1x2x3x4xf32>
    onnx.return %0 : tensor<1x2x3x4xf32>
  }
}

// -----

// Correct M-RoPE is not touched.
// CHECK-LABEL: onnx.graph @correct
// CHECK-SAME: tensor<3x1x3xi64> {onnx.name = "position_ids"}
// CHECK-NEXT: onnx.node "MRotaryEmbedding"
// CHECK-NEXT: onnx.return
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @correct(%q: tensor<1x2x3x4xf32> {onnx.name = "q"}, %pos: tensor<3x1x3xi64> {onnx.name = "position_ids"}, %cos: tensor<64x2xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x2xf32> {onnx.name = "sin_cache"}) -> (tensor<1x2x3x4xf32> {onnx.name = "q_out"}) {
    %0 = onnx.node "MRotaryEmbedding"(%q, %pos, %cos, %sin) {domain = "com.microsoft", attrs = {mrope_section = array<i64: 1, 0, 1>}} : (tensor<1x2x3x4xf32>, tensor<3x1x3xi64>, tensor<64x2xf32>, tensor<64x2xf32>) -> tensor<1x2x3x4xf32>
    onnx.return %0 : tensor<1x2x3x4xf32>
  }
}
