// What a value means does not depend on its element type: float32 [3, B, S]
// and [B, S] graph inputs may hold positions, as integer ones do (only a
// product with frequencies makes them an angle); other float inputs are
// activations. A float constant with one axis longer than 1 (torch folds
// inv_freq[None, None, :, None] into such an initializer) is frequencies
// along that axis.
// RUN: mrope-opt %s -split-input-file --rope-print-meaning -o /dev/null | FileCheck %s

// Qwen3-Omni's spelling: inv_freq [1, 1, F, 1] expanded to [3, B, F, 1],
// MatMul'ed with the float positions unsqueezed to [3, B, 1, S].
// CHECK-LABEL: graph @omni
// CHECK: meaning input 'position_ids': positions of input 'position_ids' (3 rows) [row{0:0, 1:1, 2:2}, batch, seq]
// CHECK: meaning input 'x': unknown (graph input)
// CHECK: meaning Expand node inv_rows #0: inv-freq, 2 freqs [bcast, bcast, chan{f0-1}, bcast]
// CHECK: meaning Unsqueeze node pos_u #0: positions of input 'position_ids' (3 rows) [row{0:0, 1:1, 2:2}, batch, bcast, seq]
// CHECK: meaning Cast node same #0: positions of input 'position_ids' (3 rows) [row{0:0, 1:1, 2:2}, batch, bcast, seq]
// CHECK: meaning MatMul node outer #0: angle of input 'position_ids' (3 rows), 2 freqs [row{0:0, 1:1, 2:2}, batch, chan{f0-1}, seq]
// The activation times the same frequencies is no angle.
// CHECK: meaning Mul node act #0: unknown (Mul: operands without tracked axes)
// A splat of higher rank stays a constant: a scaling by 1 keeps the angle.
// CHECK: meaning Mul node by_one #0: angle of input 'position_ids' (3 rows), 2 freqs [row{0:0, 1:1, 2:2}, batch, chan{f0-1}, seq]
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @omni(%pos: tensor<3x1x4xf32> {onnx.name = "position_ids"}, %x: tensor<1x4x2xf32> {onnx.name = "x"}) -> (tensor<3x1x2x4xf32> {onnx.name = "a"}, tensor<1x4x2xf32> {onnx.name = "b"}) {
    %inv = onnx.initializer "inv_freq" : tensor<1x1x2x1xf32> = dense<[[[[1.0], [0.01]]]]>
    %ones = onnx.initializer "ones" : tensor<1x1x2x1xf32> = dense<1.0>
    %shape = onnx.initializer "shape" : tensor<4xi64> = dense<[3, 1, 2, 1]>
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<2>
    %inv2 = onnx.initializer "inv2" : tensor<2xf32> = dense<[1.0, 0.01]>
    %e = onnx.node "Expand"(%inv, %shape) {name = "inv_rows"} : (tensor<1x1x2x1xf32>, tensor<4xi64>) -> tensor<3x1x2x1xf32>
    %u = onnx.node "Unsqueeze"(%pos, %axes) {name = "pos_u"} : (tensor<3x1x4xf32>, tensor<1xi64>) -> tensor<3x1x1x4xf32>
    %c = onnx.node "Cast"(%u) {attrs = {to = 1 : i64}, name = "same"} : (tensor<3x1x1x4xf32>) -> tensor<3x1x1x4xf32>
    %a = onnx.node "MatMul"(%e, %c) {name = "outer"} : (tensor<3x1x2x1xf32>, tensor<3x1x1x4xf32>) -> tensor<3x1x2x4xf32>
    %b = onnx.node "Mul"(%x, %inv2) {name = "act"} : (tensor<1x4x2xf32>, tensor<2xf32>) -> tensor<1x4x2xf32>
    %o = onnx.node "Mul"(%a, %ones) {name = "by_one"} : (tensor<3x1x2x4xf32>, tensor<1x1x2x1xf32>) -> tensor<3x1x2x4xf32>
    onnx.return %o, %b : tensor<3x1x2x4xf32>, tensor<1x4x2xf32>
  }
}

// -----

// A [B, S] float input is positions (1d) until something reads it; a
// float [B, S, H] input is an activation.
// CHECK-LABEL: graph @one_row
// CHECK: meaning input 'pos1d': positions of input 'pos1d' (1d) [batch, seq]
// CHECK: meaning input 'hidden': unknown (graph input)
// CHECK: meaning Unsqueeze node pos_u #0: positions of input 'pos1d' (1d) [batch, seq, bcast]
// CHECK: meaning Mul node angle #0: angle of input 'pos1d' (1d), 2 freqs [batch, seq, chan{f0-1}]
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @one_row(%p1: tensor<1x4xf32> {onnx.name = "pos1d"}, %h: tensor<1x4x8xf32> {onnx.name = "hidden"}) -> (tensor<1x4x2xf32> {onnx.name = "a"}, tensor<1x4x8xf32> {onnx.name = "h"}) {
    %inv = onnx.initializer "inv_freq" : tensor<2xf32> = dense<[1.0, 0.01]>
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<2>
    %u = onnx.node "Unsqueeze"(%p1, %axes) {name = "pos_u"} : (tensor<1x4xf32>, tensor<1xi64>) -> tensor<1x4x1xf32>
    %a = onnx.node "Mul"(%u, %inv) {name = "angle"} : (tensor<1x4x1xf32>, tensor<2xf32>) -> tensor<1x4x2xf32>
    onnx.return %a, %h : tensor<1x4x2xf32>, tensor<1x4x8xf32>
  }
}

// -----

// Position rows gathered per channel by a constant index (the form
// convert-rope-to-onnx writes, here on float positions): the row axis
// lines up with the frequencies, and each channel takes its row.
// CHECK-LABEL: graph @per_channel_rows
// CHECK: meaning Transpose node rows_last #0: positions of input 'position_ids' (3 rows) [batch, seq, row{0:0, 1:1, 2:2, 0:0}]
// CHECK: meaning Mul node angle #0: angle of input 'position_ids' (3 rows), 4 freqs [batch, seq, chan{f0 s0 r0, f1 s1 r1, f2 s2 r2, f3 s0 r0}]
// A vector that lines up with the sequence is no frequency table.
// CHECK: meaning Mul node clash #0: unknown (Mul: axes of positions and frequencies clash)
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @per_channel_rows(%pos: tensor<3x1x4xf32> {onnx.name = "position_ids"}) -> (tensor<1x4x4xf32> {onnx.name = "a"}, tensor<3x1x4xf32> {onnx.name = "b"}) {
    %idx = onnx.initializer "rows" : tensor<4xi64> = dense<[0, 1, 2, 0]>
    %inv = onnx.initializer "inv_freq" : tensor<4xf32> = dense<[1.0, 0.1, 0.01, 0.001]>
    %g = onnx.node "Gather"(%pos, %idx) {attrs = {axis = 0 : i64}, name = "rows_per_chan"} : (tensor<3x1x4xf32>, tensor<4xi64>) -> tensor<4x1x4xf32>
    %t = onnx.node "Transpose"(%g) {attrs = {perm = array<i64: 1, 2, 0>}, name = "rows_last"} : (tensor<4x1x4xf32>) -> tensor<1x4x4xf32>
    %a = onnx.node "Mul"(%t, %inv) {name = "angle"} : (tensor<1x4x4xf32>, tensor<4xf32>) -> tensor<1x4x4xf32>
    %b = onnx.node "Mul"(%pos, %inv) {name = "clash"} : (tensor<3x1x4xf32>, tensor<4xf32>) -> tensor<3x1x4xf32>
    onnx.return %a, %b : tensor<1x4x4xf32>, tensor<3x1x4xf32>
  }
}
