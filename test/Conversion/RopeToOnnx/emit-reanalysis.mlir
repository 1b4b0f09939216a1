// What emit=ort and emit=onnx23 write is read back as the site it was: the
// fused-site analysis follows merged per-token caches to the [3, B, S]
// positions (com.microsoft.RotaryEmbedding's position_ids only index their
// rows b * S + s), so a fixed M-RoPE model is not flagged as 1D; 1D RoPE
// stays 1D (and a bug under a Qwen VL arch).
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx=emit=ort | mrope-opt -split-input-file --rope-classify-fused=arch=qwen2-vl -o %t.out 2>&1 | FileCheck %s --check-prefix=ORT
// RUN: mrope-opt %s -split-input-file --convert-rope-to-onnx=emit=onnx23 | mrope-opt -split-input-file --rope-classify-fused=arch=qwen2-vl -o %t.out 2>&1 | FileCheck %s --check-prefix=O23

// ORT: remark: fused rope site: com.microsoft.RotaryEmbedding mrope [1, 2, 1] neox, rotary_dim 8, {{.*}}, 2 rotations; ok: 3D positions [3, batch, seq] from input 'position_ids'
// O23: remark: fused rope site: RotaryEmbedding mrope [1, 2, 1] neox, rotary_dim 8, {{.*}}, 2 rotations; ok: 3D positions [3, batch, seq] from input 'position_ids'
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @mrope(%q: tensor<2x2x5x8xf32> {onnx.name = "q"}, %k: tensor<2x1x5x8xf32> {onnx.name = "k"}, %pos: tensor<3x2x5xi64> {onnx.name = "position_ids"}) -> (tensor<2x2x5x8xf32> {onnx.name = "q_out"}, tensor<2x1x5x8xf32> {onnx.name = "k_out"}) {
    %q2, %k2 = rope.apply %q, %k by %pos : tensor<2x2x5x8xf32>, tensor<2x1x5x8xf32> by tensor<3x2x5xi64> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4>
    onnx.return %q2, %k2 : tensor<2x2x5x8xf32>, tensor<2x1x5x8xf32>
  }
}

// -----

// ORT: remark: fused rope site: com.microsoft.RotaryEmbedding mrope-interleaved [2, 1, 1] gptj, rotary_dim 8, {{.*}}, 1 rotations; ok: 3D positions
// O23: remark: fused rope site: RotaryEmbedding mrope-interleaved [2, 1, 1] gptj, rotary_dim 8, {{.*}}, 1 rotations; ok: 3D positions
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @interleaved(%q: tensor<1x2x5x12xf32> {onnx.name = "q"}, %pos: tensor<3x1x5xi64> {onnx.name = "position_ids"}) -> (tensor<1x2x5x12xf32> {onnx.name = "q_out"}) {
    %q2 = rope.apply %q by %pos : tensor<1x2x5x12xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [2, 1, 1], rotary_dim = 8, theta = 1.0e4, layout = gptj, order = interleaved>
    onnx.return %q2 : tensor<1x2x5x12xf32>
  }
}

// -----

// ORT: remark: fused rope site: com.microsoft.RotaryEmbedding 1d [4] neox, rotary_dim 8, {{.*}}, 1 rotations; BUG: a qwen2-vl model rotates by 1D positions from input 'position_ids'
// O23: remark: fused rope site: RotaryEmbedding 1d [4] neox, rotary_dim 8, {{.*}}, 1 rotations; BUG: a qwen2-vl model rotates by 1D positions from input 'position_ids'
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @text(%q: tensor<1x2x5x8xf32> {onnx.name = "q"}, %pos: tensor<1x5xi64> {onnx.name = "position_ids"}) -> (tensor<1x2x5x8xf32> {onnx.name = "q_out"}) {
    %q2 = rope.apply %q by %pos : tensor<1x2x5x8xf32> by tensor<1x5xi64> with #rope.semantics<sections = [4], rotary_dim = 8, theta = 1.0e4>
    onnx.return %q2 : tensor<1x2x5x8xf32>
  }
}
