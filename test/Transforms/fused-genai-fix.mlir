// rope-fix-fused on the GenAI builder spelling with three position rows
// copied from a [B, S] input: the copies the per-token caches are built
// from are replaced by the [3, B, S] input (the old input, retyped: nothing
// else reads it); the fused ops keep reading the caches per token through
// Range(0, B*S). The correct spelling is left alone.
// RUN: mrope-opt %s -split-input-file --rope-fix-fused=arch=qwen2-vl | FileCheck %s

// CHECK-LABEL: onnx.graph @genai_expand_bug
// CHECK-SAME: %position_ids: tensor<3x?x?xi64>
// CHECK-NOT: "Expand"(%{{.*}}, %rows3)
// CHECK: %[[POS:.*]] = onnx.node "Cast"(%position_ids) {{.*}}name = "pos_f"
// CHECK: onnx.node "MatMul"
// CHECK: %[[RANGE:.*]] = onnx.node "Range"
// CHECK: %[[TOKENS:.*]] = onnx.node "Reshape"(%[[RANGE]]
// CHECK: onnx.node "RotaryEmbedding"(%q, %[[TOKENS]],
// CHECK: onnx.node "RotaryEmbedding"(%k, %[[TOKENS]],

module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @genai_expand_bug(%q: tensor<?x?x16xf32> {onnx.dim_params = ["batch", "seq", ""], onnx.name = "q"}, %k: tensor<?x?x16xf32> {onnx.dim_params = ["batch", "seq", ""], onnx.name = "k"}, %position_ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "position_ids"}) -> (tensor<?x?x16xf32> {onnx.dim_params = ["batch", "seq", ""], onnx.name = "q_rot"}, tensor<?x?x16xf32> {onnx.dim_params = ["batch", "seq", ""], onnx.name = "k_rot"}) attributes {graph_name = "genai_expand_bug"} {
    %inv_freq = onnx.initializer "inv_freq" : tensor<4xf32> = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]>
    %i0 = onnx.initializer "i0" : tensor<1xi64> = dense<0>
    %i1 = onnx.initializer "i1" : tensor<1xi64> = dense<1>
    %i2 = onnx.initializer "i2" : tensor<1xi64> = dense<2>
    %i3 = onnx.initializer "i3" : tensor<1xi64> = dense<3>
    %s0 = onnx.initializer "s0" : tensor<i64> = dense<0>
    %s1 = onnx.initializer "s1" : tensor<i64> = dense<1>
    %rows3 = onnx.initializer "rows3" : tensor<3xi64> = dense<[3, 1, 1]>
    %u013 = onnx.initializer "u013" : tensor<3xi64> = dense<[0, 1, 3]>
    %f1 = onnx.initializer "f1" : tensor<2xi64> = dense<[4, 1]>
    %cos_half = onnx.initializer "cos_half" : tensor<1xi64> = dense<4>
    %cos_axis = onnx.initializer "cos_axis" : tensor<1xi64> = dense<-1>
    %cos_split = onnx.initializer "cos_split" : tensor<3xi64> = dense<[2, 1, 1]>
    %cos_flat = onnx.initializer "cos_flat" : tensor<2xi64> = dense<[-1, 4]>
    %sin_half = onnx.initializer "sin_half" : tensor<1xi64> = dense<4>
    %sin_axis = onnx.initializer "sin_axis" : tensor<1xi64> = dense<-1>
    %sin_split = onnx.initializer "sin_split" : tensor<3xi64> = dense<[2, 1, 1]>
    %sin_flat = onnx.initializer "sin_flat" : tensor<2xi64> = dense<[-1, 4]>
    %0 = onnx.node "Shape"(%q) {name = "q_shape", outputs = ["q_shape"]} : (tensor<?x?x16xf32>) -> tensor<3xi64>
    %1 = onnx.node "Slice"(%0, %i0, %i1) {name = "batch_dim", outputs = ["batch_dim"]} : (tensor<3xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
    %2 = onnx.node "Slice"(%0, %i0, %i2) {name = "bs_shape", outputs = ["bs_shape"]} : (tensor<3xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
    %3 = onnx.node "Unsqueeze"(%position_ids, %i0) {name = "pos_u", outputs = ["pos_u"]} : (tensor<?x?xi64>, tensor<1xi64>) -> tensor<1x?x?xi64>
    %4 = onnx.node "Expand"(%3, %rows3) {name = "pos3", outputs = ["pos3"]} : (tensor<1x?x?xi64>, tensor<3xi64>) -> tensor<3x?x?xi64>
    %5 = onnx.node "Cast"(%4) {attrs = {to = 1 : i64}, name = "pos_f", outputs = ["pos_f"]} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %6 = onnx.node "Unsqueeze"(%5, %i2) {name = "pos_u2", outputs = ["pos_u2"]} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x1x?xf32>
    %7 = onnx.node "Unsqueeze"(%inv_freq, %u013) {name = "inv_u", outputs = ["inv_u"]} : (tensor<4xf32>, tensor<3xi64>) -> tensor<1x1x4x1xf32>
    %8 = onnx.node "Concat"(%i3, %1, %f1) {attrs = {axis = 0 : i64}, name = "inv_shape", outputs = ["inv_shape"]} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
    %9 = onnx.node "Expand"(%7, %8) {name = "inv_e", outputs = ["inv_e"]} : (tensor<1x1x4x1xf32>, tensor<4xi64>) -> tensor<?x?x4x?xf32>
    %10 = onnx.node "MatMul"(%9, %6) {name = "freqs", outputs = ["freqs"]} : (tensor<?x?x4x?xf32>, tensor<3x?x1x?xf32>) -> tensor<3x?x4x?xf32>
    %11 = onnx.node "Transpose"(%10) {attrs = {perm = array<i64: 0, 1, 3, 2>}, name = "freqs_t", outputs = ["freqs_t"]} : (tensor<3x?x4x?xf32>) -> tensor<3x?x?x4xf32>
    %12 = onnx.node "Concat"(%11, %11) {attrs = {axis = -1 : i64}, name = "emb", outputs = ["emb"]} : (tensor<3x?x?x4xf32>, tensor<3x?x?x4xf32>) -> tensor<3x?x?x8xf32>
    %13 = onnx.node "Cos"(%12) {name = "cos", outputs = ["cos"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %14 = onnx.node "Slice"(%13, %i0, %cos_half, %cos_axis) {name = "cos_sliced", outputs = ["cos_sliced"]} : (tensor<3x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3x?x?x4xf32>
    %15:3 = onnx.node "Split"(%14, %cos_split) {attrs = {axis = -1 : i64}, name = "cos_part0", outputs = ["cos_part0", "cos_part1", "cos_part2"]} : (tensor<3x?x?x4xf32>, tensor<3xi64>) -> (tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>)
    %16 = onnx.node "Gather"(%15#0, %i0) {attrs = {axis = 0 : i64}, name = "cos_row0", outputs = ["cos_row0"]} : (tensor<3x?x?x2xf32>, tensor<1xi64>) -> tensor<1x?x?x2xf32>
    %17 = onnx.node "Squeeze"(%16, %i0) {name = "cos_row0_sq", outputs = ["cos_row0_sq"]} : (tensor<1x?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x2xf32>
    %18 = onnx.node "Gather"(%15#1, %i1) {attrs = {axis = 0 : i64}, name = "cos_row1", outputs = ["cos_row1"]} : (tensor<3x?x?x1xf32>, tensor<1xi64>) -> tensor<1x?x?x1xf32>
    %19 = onnx.node "Squeeze"(%18, %i0) {name = "cos_row1_sq", outputs = ["cos_row1_sq"]} : (tensor<1x?x?x1xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %20 = onnx.node "Gather"(%15#2, %i2) {attrs = {axis = 0 : i64}, name = "cos_row2", outputs = ["cos_row2"]} : (tensor<3x?x?x1xf32>, tensor<1xi64>) -> tensor<1x?x?x1xf32>
    %21 = onnx.node "Squeeze"(%20, %i0) {name = "cos_row2_sq", outputs = ["cos_row2_sq"]} : (tensor<1x?x?x1xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %22 = onnx.node "Concat"(%17, %19, %21) {attrs = {axis = -1 : i64}, name = "cos_merged", outputs = ["cos_merged"]} : (tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>) -> tensor<?x?x4xf32>
    %23 = onnx.node "Reshape"(%22, %cos_flat) {name = "cos_cache", outputs = ["cos_cache"]} : (tensor<?x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
    %24 = onnx.node "Sin"(%12) {name = "sin", outputs = ["sin"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %25 = onnx.node "Slice"(%24, %i0, %sin_half, %sin_axis) {name = "sin_sliced", outputs = ["sin_sliced"]} : (tensor<3x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3x?x?x4xf32>
    %26:3 = onnx.node "Split"(%25, %sin_split) {attrs = {axis = -1 : i64}, name = "sin_part0", outputs = ["sin_part0", "sin_part1", "sin_part2"]} : (tensor<3x?x?x4xf32>, tensor<3xi64>) -> (tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>)
    %27 = onnx.node "Gather"(%26#0, %i0) {attrs = {axis = 0 : i64}, name = "sin_row0", outputs = ["sin_row0"]} : (tensor<3x?x?x2xf32>, tensor<1xi64>) -> tensor<1x?x?x2xf32>
    %28 = onnx.node "Squeeze"(%27, %i0) {name = "sin_row0_sq", outputs = ["sin_row0_sq"]} : (tensor<1x?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x2xf32>
    %29 = onnx.node "Gather"(%26#1, %i1) {attrs = {axis = 0 : i64}, name = "sin_row1", outputs = ["sin_row1"]} : (tensor<3x?x?x1xf32>, tensor<1xi64>) -> tensor<1x?x?x1xf32>
    %30 = onnx.node "Squeeze"(%29, %i0) {name = "sin_row1_sq", outputs = ["sin_row1_sq"]} : (tensor<1x?x?x1xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %31 = onnx.node "Gather"(%26#2, %i2) {attrs = {axis = 0 : i64}, name = "sin_row2", outputs = ["sin_row2"]} : (tensor<3x?x?x1xf32>, tensor<1xi64>) -> tensor<1x?x?x1xf32>
    %32 = onnx.node "Squeeze"(%31, %i0) {name = "sin_row2_sq", outputs = ["sin_row2_sq"]} : (tensor<1x?x?x1xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %33 = onnx.node "Concat"(%28, %30, %32) {attrs = {axis = -1 : i64}, name = "sin_merged", outputs = ["sin_merged"]} : (tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>) -> tensor<?x?x4xf32>
    %34 = onnx.node "Reshape"(%33, %sin_flat) {name = "sin_cache", outputs = ["sin_cache"]} : (tensor<?x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
    %35 = onnx.node "Gather"(%0, %s0) {attrs = {axis = 0 : i64}, name = "b_scalar", outputs = ["b_scalar"]} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %36 = onnx.node "Gather"(%0, %s1) {attrs = {axis = 0 : i64}, name = "s_scalar", outputs = ["s_scalar"]} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %37 = onnx.node "Mul"(%35, %36) {name = "bs_count", outputs = ["bs_count"]} : (tensor<i64>, tensor<i64>) -> tensor<i64>
    %38 = onnx.node "Range"(%s0, %37, %s1) {name = "token_index", outputs = ["token_index"]} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
    %39 = onnx.node "Reshape"(%38, %2) {name = "token_ids", outputs = ["token_ids"]} : (tensor<?xi64>, tensor<2xi64>) -> tensor<*xi64>
    %40 = onnx.node "RotaryEmbedding"(%q, %39, %23, %34) {attrs = {num_heads = 2 : i64}, domain = "com.microsoft", name = "q_rot", outputs = ["q_rot"]} : (tensor<?x?x16xf32>, tensor<*xi64>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x?x16xf32>
    %41 = onnx.node "RotaryEmbedding"(%k, %39, %23, %34) {attrs = {num_heads = 2 : i64}, domain = "com.microsoft", name = "k_rot", outputs = ["k_rot"]} : (tensor<?x?x16xf32>, tensor<*xi64>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x?x16xf32>
    onnx.return %40, %41 : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  }
}


// -----

// CHECK-LABEL: onnx.graph @genai_mrope
// CHECK-SAME: %position_ids: tensor<3x?x?xi64>
// CHECK: onnx.node "Cast"(%position_ids)
// CHECK: onnx.node "RotaryEmbedding"(%q, %{{.*}}, %{{.*}}, %{{.*}})
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  onnx.graph @genai_mrope(%q: tensor<?x?x16xf32> {onnx.dim_params = ["batch", "seq", ""], onnx.name = "q"}, %k: tensor<?x?x16xf32> {onnx.dim_params = ["batch", "seq", ""], onnx.name = "k"}, %position_ids: tensor<3x?x?xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"}) -> (tensor<?x?x16xf32> {onnx.dim_params = ["batch", "seq", ""], onnx.name = "q_rot"}, tensor<?x?x16xf32> {onnx.dim_params = ["batch", "seq", ""], onnx.name = "k_rot"}) attributes {graph_name = "genai_mrope"} {
    %inv_freq = onnx.initializer "inv_freq" : tensor<4xf32> = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]>
    %i0 = onnx.initializer "i0" : tensor<1xi64> = dense<0>
    %i1 = onnx.initializer "i1" : tensor<1xi64> = dense<1>
    %i2 = onnx.initializer "i2" : tensor<1xi64> = dense<2>
    %i3 = onnx.initializer "i3" : tensor<1xi64> = dense<3>
    %s0 = onnx.initializer "s0" : tensor<i64> = dense<0>
    %s1 = onnx.initializer "s1" : tensor<i64> = dense<1>
    %u013 = onnx.initializer "u013" : tensor<3xi64> = dense<[0, 1, 3]>
    %f1 = onnx.initializer "f1" : tensor<2xi64> = dense<[4, 1]>
    %cos_half = onnx.initializer "cos_half" : tensor<1xi64> = dense<4>
    %cos_axis = onnx.initializer "cos_axis" : tensor<1xi64> = dense<-1>
    %cos_split = onnx.initializer "cos_split" : tensor<3xi64> = dense<[2, 1, 1]>
    %cos_flat = onnx.initializer "cos_flat" : tensor<2xi64> = dense<[-1, 4]>
    %sin_half = onnx.initializer "sin_half" : tensor<1xi64> = dense<4>
    %sin_axis = onnx.initializer "sin_axis" : tensor<1xi64> = dense<-1>
    %sin_split = onnx.initializer "sin_split" : tensor<3xi64> = dense<[2, 1, 1]>
    %sin_flat = onnx.initializer "sin_flat" : tensor<2xi64> = dense<[-1, 4]>
    %0 = onnx.node "Shape"(%q) {name = "q_shape", outputs = ["q_shape"]} : (tensor<?x?x16xf32>) -> tensor<3xi64>
    %1 = onnx.node "Slice"(%0, %i0, %i1) {name = "batch_dim", outputs = ["batch_dim"]} : (tensor<3xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
    %2 = onnx.node "Slice"(%0, %i0, %i2) {name = "bs_shape", outputs = ["bs_shape"]} : (tensor<3xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
    %3 = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, name = "pos_f", outputs = ["pos_f"]} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %4 = onnx.node "Unsqueeze"(%3, %i2) {name = "pos_u2", outputs = ["pos_u2"]} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x1x?xf32>
    %5 = onnx.node "Unsqueeze"(%inv_freq, %u013) {name = "inv_u", outputs = ["inv_u"]} : (tensor<4xf32>, tensor<3xi64>) -> tensor<1x1x4x1xf32>
    %6 = onnx.node "Concat"(%i3, %1, %f1) {attrs = {axis = 0 : i64}, name = "inv_shape", outputs = ["inv_shape"]} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
    %7 = onnx.node "Expand"(%5, %6) {name = "inv_e", outputs = ["inv_e"]} : (tensor<1x1x4x1xf32>, tensor<4xi64>) -> tensor<?x?x4x?xf32>
    %8 = onnx.node "MatMul"(%7, %4) {name = "freqs", outputs = ["freqs"]} : (tensor<?x?x4x?xf32>, tensor<3x?x1x?xf32>) -> tensor<3x?x4x?xf32>
    %9 = onnx.node "Transpose"(%8) {attrs = {perm = array<i64: 0, 1, 3, 2>}, name = "freqs_t", outputs = ["freqs_t"]} : (tensor<3x?x4x?xf32>) -> tensor<3x?x?x4xf32>
    %10 = onnx.node "Concat"(%9, %9) {attrs = {axis = -1 : i64}, name = "emb", outputs = ["emb"]} : (tensor<3x?x?x4xf32>, tensor<3x?x?x4xf32>) -> tensor<3x?x?x8xf32>
    %11 = onnx.node "Cos"(%10) {name = "cos", outputs = ["cos"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %12 = onnx.node "Slice"(%11, %i0, %cos_half, %cos_axis) {name = "cos_sliced", outputs = ["cos_sliced"]} : (tensor<3x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3x?x?x4xf32>
    %13:3 = onnx.node "Split"(%12, %cos_split) {attrs = {axis = -1 : i64}, name = "cos_part0", outputs = ["cos_part0", "cos_part1", "cos_part2"]} : (tensor<3x?x?x4xf32>, tensor<3xi64>) -> (tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>)
    %14 = onnx.node "Gather"(%13#0, %i0) {attrs = {axis = 0 : i64}, name = "cos_row0", outputs = ["cos_row0"]} : (tensor<3x?x?x2xf32>, tensor<1xi64>) -> tensor<1x?x?x2xf32>
    %15 = onnx.node "Squeeze"(%14, %i0) {name = "cos_row0_sq", outputs = ["cos_row0_sq"]} : (tensor<1x?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x2xf32>
    %16 = onnx.node "Gather"(%13#1, %i1) {attrs = {axis = 0 : i64}, name = "cos_row1", outputs = ["cos_row1"]} : (tensor<3x?x?x1xf32>, tensor<1xi64>) -> tensor<1x?x?x1xf32>
    %17 = onnx.node "Squeeze"(%16, %i0) {name = "cos_row1_sq", outputs = ["cos_row1_sq"]} : (tensor<1x?x?x1xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %18 = onnx.node "Gather"(%13#2, %i2) {attrs = {axis = 0 : i64}, name = "cos_row2", outputs = ["cos_row2"]} : (tensor<3x?x?x1xf32>, tensor<1xi64>) -> tensor<1x?x?x1xf32>
    %19 = onnx.node "Squeeze"(%18, %i0) {name = "cos_row2_sq", outputs = ["cos_row2_sq"]} : (tensor<1x?x?x1xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %20 = onnx.node "Concat"(%15, %17, %19) {attrs = {axis = -1 : i64}, name = "cos_merged", outputs = ["cos_merged"]} : (tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>) -> tensor<?x?x4xf32>
    %21 = onnx.node "Reshape"(%20, %cos_flat) {name = "cos_cache", outputs = ["cos_cache"]} : (tensor<?x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
    %22 = onnx.node "Sin"(%10) {name = "sin", outputs = ["sin"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %23 = onnx.node "Slice"(%22, %i0, %sin_half, %sin_axis) {name = "sin_sliced", outputs = ["sin_sliced"]} : (tensor<3x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3x?x?x4xf32>
    %24:3 = onnx.node "Split"(%23, %sin_split) {attrs = {axis = -1 : i64}, name = "sin_part0", outputs = ["sin_part0", "sin_part1", "sin_part2"]} : (tensor<3x?x?x4xf32>, tensor<3xi64>) -> (tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>)
    %25 = onnx.node "Gather"(%24#0, %i0) {attrs = {axis = 0 : i64}, name = "sin_row0", outputs = ["sin_row0"]} : (tensor<3x?x?x2xf32>, tensor<1xi64>) -> tensor<1x?x?x2xf32>
    %26 = onnx.node "Squeeze"(%25, %i0) {name = "sin_row0_sq", outputs = ["sin_row0_sq"]} : (tensor<1x?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x2xf32>
    %27 = onnx.node "Gather"(%24#1, %i1) {attrs = {axis = 0 : i64}, name = "sin_row1", outputs = ["sin_row1"]} : (tensor<3x?x?x1xf32>, tensor<1xi64>) -> tensor<1x?x?x1xf32>
    %28 = onnx.node "Squeeze"(%27, %i0) {name = "sin_row1_sq", outputs = ["sin_row1_sq"]} : (tensor<1x?x?x1xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %29 = onnx.node "Gather"(%24#2, %i2) {attrs = {axis = 0 : i64}, name = "sin_row2", outputs = ["sin_row2"]} : (tensor<3x?x?x1xf32>, tensor<1xi64>) -> tensor<1x?x?x1xf32>
    %30 = onnx.node "Squeeze"(%29, %i0) {name = "sin_row2_sq", outputs = ["sin_row2_sq"]} : (tensor<1x?x?x1xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %31 = onnx.node "Concat"(%26, %28, %30) {attrs = {axis = -1 : i64}, name = "sin_merged", outputs = ["sin_merged"]} : (tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>) -> tensor<?x?x4xf32>
    %32 = onnx.node "Reshape"(%31, %sin_flat) {name = "sin_cache", outputs = ["sin_cache"]} : (tensor<?x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
    %33 = onnx.node "Gather"(%0, %s0) {attrs = {axis = 0 : i64}, name = "b_scalar", outputs = ["b_scalar"]} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %34 = onnx.node "Gather"(%0, %s1) {attrs = {axis = 0 : i64}, name = "s_scalar", outputs = ["s_scalar"]} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %35 = onnx.node "Mul"(%33, %34) {name = "bs_count", outputs = ["bs_count"]} : (tensor<i64>, tensor<i64>) -> tensor<i64>
    %36 = onnx.node "Range"(%s0, %35, %s1) {name = "token_index", outputs = ["token_index"]} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
    %37 = onnx.node "Reshape"(%36, %2) {name = "token_ids", outputs = ["token_ids"]} : (tensor<?xi64>, tensor<2xi64>) -> tensor<*xi64>
    %38 = onnx.node "RotaryEmbedding"(%q, %37, %21, %32) {attrs = {num_heads = 2 : i64}, domain = "com.microsoft", name = "q_rot", outputs = ["q_rot"]} : (tensor<?x?x16xf32>, tensor<*xi64>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x?x16xf32>
    %39 = onnx.node "RotaryEmbedding"(%k, %37, %21, %32) {attrs = {num_heads = 2 : i64}, domain = "com.microsoft", name = "k_rot", outputs = ["k_rot"]} : (tensor<?x?x16xf32>, tensor<*xi64>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x?x16xf32>
    onnx.return %38, %39 : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  }
}

