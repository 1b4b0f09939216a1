// Qwen3-VL's QK-norm before RoPE: an RMSNorm over the head dim of q and of k
// (linalg.fill + a reduction linalg.generic for the sum of squares, then an
// elementwise linalg.generic that scales), fused into the token loop of the
// tiled rope.apply by upstream tile-and-fuse. The normalized tiles are the
// rope.apply inits, so each norm writes the loop's tile and the rotation
// rewrites it: no normalized [B, H, S, D] tensor is left outside the loop.
// The norms are calls in the input so both payloads share them; --inline
// puts them in place first; canonicalize + CSE drop the dead untiled norms.
// RUN: mrope-opt %s --inline --transform-interpreter --canonicalize --cse | FileCheck %s

#id = affine_map<(b, h, s, d) -> (b, h, s, d)>
#row = affine_map<(b, h, s, d) -> (b, h, s)>
#ch = affine_map<(b, h, s, d) -> (d)>

// structured.fuse (scf.for): tile the rotation by 16 tokens, pull both norms in.
// CHECK-LABEL: func.func @norm_rope_for
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<1x8x?x128xf32>, %[[K:[^:]*]]: tensor<1x2x?x128xf32>
// CHECK-NOT: linalg.
// CHECK-DAG: %[[EQ:.*]] = tensor.empty(%{{.*}}) : tensor<1x8x?x128xf32>
// CHECK-DAG: %[[EK:.*]] = tensor.empty(%{{.*}}) : tensor<1x2x?x128xf32>
// CHECK-NOT: linalg.
// The loop carries the norms' destinations, not their untiled results.
// CHECK: %[[R:.*]]:2 = scf.for %[[T:.*]] = {{.*}} step %{{.*}} iter_args(%[[QA:.*]] = %[[EQ]], %[[KA:.*]] = %[[EK]])
// CHECK-DAG: tensor.extract_slice %[[Q]][0, 0, %[[T]], 0] [1, 8, %[[N:.*]], 128] [1, 1, 1, 1]
// CHECK-DAG: %[[QD:.*]] = tensor.extract_slice %[[QA]][0, 0, %[[T]], 0] [1, 8, %[[N]], 128] [1, 1, 1, 1]
// CHECK-DAG: %[[KD:.*]] = tensor.extract_slice %[[KA]][0, 0, %[[T]], 0] [1, 2, %[[N]], 128] [1, 1, 1, 1]
// CHECK-DAG: linalg.fill {{.*}} -> tensor<1x8x?xf32>
// CHECK-DAG: linalg.fill {{.*}} -> tensor<1x2x?xf32>
// CHECK-DAG: %[[QN:.*]] = linalg.generic {{.*}} outs(%[[QD]] : tensor<1x8x?x128xf32>)
// CHECK-DAG: %[[KN:.*]] = linalg.generic {{.*}} outs(%[[KD]] : tensor<1x2x?x128xf32>)
// CHECK: %[[Y:.*]]:2 = rope.apply %[[QN]], %[[KN]] by %{{.*}} : tensor<1x8x?x128xf32>, tensor<1x2x?x128xf32> by tensor<3x1x?xi64>
// CHECK-DAG: tensor.insert_slice %[[Y]]#0 into %[[QA]][0, 0, %[[T]], 0] [1, 8, %[[N]], 128]
// CHECK-DAG: tensor.insert_slice %[[Y]]#1 into %[[KA]][0, 0, %[[T]], 0] [1, 2, %[[N]], 128]
// CHECK: }
// CHECK-NOT: linalg.
// CHECK-NOT: rope.apply
// CHECK: return %[[R]]#0, %[[R]]#1
func.func @norm_rope_for(%q: tensor<1x8x?x128xf32>, %k: tensor<1x2x?x128xf32>,
                         %wq: tensor<128xf32>, %wk: tensor<128xf32>, %pos: tensor<3x1x?xi64>)
    -> (tensor<1x8x?x128xf32>, tensor<1x2x?x128xf32>) {
  %qn = call @rms_q(%q, %wq) : (tensor<1x8x?x128xf32>, tensor<128xf32>) -> tensor<1x8x?x128xf32>
  %kn = call @rms_k(%k, %wk) : (tensor<1x2x?x128xf32>, tensor<128xf32>) -> tensor<1x2x?x128xf32>
  %q2, %k2 = rope.apply %qn, %kn by %pos : tensor<1x8x?x128xf32>, tensor<1x2x?x128xf32> by tensor<3x1x?xi64>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 5.0e6, order = interleaved> {fuse_for}
  return %q2, %k2 : tensor<1x8x?x128xf32>, tensor<1x2x?x128xf32>
}

// tile_using_forall + fuse_into_containing_op: the norm producers go through
// the forall's shared_outs (they produce the rope.apply inits).
// CHECK-LABEL: func.func @norm_rope_forall
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<1x8x?x128xf32>, %[[K:[^:]*]]: tensor<1x2x?x128xf32>
// CHECK-NOT: linalg.
// CHECK: %[[R:.*]]:2 = scf.forall (%[[T:.*]]) in (%{{.*}}) shared_outs(%[[QA:.*]] = %{{.*}}, %[[KA:.*]] = %{{.*}})
// CHECK-DAG: %[[QD:.*]] = tensor.extract_slice %[[QA]][0, 0, %{{.*}}, 0] [1, 8, %[[N:.*]], 128] [1, 1, 1, 1]
// CHECK-DAG: %[[KD:.*]] = tensor.extract_slice %[[KA]][0, 0, %{{.*}}, 0] [1, 2, %[[N]], 128] [1, 1, 1, 1]
// CHECK-DAG: %[[QN:.*]] = linalg.generic {{.*}} outs(%[[QD]] : tensor<1x8x?x128xf32>)
// CHECK-DAG: %[[KN:.*]] = linalg.generic {{.*}} outs(%[[KD]] : tensor<1x2x?x128xf32>)
// CHECK: %[[Y:.*]]:2 = rope.apply %[[QN]], %[[KN]] by
// CHECK: scf.forall.in_parallel
// CHECK-DAG: tensor.parallel_insert_slice %[[Y]]#0 into %[[QA]]
// CHECK-DAG: tensor.parallel_insert_slice %[[Y]]#1 into %[[KA]]
// CHECK: }
// CHECK-NOT: linalg.generic
// CHECK-NOT: rope.apply
// CHECK: return %[[R]]#0, %[[R]]#1
func.func @norm_rope_forall(%q: tensor<1x8x?x128xf32>, %k: tensor<1x2x?x128xf32>,
                            %wq: tensor<128xf32>, %wk: tensor<128xf32>, %pos: tensor<3x1x?xi64>)
    -> (tensor<1x8x?x128xf32>, tensor<1x2x?x128xf32>) {
  %qn = call @rms_q(%q, %wq) : (tensor<1x8x?x128xf32>, tensor<128xf32>) -> tensor<1x8x?x128xf32>
  %kn = call @rms_k(%k, %wk) : (tensor<1x2x?x128xf32>, tensor<128xf32>) -> tensor<1x2x?x128xf32>
  %q2, %k2 = rope.apply %qn, %kn by %pos : tensor<1x8x?x128xf32>, tensor<1x2x?x128xf32> by tensor<3x1x?xi64>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 5.0e6, order = interleaved> {fuse_forall}
  return %q2, %k2 : tensor<1x8x?x128xf32>, tensor<1x2x?x128xf32>
}

func.func private @rms_q(%x: tensor<1x8x?x128xf32>, %w: tensor<128xf32>) -> tensor<1x8x?x128xf32> {
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 128.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %s = tensor.dim %x, %c2 : tensor<1x8x?x128xf32>
  %e3 = tensor.empty(%s) : tensor<1x8x?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e3 : tensor<1x8x?xf32>) -> tensor<1x8x?xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<1x8x?x128xf32>) outs(%acc : tensor<1x8x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq : f32
    linalg.yield %r : f32
  } -> tensor<1x8x?xf32>
  %e4 = tensor.empty(%s) : tensor<1x8x?x128xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %ss, %w : tensor<1x8x?x128xf32>, tensor<1x8x?xf32>, tensor<128xf32>) outs(%e4 : tensor<1x8x?x128xf32>) {
  ^bb0(%a: f32, %sum: f32, %g: f32, %o: f32):
    %m = arith.divf %sum, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %z = arith.mulf %n, %g : f32
    linalg.yield %z : f32
  } -> tensor<1x8x?x128xf32>
  return %y : tensor<1x8x?x128xf32>
}

func.func private @rms_k(%x: tensor<1x2x?x128xf32>, %w: tensor<128xf32>) -> tensor<1x2x?x128xf32> {
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 128.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %s = tensor.dim %x, %c2 : tensor<1x2x?x128xf32>
  %e3 = tensor.empty(%s) : tensor<1x2x?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e3 : tensor<1x2x?xf32>) -> tensor<1x2x?xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<1x2x?x128xf32>) outs(%acc : tensor<1x2x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq : f32
    linalg.yield %r : f32
  } -> tensor<1x2x?xf32>
  %e4 = tensor.empty(%s) : tensor<1x2x?x128xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %ss, %w : tensor<1x2x?x128xf32>, tensor<1x2x?xf32>, tensor<128xf32>) outs(%e4 : tensor<1x2x?x128xf32>) {
  ^bb0(%a: f32, %sum: f32, %g: f32, %o: f32):
    %m = arith.divf %sum, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %z = arith.mulf %n, %g : f32
    linalg.yield %z : f32
  } -> tensor<1x2x?x128xf32>
  return %y : tensor<1x2x?x128xf32>
}

module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %for = transform.structured.match ops{["rope.apply"]} attributes{fuse_for} in %root
        : (!transform.any_op) -> !transform.any_op
    %fused, %loops = transform.structured.fuse %for tile_sizes [0, 16]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)

    %forall_apply = transform.structured.match ops{["rope.apply"]} attributes{fuse_forall} in %root
        : (!transform.any_op) -> !transform.any_op
    %func = transform.get_parent_op %forall_apply {op_name = "func.func"}
        : (!transform.any_op) -> !transform.any_op
    %tiled, %forall = transform.structured.tile_using_forall %forall_apply tile_sizes [0, 16]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %producers = transform.structured.match ops{["linalg.generic", "linalg.fill"]} in %func
        : (!transform.any_op) -> !transform.any_op
    %fused2, %forall2 = transform.structured.fuse_into_containing_op %producers into %forall
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}
