// Per-token caches built in the graph from 1D positions and read by
// com.microsoft.RotaryEmbedding through Range(0, B*S): under a Qwen VL arch
// the fix recomputes the caches from [3, B, S] positions the same way (f32
// position x f32 inv_freq per channel, Cos, Sin, Reshape to [B*S, F]), each
// channel from its section's row, and leaves the op reading them per token;
// it never indexes the per-token caches by positions. Without sections for
// 2 frequencies it refuses in one line.
// RUN: mrope-opt %s '--rope-fix-fused=arch=qwen2-vl sections=1,0,1' | FileCheck %s
// RUN: mrope-opt %s -verify-diagnostics --rope-fix-fused=arch=qwen2-vl -o /dev/null

// CHECK-LABEL: onnx.graph @per_token_1d
// CHECK-SAME: %position_ids: tensor<3x1x4xi64>
// CHECK-DAG: %[[FREQ:.*]] = onnx.initializer "mrope.fused.inv_freq" : tensor<2xf32> = dense<[1.000000e+00, 0.00999999977]>
// CHECK-DAG: %[[ROWS:.*]] = onnx.initializer "mrope.fused.rows" : tensor<2xi64> = dense<[0, 2]>
// CHECK: %[[RANGE:.*]] = onnx.node "Range"
// CHECK: %[[TOKENS:.*]] = onnx.node "Reshape"(%[[RANGE]]
// CHECK: %[[G:.*]] = onnx.node "Gather"(%position_ids, %[[ROWS]]) {attrs = {axis = 0 : i64}
// CHECK: %[[T:.*]] = onnx.node "Transpose"(%[[G]]) {attrs = {perm = array<i64: 1, 2, 0>}
// CHECK: %[[F:.*]] = onnx.node "Cast"(%[[T]]) {attrs = {to = 1 : i64}
// CHECK: %[[A:.*]] = onnx.node "Mul"(%[[F]], %[[FREQ]])
// CHECK: %[[C:.*]] = onnx.node "Cos"(%[[A]])
// CHECK: %[[CC:.*]] = onnx.node "Reshape"(%[[C]]
// CHECK: %[[S:.*]] = onnx.node "Sin"(%[[A]])
// CHECK: %[[SC:.*]] = onnx.node "Reshape"(%[[S]]
// CHECK: onnx.node "RotaryEmbedding"(%x, %[[TOKENS]], %[[CC]], %[[SC]])
// CHECK-NOT: "Einsum"

module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @per_token_1d(%x: tensor<1x4x8xf32> {onnx.name = "x"}, %pos: tensor<1x4xi64> {onnx.name = "position_ids"}) -> (tensor<1x4x8xf32> {onnx.name = "y"}) {
    %inv = onnx.initializer "inv_freq" : tensor<2xf32> = dense<[1.0, 0.01]>
    %flat = onnx.initializer "flat" : tensor<2xi64> = dense<[-1, 2]>
    %bs = onnx.initializer "bs" : tensor<2xi64> = dense<[1, 4]>
    %start = onnx.initializer "start" : tensor<i64> = dense<0>
    %limit = onnx.initializer "limit" : tensor<i64> = dense<4>
    %delta = onnx.initializer "delta" : tensor<i64> = dense<1>
    %pf = onnx.node "Cast"(%pos) {attrs = {to = 1 : i64}, name = "pos_f"} : (tensor<1x4xi64>) -> tensor<1x4xf32>
    %a = onnx.node "Einsum"(%pf, %inv) {attrs = {equation = "bs,f->bsf"}, name = "angle"} : (tensor<1x4xf32>, tensor<2xf32>) -> tensor<1x4x2xf32>
    %c = onnx.node "Cos"(%a) {name = "cos"} : (tensor<1x4x2xf32>) -> tensor<1x4x2xf32>
    %s = onnx.node "Sin"(%a) {name = "sin"} : (tensor<1x4x2xf32>) -> tensor<1x4x2xf32>
    %cc = onnx.node "Reshape"(%c, %flat) {name = "cos_cache"} : (tensor<1x4x2xf32>, tensor<2xi64>) -> tensor<4x2xf32>
    %sc = onnx.node "Reshape"(%s, %flat) {name = "sin_cache"} : (tensor<1x4x2xf32>, tensor<2xi64>) -> tensor<4x2xf32>
    %r = onnx.node "Range"(%start, %limit, %delta) {name = "token_index"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<4xi64>
    %t = onnx.node "Reshape"(%r, %bs) {name = "token_ids"} : (tensor<4xi64>, tensor<2xi64>) -> tensor<1x4xi64>
    // expected-error @+1 {{cannot scale the default M-RoPE sections to 2 frequencies: pass --sections}}
    %y = onnx.node "RotaryEmbedding"(%x, %t, %cc, %sc) {attrs = {num_heads = 2 : i64}, domain = "com.microsoft", name = "rope"} : (tensor<1x4x8xf32>, tensor<1x4xi64>, tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<1x4x8xf32>
    onnx.return %y : tensor<1x4x8xf32>
  }
}
