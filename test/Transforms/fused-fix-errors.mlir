// rope-fix-fused refuses what it cannot fix, naming the node.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-fix-fused=arch=qwen2-vl -o %t.out

// F = 4 frequencies: [16, 24, 24] does not scale; the user must say.
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @unscalable(%q: tensor<1x2x3x8xf32> {onnx.name = "q"}, %pos: tensor<1x3xi64> {onnx.name = "position_ids"}, %cos: tensor<64x4xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x4xf32> {onnx.name = "sin_cache"}) -> (tensor<1x2x3x8xf32> {onnx.name = "q_out"}) {
    // expected-error @+1 {{cannot scale the default M-RoPE sections to 4 frequencies: pass --sections}}
    %0 = onnx.node "RotaryEmbedding"(%q, %pos, %cos, %sin) {domain = "com.microsoft", name = "rope_q"} : (tensor<1x2x3x8xf32>, tensor<1x3xi64>, tensor<64x4xf32>, tensor<64x4xf32>) -> tensor<1x2x3x8xf32>
    onnx.return %0 : tensor<1x2x3x8xf32>
  }
}

// -----

// Packed QKV: query and key cannot be rotated apart.
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @packed(%qkv: tensor<1x3x128xf32> {onnx.name = "qkv"}, %pk: tensor<1x1x0x32xf32> {onnx.name = "pk"}, %pv: tensor<1x1x0x32xf32> {onnx.name = "pv"}, %sl: tensor<1xi32> {onnx.name = "seqlens_k"}, %tot: tensor<i32> {onnx.name = "total"}, %cos: tensor<64x16xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x16xf32> {onnx.name = "sin_cache"}) -> (tensor<1x3x64xf32> {onnx.name = "o"}) {
    %none = onnx.none : none
    // expected-error @+1 {{cannot fix GroupQueryAttention with packed QKV}}
    %0:3 = onnx.node "GroupQueryAttention"(%qkv, %none, %none, %pk, %pv, %sl, %tot, %cos, %sin) {domain = "com.microsoft", attrs = {num_heads = 2 : i64, kv_num_heads = 1 : i64, do_rotary = 1 : i64}} : (tensor<1x3x128xf32>, none, none, tensor<1x1x0x32xf32>, tensor<1x1x0x32xf32>, tensor<1xi32>, tensor<i32>, tensor<64x16xf32>, tensor<64x16xf32>) -> (tensor<1x3x64xf32>, tensor<1x1x3x32xf32>, tensor<1x1x3x32xf32>)
    onnx.return %0#0 : tensor<1x3x64xf32>
  }
}
