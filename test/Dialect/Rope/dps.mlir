// rope.apply is destination-style with the rotated tensors as its inits, so
// upstream canonicalizations for DPS ops apply to it: a tensor.cast that
// only erases static extents folds into the op (more static types), with a
// cast of the result back to what the users saw. Positions fold the same way.
// RUN: mrope-opt %s --canonicalize | FileCheck %s

// CHECK-LABEL: func.func @cast_folds
// CHECK-SAME: (%[[Q:.*]]: tensor<1x4x8x64xf32>, %[[K:.*]]: tensor<1x2x8x64xf32>, %[[P:.*]]: tensor<1x8xi64>)
// CHECK: %[[R:.*]]:2 = rope.apply %[[Q]], %[[K]] by %[[P]] : tensor<1x4x8x64xf32>, tensor<1x2x8x64xf32> by tensor<1x8xi64>
// CHECK: %[[C:.*]] = tensor.cast %[[R]]#0 : tensor<1x4x8x64xf32> to tensor<1x4x?x64xf32>
// CHECK: return %[[C]], %[[R]]#1
func.func @cast_folds(%q: tensor<1x4x8x64xf32>, %k: tensor<1x2x8x64xf32>, %pos: tensor<1x8xi64>)
    -> (tensor<1x4x?x64xf32>, tensor<1x2x8x64xf32>) {
  %c = tensor.cast %q : tensor<1x4x8x64xf32> to tensor<1x4x?x64xf32>
  %p = tensor.cast %pos : tensor<1x8xi64> to tensor<1x?xi64>
  %r:2 = rope.apply %c, %k by %p : tensor<1x4x?x64xf32>, tensor<1x2x8x64xf32> by tensor<1x?xi64>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 1.0e4>
  return %r#0, %r#1 : tensor<1x4x?x64xf32>, tensor<1x2x8x64xf32>
}

// A cast that adds static information is not folded (it is a runtime check).
// CHECK-LABEL: func.func @refining_cast_stays
// CHECK: %[[C:.*]] = tensor.cast %{{.*}} : tensor<1x4x?x64xf32> to tensor<1x4x8x64xf32>
// CHECK: rope.apply %[[C]] by %{{.*}} : tensor<1x4x8x64xf32> by tensor<1x8xi64>
func.func @refining_cast_stays(%q: tensor<1x4x?x64xf32>, %pos: tensor<1x8xi64>) -> tensor<1x4x8x64xf32> {
  %c = tensor.cast %q : tensor<1x4x?x64xf32> to tensor<1x4x8x64xf32>
  %r = rope.apply %c by %pos : tensor<1x4x8x64xf32> by tensor<1x8xi64>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 1.0e4>
  return %r : tensor<1x4x8x64xf32>
}

// The in-place memref form has no results and no inits to fold; untouched.
// CHECK-LABEL: func.func @memref_untouched
// CHECK: rope.apply %{{.*}} by %{{.*}} : memref<1x4x8x64xf32> by memref<1x8xi64>
func.func @memref_untouched(%q: memref<1x4x8x64xf32>, %pos: memref<1x8xi64>) {
  rope.apply %q by %pos : memref<1x4x8x64xf32> by memref<1x8xi64>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 1.0e4>
  return
}
