// f32 positions (Qwen3-Omni's get_rope_index gives fractional time rows) are
// accepted by rope.apply (tensors and memrefs) and rope.cos_sin, print back
// as they parse, and survive decomposition with their type; other float
// types are refused (test/Dialect/Rope/invalid.mlir).
// RUN: mrope-opt %s | mrope-opt | FileCheck %s
// RUN: mrope-opt %s --mlir-print-op-generic | mrope-opt | FileCheck %s
// RUN: mrope-opt %s --rope-decompose | FileCheck %s --check-prefix=DEC

// CHECK-LABEL: func.func @omni_qk
// CHECK: rope.apply %{{.*}}, %{{.*}} by %{{.*}} : tensor<1x4x?x128xf32>, tensor<1x2x?x128xf32> by tensor<3x1x?xf32> with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 1.000000e+06, order = interleaved>
// DEC-LABEL: func.func @omni_qk
// DEC: rope.cos_sin %{{.*}} : tensor<3x1x?xf32> -> tensor<1x?x128xf32>
// DEC-NOT: rope.apply
func.func @omni_qk(%q: tensor<1x4x?x128xf32>, %k: tensor<1x2x?x128xf32>,
                   %pos: tensor<3x1x?xf32>) -> (tensor<1x4x?x128xf32>, tensor<1x2x?x128xf32>) {
  %q2, %k2 = rope.apply %q, %k by %pos : tensor<1x4x?x128xf32>, tensor<1x2x?x128xf32> by tensor<3x1x?xf32>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 1.0e6, order = interleaved>
  return %q2, %k2 : tensor<1x4x?x128xf32>, tensor<1x2x?x128xf32>
}

// One axis as [B, S] f32, bf16 rotated tensors: the positions stay f32.
// CHECK-LABEL: func.func @text_f32_bf16
// DEC-LABEL: func.func @text_f32_bf16
// CHECK: rope.apply %{{.*}} by %{{.*}} : tensor<2x8x16x64xbf16> by tensor<2x16xf32> with
func.func @text_f32_bf16(%x: tensor<2x8x16x64xbf16>, %pos: tensor<2x16xf32>) -> tensor<2x8x16x64xbf16> {
  %y = rope.apply %x by %pos : tensor<2x8x16x64xbf16> by tensor<2x16xf32>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 10000.0>
  return %y : tensor<2x8x16x64xbf16>
}

// CHECK-LABEL: func.func @in_place_f32
// CHECK: rope.apply %{{.*}} by %{{.*}} : memref<1x4x?x128xf32> by memref<3x1x?xf32> with
func.func @in_place_f32(%q: memref<1x4x?x128xf32>, %pos: memref<3x1x?xf32>) {
  rope.apply %q by %pos : memref<1x4x?x128xf32> by memref<3x1x?xf32>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 1.0e6, order = interleaved>
  return
}

// CHECK-LABEL: func.func @tables_f32
// CHECK: rope.cos_sin %{{.*}} : tensor<3x1x?xf32> -> tensor<1x?x128xf32> with
func.func @tables_f32(%pos: tensor<3x1x?xf32>) -> tensor<1x?x128xf32> {
  %cos, %sin = rope.cos_sin %pos : tensor<3x1x?xf32> -> tensor<1x?x128xf32>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 1.0e6, order = interleaved>
  return %cos : tensor<1x?x128xf32>
}
