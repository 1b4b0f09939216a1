// Imported from rope-matmul-slice.onnxtext by mrope-translate --import-onnx (kept as the pass tests' input).
module attributes {onnx.ir_version = 8 : i64, onnx.model_dir = "/work/main/test/Transforms/Inputs", onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%q: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "q"}, %k: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "k"}, %position_ids: tensor<?x?xi64> {onnx.dim_params = ["B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "yq"}, tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "yk"}) attributes {graph_name = "rope_matmul_slice"} {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[[1.000000e+00], [1.000000e-01], [0.00999999977], [1.000000e-03]]> : tensor<4x1xf32>}, outputs = ["inv_freq"]} : () -> tensor<4x1xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["half"]} : () -> tensor<1xi64>
    %4 = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["full"]} : () -> tensor<1xi64>
    %5 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %6 = onnx.node "Unsqueeze"(%position_ids, %1) {outputs = ["pu"]} : (tensor<?x?xi64>, tensor<1xi64>) -> tensor<?x1x?xi64>
    %7 = onnx.node "Cast"(%6) {attrs = {to = 1 : i64}, outputs = ["pf"]} : (tensor<?x1x?xi64>) -> tensor<?x1x?xf32>
    %8 = onnx.node "MatMul"(%0, %7) {outputs = ["freqs"]} : (tensor<4x1xf32>, tensor<?x1x?xf32>) -> tensor<?x4x?xf32>
    %9 = onnx.node "Transpose"(%8) {attrs = {perm = array<i64: 0, 2, 1>}, outputs = ["ft"]} : (tensor<?x4x?xf32>) -> tensor<?x?x4xf32>
    %10 = onnx.node "Concat"(%9, %9) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    %11 = onnx.node "Cos"(%10) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %12 = onnx.node "Sin"(%10) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %13 = onnx.node "Unsqueeze"(%11, %1) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %14 = onnx.node "Unsqueeze"(%12, %1) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %15 = onnx.node "Slice"(%q, %2, %3, %5) {outputs = ["q1"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %16 = onnx.node "Slice"(%q, %3, %4, %5) {outputs = ["q2"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %17 = onnx.node "Neg"(%16) {outputs = ["nq2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %18 = onnx.node "Concat"(%17, %15) {attrs = {axis = -1 : i64}, outputs = ["qrot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %19 = onnx.node "Mul"(%q, %13) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %20 = onnx.node "Mul"(%18, %14) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %21 = onnx.node "Add"(%19, %20) {outputs = ["yq"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %22 = onnx.node "Slice"(%k, %2, %3, %5) {outputs = ["k1"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %23 = onnx.node "Slice"(%k, %3, %4, %5) {outputs = ["k2"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %24 = onnx.node "Neg"(%23) {outputs = ["nk2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %25 = onnx.node "Concat"(%24, %22) {attrs = {axis = -1 : i64}, outputs = ["krot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %26 = onnx.node "Mul"(%k, %13) {outputs = ["ka"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %27 = onnx.node "Mul"(%25, %14) {outputs = ["kb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %28 = onnx.node "Add"(%26, %27) {outputs = ["yk"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %21, %28 : tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>
  }
}

