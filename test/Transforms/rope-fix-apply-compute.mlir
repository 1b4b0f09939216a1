// rope-fix positions=compute on raised sites: the positions operand becomes
// rope.mrope_index over the token ids and grids (added as inputs where
// missing), rope_deltas a new output; a correct M-RoPE model's [3, B, S]
// input is replaced the same way. Vision sites get (h, w) from grid_thw.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-fix="arch=qwen2-vl positions=compute" | FileCheck %s

// 1D text RoPE: M-RoPE of the computed positions; the old [B, S] input goes.
// CHECK-LABEL: onnx.graph @text
// CHECK-SAME: (%q: tensor<1x2x?x16xf32> {onnx.name = "q"}, %input_ids: tensor<1x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}, %attention_mask: {{.*}}, %image_grid_thw: tensor<?x3xi64> {{.*}}, %video_grid_thw: tensor<?x3xi64> {{.*}})
// CHECK-NOT: position_ids
// CHECK: %[[P:.*]], %[[D:.*]] = rope.mrope_index %input_ids mask %attention_mask images %image_grid_thw videos %video_grid_thw {arch = #rope.index_arch<qwen2_vl>}
// CHECK: rope.apply %q by %[[P]] freqs %inv_freq : tensor<1x2x?x16xf32> by tensor<3x1x?xi64> freqs tensor<8xf32> with #rope.semantics<sections = [2, 3, 3], rotary_dim = 16, theta = 1.000000e+04>
// CHECK: onnx.return %{{.*}}, %[[D]]
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  // expected-remark @below {{fixed: added input 'input_ids'}}
  // expected-remark @below {{fixed: added input 'attention_mask'}}
  // expected-remark @below {{fixed: added input 'image_grid_thw'}}
  // expected-remark @below {{fixed: added input 'video_grid_thw'}}
  // expected-remark @below {{fixed: positions computed in the graph from input_ids, attention_mask and the grids (get_rope_index); added output 'rope_deltas'}}
  // expected-remark @below {{fixed: site rope.apply (1d): M-RoPE [2, 3, 3] from the positions computed in the graph (was input 'position_ids')}}
  // expected-remark @below {{fixed: removed 0 node(s)}}
  // expected-remark @below {{fixed: removed input 'position_ids' (the graph computes its positions now)}}
  onnx.graph @text(%q: tensor<1x2x?x16xf32> {onnx.name = "q"}, %pos: tensor<1x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "position_ids"}) -> (tensor<1x2x?x16xf32> {onnx.name = "q_out"}) {
    %inv = onnx.initializer "inv_freq" : tensor<8xf32> = dense<[1.0, 0.316227764, 0.1, 0.0316227749, 0.00999999977, 0.00316227763, 0.001, 0.000316227757]>
    %q2 = rope.apply %q by %pos freqs %inv : tensor<1x2x?x16xf32> by tensor<1x?xi64> freqs tensor<8xf32> with #rope.semantics<sections = [8], rotary_dim = 16, theta = 1.0e4>
    onnx.return %q2 : tensor<1x2x?x16xf32>
  }
}

// -----

// Correct M-RoPE reading [3, B, S] from an input: no bug, but the input is
// replaced by the computation; the semantics stay.
// CHECK-LABEL: onnx.graph @correct
// CHECK-NOT: position_ids
// CHECK: %[[P:.*]], %{{.*}} = rope.mrope_index %input_ids
// CHECK: rope.apply %q by %[[P]] : {{.*}} with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.000000e+04>
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  // expected-remark @below {{fixed: added input 'input_ids'}}
  // expected-remark @below {{fixed: added input 'attention_mask'}}
  // expected-remark @below {{fixed: added input 'image_grid_thw'}}
  // expected-remark @below {{fixed: added input 'video_grid_thw'}}
  // expected-remark @below {{fixed: positions computed in the graph}}
  // expected-remark @below {{fixed: removed input 'position_ids' (the graph computes its positions now)}}
  onnx.graph @correct(%q: tensor<1x2x5x8xf32> {onnx.name = "q"}, %pos: tensor<3x1x5xi64> {onnx.name = "position_ids"}) -> (tensor<1x2x5x8xf32> {onnx.name = "q_out"}) {
    %q2 = rope.apply %q by %pos : tensor<1x2x5x8xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4>
    onnx.return %q2 : tensor<1x2x5x8xf32>
  }
}

// -----

// Vision tower (marked by rope-raise): the flat patch index (a Range) ->
// 2D (h, w) RoPE from grid_thw; every other entry of the graph's table,
// frequencies per axis; the Range goes.
// CHECK-LABEL: onnx.graph @vision
// CHECK-SAME: %grid_thw: tensor<?x3xi64>
// CHECK-DAG: %[[INV:.*]] = onnx.initializer "mrope_fix.vision_inv_freq" : tensor<2xf32> = dense<[1.000000e+00, 0.00999999977]>
// CHECK-DAG: onnx.node "CumSum"
// CHECK: %[[HW:.*]] = onnx.node "Concat"
// CHECK: %[[T:.*]] = onnx.node "Transpose"(%[[HW]])
// CHECK: %[[ROWS:.*]] = onnx.node "Unsqueeze"(%[[T]]
// CHECK-NOT: "Range"(%{{.*}}) {name = "flat"
// CHECK: rope.apply %q by %[[ROWS]] freqs %[[INV]] : tensor<1x2x6x8xf32> by tensor<2x1x6xi64> freqs tensor<2xf32> with #rope.semantics<sections = [2, 2], rotary_dim = 8, theta = 1.000000e+04, freqs = per_section> {mrope.site = 1 : i64, mrope.vision}
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  // expected-remark @below {{fixed: added input 'grid_thw' int64 [images, 3]}}
  // expected-remark @below {{fixed: (h, w) of every patch computed in the graph from grid_thw (2x2 merge-block order)}}
  // expected-remark @below {{fixed: site 1 (vision 1d): 2D (h, w) RoPE [2, 2] from (h, w) computed from grid_thw (was Range flat)}}
  // expected-remark @below {{fixed: removed 2 node(s)}}
  onnx.graph @vision(%x: tensor<6x32xf32> {onnx.name = "hidden_states"}, %q: tensor<1x2x6x8xf32> {onnx.name = "q"}) -> (tensor<1x2x6x8xf32> {onnx.name = "q_out"}) {
    %inv = onnx.initializer "inv_freq" : tensor<4xf32> = dense<[1.0, 0.1, 0.01, 0.001]>
    %zero = onnx.initializer "zero" : tensor<i64> = dense<0>
    %six = onnx.initializer "six" : tensor<i64> = dense<6>
    %one = onnx.initializer "one" : tensor<i64> = dense<1>
    %r = onnx.node "Range"(%zero, %six, %one) {name = "flat"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<6xi64>
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<0>
    %p = onnx.node "Unsqueeze"(%r, %axes) : (tensor<6xi64>, tensor<1xi64>) -> tensor<1x6xi64>
    %q2 = rope.apply %q by %p freqs %inv : tensor<1x2x6x8xf32> by tensor<1x6xi64> freqs tensor<4xf32> with #rope.semantics<sections = [4], rotary_dim = 8, theta = 1.0e4> {mrope.site = 1 : i64, mrope.vision}
    onnx.return %q2 : tensor<1x2x6x8xf32>
  }
}
