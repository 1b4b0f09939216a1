// The loop lowering of rope.mrope_index with segment ids: a pre-pass finds
// K (the largest segment id, at least 1) for the [B, K] rope_deltas buffer,
// which starts zeroed; the token loop carries the last kept token's segment
// and, at a change, writes the closed segment's column before restarting
// the row state. Without segment ids none of this is emitted.
// RUN: mrope-opt %s --convert-rope-index-to-loops | FileCheck %s

// CHECK-LABEL: func.func @packed
// CHECK-NOT: rope.mrope_index
// CHECK: %[[K:.*]] = scf.for {{.*}} iter_args({{.*}} = %c1_i64) -> (i64)
// CHECK: arith.maxsi
// CHECK: %[[KI:.*]] = arith.index_cast %[[K]] : i64 to index
// CHECK: %[[D:.*]] = memref.alloc(%[[KI]]) : memref<2x?xi64>
// CHECK: scf.for
// CHECK: scf.for {{.*}} to %[[KI]]
// CHECK: memref.store %c0_i64, %[[D]]
// CHECK: arith.cmpi sgt
// CHECK: scf.if
// CHECK: scf.if
// CHECK: memref.store {{.*}}, %[[D]]
func.func @packed(%ids: tensor<2x?xi64>, %seg: tensor<2x?xi64>, %g: tensor<?x3xi64>) -> (tensor<3x2x?xi64>, tensor<2x?xi64>) {
  %p, %d = rope.mrope_index %ids segments %seg images %g : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<?x3xi64>) -> (tensor<3x2x?xi64>, tensor<2x?xi64>)
  return %p, %d : tensor<3x2x?xi64>, tensor<2x?xi64>
}

// CHECK-LABEL: func.func @unpacked
// CHECK-NOT: arith.maxsi %{{.*}}, %{{.*}} : i64
// CHECK: memref.alloc() : memref<2x1xi64>
// CHECK-NOT: scf.if %{{[0-9]+}} {
// CHECK: return
func.func @unpacked(%ids: tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>) {
  %p, %d = rope.mrope_index %ids : (tensor<2x8xi64>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return %p, %d : tensor<3x2x8xi64>, tensor<2x1xi64>
}
