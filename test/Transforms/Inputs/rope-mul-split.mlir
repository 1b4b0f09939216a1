// Imported from rope-mul-split.onnxtext by mrope-translate --import-onnx (kept as the pass tests' input).
module attributes {onnx.ir_version = 8 : i64, onnx.model_dir = "/work/main/test/Transforms/Inputs", onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%q: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.dim_params = ["B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "y"}) attributes {graph_name = "rope_mul_split"} {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["axes_last"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %4 = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %5 = onnx.node "Unsqueeze"(%4, %1) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %6 = onnx.node "Mul"(%0, %5) {outputs = ["ang"]} : (tensor<4xf32>, tensor<?x?x1xf32>) -> tensor<?x?x4xf32>
    %7 = onnx.node "Concat"(%6, %6) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    %8 = onnx.node "Cos"(%7) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %9 = onnx.node "Sin"(%7) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %10 = onnx.node "Unsqueeze"(%8, %2) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %11 = onnx.node "Unsqueeze"(%9, %2) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %12:2 = onnx.node "Split"(%q, %3) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %13 = onnx.node "Neg"(%12#1) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %14 = onnx.node "Concat"(%13, %12#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %15 = onnx.node "Mul"(%10, %q) {outputs = ["a"]} : (tensor<?x1x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %16 = onnx.node "Mul"(%14, %11) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %17 = onnx.node "Add"(%16, %15) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %17 : tensor<?x?x?x8xf32>
  }
}

