// Every op and attribute form prints back to something that parses to the
// same IR, in the custom and in the generic form.
// RUN: mrope-opt %s | mrope-opt | FileCheck %s
// RUN: mrope-opt %s --mlir-print-op-generic | mrope-opt | FileCheck %s

// CHECK-LABEL: func.func @mrope_qk
// CHECK: %{{.*}}:2 = rope.apply %{{.*}}, %{{.*}} by %{{.*}} : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.000000e+06>
func.func @mrope_qk(%q: tensor<1x28x?x128xf32>, %k: tensor<1x4x?x128xf32>,
                    %pos: tensor<3x1x?xi64>) -> (tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>) {
  %q2, %k2 = rope.apply %q, %k by %pos : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return %q2, %k2 : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>
}

// Text RoPE with [B, S] positions, GPT-J pairs, partial rotary dim.
// CHECK-LABEL: func.func @text_gptj_partial
// CHECK: rope.apply %{{.*}} by %{{.*}} : tensor<2x8x16x64xf16> by tensor<2x16xi32> with #rope.semantics<sections = [16], rotary_dim = 32, theta = 1.000000e+04, layout = gptj>
func.func @text_gptj_partial(%x: tensor<2x8x16x64xf16>, %pos: tensor<2x16xi32>) -> tensor<2x8x16x64xf16> {
  %y = rope.apply %x by %pos : tensor<2x8x16x64xf16> by tensor<2x16xi32>
      with #rope.semantics<sections = [16], rotary_dim = 32, theta = 10000.0, layout = gptj>
  return %y : tensor<2x8x16x64xf16>
}

// Qwen3-VL interleaved M-RoPE with an explicit frequency table.
// CHECK-LABEL: func.func @interleaved_with_table
// CHECK: rope.apply %{{.*}} by %{{.*}} freqs %{{.*}} : tensor<1x2x?x128xbf16> by tensor<3x1x?xi64> freqs tensor<64xf32> with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 5.000000e+06, order = interleaved>
func.func @interleaved_with_table(%x: tensor<1x2x?x128xbf16>, %pos: tensor<3x1x?xi64>,
                                  %inv: tensor<64xf32>) -> tensor<1x2x?x128xbf16> {
  %y = rope.apply %x by %pos freqs %inv : tensor<1x2x?x128xbf16> by tensor<3x1x?xi64> freqs tensor<64xf32>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 5.0e6, order = interleaved>
  return %y : tensor<1x2x?x128xbf16>
}

// Vision tower 2D RoPE: each axis restarts its 20 frequencies.
// CHECK-LABEL: func.func @vision_2d
// CHECK: #rope.semantics<sections = [20, 20], rotary_dim = 80, theta = 1.000000e+04, freqs = per_section>
func.func @vision_2d(%x: tensor<1x16x?x80xf32>, %pos: tensor<2x1x?xi64>) -> tensor<1x16x?x80xf32> {
  %y = rope.apply %x by %pos : tensor<1x16x?x80xf32> by tensor<2x1x?xi64>
      with #rope.semantics<freqs = per_section, theta = 1.0e4, rotary_dim = 80, sections = [20, 20]>
  return %y : tensor<1x16x?x80xf32>
}

// In place on buffers: no results.
// CHECK-LABEL: func.func @in_place
// CHECK: rope.apply %{{.*}}, %{{.*}} by %{{.*}} : memref<1x28x?x128xf32>, memref<1x4x?x128xf32> by memref<3x1x?xi64> with
// CHECK-NEXT: return
func.func @in_place(%q: memref<1x28x?x128xf32>, %k: memref<1x4x?x128xf32>, %pos: memref<3x1x?xi64>) {
  rope.apply %q, %k by %pos : memref<1x28x?x128xf32>, memref<1x4x?x128xf32> by memref<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// CHECK-LABEL: func.func @tables
// CHECK: %[[COS:.*]], %[[SIN:.*]] = rope.cos_sin %{{.*}} freqs %{{.*}} : tensor<3x1x?xi64> freqs tensor<64xf32> -> tensor<1x?x128xf32> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.000000e+06>
// CHECK: rope.rotate neox %{{.*}} by %[[COS]], %[[SIN]] : tensor<1x28x?x128xf32>, tensor<1x?x128xf32>
// CHECK: rope.rotate gptj %{{.*}} by %[[COS]], %[[SIN]] : tensor<1x4x?x128xf32>, tensor<1x?x128xf32>
func.func @tables(%q: tensor<1x28x?x128xf32>, %k: tensor<1x4x?x128xf32>, %pos: tensor<3x1x?xi64>,
                  %inv: tensor<64xf32>) -> (tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>) {
  %cos, %sin = rope.cos_sin %pos freqs %inv : tensor<3x1x?xi64> freqs tensor<64xf32> -> tensor<1x?x128xf32>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  %q2 = rope.rotate neox %q by %cos, %sin : tensor<1x28x?x128xf32>, tensor<1x?x128xf32>
  %k2 = rope.rotate gptj %k by %cos, %sin : tensor<1x4x?x128xf32>, tensor<1x?x128xf32>
  return %q2, %k2 : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>
}

// CHECK-LABEL: func.func @index_defaults
// CHECK: rope.mrope_index %{{.*}} mask %{{.*}} images %{{.*}} : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<?x3xi64>) -> (tensor<3x2x?xi64>, tensor<2x1xi64>)
func.func @index_defaults(%ids: tensor<2x?xi64>, %mask: tensor<2x?xi64>, %thw: tensor<?x3xi64>)
    -> (tensor<3x2x?xi64>, tensor<2x1xi64>) {
  %pos, %delta = rope.mrope_index %ids mask %mask images %thw
      : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<?x3xi64>) -> (tensor<3x2x?xi64>, tensor<2x1xi64>)
  return %pos, %delta : tensor<3x2x?xi64>, tensor<2x1xi64>
}

// The arch attribute: Qwen3-VL's per-frame video blocks; Qwen2.5-VL with
// seconds per grid and tokens_per_second left to its default.
// CHECK-LABEL: func.func @index_arch
// CHECK: rope.mrope_index %{{.*}} videos %{{.*}} {arch = #rope.index_arch<qwen3_vl>} :
// CHECK: rope.mrope_index %{{.*}} videos %{{.*}} seconds %{{.*}} {arch = #rope.index_arch<qwen2_5_vl>} :
func.func @index_arch(%ids: tensor<1x?xi64>, %vthw: tensor<2x3xi32>, %sec: tensor<2xf32>)
    -> (tensor<3x1x?xi64>, tensor<3x1x?xi64>) {
  %pos, %delta = rope.mrope_index %ids videos %vthw {arch = #rope.index_arch<qwen3_vl>}
      : (tensor<1x?xi64>, tensor<2x3xi32>) -> (tensor<3x1x?xi64>, tensor<1x1xi64>)
  %pos25, %delta25 = rope.mrope_index %ids videos %vthw seconds %sec {arch = #rope.index_arch<qwen2_5_vl>}
      : (tensor<1x?xi64>, tensor<2x3xi32>, tensor<2xf32>) -> (tensor<3x1x?xi64>, tensor<1x1xi64>)
  return %pos, %pos25 : tensor<3x1x?xi64>, tensor<3x1x?xi64>
}

// Qwen2.5-VL: videos with seconds per grid and temporal scaling.
// CHECK-LABEL: func.func @index_qwen25
// CHECK: rope.mrope_index %{{.*}} images %{{.*}} videos %{{.*}} seconds %{{.*}} {spatial_merge = 4 : i64, tokens_per_second = 2.000000e+00 : f32} :
func.func @index_qwen25(%ids: tensor<1x?xi64>, %ithw: tensor<?x3xi64>, %vthw: tensor<2x3xi64>,
                        %sec: tensor<2xf32>) -> (tensor<3x1x?xi64>, tensor<1x1xi64>) {
  %pos, %delta = rope.mrope_index %ids images %ithw videos %vthw seconds %sec
      {tokens_per_second = 2.0 : f32, spatial_merge = 4 : i64, image_token = 151655 : i64}
      : (tensor<1x?xi64>, tensor<?x3xi64>, tensor<2x3xi64>, tensor<2xf32>) -> (tensor<3x1x?xi64>, tensor<1x1xi64>)
  return %pos, %delta : tensor<3x1x?xi64>, tensor<1x1xi64>
}
