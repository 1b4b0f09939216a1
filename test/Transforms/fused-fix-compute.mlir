// rope-fix-fused positions=compute: after the fix the [3, B, S] input the
// fused sites read is replaced by rope.mrope_index over the token ids and
// grids (added as inputs), read through the Identity
// `mrope_fix/position_ids`; rope_deltas becomes an output. A correct M-RoPE
// site's [3, B, S] input is replaced the same way; a site that is no bug
// and reads no [3, B, S] input is left alone.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics '--rope-fix-fused=arch=qwen2-vl sections=1,1,2 positions=compute' | FileCheck %s
// Under arch=auto 1D is right: the 1D site keeps its op and its input.
// RUN: mrope-opt %s -split-input-file '--rope-fix-fused=arch=auto positions=compute' 2>/dev/null | FileCheck %s --check-prefix=AUTO
// The default is positions=input: no rope.mrope_index.
// RUN: mrope-opt %s -split-input-file '--rope-fix-fused=arch=qwen2-vl sections=1,1,2' 2>/dev/null | FileCheck %s --check-prefix=INPUT

// 1D com.microsoft.RotaryEmbedding: MRotaryEmbedding reading the computed
// positions; the old [B, S] input goes (said once, by the fix).
// CHECK-LABEL: onnx.graph @ms_rotary
// CHECK-NOT: onnx.name = "position_ids"
// CHECK-SAME: %[[IDS:[a-z_0-9]+]]: tensor<1x3xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}
// CHECK-SAME: tensor<1x1xi64> {onnx.dim_params = ["batch", ""], onnx.name = "rope_deltas"}
// CHECK: %[[P:.*]], %[[D:.*]] = rope.mrope_index %[[IDS]] mask %attention_mask images %image_grid_thw videos %video_grid_thw {arch = #rope.index_arch<qwen2_vl>}
// CHECK: %[[ID:.*]] = onnx.node "Identity"(%[[P]]) {name = "mrope_fix/positions/computed", outputs = ["mrope_fix/position_ids"]}
// CHECK: onnx.node "MRotaryEmbedding"(%q, %[[ID]], %cos_cache, %sin_cache) {attrs = {interleaved = 0 : i64, mrope_layout = 0 : i64, mrope_section = array<i64: 1, 1, 2>, num_heads = 2 : i64}
// CHECK: onnx.return %{{.*}}, %[[D]]
// AUTO-LABEL: onnx.graph @ms_rotary
// AUTO-SAME: onnx.name = "position_ids"
// AUTO-NOT: rope.mrope_index
// AUTO: onnx.node "RotaryEmbedding"(%q, %position_ids,
// INPUT-LABEL: onnx.graph @ms_rotary
// INPUT-SAME: tensor<3x1x3xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"}
// INPUT-NOT: rope.mrope_index
// INPUT: onnx.node "MRotaryEmbedding"(%q, %position_ids,
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  // expected-remark @below {{fixed: 1 x com.microsoft.RotaryEmbedding -> MRotaryEmbedding (sections [1, 1, 2], contiguous) over the same caches}}
  // expected-remark @below {{fixed: removed input 'position_ids' (the graph computes its positions now)}}
  // expected-remark @below {{fixed: added input 'input_ids'}}
  // expected-remark @below {{fixed: added input 'attention_mask'}}
  // expected-remark @below {{fixed: added input 'image_grid_thw'}}
  // expected-remark @below {{fixed: added input 'video_grid_thw'}}
  // expected-remark @below {{fixed: positions computed in the graph from input_ids, attention_mask and the grids (get_rope_index); added output 'rope_deltas'}}
  onnx.graph @ms_rotary(%q: tensor<1x3x16xf32> {onnx.name = "q"}, %pos: tensor<1x3xi64> {onnx.name = "position_ids", onnx.dim_params = ["batch", "seq"]}, %cos: tensor<64x4xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x4xf32> {onnx.name = "sin_cache"}) -> (tensor<1x3x16xf32> {onnx.name = "q_out"}) {
    %0 = onnx.node "RotaryEmbedding"(%q, %pos, %cos, %sin) {domain = "com.microsoft", name = "rope_q", attrs = {num_heads = 2 : i64, interleaved = 0 : i64}} : (tensor<1x3x16xf32>, tensor<1x3xi64>, tensor<64x4xf32>, tensor<64x4xf32>) -> tensor<1x3x16xf32>
    onnx.return %0 : tensor<1x3x16xf32>
  }
}

// -----

// Correct M-RoPE: no bug, but its [3, B, S] input is replaced by the
// computation (and that removal is said); the op and its sections stay.
// CHECK-LABEL: onnx.graph @correct
// CHECK-NOT: onnx.name = "position_ids"
// CHECK: %[[P:.*]], %{{.*}} = rope.mrope_index %input_ids
// CHECK: %[[ID:.*]] = onnx.node "Identity"(%[[P]])
// CHECK: onnx.node "MRotaryEmbedding"(%q, %[[ID]], %cos_cache, %sin_cache) {attrs = {interleaved = 0 : i64, mrope_layout = 0 : i64, mrope_section = array<i64: 1, 1, 2>, num_heads = 2 : i64}
// INPUT-LABEL: onnx.graph @correct
// INPUT-NOT: rope.mrope_index
// INPUT: onnx.node "MRotaryEmbedding"(%q, %position_ids,
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  // expected-remark @below {{fixed: added input 'input_ids'}}
  // expected-remark @below {{fixed: added input 'attention_mask'}}
  // expected-remark @below {{fixed: added input 'image_grid_thw'}}
  // expected-remark @below {{fixed: added input 'video_grid_thw'}}
  // expected-remark @below {{fixed: positions computed in the graph from input_ids, attention_mask and the grids (get_rope_index); added output 'rope_deltas'}}
  // expected-remark @below {{fixed: removed input 'position_ids' (the graph computes its positions now)}}
  onnx.graph @correct(%q: tensor<1x3x16xf32> {onnx.name = "q"}, %pos: tensor<3x1x3xi64> {onnx.name = "position_ids", onnx.dim_params = ["", "batch", "seq"]}, %cos: tensor<64x4xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x4xf32> {onnx.name = "sin_cache"}) -> (tensor<1x3x16xf32> {onnx.name = "q_out"}) {
    %0 = onnx.node "MRotaryEmbedding"(%q, %pos, %cos, %sin) {domain = "com.microsoft", name = "rope_q", attrs = {num_heads = 2 : i64, interleaved = 0 : i64, mrope_layout = 0 : i64, mrope_section = array<i64: 1, 1, 2>}} : (tensor<1x3x16xf32>, tensor<3x1x3xi64>, tensor<64x4xf32>, tensor<64x4xf32>) -> tensor<1x3x16xf32>
    onnx.return %0 : tensor<1x3x16xf32>
  }
}
