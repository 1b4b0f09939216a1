// RUN: mrope-opt %s --convert-rope-index-to-loops --split-input-file | FileCheck %s

// Each row of the per-arch table (MRopeIndexRules) as the loop lowering
// reads it. Without arch: no time rule (no float scaling) and one block per
// video row (no scan over the rows' frame counts).
// CHECK-LABEL: func.func @no_arch
// CHECK-NOT: arith.fptosi
// CHECK-NOT: arith.cmpi sle
// CHECK: bufferization.to_tensor
func.func @no_arch(%ids: tensor<1x?xi64>, %vthw: tensor<?x3xi64>)
    -> (tensor<3x1x?xi64>, tensor<1x1xi64>) {
  %pos, %delta = rope.mrope_index %ids videos %vthw
      : (tensor<1x?xi64>, tensor<?x3xi64>) -> (tensor<3x1x?xi64>, tensor<1x1xi64>)
  return %pos, %delta : tensor<3x1x?xi64>, tensor<1x1xi64>
}

// -----

// qwen2_5_vl: the time rule with the table's default of 2 tokens per second
// and the video's seconds per grid.
// CHECK-LABEL: func.func @qwen25_default
// CHECK-DAG: arith.constant 2.000000e+00 : f32
// CHECK-DAG: memref.load %{{.*}} : memref<?xf32>
// CHECK: arith.fptosi
// CHECK-NOT: arith.cmpi sle
// CHECK: bufferization.to_tensor
func.func @qwen25_default(%ids: tensor<1x?xi64>, %vthw: tensor<?x3xi64>, %sec: tensor<?xf32>)
    -> (tensor<3x1x?xi64>, tensor<1x1xi64>) {
  %pos, %delta = rope.mrope_index %ids videos %vthw seconds %sec {arch = #rope.index_arch<qwen2_5_vl>}
      : (tensor<1x?xi64>, tensor<?x3xi64>, tensor<?xf32>) -> (tensor<3x1x?xi64>, tensor<1x1xi64>)
  return %pos, %delta : tensor<3x1x?xi64>, tensor<1x1xi64>
}

// -----

// The op's tokens_per_second overrides the table's default.
// CHECK-LABEL: func.func @qwen25_override
// CHECK-NOT: arith.constant 2.000000e+00 : f32
// CHECK: arith.constant 4.000000e+00 : f32
// CHECK-NOT: arith.constant 2.000000e+00 : f32
// CHECK: bufferization.to_tensor
func.func @qwen25_override(%ids: tensor<1x?xi64>, %vthw: tensor<?x3xi64>)
    -> (tensor<3x1x?xi64>, tensor<1x1xi64>) {
  %pos, %delta = rope.mrope_index %ids videos %vthw {arch = #rope.index_arch<qwen2_5_vl>, tokens_per_second = 4.0 : f32}
      : (tensor<1x?xi64>, tensor<?x3xi64>) -> (tensor<3x1x?xi64>, tensor<1x1xi64>)
  return %pos, %delta : tensor<3x1x?xi64>, tensor<1x1xi64>
}

// -----

// qwen3_vl: one block per frame: a video block finds its row by scanning
// the rows' cumulative frame counts (end <= k); no time scaling.
// CHECK-LABEL: func.func @qwen3
// CHECK-NOT: arith.fptosi
// CHECK: scf.for {{.*}} iter_args
// CHECK: scf.for {{.*}} iter_args
// CHECK: scf.for {{.*}} iter_args
// CHECK: arith.cmpi sle
// CHECK-NOT: arith.fptosi
// CHECK: bufferization.to_tensor
func.func @qwen3(%ids: tensor<1x?xi64>, %vthw: tensor<?x3xi64>)
    -> (tensor<3x1x?xi64>, tensor<1x1xi64>) {
  %pos, %delta = rope.mrope_index %ids videos %vthw {arch = #rope.index_arch<qwen3_vl>}
      : (tensor<1x?xi64>, tensor<?x3xi64>) -> (tensor<3x1x?xi64>, tensor<1x1xi64>)
  return %pos, %delta : tensor<3x1x?xi64>, tensor<1x1xi64>
}

// -----

// qwen3_omni: f32 results, positions added in f32 from each block's start
// (no integer closed form: no fptosi of a time row), the time row
// f32(f32(i * sec) * 13), rope_deltas rounded once from f64.
// CHECK-LABEL: func.func @qwen3_omni
// CHECK-DAG: memref.alloc(%{{.*}}) : memref<3x1x?xf32>
// CHECK-DAG: memref.alloc() : memref<1x1xf32>
// CHECK-DAG: arith.constant 1.300000e+01 : f32
// CHECK-NOT: arith.fptosi
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: arith.truncf %{{.*}} : f64 to f32
// CHECK: bufferization.to_tensor
func.func @qwen3_omni(%ids: tensor<1x?xi64>, %vthw: tensor<?x3xi64>, %sec: tensor<?xf32>)
    -> (tensor<3x1x?xf32>, tensor<1x1xf32>) {
  %pos, %delta = rope.mrope_index %ids videos %vthw seconds %sec {arch = #rope.index_arch<qwen3_omni>}
      : (tensor<1x?xi64>, tensor<?x3xi64>, tensor<?xf32>) -> (tensor<3x1x?xf32>, tensor<1x1xf32>)
  return %pos, %delta : tensor<3x1x?xf32>, tensor<1x1xf32>
}
