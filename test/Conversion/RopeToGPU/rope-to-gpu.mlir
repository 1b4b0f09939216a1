// RUN: mrope-opt %s --convert-rope-to-gpu --split-input-file | FileCheck %s

// M-RoPE, q and k in one kernel: one gpu.launch of 16 x 8 threads (4
// frequencies per thread, 8 tokens per block) over ceil(B*S/8) blocks; the
// three position rows are loaded once, cos/sin of the thread's 4 frequencies
// are formed once (f64 range reduction by a magic add, no math.roundeven)
// and reused by every head of q and of k, with 16-byte aligned vector
// loads/stores of both halves.
// CHECK-DAG: memref.global "private" constant @__rope_axis_of_freq : memref<64xi32> = dense<[0, 0, {{.*}}, 1, {{.*}}, 2, 2]> {alignment = 16 : i64}
// CHECK-DAG: memref.global "private" constant @__rope_inv_freq : memref<64xf32> = dense<[1.000000e+00, 0.80584222, {{.*}}]> {alignment = 16 : i64}
// CHECK-LABEL: func.func @mrope_qk
// CHECK-SAME: (%[[Q:.*]]: memref<?x28x?x128xf32>, %[[K:.*]]: memref<?x4x?x128xf32>, %[[P:.*]]: memref<3x?x?xi64>)
// CHECK: %[[TOK:.*]] = arith.muli
// CHECK: %[[GRID:.*]] = arith.ceildivui %[[TOK]], %{{.*}} : index
// CHECK: scf.if
// CHECK: %[[C16:.*]] = arith.constant 16 : index
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%[[TX:.*]], %[[TY:.*]], %{{.*}}) in (%{{.*}} = %[[C16]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}})
// CHECK: memref.dim %[[Q]]
// CHECK: memref.dim %[[K]]
// CHECK: scf.if
// CHECK: %[[B:.*]] = arith.divui
// CHECK: %[[S:.*]] = arith.remui
// CHECK: %[[I0:.*]] = arith.muli %[[TX]], %{{.*}} : index
// CHECK-COUNT-3: memref.load %[[P]][%{{.*}}, %[[B]], %[[S]]] : memref<3x?x?xi64>
// CHECK: %[[INV:.*]] = vector.load %{{.*}}[%[[I0]]] {alignment = 16 : i64} : memref<64xf32>, vector<4xf32>
// CHECK: %[[ANGLE:.*]] = arith.mulf %{{.*}}, %[[INV]] : vector<4xf32>
// CHECK: arith.extf %[[ANGLE]] : vector<4xf32> to vector<4xf64>
// CHECK: arith.constant dense<0x4338000000000000> : vector<4xf64>
// CHECK-NOT: math.roundeven
// CHECK: %[[SIN:.*]] = arith.truncf %{{.*}} : vector<4xf64> to vector<4xf32>
// CHECK: %[[COS:.*]] = arith.truncf %{{.*}} : vector<4xf64> to vector<4xf32>
// CHECK: scf.for %[[H:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-COUNT-8: vector.load %[[Q]][%[[B]], %{{.*}}, %[[S]], %{{.*}}] {alignment = 16 : i64} : memref<?x28x?x128xf32>, vector<4xf32>
// CHECK: arith.mulf %{{.*}}, %[[COS]]
// CHECK-COUNT-8: vector.store %{{.*}}, %[[Q]][%[[B]], %{{.*}}, %[[S]], %{{.*}}] {alignment = 16 : i64}
// CHECK: scf.for
// CHECK: scf.for
// CHECK: vector.load %[[K]]
// CHECK: scf.for
// CHECK: vector.load %[[K]]
// CHECK-NOT: math.sin
// CHECK-NOT: math.cos
// CHECK-NOT: rope.apply
// CHECK: gpu.terminator
func.func @mrope_qk(%q: memref<?x28x?x128xf32>, %k: memref<?x4x?x128xf32>, %pos: memref<3x?x?xi64>) {
  rope.apply %q, %k by %pos : memref<?x28x?x128xf32>, memref<?x4x?x128xf32> by memref<3x?x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

// bf16 GPT-J on one position row ([B, S]): 8 frequencies per thread (16
// bytes of bf16), 16 channels per head as one vector with an in-register
// pair swap; no axis table; the math is f32.
// CHECK-LABEL: func.func @gptj_bf16
// CHECK-NOT: __rope_axis_of_freq
// CHECK: gpu.launch
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x?xi64>
// CHECK: vector.shuffle
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<?x?x?x64xbf16>, vector<16xbf16>
// CHECK: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14]
// CHECK: arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: vector.store
func.func @gptj_bf16(%x: memref<?x?x?x64xbf16>, %pos: memref<?x?xi64>) {
  rope.apply %x by %pos : memref<?x?x?x64xbf16> by memref<?x?xi64>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 1.0e4, layout = gptj>
  return
}

// -----

// A frequency table operand indexed per section (vision tower): the kernel
// gathers inv_freq[table_index[i]] from it; tokens-per-block stays 128 / 5.
// (the global precedes the function in the output)
// CHECK: memref.global "private" constant @__rope_table_index : memref<20xi32> = dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, {{.*}}]>
// CHECK-LABEL: func.func @vision_table
// CHECK: %[[C5:.*]] = arith.constant 5 : index
// CHECK: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %[[C5]],
// CHECK: memref.get_global @__rope_table_index
// CHECK: vector.from_elements
func.func @vision_table(%x: memref<1x16x?x80xf32>, %pos: memref<2x1x?xi64>, %inv: memref<10xf32>) {
  rope.apply %x by %pos freqs %inv : memref<1x16x?x80xf32> by memref<2x1x?xi64> freqs memref<10xf32>
      with #rope.semantics<sections = [10, 10], rotary_dim = 40, theta = 1.0e4, freqs = per_section>
  return
}
