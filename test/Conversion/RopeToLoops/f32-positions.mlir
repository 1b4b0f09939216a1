// RUN: mrope-opt %s --convert-rope-to-loops --split-input-file | FileCheck %s

// f32 positions (Qwen3-Omni's) enter the angle as they are: loaded as f32
// and multiplied by inv_freq with no integer conversion in between (numbers:
// execute-f32-positions.mlir).
// CHECK-LABEL: func.func @omni_qk
// CHECK-SAME: %[[P:arg[0-9]+]]: memref<3x1x?xf32>
// CHECK-NOT: arith.sitofp
// CHECK-COUNT-3: memref.load %[[P]][%{{.*}}, %{{.*}}, %{{.*}}] : memref<3x1x?xf32>
// CHECK-NOT: arith.sitofp
// CHECK: arith.mulf
func.func @omni_qk(%q: memref<1x4x?x128xf32>, %k: memref<1x2x?x128xf32>, %pos: memref<3x1x?xf32>) {
  rope.apply %q, %k by %pos : memref<1x4x?x128xf32>, memref<1x2x?x128xf32> by memref<3x1x?xf32>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 1.0e6, order = interleaved>
  return
}

// -----

// One axis as [B, S] f32 with bf16 rotated tensors: still no conversion of
// the positions.
// CHECK-LABEL: func.func @text_bf16
// CHECK-SAME: %[[P:arg[0-9]+]]: memref<2x?xf32>
// CHECK-NOT: arith.sitofp
// CHECK: memref.load %[[P]][%{{.*}}, %{{.*}}] : memref<2x?xf32>
// CHECK-NOT: arith.sitofp
// CHECK: return
func.func @text_bf16(%x: memref<2x8x?x64xbf16>, %pos: memref<2x?xf32>) {
  rope.apply %x by %pos : memref<2x8x?x64xbf16> by memref<2x?xf32>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 10000.0>
  return
}
