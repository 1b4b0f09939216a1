// RUN: mrope-opt %s --convert-rope-to-gpu --split-input-file | FileCheck %s

// M-RoPE, q and k in one kernel: one gpu.launch of 16 x 16 threads (4
// frequencies per thread, 16 tokens per block) over ceil(B*S/16) blocks, with
// the block's cos/sin tables and the batch row / position of its tokens in
// workgroup memory. Phase 1: thread (x, y) loads the three position rows of
// token y once, forms cos/sin of its 4 frequencies once (f64 range reduction
// by a magic add, no math.roundeven) into the shared tables. A barrier.
// Phase 2 ([B,H,S,D]: head-major rows): row slot y takes rows y, y + 16, ..
// (head r / 16, token r % 16), 4 rows per iteration with all loads issued
// before the stores, 16-byte aligned vector loads/stores of both halves and
// cos/sin read back from the shared table.
// CHECK-DAG: memref.global "private" constant @__rope_axis_of_freq : memref<64xi32> = dense<[0, 0, {{.*}}, 1, {{.*}}, 2, 2]> {alignment = 16 : i64}
// CHECK-DAG: memref.global "private" constant @__rope_inv_freq : memref<64xf32> = dense<[1.000000e+00, 0.80584222, {{.*}}]> {alignment = 16 : i64}
// CHECK-LABEL: func.func @mrope_qk
// CHECK-SAME: (%[[Q:.*]]: memref<?x28x?x128xf32>, %[[K:.*]]: memref<?x4x?x128xf32>, %[[P:.*]]: memref<3x?x?xi64>)
// CHECK: %[[TOK:.*]] = arith.muli
// CHECK: %[[GRID:.*]] = arith.ceildivui %[[TOK]], %{{.*}} : index
// CHECK: scf.if
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%[[TX:.*]], %[[TY:.*]], %{{.*}}) in (%{{.*}} = %c16{{.*}}, %{{.*}} = %c16{{.*}}, %{{.*}} = %{{.*}}) workgroup(%[[COS:.*]] : memref<16x64xf32, #gpu.address_space<workgroup>>, %[[SIN:.*]] : memref<16x64xf32, #gpu.address_space<workgroup>>, %[[BOF:.*]] : memref<16xi32, #gpu.address_space<workgroup>>, %[[SOF:.*]] : memref<16xi32, #gpu.address_space<workgroup>>)
// CHECK: memref.dim %[[Q]]
// CHECK: memref.dim %[[K]]
// CHECK: %[[I0:.*]] = arith.muli %[[TX]], %{{.*}} : index
// CHECK: scf.if
// CHECK: %[[B:.*]] = arith.divui
// CHECK: %[[S:.*]] = arith.remui
// CHECK-COUNT-3: memref.load %[[P]][%{{.*}}, %[[B]], %[[S]]] : memref<3x?x?xi64>
// CHECK: %[[INV:.*]] = vector.load %{{.*}}[%[[I0]]] {alignment = 16 : i64} : memref<64xf32>, vector<4xf32>
// CHECK: %[[ANGLE:.*]] = arith.mulf %{{.*}}, %[[INV]] : vector<4xf32>
// CHECK: arith.extf %[[ANGLE]] : vector<4xf32> to vector<4xf64>
// CHECK: arith.constant dense<0x4338000000000000> : vector<4xf64>
// CHECK-NOT: math.roundeven
// CHECK: %[[SINV:.*]] = arith.truncf %{{.*}} : vector<4xf64> to vector<4xf32>
// CHECK: %[[COSV:.*]] = arith.truncf %{{.*}} : vector<4xf64> to vector<4xf32>
// CHECK: vector.store %[[COSV]], %[[COS]][%[[TY]], %[[I0]]]
// CHECK: vector.store %[[SINV]], %[[SIN]][%[[TY]], %[[I0]]]
// CHECK: memref.store %{{.*}}, %[[BOF]][%[[TY]]]
// CHECK: memref.store %{{.*}}, %[[SOF]][%[[TY]]]
// CHECK: gpu.barrier
// CHECK: scf.for %[[R:.*]] = %[[TY]] to %{{.*}} step %c64
// CHECK: %[[H:.*]] = arith.divui %[[R]], %c16
// CHECK: %[[T:.*]] = arith.remui %[[R]], %c16
// CHECK: scf.if
// CHECK: %[[RB:.*]] = memref.load %[[BOF]][%[[T]]]
// CHECK: vector.load %[[Q]][%{{.*}}, %[[H]], %{{.*}}, %[[I0]]] {alignment = 16 : i64} : memref<?x28x?x128xf32>, vector<4xf32>
// CHECK-COUNT-6: vector.load %[[Q]]
// CHECK: vector.load %[[COS]][%[[T]], %[[I0]]]
// CHECK: vector.load %[[SIN]][%[[T]], %[[I0]]]
// CHECK: vector.store %{{.*}}, %[[Q]][%{{.*}}, %[[H]], %{{.*}}, %[[I0]]] {alignment = 16 : i64}
// CHECK: scf.for %{{.*}} = %[[TY]] to
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
// gathers inv_freq[table_index[i]] from it; tokens-per-block is 256 / 5.
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

// -----

// [B, S, H, D] storage seen as [B, H, S, D] through strides (heads 128
// floats apart, tokens 28 * 128): phase 2 walks the rows token-major, token
// r / 28 and head r % 28 (32-bit division), so a warp covers adjacent heads
// of one token; cos/sin still come from the shared table. The batch stride
// is dynamic, so no alignment is asserted on the vector accesses.
// CHECK-LABEL: func.func @token_major
// CHECK: gpu.launch
// CHECK: gpu.barrier
// CHECK: scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step %c64
// CHECK: %[[R32:.*]] = arith.index_castui %[[R]] : index to i32
// CHECK: %[[T:.*]] = arith.divui %[[R32]], %{{.*}} : i32
// CHECK: %[[H:.*]] = arith.remui %[[R32]], %{{.*}} : i32
// CHECK: %[[HI:.*]] = arith.index_castui %[[H]] : i32 to index
// CHECK: vector.load %arg0[%{{.*}}, %[[HI]], %{{.*}}, %{{.*}}] : memref<1x28x?x128xf32, strided<[?, 128, 3584, 1]>>, vector<4xf32>
func.func @token_major(%q: memref<1x28x?x128xf32, strided<[?, 128, 3584, 1]>>,
                       %pos: memref<3x1x?xi64>) {
  rope.apply %q by %pos : memref<1x28x?x128xf32, strided<[?, 128, 3584, 1]>> by memref<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}
