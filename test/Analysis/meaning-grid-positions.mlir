// rope-print-meaning on positions a graph computes from an image/video grid
// (an integer [N, 3] input): an integer [3, B, S] tensor computed from the
// grid's data that no transfer function reads means three position rows
// (get_rope_index spelled as ONNX nodes, what `mrope-fix --positions
// compute` writes); what a transfer function does read keeps its meaning.
// RUN: mrope-opt %s -split-input-file --rope-print-meaning -o /dev/null | FileCheck %s

// Three rows computed from the grid and stacked by a Concat: the Concat's
// own rule gives up (its operands mean nothing it knows), so the [3, B, S]
// result is three position rows with the Concat as their source, and the
// Cast and angle product downstream keep them. The [1, 1, 4] rows before
// the Concat are not [3, B, S]: they stay unknown.
// CHECK-LABEL: graph @computed
// CHECK: meaning ReduceMax node grid_max #0: unknown (ReduceMax: no transfer function)
// CHECK: meaning Reshape node t_row #0: unknown (Reshape: operand without tracked axes)
// CHECK: meaning Concat node pos3 #0: positions of Concat node pos3 (3 rows) [row{0:0, 1:1, 2:2}, batch, seq]
// CHECK: meaning Cast node pos3_f #0: positions of Concat node pos3 (3 rows) [row{0:0, 1:1, 2:2}, batch, seq]
// CHECK: meaning Mul node angle #0: angle of Concat node pos3 (3 rows), 2 freqs [row{0:0, 1:1, 2:2}, batch, seq, chan{f0-1}]
// The same computation from an integer [N, 2] input is no grid: unknown.
// CHECK: meaning Concat node not_grid #0: unknown (Concat: operands without tracked axes)
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @computed(%grid: tensor<1x3xi64> {onnx.name = "grid_thw"}, %hw: tensor<1x2xi64> {onnx.name = "hw"}) -> (tensor<3x1x4x2xf32> {onnx.name = "a"}, tensor<3x1x4xi64> {onnx.name = "b"}) {
    %inv = onnx.initializer "inv_freq" : tensor<2xf32> = dense<[1.0, 0.01]>
    %start = onnx.initializer "start" : tensor<i64> = dense<0>
    %limit = onnx.initializer "limit" : tensor<i64> = dense<4>
    %delta = onnx.initializer "delta" : tensor<i64> = dense<1>
    %rowshape = onnx.initializer "row_shape" : tensor<3xi64> = dense<[1, 1, 4]>
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<[-1]>
    %m = onnx.node "ReduceMax"(%grid) {attrs = {keepdims = 0 : i64}, name = "grid_max"} : (tensor<1x3xi64>) -> tensor<i64>
    %r = onnx.node "Range"(%start, %limit, %delta) {name = "arange"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<4xi64>
    %d = onnx.node "Div"(%r, %m) {name = "t_div"} : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
    %t = onnx.node "Reshape"(%d, %rowshape) {name = "t_row"} : (tensor<4xi64>, tensor<3xi64>) -> tensor<1x1x4xi64>
    %p = onnx.node "Concat"(%t, %t, %t) {attrs = {axis = 0 : i64}, name = "pos3"} : (tensor<1x1x4xi64>, tensor<1x1x4xi64>, tensor<1x1x4xi64>) -> tensor<3x1x4xi64>
    %pf = onnx.node "Cast"(%p) {attrs = {to = 1 : i64}, name = "pos3_f"} : (tensor<3x1x4xi64>) -> tensor<3x1x4xf32>
    %u = onnx.node "Unsqueeze"(%pf, %axes) {name = "pos3_u"} : (tensor<3x1x4xf32>, tensor<1xi64>) -> tensor<3x1x4x1xf32>
    %a = onnx.node "Mul"(%u, %inv) {name = "angle"} : (tensor<3x1x4x1xf32>, tensor<2xf32>) -> tensor<3x1x4x2xf32>
    %m2 = onnx.node "ReduceMax"(%hw) {attrs = {keepdims = 0 : i64}, name = "hw_max"} : (tensor<1x2xi64>) -> tensor<i64>
    %d2 = onnx.node "Div"(%r, %m2) {name = "hw_div"} : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
    %t2 = onnx.node "Reshape"(%d2, %rowshape) {name = "hw_row"} : (tensor<4xi64>, tensor<3xi64>) -> tensor<1x1x4xi64>
    %q = onnx.node "Concat"(%t2, %t2, %t2) {attrs = {axis = 0 : i64}, name = "not_grid"} : (tensor<1x1x4xi64>, tensor<1x1x4xi64>, tensor<1x1x4xi64>) -> tensor<3x1x4xi64>
    onnx.return %a, %q : tensor<3x1x4x2xf32>, tensor<3x1x4xi64>
  }
}

// -----

// An integer [B, 3] positions input (batch 1, three tokens) has a grid's
// type, but Unsqueezed and Expanded into three rows it is read by Expand's
// own rule: three copies of one 1D tensor, the degenerate bug, not
// computed positions.
// CHECK-LABEL: graph @copied
// CHECK: meaning input 'position_ids': positions of input 'position_ids' (1d) [batch, seq]
// CHECK: meaning Expand node rows3 #0: positions of input 'position_ids' (1d), rows copied at Expand node rows3 [row{0:-, 1:-, 2:-}, batch, seq]
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @copied(%pos: tensor<1x3xi64> {onnx.name = "position_ids"}) -> (tensor<3x1x3xi64> {onnx.name = "p"}) {
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<[0]>
    %shape = onnx.initializer "shape" : tensor<3xi64> = dense<[3, 1, 3]>
    %u = onnx.node "Unsqueeze"(%pos, %axes) {name = "unsq"} : (tensor<1x3xi64>, tensor<1xi64>) -> tensor<1x1x3xi64>
    %e = onnx.node "Expand"(%u, %shape) {name = "rows3"} : (tensor<1x1x3xi64>, tensor<3xi64>) -> tensor<3x1x3xi64>
    onnx.return %e : tensor<3x1x3xi64>
  }
}
