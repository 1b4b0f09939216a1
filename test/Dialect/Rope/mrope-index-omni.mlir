// rope.mrope_index under qwen2_5_omni and in the [4, B, S] form: what the
// verifier accepts, and one diagnostic for each arch or attribute it must
// refuse; qwen3_omni with its f32 results.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @omni
// CHECK: arch = #rope.index_arch<qwen2_5_omni>
// CHECK-SAME: -> (tensor<3x2x?xi64>, tensor<2x?xi64>)
// CHECK: arch = #rope.index_arch<qwen2_5_omni>, audio_end = 12 : i64, audio_start = 11 : i64, audio_token = 10 : i64, vision_end = 13 : i64
func.func @omni(%ids: tensor<2x?xi64>, %seg: tensor<2x?xi64>, %v: tensor<?x3xi64>, %s: tensor<?xf32>) {
  %p, %d = rope.mrope_index %ids segments %seg videos %v seconds %s {arch = #rope.index_arch<qwen2_5_omni>} : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<?x3xi64>, tensor<?xf32>) -> (tensor<3x2x?xi64>, tensor<2x?xi64>)
  %p2, %d2 = rope.mrope_index %ids videos %v {arch = #rope.index_arch<qwen2_5_omni>, audio_token = 10 : i64, audio_start = 11 : i64, audio_end = 12 : i64, vision_end = 13 : i64} : (tensor<2x?xi64>, tensor<?x3xi64>) -> (tensor<3x2x?xi64>, tensor<2x1xi64>)
  return
}

// -----

// CHECK-LABEL: func.func @text_row
// CHECK: -> (tensor<4x2x?xi64>, tensor<2x?xi64>)
func.func @text_row(%ids: tensor<2x?xi64>, %seg: tensor<2x?xi64>) {
  %p, %d = rope.mrope_index %ids segments %seg : (tensor<2x?xi64>, tensor<2x?xi64>) -> (tensor<4x2x?xi64>, tensor<2x?xi64>)
  return
}

// -----

// qwen3_omni: f32 results (packed, [4, B, S], its token ids and seconds
// per grid); they round-trip.
// CHECK-LABEL: func.func @qwen3_omni
// CHECK: arch = #rope.index_arch<qwen3_omni>
// CHECK-SAME: -> (tensor<3x2x?xf32>, tensor<2x?xf32>)
// CHECK: arch = #rope.index_arch<qwen3_omni>, audio_token = 10 : i64
// CHECK-SAME: -> (tensor<4x2x?xf32>, tensor<2x1xf32>)
func.func @qwen3_omni(%ids: tensor<2x?xi64>, %seg: tensor<2x?xi64>, %i: tensor<?x3xi64>, %v: tensor<?x3xi64>, %s: tensor<?xf32>) {
  %p, %d = rope.mrope_index %ids segments %seg images %i videos %v seconds %s {arch = #rope.index_arch<qwen3_omni>} : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<?x3xi64>, tensor<?x3xi64>, tensor<?xf32>) -> (tensor<3x2x?xf32>, tensor<2x?xf32>)
  %p2, %d2 = rope.mrope_index %ids videos %v {arch = #rope.index_arch<qwen3_omni>, audio_token = 10 : i64, tokens_per_second = 25.0 : f32} : (tensor<2x?xi64>, tensor<?x3xi64>) -> (tensor<4x2x?xf32>, tensor<2x1xf32>)
  return
}

// -----

func.func @qwen3_omni_integer_positions(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{under arch qwen3_omni positions and rope_deltas are f32 (its time rows are not truncated)}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen3_omni>} : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @qwen3_omni_integer_deltas(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{under arch qwen3_omni positions and rope_deltas are f32 (its time rows are not truncated)}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen3_omni>} : (tensor<2x8xi64>) -> (tensor<3x2x8xf32>, tensor<2x1xi64>)
  return
}

// -----

func.func @qwen3_omni_types(%ids: tensor<2x8xi64>, %t: tensor<2x8xi64>) {
  // expected-error @+1 {{token types are not read under qwen3_omni: its spans come from the token ids}}
  %p, %d = rope.mrope_index %ids types %t {arch = #rope.index_arch<qwen3_omni>} : (tensor<2x8xi64>, tensor<2x8xi64>) -> (tensor<3x2x8xf32>, tensor<2x1xf32>)
  return
}

// -----

func.func @audio_without_omni(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{vision_end / audio_token / audio_start / audio_end are Omni's: only under arch qwen2_5_omni or qwen3_omni}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen2_5_vl>, audio_token = 10 : i64} : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @audio_is_image(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{image_token and audio_token are both token 151655}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen2_5_omni>, audio_token = 151655 : i64} : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @five_rows(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{positions result must be [3, B, S] or [4, B, S] (text row first)}}
  %p, %d = rope.mrope_index %ids : (tensor<2x8xi64>) -> (tensor<5x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @omni_seconds_without_videos(%ids: tensor<2x8xi64>, %s: tensor<?xf32>) {
  // expected-error @+1 {{seconds per grid are given but there are no videos}}
  %p, %d = rope.mrope_index %ids seconds %s {arch = #rope.index_arch<qwen2_5_omni>} : (tensor<2x8xi64>, tensor<?xf32>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}
