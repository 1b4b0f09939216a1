// rope-classify-fused: one remark per fused site (on its first node), under
// a Qwen VL arch (1D is the bug) and a text arch (1D is right).
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-classify-fused=arch=qwen2-vl -o %t.out
// RUN: mrope-opt %s -split-input-file --rope-classify-fused=arch=text -o %t.out 2>&1 | FileCheck %s --check-prefix=TEXT

// q and k of one layer share positions and caches: one site, 2 rotations.
// Theta is fitted to the constant caches (inv_freq [1, 0.01], R = 4).
// TEXT: remark: fused rope site: com.microsoft.RotaryEmbedding 1d [2] neox, rotary_dim 4, theta 1.0000e+04, 2 rotations; ok: 1D positions from input 'position_ids' in com.microsoft.RotaryEmbedding: right for a text model
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @ms_rotary(%q: tensor<1x2x3x4xf32> {onnx.name = "q"}, %k: tensor<1x1x3x4xf32> {onnx.name = "k"}, %pos: tensor<1x3xi64> {onnx.name = "position_ids"}) -> (tensor<1x2x3x4xf32> {onnx.name = "q_out"}, tensor<1x1x3x4xf32> {onnx.name = "k_out"}) {
    %cos = onnx.initializer "cos_cache" : tensor<2x2xf32> = dense<[[1.0, 1.0], [0.540302277, 0.999949991]]>
    %sin = onnx.initializer "sin_cache" : tensor<2x2xf32> = dense<[[0.0, 0.0], [0.841470957, 0.00999983307]]>
    // expected-remark @+1 {{fused rope site: com.microsoft.RotaryEmbedding 1d [2] neox, rotary_dim 4, theta 1.0000e+04, 2 rotations; BUG: a qwen2-vl model rotates by 1D positions from input 'position_ids' in com.microsoft.RotaryEmbedding}}
    %0 = onnx.node "RotaryEmbedding"(%q, %pos, %cos, %sin) {domain = "com.microsoft", name = "rope_q"} : (tensor<1x2x3x4xf32>, tensor<1x3xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<1x2x3x4xf32>
    %1 = onnx.node "RotaryEmbedding"(%k, %pos, %cos, %sin) {domain = "com.microsoft", name = "rope_k"} : (tensor<1x1x3x4xf32>, tensor<1x3xi64>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<1x1x3x4xf32>
    onnx.return %0, %1 : tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>
  }
}

// -----

// MRotaryEmbedding with [3, B, S] positions and interleaved sections (Qwen3-VL
// layout), GPT-J pairs, partial rotary: correct under any arch.
// TEXT: remark: fused rope site: com.microsoft.MRotaryEmbedding mrope-interleaved [2, 1, 1] gptj, rotary_dim 8, theta 0.0000e+00, 1 rotations; ok: 3D positions [3, batch, seq] from input 'position_ids'
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @ms_mrotary(%q: tensor<1x2x3x12xf32> {onnx.name = "q"}, %pos: tensor<3x1x3xi64> {onnx.name = "position_ids"}, %cos: tensor<64x4xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x4xf32> {onnx.name = "sin_cache"}) -> (tensor<1x2x3x12xf32> {onnx.name = "q_out"}) {
    // expected-remark @+1 {{fused rope site: com.microsoft.MRotaryEmbedding mrope-interleaved [2, 1, 1] gptj, rotary_dim 8, theta 0.0000e+00, 1 rotations; ok: 3D positions [3, batch, seq] from input 'position_ids'}}
    %0 = onnx.node "MRotaryEmbedding"(%q, %pos, %cos, %sin) {domain = "com.microsoft", attrs = {interleaved = 1 : i64, rotary_embedding_dim = 8 : i64, mrope_section = array<i64: 2, 1, 1>, mrope_layout = 1 : i64}} : (tensor<1x2x3x12xf32>, tensor<3x1x3xi64>, tensor<64x4xf32>, tensor<64x4xf32>) -> tensor<1x2x3x12xf32>
    onnx.return %0 : tensor<1x2x3x12xf32>
  }
}

// -----

// Three rows Expanded from one [B, S] input: degenerate, a bug under any arch.
// TEXT: remark: fused rope site: com.microsoft.MRotaryEmbedding mrope-degenerate [1, 0, 1] neox, rotary_dim 4, theta 0.0000e+00, 1 rotations; BUG: the 3 position rows of com.microsoft.MRotaryEmbedding are built in the graph from one 1D tensor (input 'position_ids')
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @ms_mrotary_expand(%q: tensor<1x2x3x4xf32> {onnx.name = "q"}, %pos: tensor<1x3xi64> {onnx.name = "position_ids"}, %cos: tensor<64x2xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x2xf32> {onnx.name = "sin_cache"}) -> (tensor<1x2x3x4xf32> {onnx.name = "q_out"}) {
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<0>
    %shape = onnx.initializer "shape" : tensor<3xi64> = dense<[3, 1, 3]>
    %u = onnx.node "Unsqueeze"(%pos, %axes) : (tensor<1x3xi64>, tensor<1xi64>) -> tensor<1x1x3xi64>
    %rows = onnx.node "Expand"(%u, %shape) : (tensor<1x1x3xi64>, tensor<3xi64>) -> tensor<3x1x3xi64>
    // expected-remark @+1 {{mrope-degenerate [1, 0, 1] neox, rotary_dim 4, theta 0.0000e+00, 1 rotations; BUG: the 3 position rows of com.microsoft.MRotaryEmbedding are built in the graph from one 1D tensor (input 'position_ids')}}
    %0 = onnx.node "MRotaryEmbedding"(%q, %rows, %cos, %sin) {domain = "com.microsoft", attrs = {mrope_section = array<i64: 1, 0, 1>}} : (tensor<1x2x3x4xf32>, tensor<3x1x3xi64>, tensor<64x2xf32>, tensor<64x2xf32>) -> tensor<1x2x3x4xf32>
    onnx.return %0 : tensor<1x2x3x4xf32>
  }
}

// -----

// Opset-23 RotaryEmbedding: 1D positions from a Range in the graph; rank-3
// input with num_heads, rotary dim from the cache width.
// TEXT: remark: fused rope site: RotaryEmbedding 1d [4] neox, rotary_dim 8, theta 0.0000e+00, 1 rotations; ok: 1D positions from Range node range in RotaryEmbedding: right for a text model
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @onnx23_range(%x: tensor<1x3x16xf32> {onnx.name = "x"}, %cos: tensor<64x4xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x4xf32> {onnx.name = "sin_cache"}) -> (tensor<1x3x16xf32> {onnx.name = "y"}) {
    %start = onnx.initializer "start" : tensor<i64> = dense<0>
    %limit = onnx.initializer "limit" : tensor<i64> = dense<3>
    %delta = onnx.initializer "delta" : tensor<i64> = dense<1>
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<0>
    %r = onnx.node "Range"(%start, %limit, %delta) {name = "range"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
    %pos = onnx.node "Unsqueeze"(%r, %axes) : (tensor<3xi64>, tensor<1xi64>) -> tensor<1x3xi64>
    // expected-remark @+1 {{fused rope site: RotaryEmbedding 1d [4] neox, rotary_dim 8, theta 0.0000e+00, 1 rotations; BUG: a qwen2-vl model rotates by 1D positions from Range node range in RotaryEmbedding}}
    %0 = onnx.node "RotaryEmbedding"(%x, %cos, %sin, %pos) {attrs = {num_heads = 2 : i64}} : (tensor<1x3x16xf32>, tensor<64x4xf32>, tensor<64x4xf32>, tensor<1x3xi64>) -> tensor<1x3x16xf32>
    onnx.return %0 : tensor<1x3x16xf32>
  }
}

// -----

// Opset-23 RotaryEmbedding with per-token caches from graph inputs: nothing
// to follow, reported and not classified.
// TEXT: remark: fused rope site: RotaryEmbedding per-token [] neox, rotary_dim 8, theta 0.0000e+00, 1 rotations; ok: per-token caches whose positions could not be followed (per-token caches cos / sin); not classified
module attributes {onnx.opset_import = [#onnx.opset<"", 23>]} {
  onnx.graph @onnx23_per_token(%x: tensor<1x2x3x8xf32> {onnx.name = "x"}, %cos: tensor<1x3x4xf32> {onnx.name = "cos"}, %sin: tensor<1x3x4xf32> {onnx.name = "sin"}) -> (tensor<1x2x3x8xf32> {onnx.name = "y"}) {
    // expected-remark @+1 {{per-token [] neox, rotary_dim 8, theta 0.0000e+00, 1 rotations; ok: per-token caches whose positions could not be followed}}
    %0 = onnx.node "RotaryEmbedding"(%x, %cos, %sin) : (tensor<1x2x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32>
    onnx.return %0 : tensor<1x2x3x8xf32>
  }
}

// -----

// GroupQueryAttention rotates q and k itself when do_rotary = 1 (positions
// implicit from seqlens_k); with do_rotary = 0 it is no RoPE site, and a
// RotaryEmbedding of another domain is not ONNX Runtime's.
// TEXT: remark: fused rope site: com.microsoft.GroupQueryAttention 1d [4] gptj, rotary_dim 8, theta 0.0000e+00, 2 rotations; ok: 1D positions from GroupQueryAttention's seqlens_k (implicit: past length + token index)
// TEXT-NOT: remark: fused
module attributes {onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @gqa(%q: tensor<1x3x16xf32> {onnx.name = "q"}, %k: tensor<1x3x8xf32> {onnx.name = "k"}, %v: tensor<1x3x8xf32> {onnx.name = "v"}, %pk: tensor<1x1x0x8xf32> {onnx.name = "pk"}, %pv: tensor<1x1x0x8xf32> {onnx.name = "pv"}, %sl: tensor<1xi32> {onnx.name = "seqlens_k"}, %tot: tensor<i32> {onnx.name = "total"}, %cos: tensor<64x4xf32> {onnx.name = "cos_cache"}, %sin: tensor<64x4xf32> {onnx.name = "sin_cache"}) -> (tensor<1x3x16xf32> {onnx.name = "o"}, tensor<1x3x16xf32> {onnx.name = "o2"}, tensor<1x3x16xf32> {onnx.name = "o3"}) {
    // expected-remark @+1 {{fused rope site: com.microsoft.GroupQueryAttention 1d [4] gptj, rotary_dim 8, theta 0.0000e+00, 2 rotations; BUG: a qwen2-vl model rotates by 1D positions from GroupQueryAttention's seqlens_k}}
    %0:3 = onnx.node "GroupQueryAttention"(%q, %k, %v, %pk, %pv, %sl, %tot, %cos, %sin) {domain = "com.microsoft", attrs = {num_heads = 2 : i64, kv_num_heads = 1 : i64, do_rotary = 1 : i64, rotary_interleaved = 1 : i64}} : (tensor<1x3x16xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x1x0x8xf32>, tensor<1x1x0x8xf32>, tensor<1xi32>, tensor<i32>, tensor<64x4xf32>, tensor<64x4xf32>) -> (tensor<1x3x16xf32>, tensor<1x1x3x8xf32>, tensor<1x1x3x8xf32>)
    %1:3 = onnx.node "GroupQueryAttention"(%q, %k, %v, %pk, %pv, %sl, %tot) {domain = "com.microsoft", attrs = {num_heads = 2 : i64, kv_num_heads = 1 : i64}} : (tensor<1x3x16xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x1x0x8xf32>, tensor<1x1x0x8xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x3x16xf32>, tensor<1x1x3x8xf32>, tensor<1x1x3x8xf32>)
    %pos = onnx.node "Shape"(%q) : (tensor<1x3x16xf32>) -> tensor<3xi64>
    %2 = onnx.node "RotaryEmbedding"(%q, %pos, %cos, %sin) {domain = "my.custom"} : (tensor<1x3x16xf32>, tensor<3xi64>, tensor<64x4xf32>, tensor<64x4xf32>) -> tensor<1x3x16xf32>
    onnx.return %0#0, %1#0, %2 : tensor<1x3x16xf32>, tensor<1x3x16xf32>, tensor<1x3x16xf32>
  }
}
