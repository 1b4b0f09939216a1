// RUN: mrope-opt %s --rope-decompose --split-input-file | FileCheck %s

// One table pair for q and k: cos/sin are computed once per token.
// CHECK-LABEL: func.func @qk
// CHECK-SAME: (%[[Q:.*]]: tensor<1x28x?x128xf32>, %[[K:.*]]: tensor<1x4x?x128xf32>, %[[P:.*]]: tensor<3x1x?xi64>)
// CHECK: %[[COS:.*]], %[[SIN:.*]] = rope.cos_sin %[[P]] : tensor<3x1x?xi64> -> tensor<1x?x128xf32> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.000000e+06>
// CHECK-NEXT: %[[Q2:.*]] = rope.rotate neox %[[Q]] by %[[COS]], %[[SIN]]
// CHECK-NEXT: %[[K2:.*]] = rope.rotate neox %[[K]] by %[[COS]], %[[SIN]]
// CHECK-NEXT: return %[[Q2]], %[[K2]]
func.func @qk(%q: tensor<1x28x?x128xf32>, %k: tensor<1x4x?x128xf32>, %pos: tensor<3x1x?xi64>)
    -> (tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>) {
  %q2, %k2 = rope.apply %q, %k by %pos : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return %q2, %k2 : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>
}

// -----

// The frequency table and the pair layout carry over; tables take the
// element type of the rotated tensor and the rotary (not the head) dim.
// CHECK-LABEL: func.func @gptj_partial_table
// CHECK: %[[COS:.*]], %[[SIN:.*]] = rope.cos_sin %{{.*}} freqs %{{.*}} : tensor<2x16xi64> freqs tensor<16xf32> -> tensor<2x16x32xf16>
// CHECK-SAME: layout = gptj
// CHECK: rope.rotate gptj %{{.*}} by %[[COS]], %[[SIN]] : tensor<2x8x16x64xf16>, tensor<2x16x32xf16>
func.func @gptj_partial_table(%x: tensor<2x8x16x64xf16>, %pos: tensor<2x16xi64>, %inv: tensor<16xf32>)
    -> tensor<2x8x16x64xf16> {
  %y = rope.apply %x by %pos freqs %inv : tensor<2x8x16x64xf16> by tensor<2x16xi64> freqs tensor<16xf32>
      with #rope.semantics<sections = [16], rotary_dim = 32, theta = 1.0e4, layout = gptj>
  return %y : tensor<2x8x16x64xf16>
}

// -----

// In-place buffer form is not touched.
// CHECK-LABEL: func.func @buffers
// CHECK-NOT: rope.cos_sin
// CHECK: rope.apply
func.func @buffers(%q: memref<1x2x?x128xf32>, %pos: memref<3x1x?xi64>) {
  rope.apply %q by %pos : memref<1x2x?x128xf32> by memref<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}
