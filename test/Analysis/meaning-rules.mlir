// rope-print-meaning on small graphs, one transfer function at a time:
// what keeps a meaning, what builds one, and what yields unknown.
// RUN: mrope-opt %s -split-input-file --rope-print-meaning -o /dev/null | FileCheck %s

// Identity and a Cast to the same type change nothing; a Cast int -> float
// keeps positions (small integers are exact in f32); a float -> int Cast of
// frequencies does not keep them; ops without a transfer function are
// unknown, and so is everything computed from them.
// CHECK-LABEL: graph @transparent
// CHECK: meaning input 'position_ids': positions of input 'position_ids' (3 rows) [row{0:0, 1:1, 2:2}, batch, seq]
// CHECK: meaning input 'x': unknown (graph input)
// CHECK: meaning Identity node id #0: positions of input 'position_ids' (3 rows) [row{0:0, 1:1, 2:2}, batch, seq]
// CHECK: meaning Cast node same #0: positions of input 'position_ids' (3 rows) [row{0:0, 1:1, 2:2}, batch, seq]
// CHECK: meaning Cast node to_float #0: positions of input 'position_ids' (3 rows) [row{0:0, 1:1, 2:2}, batch, seq]
// CHECK: meaning Cast node inv_int #0: unknown (Cast: not a cast that keeps the values)
// CHECK: meaning Softmax node softmax #0: unknown (Softmax: no transfer function)
// CHECK: meaning Mul node scaled #0: unknown (Mul: operands without tracked axes)
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @transparent(%pos: tensor<3x1x4xi64> {onnx.name = "position_ids"}, %x: tensor<1x4x2xf32> {onnx.name = "x"}) -> (tensor<1x4x2xf32> {onnx.name = "y"}) {
    %inv = onnx.initializer "inv_freq" : tensor<2xf32> = dense<[1.0, 0.01]>
    %0 = onnx.node "Identity"(%pos) {name = "id"} : (tensor<3x1x4xi64>) -> tensor<3x1x4xi64>
    %1 = onnx.node "Cast"(%0) {attrs = {to = 7 : i64}, name = "same"} : (tensor<3x1x4xi64>) -> tensor<3x1x4xi64>
    %2 = onnx.node "Cast"(%1) {attrs = {to = 1 : i64}, name = "to_float"} : (tensor<3x1x4xi64>) -> tensor<3x1x4xf32>
    %3 = onnx.node "Cast"(%inv) {attrs = {to = 7 : i64}, name = "inv_int"} : (tensor<2xf32>) -> tensor<2xi64>
    %4 = onnx.node "Softmax"(%x) {name = "softmax"} : (tensor<1x4x2xf32>) -> tensor<1x4x2xf32>
    %5 = onnx.node "Mul"(%4, %inv) {name = "scaled"} : (tensor<1x4x2xf32>, tensor<2xf32>) -> tensor<1x4x2xf32>
    onnx.return %5 : tensor<1x4x2xf32>
  }
}

// -----

// A per-position cache computed in the graph (Einsum outer product of a
// Range and inv_freq, Tile'd to the full width) and read at 1D positions by
// a Gather: the read takes the positions' axes in place of the cache row.
// CHECK-LABEL: graph @cache_read
// CHECK: meaning Range node arange #0: iota of Range node arange
// CHECK: meaning Einsum node outer #0: angle of Range node arange (1d), 2 freqs [seq, chan{f0-1}]
// CHECK: meaning Tile node tiled #0: angle of Range node arange (1d), 2 freqs [seq, chan{f0-1, f0-1}]
// CHECK: meaning Cos node cos_table #0: cos of Range node arange (1d), 2 freqs [seq, chan{f0-1, f0-1}]
// CHECK: meaning Gather node cos_read #0: cos of input 'position_ids' (1d), 2 freqs [batch, seq, chan{f0-1, f0-1}]
// A Gather by something that is not positions (an index computed from
// activations) is not a read.
// CHECK: meaning Gather node by_ids #0: unknown (Gather: table read by an index that is not positions)
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @cache_read(%pos: tensor<1x4xi64> {onnx.name = "position_ids"}, %ids: tensor<1x4xf32> {onnx.name = "x"}) -> (tensor<1x4x4xf32> {onnx.name = "c"}, tensor<1x4x4xf32> {onnx.name = "d"}) {
    %inv = onnx.initializer "inv_freq" : tensor<2xf32> = dense<[1.0, 0.01]>
    %start = onnx.initializer "start" : tensor<i64> = dense<0>
    %limit = onnx.initializer "limit" : tensor<i64> = dense<64>
    %delta = onnx.initializer "delta" : tensor<i64> = dense<1>
    %reps = onnx.initializer "reps" : tensor<2xi64> = dense<[1, 2]>
    %r = onnx.node "Range"(%start, %limit, %delta) {name = "arange"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<64xi64>
    %rf = onnx.node "Cast"(%r) {attrs = {to = 1 : i64}, name = "arange_f"} : (tensor<64xi64>) -> tensor<64xf32>
    %o = onnx.node "Einsum"(%rf, %inv) {attrs = {equation = "i,j->ij"}, name = "outer"} : (tensor<64xf32>, tensor<2xf32>) -> tensor<64x2xf32>
    %t = onnx.node "Tile"(%o, %reps) {name = "tiled"} : (tensor<64x2xf32>, tensor<2xi64>) -> tensor<64x4xf32>
    %c = onnx.node "Cos"(%t) {name = "cos_table"} : (tensor<64x4xf32>) -> tensor<64x4xf32>
    %g = onnx.node "Gather"(%c, %pos) {attrs = {axis = 0 : i64}, name = "cos_read"} : (tensor<64x4xf32>, tensor<1x4xi64>) -> tensor<1x4x4xf32>
    %xs = onnx.node "Softmax"(%ids) {name = "x_soft"} : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %xi = onnx.node "Cast"(%xs) {attrs = {to = 7 : i64}, name = "x_int"} : (tensor<1x4xf32>) -> tensor<1x4xi64>
    %h = onnx.node "Gather"(%c, %xi) {attrs = {axis = 0 : i64}, name = "by_ids"} : (tensor<64x4xf32>, tensor<1x4xi64>) -> tensor<1x4x4xf32>
    onnx.return %g, %h : tensor<1x4x4xf32>, tensor<1x4x4xf32>
  }
}

// -----

// Three rows built from one [B, S] input (Unsqueeze + Expand, or Concat of
// the same row): copies, and where they were made.
// CHECK-LABEL: graph @copies
// CHECK: meaning Expand node expand #0: positions of input 'position_ids' (1d), rows copied at Expand node expand [row{0:-, 1:-, 2:-}, batch, seq]
// CHECK: meaning Concat node concat #0: positions of input 'position_ids' (1d), rows copied at Concat node concat [row{0:-, 1:-, 2:-}, batch, seq]
// Row 1 of a [3, B, S] input (a one-index Gather keeps the row axis),
// stacked three times: copies of that row.
// CHECK: meaning Gather node row1 #0: positions of input 'pos3' (3 rows) [row{1:1}, batch, seq]
// CHECK: meaning Concat node row1_x3 #0: positions of input 'pos3' (3 rows), rows copied at Concat node row1_x3 [row{0:1, 1:1, 2:1}, batch, seq]
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @copies(%pos: tensor<1x4xi64> {onnx.name = "position_ids"}, %pos3: tensor<3x1x4xi64> {onnx.name = "pos3"}) -> (tensor<3x1x4xi64> {onnx.name = "a"}, tensor<3x1x4xi64> {onnx.name = "b"}, tensor<3x1x4xi64> {onnx.name = "c"}) {
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<0>
    %one = onnx.initializer "one" : tensor<1xi64> = dense<1>
    %shape = onnx.initializer "shape" : tensor<3xi64> = dense<[3, 1, 1]>
    %u = onnx.node "Unsqueeze"(%pos, %axes) {name = "unsq"} : (tensor<1x4xi64>, tensor<1xi64>) -> tensor<1x1x4xi64>
    %e = onnx.node "Expand"(%u, %shape) {name = "expand"} : (tensor<1x1x4xi64>, tensor<3xi64>) -> tensor<3x1x4xi64>
    %c = onnx.node "Concat"(%u, %u, %u) {attrs = {axis = 0 : i64}, name = "concat"} : (tensor<1x1x4xi64>, tensor<1x1x4xi64>, tensor<1x1x4xi64>) -> tensor<3x1x4xi64>
    %r = onnx.node "Gather"(%pos3, %one) {attrs = {axis = 0 : i64}, name = "row1"} : (tensor<3x1x4xi64>, tensor<1xi64>) -> tensor<1x1x4xi64>
    %rr = onnx.node "Concat"(%r, %r, %r) {attrs = {axis = 0 : i64}, name = "row1_x3"} : (tensor<1x1x4xi64>, tensor<1x1x4xi64>, tensor<1x1x4xi64>) -> tensor<3x1x4xi64>
    onnx.return %e, %c, %rr : tensor<3x1x4xi64>, tensor<3x1x4xi64>, tensor<3x1x4xi64>
  }
}
