// RUN: mrope-opt %s --convert-rope-index-to-loops | FileCheck %s

// One pass over the tokens of every row; grid rows are read only at a block
// start; no rope op is left.
// CHECK-LABEL: func.func @index
// CHECK-DAG: %[[IDS:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<2x?xi64> to memref<2x?xi64>
// CHECK-DAG: %[[POS:.*]] = memref.alloc(%{{.*}}) : memref<3x2x?xi64>
// CHECK-DAG: %[[DELTA:.*]] = memref.alloc() : memref<2x1xi64>
// CHECK: scf.for %[[B:.*]] = {{.*}} iter_args
// CHECK: scf.for %[[S:.*]] = {{.*}} iter_args
// CHECK: memref.load %[[IDS]][%[[B]], %[[S]]]
// CHECK: scf.if
// CHECK: scf.if
// CHECK: memref.load %{{.*}} : memref<?x3xi64>
// CHECK-COUNT-3: memref.store %{{.*}}, %[[POS]][%{{.*}}, %[[B]], %[[S]]]
// CHECK: memref.store %{{.*}}, %[[DELTA]][%[[B]], %{{.*}}]
// CHECK: bufferization.to_tensor %[[POS]] restrict writable
// CHECK-NOT: rope.mrope_index
func.func @index(%ids: tensor<2x?xi64>, %mask: tensor<2x?xi64>, %thw: tensor<?x3xi64>)
    -> (tensor<3x2x?xi64>, tensor<2x1xi64>) {
  %pos, %delta = rope.mrope_index %ids mask %mask images %thw
      : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<?x3xi64>) -> (tensor<3x2x?xi64>, tensor<2x1xi64>)
  return %pos, %delta : tensor<3x2x?xi64>, tensor<2x1xi64>
}
