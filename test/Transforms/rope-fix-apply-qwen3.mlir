// rope-fix on raised 1D sites under qwen3-vl: interleaved sections, and
// the error when the default sections do not scale to the site.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-fix="arch=qwen3-vl" | FileCheck %s
// RUN: not mrope-opt %s -split-input-file --rope-fix="arch=qwen2-vl sections=2,2,2" -o %t.out 2>&1 | FileCheck %s --check-prefix=BADSECT

// Qwen3-VL's [24, 20, 20] scaled to 16 frequencies, interleaved; the
// rotary dim (partial rotary: 32 of 40 channels) and theta stay.
// CHECK-LABEL: onnx.graph @qwen3
// CHECK: rope.apply %q, %k by %position_ids freqs %inv_freq : {{.*}} by tensor<3x1x?xi64> freqs tensor<16xf32> with #rope.semantics<sections = [6, 5, 5], rotary_dim = 32, theta = 5.000000e+06, order = interleaved>
module attributes {onnx.opset_import = [#onnx.opset<"", 18>]} {
  // expected-remark @below {{fixed: site rope.apply (1d): M-RoPE [6, 5, 5] interleaved from input 'position_ids' [3, batch, seq] (was input 'position_ids')}}
  // expected-remark @below {{fixed: removed 0 node(s)}}
  // expected-remark @below {{fixed: input 'position_ids' is now int64 [3, batch, seq]}}
  onnx.graph @qwen3(%q: tensor<1x4x?x40xf32> {onnx.name = "q"}, %k: tensor<1x2x?x40xf32> {onnx.name = "k"}, %pos: tensor<1x?xi64> {onnx.name = "position_ids"}) -> (tensor<1x4x?x40xf32> {onnx.name = "q_out"}, tensor<1x2x?x40xf32> {onnx.name = "k_out"}) {
    %inv = onnx.initializer "inv_freq" : tensor<16xf32> = dense<1.0e-2>
    %q2, %k2 = rope.apply %q, %k by %pos freqs %inv : tensor<1x4x?x40xf32>, tensor<1x2x?x40xf32> by tensor<1x?xi64> freqs tensor<16xf32> with #rope.semantics<sections = [16], rotary_dim = 32, theta = 5.0e6>
    onnx.return %q2, %k2 : tensor<1x4x?x40xf32>, tensor<1x2x?x40xf32>
  }
}

// -----

// [24, 20, 20] does not scale to 8 frequencies: one error at the op, the
// pass fails (mrope-fix then writes nothing).
module attributes {onnx.opset_import = [#onnx.opset<"", 18>]} {
  onnx.graph @nodefault(%q: tensor<1x4x?x16xf32> {onnx.name = "q"}, %pos: tensor<1x?xi64> {onnx.name = "position_ids"}) -> (tensor<1x4x?x16xf32> {onnx.name = "q_out"}) {
    // expected-error @below {{site rope.apply: no default M-RoPE sections for 8 frequencies; pass --sections}}
    %q2 = rope.apply %q by %pos : tensor<1x4x?x16xf32> by tensor<1x?xi64> with #rope.semantics<sections = [8], rotary_dim = 16, theta = 1.0e4>
    onnx.return %q2 : tensor<1x4x?x16xf32>
  }
}

// BADSECT: error: site rope.apply: --sections must be positive and sum to 16 (rotary dim / 2)
// BADSECT: error: site rope.apply: --sections must be positive and sum to 8 (rotary dim / 2)
