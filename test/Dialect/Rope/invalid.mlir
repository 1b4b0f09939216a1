// Every verifier error of the rope dialect, one per split.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics

func.func @sections_do_not_sum(%x: tensor<1x2x4x128xf32>, %p: tensor<3x1x4xi64>) {
  // expected-error @+1 {{sections sum to 60 frequencies but rotary_dim 128 has 64}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<3x1x4xi64> with #rope.semantics<sections = [16, 20, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @odd_rotary_dim(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{rotary_dim must be positive and even, got 127}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [63], rotary_dim = 127, theta = 1.0e6>
  return
}

// -----

func.func @empty_section(%x: tensor<1x2x4x128xf32>, %p: tensor<3x1x4xi64>) {
  // expected-error @+1 {{section 1 has 0 frequencies; every axis needs at least one}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<3x1x4xi64> with #rope.semantics<sections = [32, 0, 32], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @no_sections(%x: tensor<1x2x4x128xf32>, %p: tensor<3x1x4xi64>) {
  // expected-error @+1 {{sections must name at least one position axis}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<3x1x4xi64> with #rope.semantics<sections = [], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @bad_theta(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{theta must be a positive finite number}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = -1.0>
  return
}

// -----

func.func @missing_key(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{#rope.semantics needs sections, rotary_dim and theta}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128>
  return
}

// -----

func.func @unknown_key(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{unknown key 'base'}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, base = 1.0>
  return
}

// -----

func.func @duplicate_key(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{duplicate key 'theta'}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0, theta = 2.0>
  return
}

// -----

func.func @unknown_layout(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{unknown layout 'llama'}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0, layout = llama>
  return
}

// -----

func.func @interleaved_one_axis(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{interleaved sections need at least two axes}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0, order = interleaved>
  return
}

// -----

func.func @interleaved_does_not_fit(%x: tensor<1x2x4x128xf32>, %p: tensor<3x1x4xi64>) {
  // expected-error @+1 {{interleaved section 1 (30 frequencies) does not fit in 64 frequencies}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<3x1x4xi64> with #rope.semantics<sections = [4, 30, 30], rotary_dim = 128, theta = 1.0, order = interleaved>
  return
}

// -----

func.func @per_section_unequal(%x: tensor<1x2x4x80xf32>, %p: tensor<2x1x4xi64>) {
  // expected-error @+1 {{per_section frequencies need equal sections (one table)}}
  %y = rope.apply %x by %p : tensor<1x2x4x80xf32> by tensor<2x1x4xi64> with #rope.semantics<sections = [16, 24], rotary_dim = 80, theta = 1.0e4, freqs = per_section>
  return
}

// -----

func.func @per_section_interleaved(%x: tensor<1x2x4x80xf32>, %p: tensor<2x1x4xi64>) {
  // expected-error @+1 {{per_section frequencies need contiguous sections}}
  %y = rope.apply %x by %p : tensor<1x2x4x80xf32> by tensor<2x1x4xi64> with #rope.semantics<sections = [20, 20], rotary_dim = 80, theta = 1.0e4, freqs = per_section, order = interleaved>
  return
}

// -----

// The 1D bug as a verifier sees it: [B, S] positions under 3-axis semantics.
func.func @one_row_for_three_axes(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{positions are [B, S] (one position axis) but the semantics has 3 axes; pass positions as [3, B, S]}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @wrong_row_count(%x: tensor<1x2x4x128xf32>, %p: tensor<2x1x4xi64>) {
  // expected-error @+1 {{positions have 2 rows but the semantics has 3 position axes}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<2x1x4xi64> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @positions_rank(%x: tensor<1x2x4x128xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{positions must be [A, B, S] (or [B, S] for one axis), got rank 1}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @positions_wrong_seq(%x: tensor<1x2x4x128xf32>, %p: tensor<3x1x5xi64>) {
  // expected-error @+1 {{positions cover batch x seq 1x5 but the rotated tensors have 1x4}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @qk_head_dims_differ(%q: tensor<1x2x4x128xf32>, %k: tensor<1x2x4x64xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{rotated tensors have different head dims (128 and 64)}}
  %a, %b = rope.apply %q, %k by %p : tensor<1x2x4x128xf32>, tensor<1x2x4x64xf32> by tensor<1x4xi64> with #rope.semantics<sections = [32], rotary_dim = 64, theta = 1.0e6>
  return
}

// -----

func.func @qk_seq_differ(%q: tensor<1x2x4x128xf32>, %k: tensor<1x2x8x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{operand #1 has batch x seq 1x8 unlike the other rotated tensors}}
  %a, %b = rope.apply %q, %k by %p : tensor<1x2x4x128xf32>, tensor<1x2x8x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @element_types_differ(%q: tensor<1x2x4x128xf32>, %k: tensor<1x2x4x128xf16>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{operand #1 has element type 'f16' but operand #0 has 'f32'}}
  %a, %b = rope.apply %q, %k by %p : tensor<1x2x4x128xf32>, tensor<1x2x4x128xf16> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @head_dim_too_small(%x: tensor<1x2x4x64xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{head dim 64 is smaller than rotary_dim 128}}
  %y = rope.apply %x by %p : tensor<1x2x4x64xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @not_rank4(%x: tensor<2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{operand #0 must be [B, H, S, D] (rank 4), got rank 3}}
  %y = rope.apply %x by %p : tensor<2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @mixed_tensor_memref(%q: tensor<1x2x4x128xf32>, %k: memref<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{rotated operands must be all tensors or all memrefs}}
  %a = rope.apply %q, %k by %p : tensor<1x2x4x128xf32>, memref<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @memref_with_tensor_positions(%q: memref<1x2x4x128xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{positions must be a memref like the rotated operands}}
  rope.apply %q by %p : memref<1x2x4x128xf32> by tensor<1x4xi64> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @table_length(%x: tensor<1x2x4x128xf32>, %p: tensor<3x1x4xi64>, %inv: tensor<32xf32>) {
  // expected-error @+1 {{frequency table has 32 entries but the semantics needs 64}}
  %y = rope.apply %x by %p freqs %inv : tensor<1x2x4x128xf32> by tensor<3x1x4xi64> freqs tensor<32xf32> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

// f32 positions are taken (f32-positions.mlir); narrower or wider floats
// are not.
func.func @f16_positions(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xf16>) {
  // expected-error @+1 {{positions must be integers or f32, got 'f16' (it would round positions before the angle is formed)}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xf16> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @bf16_positions_buffers(%x: memref<1x2x4x128xf32>, %p: memref<3x1x4xbf16>) {
  // expected-error @+1 {{positions must be integers or f32, got 'bf16'}}
  rope.apply %x by %p : memref<1x2x4x128xf32> by memref<3x1x4xbf16> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @f64_positions_tables(%p: tensor<3x1x4xf64>) {
  // expected-error @+1 {{positions must be integers or f32, got 'f64'}}
  %c, %s = rope.cos_sin %p : tensor<3x1x4xf64> -> tensor<1x4x128xf32> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @complex_positions(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xcomplex<f32>>) {
  // expected-error @+1 {{operand #1 must be ranked tensor or memref of integers or f32}}
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xcomplex<f32>> with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @cos_sin_channels(%p: tensor<3x1x4xi64>) {
  // expected-error @+1 {{tables have 64 channels but rotary_dim is 128}}
  %c, %s = rope.cos_sin %p : tensor<3x1x4xi64> -> tensor<1x4x64xf32> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @cos_sin_rank(%p: tensor<3x1x4xi64>) {
  // expected-error @+1 {{cos/sin tables must be [B, S, R], got rank 2}}
  %c, %s = rope.cos_sin %p : tensor<3x1x4xi64> -> tensor<4x128xf32> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @cos_sin_positions(%p: tensor<3x2x4xi64>) {
  // expected-error @+1 {{positions cover batch x seq 2x4 but the rotated tensors have 1x4}}
  %c, %s = rope.cos_sin %p : tensor<3x2x4xi64> -> tensor<1x4x128xf32> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

func.func @rotate_odd_table(%x: tensor<1x2x4x128xf32>, %c: tensor<1x4x63xf32>) {
  // expected-error @+1 {{tables have an odd number of channels (63); rotations act on pairs}}
  %y = rope.rotate neox %x by %c, %c : tensor<1x2x4x128xf32>, tensor<1x4x63xf32>
  return
}

// -----

func.func @rotate_wide_table(%x: tensor<1x2x4x64xf32>, %c: tensor<1x4x128xf32>) {
  // expected-error @+1 {{tables have 128 channels but the head dim is only 64}}
  %y = rope.rotate neox %x by %c, %c : tensor<1x2x4x64xf32>, tensor<1x4x128xf32>
  return
}

// -----

func.func @rotate_seq(%x: tensor<1x2x4x64xf32>, %c: tensor<1x5x64xf32>) {
  // expected-error @+1 {{tables cover batch x seq 1x5 but the input has 1x4}}
  %y = rope.rotate neox %x by %c, %c : tensor<1x2x4x64xf32>, tensor<1x5x64xf32>
  return
}

// -----

func.func @rotate_rank(%x: tensor<2x4x64xf32>, %c: tensor<1x4x64xf32>) {
  // expected-error @+1 {{input must be [B, H, S, D], got rank 3}}
  %y = rope.rotate neox %x by %c, %c : tensor<2x4x64xf32>, tensor<1x4x64xf32>
  return
}

// -----

func.func @rotate_layout(%x: tensor<1x2x4x64xf32>, %c: tensor<1x4x64xf32>) {
  // expected-error @+1 {{expected pair layout 'neox' or 'gptj', got 'half'}}
  %y = rope.rotate half %x by %c, %c : tensor<1x2x4x64xf32>, tensor<1x4x64xf32>
  return
}

// -----

func.func @index_ids_rank(%ids: tensor<8xi64>) {
  // expected-error @+1 {{input_ids must be [B, S], got rank 1}}
  %p, %d = rope.mrope_index %ids : (tensor<8xi64>) -> (tensor<3x1x8xi64>, tensor<1x1xi64>)
  return
}

// -----

func.func @index_mask_shape(%ids: tensor<2x8xi64>, %m: tensor<2x7xi64>) {
  // expected-error @+1 {{attention_mask must have the shape of input_ids}}
  %p, %d = rope.mrope_index %ids mask %m : (tensor<2x8xi64>, tensor<2x7xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_grid_shape(%ids: tensor<2x8xi64>, %g: tensor<1x2xi64>) {
  // expected-error @+1 {{image_grid_thw must be [N, 3] (t, h, w per block)}}
  %p, %d = rope.mrope_index %ids images %g : (tensor<2x8xi64>, tensor<1x2xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_seconds_without_scaling(%ids: tensor<2x8xi64>, %g: tensor<1x3xi64>, %s: tensor<1xf32>) {
  // expected-error @+1 {{seconds per grid need the tokens_per_second attribute or arch qwen2_5_vl (Qwen2.5-VL temporal scaling)}}
  %p, %d = rope.mrope_index %ids videos %g seconds %s : (tensor<2x8xi64>, tensor<1x3xi64>, tensor<1xf32>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_seconds_count(%ids: tensor<2x8xi64>, %g: tensor<2x3xi64>, %s: tensor<3xf32>) {
  // expected-error @+1 {{needs one seconds-per-grid value per video}}
  %p, %d = rope.mrope_index %ids videos %g seconds %s {tokens_per_second = 2.0 : f32} : (tensor<2x8xi64>, tensor<2x3xi64>, tensor<3xf32>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_merge(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{spatial_merge must be at least 1, got 0}}
  %p, %d = rope.mrope_index %ids {spatial_merge = 0 : i64} : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_positions_shape(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{positions result must be [3, B, S]}}
  %p, %d = rope.mrope_index %ids : (tensor<2x8xi64>) -> (tensor<2x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_deltas_shape(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{rope_deltas result must be [B, 1]}}
  %p, %d = rope.mrope_index %ids : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2xi64>)
  return
}

// -----

func.func @index_qwen2_scaling(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{qwen2_vl has no temporal scaling: tokens_per_second and second_per_grid_ts are Qwen2.5-VL's}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen2_vl>, tokens_per_second = 2.0 : f32} : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_qwen3_seconds(%ids: tensor<2x8xi64>, %g: tensor<1x3xi64>, %s: tensor<1xf32>) {
  // expected-error @+1 {{qwen3_vl has no temporal scaling}}
  %p, %d = rope.mrope_index %ids videos %g seconds %s {arch = #rope.index_arch<qwen3_vl>} : (tensor<2x8xi64>, tensor<1x3xi64>, tensor<1xf32>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_tokens_per_second(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{tokens_per_second must be a finite positive number}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen2_5_vl>, tokens_per_second = 0.0 : f32} : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_unknown_arch(%ids: tensor<2x8xi64>) {
  // expected-error @+2 {{expected ::mrope::rope::IndexArch to be one of: qwen2_vl, qwen2_5_vl, qwen3_vl}}
  // expected-error @+1 {{failed to parse Rope_IndexArchAttr parameter}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen25_vl>} : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_grid_type(%ids: tensor<2x8xi64>, %g: tensor<1x3xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of signless integer values}}
  %p, %d = rope.mrope_index %ids images %g : (tensor<2x8xi64>, tensor<1x3xf32>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_grid_rank(%ids: tensor<2x8xi64>, %g: tensor<1x1x1x3xi32>) {
  // expected-error @+1 {{video_grid_thw must be [N, 3] (t, h, w per block)}}
  %p, %d = rope.mrope_index %ids videos %g : (tensor<2x8xi64>, tensor<1x1x1x3xi32>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return
}

// -----

func.func @index_float_positions(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{positions and rope_deltas are i64 (f32 only under arch qwen3_omni)}}
  %p, %d = rope.mrope_index %ids {arch = #rope.index_arch<qwen2_5_omni>} : (tensor<2x8xi64>) -> (tensor<3x2x8xf32>, tensor<2x1xf32>)
  return
}

// -----

func.func @index_float_deltas(%ids: tensor<2x8xi64>) {
  // expected-error @+1 {{positions and rope_deltas are i64 (f32 only under arch qwen3_omni)}}
  %p, %d = rope.mrope_index %ids : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xf32>)
  return
}
