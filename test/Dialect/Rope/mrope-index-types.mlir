// rope.mrope_index with token types (mm_token_type_ids) typing the vision
// tokens instead of their ids: what the verifier accepts and refuses.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @types
// CHECK: rope.mrope_index %{{.*}} segments %{{.*}} types %{{.*}} images %{{.*}} {arch = #rope.index_arch<glm4v>}
func.func @types(%ids: tensor<2x?xi64>, %seg: tensor<2x?xi64>, %typ: tensor<2x?xi32>, %g: tensor<?x3xi64>) {
  %p, %d = rope.mrope_index %ids segments %seg types %typ images %g {arch = #rope.index_arch<glm4v>} : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<2x?xi32>, tensor<?x3xi64>) -> (tensor<3x2x?xi64>, tensor<2x?xi64>)
  return
}

// -----

func.func @types_shape(%ids: tensor<2x8xi64>, %typ: tensor<2x7xi64>) {
  // expected-error @+1 {{token_types must have the shape of input_ids (2x8)}}
  %p, %d = rope.mrope_index %ids types %typ : (tensor<2x8xi64>, tensor<2x7xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @types_omni(%ids: tensor<2x8xi64>, %typ: tensor<2x8xi64>) {
  // expected-error @+1 {{token types are not read under qwen2_5_omni: its spans come from the token ids}}
  %p, %d = rope.mrope_index %ids types %typ {arch = #rope.index_arch<qwen2_5_omni>} : (tensor<2x8xi64>, tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}
