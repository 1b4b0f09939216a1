// rope-print-meaning of an Unsqueeze spelled as a Reshape whose target
// spells the input's own dims (`x.reshape(1, *x.shape)`: Shape, Gather of
// each dim, a constant 1, Concat), which shape inference cannot type, then
// Expanded to three rows: the Reshape inserts a broadcast axis, the Expand
// to the untyped result takes its rank from the shape operand, and the
// three rows are copies of one 1D tensor (degenerate M-RoPE's rows).
// RUN: mrope-opt %s -split-input-file --rope-print-meaning -o /dev/null | FileCheck %s

// CHECK-LABEL: graph @reshape_as_unsqueeze
// CHECK: meaning Reshape node unsq #0: positions of input 'position_ids' (1d) [bcast, batch, seq]
// CHECK: meaning Expand node rows3 #0: positions of input 'position_ids' (1d), rows copied at Expand node rows3 [row{0:-, 1:-, 2:-}, batch, seq]
// A target whose dims are the input's in another order is not an Unsqueeze.
// CHECK: meaning Reshape node swapped #0: unknown (Reshape: target shape unknown)
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @reshape_as_unsqueeze(%pos: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<*xi64> {onnx.name = "a"}, tensor<*xi64> {onnx.name = "b"}) {
    %one = onnx.initializer "one" : tensor<1xi64> = dense<1>
    %d0 = onnx.initializer "d0" : tensor<1xi64> = dense<0>
    %d1 = onnx.initializer "d1" : tensor<1xi64> = dense<1>
    %three = onnx.initializer "three" : tensor<1xi64> = dense<3>
    %shp = onnx.node "Shape"(%pos) {name = "shape"} : (tensor<?x?xi64>) -> tensor<2xi64>
    %g0 = onnx.node "Gather"(%shp, %d0) {attrs = {axis = 0 : i64}, name = "dim0"} : (tensor<2xi64>, tensor<1xi64>) -> tensor<1xi64>
    %g1 = onnx.node "Gather"(%shp, %d1) {attrs = {axis = 0 : i64}, name = "dim1"} : (tensor<2xi64>, tensor<1xi64>) -> tensor<1xi64>
    %tgt = onnx.node "Concat"(%one, %g0, %g1) {attrs = {axis = 0 : i64}, name = "target"} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
    %u = onnx.node "Reshape"(%pos, %tgt) {name = "unsq"} : (tensor<?x?xi64>, tensor<3xi64>) -> tensor<*xi64>
    %eshape = onnx.node "Concat"(%three, %g0, %g1) {attrs = {axis = 0 : i64}, name = "eshape"} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
    %rows = onnx.node "Expand"(%u, %eshape) {name = "rows3"} : (tensor<*xi64>, tensor<3xi64>) -> tensor<*xi64>
    %bad = onnx.node "Concat"(%one, %g1, %g0) {attrs = {axis = 0 : i64}, name = "target_swapped"} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
    %sw = onnx.node "Reshape"(%pos, %bad) {name = "swapped"} : (tensor<?x?xi64>, tensor<3xi64>) -> tensor<*xi64>
    onnx.return %rows, %sw : tensor<*xi64>, tensor<*xi64>
  }
}
