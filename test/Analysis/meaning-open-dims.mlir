// rope-print-meaning where shape inference left dims open or values
// unranked (exporters' spellings and rewrites that keep the meaning: a Gather
// of one row spelled Slice + Squeeze, a Split whose sizes pass through a
// Cast, a Slice whose bounds pass through an Identity). The meaning knows
// the rank and the length of its row and channel axes; it reads them where
// the type does not say.
// RUN: mrope-opt %s -split-input-file --rope-print-meaning -o /dev/null | FileCheck %s

// Row 1 of three by Slice [1, 2) + Squeeze, and by Gather of a [1] index +
// Squeeze, with the row dim left open (`?`) in the types: a row axis of one
// row is one long, so the Squeeze binds row 1 to the channels, as a scalar
// Gather does.
// CHECK-LABEL: graph @row_by_slice
// CHECK: meaning Slice node row1 #0: angle of input 'position_ids' (3 rows), 2 freqs [row{1:1}, batch, seq, chan{f0-1}]
// CHECK: meaning Squeeze node row1_sq #0: angle of input 'position_ids' (3 rows), 2 freqs [batch, seq, chan{f0-1 s1 r1}]
// CHECK: meaning Gather node row2 #0: angle of input 'position_ids' (3 rows), 2 freqs [row{2:2}, batch, seq, chan{f0-1}]
// CHECK: meaning Squeeze node row2_sq #0: angle of input 'position_ids' (3 rows), 2 freqs [batch, seq, chan{f0-1 s2 r2}]
// Squeezing an open dim that is not one row (all three rows) stays unknown.
// CHECK: meaning Squeeze node all_rows_sq #0: unknown (Squeeze: squeezes an axis that is not unit)
// Squeeze without axes of a tensor with open dims: which dims go is not
// known.
// CHECK: meaning Squeeze node no_axes #0: unknown (Squeeze: no axes, and dims not known)
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @row_by_slice(%pos: tensor<3x?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x2xf32> {onnx.name = "a"}, tensor<?x?x2xf32> {onnx.name = "b"}, tensor<?x?x2xf32> {onnx.name = "c"}, tensor<?x?x2xf32> {onnx.name = "d"}) {
    %inv = onnx.initializer "inv_freq" : tensor<2xf32> = dense<[1.0, 0.01]>
    %ax3 = onnx.initializer "ax3" : tensor<1xi64> = dense<3>
    %ax0 = onnx.initializer "ax0" : tensor<1xi64> = dense<0>
    %b1 = onnx.initializer "b1" : tensor<1xi64> = dense<1>
    %b2 = onnx.initializer "b2" : tensor<1xi64> = dense<2>
    %pf = onnx.node "Cast"(%pos) {attrs = {to = 1 : i64}, name = "pos_f"} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %pu = onnx.node "Unsqueeze"(%pf, %ax3) {name = "pos_u"} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {name = "angle"} : (tensor<3x?x?x1xf32>, tensor<2xf32>) -> tensor<3x?x?x2xf32>
    %s1 = onnx.node "Slice"(%ang, %b1, %b2, %ax0) {name = "row1"} : (tensor<3x?x?x2xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x2xf32>
    %q1 = onnx.node "Squeeze"(%s1, %ax0) {name = "row1_sq"} : (tensor<?x?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x2xf32>
    %g2 = onnx.node "Gather"(%ang, %b2) {attrs = {axis = 0 : i64}, name = "row2"} : (tensor<3x?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x?x2xf32>
    %q2 = onnx.node "Squeeze"(%g2, %ax0) {name = "row2_sq"} : (tensor<?x?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x2xf32>
    %id = onnx.node "Identity"(%ang) {name = "all_rows"} : (tensor<3x?x?x2xf32>) -> tensor<?x?x?x2xf32>
    %q3 = onnx.node "Squeeze"(%id, %ax0) {name = "all_rows_sq"} : (tensor<?x?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x2xf32>
    %q4 = onnx.node "Squeeze"(%g2) {name = "no_axes"} : (tensor<?x?x?x2xf32>) -> tensor<?x?x2xf32>
    onnx.return %q1, %q2, %q3, %q4 : tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32>
  }
}

// -----

// Hugging Face's section merge on unranked values (shape inference gave up
// after a Cast of the split sizes): the Split, the row Gathers, the Concat
// and the Slice to D/2 follow the meaning's rank; the Slice's whole-axis
// test on batch/seq needs no dim. The product of unranked positions and
// inv_freq takes the larger operand rank (right-aligned broadcasting).
// CHECK-LABEL: graph @merge_unranked
// CHECK: meaning Mul node angle #0: angle of input 'position_ids' (3 rows), 2 freqs [row{0:0, 1:1, 2:2}, batch, seq, chan{f0-1}]
// CHECK: meaning Cast node sizes_cast #0: const dense<1> : tensor<4xi64>
// CHECK: meaning Split node split #1: cos of input 'position_ids' (3 rows), 2 freqs [row{0:0, 1:1, 2:2}, batch, seq, chan{f1}]
// CHECK: meaning Gather node take1 #0: cos of input 'position_ids' (3 rows), 2 freqs [batch, seq, chan{f1 s1 r1}]
// CHECK: meaning Concat node merged #0: cos of input 'position_ids' (3 rows), 2 freqs [batch, seq, chan{f0 s0 r0, f1 s1 r1, f0 s2 r2, f1 s0 r0}]
// CHECK: meaning Slice node half #0: cos of input 'position_ids' (3 rows), 2 freqs [batch, seq, chan{f0 s0 r0, f1 s1 r1}]
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @merge_unranked(%pos: tensor<3x?x?xi64> {onnx.name = "position_ids"}) -> (tensor<*xf32> {onnx.name = "c"}) {
    %inv = onnx.initializer "inv_freq" : tensor<2xf32> = dense<[1.0, 0.01]>
    %ax3 = onnx.initializer "ax3" : tensor<1xi64> = dense<3>
    %sizes = onnx.initializer "sizes" : tensor<4xi64> = dense<[1, 1, 1, 1]>
    %r0 = onnx.initializer "r0" : tensor<i64> = dense<0>
    %r1 = onnx.initializer "r1" : tensor<i64> = dense<1>
    %r2 = onnx.initializer "r2" : tensor<i64> = dense<2>
    %zero = onnx.initializer "zero" : tensor<1xi64> = dense<0>
    %two = onnx.initializer "two" : tensor<1xi64> = dense<2>
    %last = onnx.initializer "last" : tensor<1xi64> = dense<-1>
    %pf = onnx.node "Cast"(%pos) {attrs = {to = 1 : i64}, name = "pos_f"} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %pu = onnx.node "Unsqueeze"(%pf, %ax3) {name = "pos_u"} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<*xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {name = "angle"} : (tensor<*xf32>, tensor<2xf32>) -> tensor<*xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, name = "emb"} : (tensor<*xf32>, tensor<*xf32>) -> tensor<3x?x?x4xf32>
    %cos = onnx.node "Cos"(%emb) {name = "cos"} : (tensor<3x?x?x4xf32>) -> tensor<3x?x?x4xf32>
    %sz = onnx.node "Cast"(%sizes) {attrs = {to = 7 : i64}, name = "sizes_cast"} : (tensor<4xi64>) -> tensor<4xi64>
    %p:4 = onnx.node "Split"(%cos, %sz) {attrs = {axis = -1 : i64}, name = "split"} : (tensor<3x?x?x4xf32>, tensor<4xi64>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
    %t0 = onnx.node "Gather"(%p#0, %r0) {attrs = {axis = 0 : i64}, name = "take0"} : (tensor<*xf32>, tensor<i64>) -> tensor<*xf32>
    %t1 = onnx.node "Gather"(%p#1, %r1) {attrs = {axis = 0 : i64}, name = "take1"} : (tensor<*xf32>, tensor<i64>) -> tensor<*xf32>
    %t2 = onnx.node "Gather"(%p#2, %r2) {attrs = {axis = 0 : i64}, name = "take2"} : (tensor<*xf32>, tensor<i64>) -> tensor<*xf32>
    %t3 = onnx.node "Gather"(%p#3, %r0) {attrs = {axis = 0 : i64}, name = "take3"} : (tensor<*xf32>, tensor<i64>) -> tensor<*xf32>
    %m = onnx.node "Concat"(%t0, %t1, %t2, %t3) {attrs = {axis = -1 : i64}, name = "merged"} : (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %h = onnx.node "Slice"(%m, %zero, %two, %last) {name = "half"} : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
    onnx.return %h : tensor<*xf32>
  }
}
