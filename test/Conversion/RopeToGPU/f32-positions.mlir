// RUN: mrope-opt %s --convert-rope-to-gpu --split-input-file | FileCheck %s

// f32 positions (Qwen3-Omni's): each of the three rows is loaded as f32 and
// multiplied by inv_freq as it is, no integer conversion in between, so a
// fractional position keeps its fraction.
// CHECK-LABEL: func.func @omni_qk
// CHECK-SAME: %[[P:arg[0-9]+]]: memref<3x?x?xf32>
// CHECK: gpu.launch
// CHECK-NOT: arith.sitofp
// CHECK-COUNT-3: memref.load %[[P]][%{{.*}}, %{{.*}}, %{{.*}}] : memref<3x?x?xf32>
// CHECK-NOT: arith.sitofp
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: gpu.terminator
func.func @omni_qk(%q: memref<?x4x?x128xf32>, %k: memref<?x2x?x128xf32>, %pos: memref<3x?x?xf32>) {
  rope.apply %q, %k by %pos : memref<?x4x?x128xf32>, memref<?x2x?x128xf32> by memref<3x?x?xf32>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 1.0e6, order = interleaved>
  return
}

// -----

// The same op on i64 positions converts each one (the contrast).
// CHECK-LABEL: func.func @int_qk
// CHECK: gpu.launch
// CHECK-COUNT-3: arith.sitofp %{{.*}} : i64 to f32
func.func @int_qk(%q: memref<?x4x?x128xf32>, %pos: memref<3x?x?xi64>) {
  rope.apply %q by %pos : memref<?x4x?x128xf32> by memref<3x?x?xi64>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 1.0e6, order = interleaved>
  return
}
