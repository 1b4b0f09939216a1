// rope.mrope_index's packed form and new archs: what the verifier accepts
// and the one diagnostic for each inconsistency.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @packed
// CHECK: rope.mrope_index %{{.*}} mask %{{.*}} segments %{{.*}} images %{{.*}} : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<2x?xi32>, tensor<?x3xi64>) -> (tensor<3x2x?xi64>, tensor<2x?xi64>)
func.func @packed(%ids: tensor<2x?xi64>, %m: tensor<2x?xi64>, %seg: tensor<2x?xi32>, %g: tensor<?x3xi64>) -> tensor<2x?xi64> {
  %p, %d = rope.mrope_index %ids mask %m segments %seg images %g : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<2x?xi32>, tensor<?x3xi64>) -> (tensor<3x2x?xi64>, tensor<2x?xi64>)
  return %d : tensor<2x?xi64>
}

// -----

// CHECK-LABEL: func.func @new_archs
// CHECK: arch = #rope.index_arch<qwen3_5>
// CHECK: arch = #rope.index_arch<glm4v>, video_end = 7 : i64, video_start = 6 : i64
func.func @new_archs(%ids: tensor<2x8xi64>, %g: tensor<?x3xi64>) {
  %p, %d = rope.mrope_index %ids videos %g {arch = #rope.index_arch<qwen3_5>} : (tensor<2x8xi64>, tensor<?x3xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  %p2, %d2 = rope.mrope_index %ids videos %g {arch = #rope.index_arch<glm4v>, video_start = 6 : i64, video_end = 7 : i64} : (tensor<2x8xi64>, tensor<?x3xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @segments_shape(%ids: tensor<2x8xi64>, %seg: tensor<2x7xi64>) {
  // expected-error @+1 {{segment_ids must have the shape of input_ids (2x8)}}
  %p, %d = rope.mrope_index %ids segments %seg : (tensor<2x8xi64>, tensor<2x7xi64>) -> (tensor<3x2x8xi64>, tensor<2x?xi64>)
  return
}

// -----

func.func @segments_deltas(%ids: tensor<2x8xi64>, %seg: tensor<2x8xi64>) {
  // expected-error @+1 {{with segment_ids, rope_deltas result must be [B, ?] (one column per segment id)}}
  %p, %d = rope.mrope_index %ids segments %seg : (tensor<2x8xi64>, tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @video_span_arch(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{video_start / video_end mark video frames only under arch glm4v}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen3_vl>, video_start = 6 : i64} : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @qwen35_scaling(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{qwen3_5 has no temporal scaling: tokens_per_second and second_per_grid_ts are Qwen2.5-VL's}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen3_5>, tokens_per_second = 2.0 : f32} : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}
