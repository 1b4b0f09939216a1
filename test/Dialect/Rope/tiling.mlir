// rope.apply through upstream tiling (TilingInterface, driven by the transform
// dialect): the domain is the tokens [B, S]; every tile holds all heads and
// all channels of q and of k (different head counts), and the positions of
// its tokens.
// RUN: mrope-opt %s --transform-interpreter --split-input-file --verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @tile_for
// CHECK-SAME: (%[[Q:.*]]: tensor<2x28x?x128xf32>, %[[K:.*]]: tensor<2x4x?x128xf32>, %[[P:.*]]: tensor<3x2x?xi64>)
// CHECK: %[[S:.*]] = tensor.dim %[[Q]], %{{.*}}
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : index
// CHECK: %[[R:.*]]:2 = scf.for %[[B:.*]] = %{{.*}} to %[[C2]] step %{{.*}} iter_args(%[[QA:.*]] = %[[Q]], %[[KA:.*]] = %[[K]])
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %[[S]] step %[[C16]] iter_args(%[[QB:.*]] = %[[QA]], %[[KB:.*]] = %[[KA]])
// CHECK: %[[N:.*]] = affine.min
// CHECK-DAG: %[[QS:.*]] = tensor.extract_slice %[[QB]][%[[B]], 0, %[[T]], 0] [1, 28, %[[N]], 128] [1, 1, 1, 1]
// CHECK-DAG: %[[KS:.*]] = tensor.extract_slice %[[KB]][%[[B]], 0, %[[T]], 0] [1, 4, %[[N]], 128] [1, 1, 1, 1]
// CHECK-DAG: %[[PS:.*]] = tensor.extract_slice %[[P]][0, %[[B]], %[[T]]] [3, 1, %[[N]]] [1, 1, 1]
// CHECK: %[[Y:.*]]:2 = rope.apply %[[QS]], %[[KS]] by %[[PS]] : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.000000e+06> {site = 3 : i64}
// CHECK-DAG: tensor.insert_slice %[[Y]]#0 into %[[QB]][%[[B]], 0, %[[T]], 0] [1, 28, %[[N]], 128] [1, 1, 1, 1]
// CHECK-DAG: tensor.insert_slice %[[Y]]#1 into %[[KB]][%[[B]], 0, %[[T]], 0] [1, 4, %[[N]], 128] [1, 1, 1, 1]
// CHECK: return %[[R]]#0, %[[R]]#1
func.func @tile_for(%q: tensor<2x28x?x128xf32>, %k: tensor<2x4x?x128xf32>, %pos: tensor<3x2x?xi64>)
    -> (tensor<2x28x?x128xf32>, tensor<2x4x?x128xf32>) {
  %q2, %k2 = rope.apply %q, %k by %pos : tensor<2x28x?x128xf32>, tensor<2x4x?x128xf32> by tensor<3x2x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6> {site = 3 : i64}
  return %q2, %k2 : tensor<2x28x?x128xf32>, tensor<2x4x?x128xf32>
}

module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %apply = transform.structured.match ops{["rope.apply"]} in %root : (!transform.any_op) -> !transform.any_op
    %tiled, %loops:2 = transform.structured.tile_using_for %apply tile_sizes [1, 16]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op)
    transform.yield
  }
}

// -----

// scf.forall over token blocks (batch whole), one-axis [B, S] positions and
// an explicit frequency table, which every tile reads whole.
// CHECK-LABEL: func.func @tile_forall
// CHECK-SAME: (%[[Q:.*]]: tensor<2x8x64x64xf32>, %[[K:.*]]: tensor<2x2x64x64xf32>, %[[P:.*]]: tensor<2x64xi32>, %[[F:.*]]: tensor<32xf32>)
// CHECK: scf.forall (%[[I:.*]]) in (2) shared_outs(%[[QA:.*]] = %[[Q]], %[[KA:.*]] = %[[K]])
// CHECK: %[[T:.*]] = affine.apply #{{.*}}(%[[I]])
// CHECK-DAG: %[[QS:.*]] = tensor.extract_slice %[[QA]][0, 0, %[[T]], 0] [2, 8, 32, 64] [1, 1, 1, 1]
// CHECK-DAG: %[[KS:.*]] = tensor.extract_slice %[[KA]][0, 0, %[[T]], 0] [2, 2, 32, 64] [1, 1, 1, 1]
// CHECK-DAG: %[[PS:.*]] = tensor.extract_slice %[[P]][0, %[[T]]] [2, 32] [1, 1]
// CHECK: %[[Y:.*]]:2 = rope.apply %[[QS]], %[[KS]] by %[[PS]] freqs %[[F]] : tensor<2x8x32x64xf32>, tensor<2x2x32x64xf32> by tensor<2x32xi32> freqs tensor<32xf32>
// CHECK: scf.forall.in_parallel
// CHECK-DAG: tensor.parallel_insert_slice %[[Y]]#0 into %[[QA]][0, 0, %[[T]], 0] [2, 8, 32, 64] [1, 1, 1, 1]
// CHECK-DAG: tensor.parallel_insert_slice %[[Y]]#1 into %[[KA]][0, 0, %[[T]], 0] [2, 2, 32, 64] [1, 1, 1, 1]
func.func @tile_forall(%q: tensor<2x8x64x64xf32>, %k: tensor<2x2x64x64xf32>, %pos: tensor<2x64xi32>, %inv: tensor<32xf32>)
    -> (tensor<2x8x64x64xf32>, tensor<2x2x64x64xf32>) {
  %q2, %k2 = rope.apply %q, %k by %pos freqs %inv : tensor<2x8x64x64xf32>, tensor<2x2x64x64xf32> by tensor<2x64xi32> freqs tensor<32xf32>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 1.0e4>
  return %q2, %k2 : tensor<2x8x64x64xf32>, tensor<2x2x64x64xf32>
}

module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %apply = transform.structured.match ops{["rope.apply"]} in %root : (!transform.any_op) -> !transform.any_op
    %tiled, %forall = transform.structured.tile_using_forall %apply tile_sizes [0, 32]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}

// -----

// Tiling works on tensors only: the in-place memref form is refused (tile
// before bufferizing).
func.func @no_memref_tiling(%q: memref<1x4x8x64xf32>, %pos: memref<1x8xi64>) {
  // expected-error @below {{faild to tile operation}}
  // expected-error @below {{failed to generate tiling loops}}
  rope.apply %q by %pos : memref<1x4x8x64xf32> by memref<1x8xi64>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 1.0e4>
  return
}

module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %apply = transform.structured.match ops{["rope.apply"]} in %root : (!transform.any_op) -> !transform.any_op
    %tiled, %loops:2 = transform.structured.tile_using_for %apply tile_sizes [1, 4]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op)
    transform.yield
  }
}

// -----

// The domain is [B, S] only: a tile size for a third dimension (heads or
// channels in [B, H, S, D] terms) is refused, nothing is tiled.
func.func @no_channel_tiles(%q: tensor<1x4x8x64xf32>, %pos: tensor<1x8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-note @below {{target op}}
  %r = rope.apply %q by %pos : tensor<1x4x8x64xf32> by tensor<1x8xi64>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 1.0e4>
  return %r : tensor<1x4x8x64xf32>
}

module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %apply = transform.structured.match ops{["rope.apply"]} in %root : (!transform.any_op) -> !transform.any_op
    // expected-error @below {{too many tiles provided, expected at most 2 found 3}}
    %tiled, %loops:3 = transform.structured.tile_using_for %apply tile_sizes [1, 4, 32]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.yield
  }
}
