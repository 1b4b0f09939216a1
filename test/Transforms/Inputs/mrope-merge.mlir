// Imported from mrope-merge.onnxtext by mrope-translate --import-onnx (kept as the pass tests' input).
module attributes {onnx.ir_version = 8 : i64, onnx.model_dir = "/work/main/test/Transforms/Inputs", onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%q: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "q"}, %position_ids: tensor<3x?x?xi64> {onnx.dim_params = ["", "B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "y"}) attributes {graph_name = "mrope_merge"} {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["axes_last"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<[1, 2, 1, 1, 2, 1]> : tensor<6xi64>}, outputs = ["sizes"]} : () -> tensor<6xi64>
    %4 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["r0"]} : () -> tensor<i64>
    %5 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["r1"]} : () -> tensor<i64>
    %6 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["r2"]} : () -> tensor<i64>
    %7 = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %8 = onnx.node "Unsqueeze"(%7, %1) {outputs = ["pu"]} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x?x1xf32>
    %9 = onnx.node "Mul"(%8, %0) {outputs = ["ang"]} : (tensor<3x?x?x1xf32>, tensor<4xf32>) -> tensor<3x?x?x4xf32>
    %10 = onnx.node "Concat"(%9, %9) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<3x?x?x4xf32>, tensor<3x?x?x4xf32>) -> tensor<3x?x?x8xf32>
    %11 = onnx.node "Cos"(%10) {outputs = ["c3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %12 = onnx.node "Sin"(%10) {outputs = ["s3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %13:6 = onnx.node "Split"(%11, %3) {attrs = {axis = -1 : i64}, outputs = ["c0", "c1", "c2", "c3b", "c4", "c5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %14 = onnx.node "Gather"(%13#0, %4) {attrs = {axis = 0 : i64}, outputs = ["g0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %15 = onnx.node "Gather"(%13#1, %5) {attrs = {axis = 0 : i64}, outputs = ["g1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %16 = onnx.node "Gather"(%13#2, %6) {attrs = {axis = 0 : i64}, outputs = ["g2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %17 = onnx.node "Gather"(%13#3, %4) {attrs = {axis = 0 : i64}, outputs = ["g3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %18 = onnx.node "Gather"(%13#4, %5) {attrs = {axis = 0 : i64}, outputs = ["g4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %19 = onnx.node "Gather"(%13#5, %6) {attrs = {axis = 0 : i64}, outputs = ["g5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %20 = onnx.node "Concat"(%14, %15, %16, %17, %18, %19) {attrs = {axis = -1 : i64}, outputs = ["c"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %21:6 = onnx.node "Split"(%12, %3) {attrs = {axis = -1 : i64}, outputs = ["s0", "s1", "s2", "s3c", "s4", "s5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %22 = onnx.node "Gather"(%21#0, %4) {attrs = {axis = 0 : i64}, outputs = ["h0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %23 = onnx.node "Gather"(%21#1, %5) {attrs = {axis = 0 : i64}, outputs = ["h1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %24 = onnx.node "Gather"(%21#2, %6) {attrs = {axis = 0 : i64}, outputs = ["h2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %25 = onnx.node "Gather"(%21#3, %4) {attrs = {axis = 0 : i64}, outputs = ["h3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %26 = onnx.node "Gather"(%21#4, %5) {attrs = {axis = 0 : i64}, outputs = ["h4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %27 = onnx.node "Gather"(%21#5, %6) {attrs = {axis = 0 : i64}, outputs = ["h5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %28 = onnx.node "Concat"(%22, %23, %24, %25, %26, %27) {attrs = {axis = -1 : i64}, outputs = ["s"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %29 = onnx.node "Unsqueeze"(%20, %2) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %30 = onnx.node "Unsqueeze"(%28, %2) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %31 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %32:2 = onnx.node "Split"(%q, %31) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %33 = onnx.node "Neg"(%32#1) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %34 = onnx.node "Concat"(%33, %32#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %35 = onnx.node "Mul"(%q, %29) {outputs = ["a"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %36 = onnx.node "Mul"(%34, %30) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %37 = onnx.node "Add"(%35, %36) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %37 : tensor<?x?x?x8xf32>
  }
}

