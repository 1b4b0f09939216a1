// rope-fix-fused refuses, in one line on the node, per-token caches built
// from 1D positions that have no three position rows to give 3D positions
// to (the cache subgraph would have to be rewritten, not fed): it never
// falls back to indexing the per-token caches by positions.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-fix-fused=arch=qwen2-vl

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
    // expected-error @+1 {{cannot fix com.microsoft.RotaryEmbedding rope: its per-token caches are built in the graph from 1D positions (input 'position_ids') with no three position rows to give 3D positions to}}
    %y = onnx.node "RotaryEmbedding"(%x, %t, %cc, %sc) {attrs = {num_heads = 2 : i64}, domain = "com.microsoft", name = "rope"} : (tensor<1x4x8xf32>, tensor<1x4xi64>, tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<1x4x8xf32>
    onnx.return %y : tensor<1x4x8xf32>
  }
}
