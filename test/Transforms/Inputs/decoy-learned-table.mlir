// Imported from decoy-learned-table.onnxtext by mrope-translate --import-onnx (kept as the pass tests' input).
module attributes {onnx.ir_version = 8 : i64, onnx.model_dir = "/work/main/test/Transforms/Inputs", onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%q: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.dim_params = ["B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "y"}) attributes {graph_name = "decoy_learned_table"} {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e-01, 2.000000e-01, 3.000000e-01, 4.000000e-01, 5.000000e-01, 6.000000e-01, 0.699999988, 8.000000e-01]> : tensor<8xf32>}, outputs = ["table"]} : () -> tensor<8xf32>
    %1 = onnx.node "Cos"(%0) {outputs = ["c"]} : (tensor<8xf32>) -> tensor<8xf32>
    %2 = onnx.node "Sin"(%0) {outputs = ["s"]} : (tensor<8xf32>) -> tensor<8xf32>
    %3 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %4:2 = onnx.node "Split"(%q, %3) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %5 = onnx.node "Neg"(%4#1) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %6 = onnx.node "Concat"(%5, %4#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %7 = onnx.node "Mul"(%q, %1) {outputs = ["a"]} : (tensor<?x?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x?x8xf32>
    %8 = onnx.node "Mul"(%6, %2) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x?x8xf32>
    %9 = onnx.node "Add"(%7, %8) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %9 : tensor<?x?x?x8xf32>
  }
}

