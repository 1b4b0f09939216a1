// RUN: mrope-opt %s --convert-rope-to-loops --split-input-file | FileCheck %s
// RUN: mrope-opt %s --convert-rope-to-loops="tokens-per-block=16 vector-width=16 native-f16=true" --split-input-file | FileCheck %s --check-prefix=W16

// M-RoPE, q and k in one loop nest (defaults: blocks of 32 tokens, 8 lanes).
// The cos/sin rows of two blocks (the one being rotated and the next) and one
// token's angles are stack buffers made once at function entry. Per batch
// row, the first block's table is filled up front: per token the three
// position rows loaded once, the angles of all 8-lane chunks (each chunk of
// [16,24,24] lies in one section: a broadcast, no select), then one loop
// takes sin/cos of one chunk per iteration (f64 reduction, pure arith). Per
// block: every head of q, then of k, over the block's tokens ([B,H,S,D]
// storage), each row in 8-lane chunks of both halves with the table's rows
// [cur, cur + 32); after the g-th of the 32 heads, the rows [g n'/32,
// (g+1) n'/32) of the next block's table (rows 32 - cur + ..).
// CHECK-LABEL: func.func @mrope_qk
// CHECK-SAME: (%[[Q:.*]]: memref<1x28x?x128xf32>, %[[K:.*]]: memref<1x4x?x128xf32>, %[[P:.*]]: memref<3x1x?xi64>)
// CHECK-DAG: %[[INV0:.*]] = arith.constant dense<[1.000000e+00, 0.80584222, {{.*}}]> : vector<8xf32>
// CHECK-DAG: %[[COS:.*]] = memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// CHECK-DAG: %[[SIN:.*]] = memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// CHECK-DAG: %[[ANG:.*]] = memref.alloca() {alignment = 64 : i64} : memref<64xf32>
// CHECK: scf.for %[[B:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for %[[T0:.*]] = %{{.*}} to %{{.*}} step
// CHECK-COUNT-3: memref.load %[[P]][%{{.*}}, %[[B]], %[[T0]]] : memref<3x1x?xi64>
// CHECK-NOT: memref.load
// CHECK-NOT: arith.select {{.*}} vector<8xi1>, vector<8xf32>
// CHECK: %[[ANGLE:.*]] = arith.mulf %{{.*}}, %[[INV0]] : vector<8xf32>
// CHECK: vector.store %[[ANGLE]], %[[ANG]][%c0] : memref<64xf32>, vector<8xf32>
// CHECK-COUNT-7: vector.store %{{.*}}, %[[ANG]]
// CHECK: scf.for %[[C:.*]] = %c0 to %c64 step %c8
// CHECK: %[[A:.*]] = vector.load %[[ANG]][%[[C]]] : memref<64xf32>, vector<8xf32>
// CHECK: arith.extf %[[A]] : vector<8xf32> to vector<8xf64>
// CHECK-NOT: math.roundeven
// CHECK: vector.store %{{.*}}, %[[COS]][%[[T0]], %[[C]]] : memref<64x64xf32>, vector<8xf32>
// CHECK: vector.store %{{.*}}, %[[SIN]][%[[T0]], %[[C]]] : memref<64x64xf32>, vector<8xf32>
// CHECK: scf.for %[[S0:.*]] = %{{.*}} to %{{.*}} step %c32
// CHECK: %[[N:.*]] = arith.minsi
// CHECK: %[[BLK:.*]] = arith.divui %[[S0]], %c32
// CHECK: %[[PAR:.*]] = arith.remui %[[BLK]], %c2
// CHECK: %[[CUR:.*]] = arith.muli %[[PAR]], %c32
// CHECK: %[[NEXTROW:.*]] = arith.subi %c32, %[[CUR]]
// CHECK: %[[NEXTS0:.*]] = arith.addi %[[S0]], %c32
// CHECK: %[[NN:.*]] = arith.maxsi
// CHECK: scf.for %[[H:.*]] = %{{.*}} to %c28 step
// CHECK-NEXT: scf.for %[[T:.*]] = %{{.*}} to %[[N]] step
// CHECK: %[[ROW:.*]] = arith.addi %[[CUR]], %[[T]]
// CHECK: %[[CV:.*]] = vector.load %[[COS]][%[[ROW]], %c0] : memref<64x64xf32>, vector<8xf32>
// CHECK: %[[SV:.*]] = vector.load %[[SIN]][%[[ROW]], %c0] : memref<64x64xf32>, vector<8xf32>
// CHECK: %[[X1:.*]] = vector.load %[[Q]][%[[B]], %[[H]], %{{.*}}, %c0] : memref<1x28x?x128xf32>, vector<8xf32>
// CHECK: %[[X2:.*]] = vector.load %[[Q]][%[[B]], %[[H]], %{{.*}}, %c64] : memref<1x28x?x128xf32>, vector<8xf32>
// CHECK-DAG: %[[MA:.*]] = arith.mulf %[[X1]], %[[CV]]
// CHECK-DAG: %[[ME:.*]] = arith.mulf %[[X2]], %[[SV]]
// CHECK-DAG: %[[Y1:.*]] = arith.subf %[[MA]], %[[ME]]
// CHECK-DAG: %[[MF:.*]] = arith.mulf %[[X2]], %[[CV]]
// CHECK-DAG: %[[MG:.*]] = arith.mulf %[[X1]], %[[SV]]
// CHECK-DAG: %[[Y2:.*]] = arith.addf %[[MF]], %[[MG]]
// CHECK: vector.store %[[Y1]], %[[Q]][%[[B]], %[[H]], %{{.*}}, %c0]
// CHECK: vector.store %[[Y2]], %[[Q]][%[[B]], %[[H]], %{{.*}}, %c64]
// CHECK-COUNT-7: vector.load %[[COS]]
// CHECK: %[[G1:.*]] = arith.addi %[[H]], %c1
// CHECK: %[[HI:.*]] = arith.divui {{.*}}, %c32
// CHECK: %[[LO:.*]] = arith.divui {{.*}}, %c32
// CHECK: scf.for %[[R:.*]] = %[[LO]] to %[[HI]] step
// CHECK: arith.addi %[[NEXTROW]], %[[R]]
// CHECK: %[[NS:.*]] = arith.addi %[[NEXTS0]], %[[R]]
// CHECK: memref.load %[[P]][%c0, %[[B]], %[[NS]]]
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c8
// CHECK: scf.for %{{.*}} = %{{.*}} to %c4 step
// CHECK: vector.load %[[K]]
// CHECK-NOT: vector<64xf32>
// CHECK-NOT: rope.apply
// With 16 lanes and blocks of 16 tokens: chunk [32, 48) spans the h and w
// sections, so its positions are merged by a constant lane mask.
// W16-LABEL: func.func @mrope_qk
// W16-DAG: memref.alloca() {alignment = 64 : i64} : memref<32x64xf32>
// W16-DAG: %[[MASK:.*]] = arith.constant dense<[false, false, false, false, false, false, false, false, true, true, true, true, true, true, true, true]> : vector<16xi1>
// W16: arith.select %[[MASK]], %{{.*}}, %{{.*}} : vector<16xi1>, vector<16xf32>
// W16: vector.load {{.*}} : memref<1x28x?x128xf32>, vector<16xf32>
func.func @mrope_qk(%q: memref<1x28x?x128xf32>, %k: memref<1x4x?x128xf32>, %pos: memref<3x1x?xi64>) {
  rope.apply %q, %k by %pos : memref<1x28x?x128xf32>, memref<1x4x?x128xf32> by memref<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

// [B, S, H, D] storage seen as [B, H, S, D] (heads 128 floats apart, tokens
// 28 * 128): per token, all heads of q then of k, one contiguous stream, then
// that token's row of the next block's table (when there is a next block).
// CHECK-LABEL: func.func @token_major
// CHECK: scf.for %[[S0:.*]] = %{{.*}} to %{{.*}} step %c32
// CHECK: %[[NN:.*]] = arith.maxsi
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT: scf.for %[[H:.*]] = %{{.*}} to %c28 step
// CHECK: vector.load %arg0[%{{.*}}, %[[H]], %{{.*}}, %c0] : memref<1x28x?x128xf32, strided<[?, 128, 3584, 1]>>, vector<8xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %c4 step
// CHECK: vector.load %arg1
// CHECK: %[[T1:.*]] = arith.addi %[[T]], %c1
// CHECK: %[[HI:.*]] = arith.minsi %[[NN]], %[[T1]]
// CHECK: scf.for %{{.*}} = %[[T]] to %[[HI]] step
// CHECK: memref.load %arg2
func.func @token_major(%q: memref<1x28x?x128xf32, strided<[?, 128, 3584, 1]>>,
                       %k: memref<1x4x?x128xf32, strided<[?, 128, 512, 1]>>, %pos: memref<3x1x?xi64>) {
  rope.apply %q, %k by %pos : memref<1x28x?x128xf32, strided<[?, 128, 3584, 1]>>,
      memref<1x4x?x128xf32, strided<[?, 128, 512, 1]>> by memref<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

// GPT-J pairs on a partial rotary dim: the 8 frequencies are one chunk; the
// table holds [c0 c0 c1 c1 ..] and [-s0 s0 -s1 s1 ..] (16 lanes), the row
// chunks of 8 lanes swap pairs in registers; channels 16..63 are untouched.
// One position row ([B, S]) is loaded once per token.
// CHECK-LABEL: func.func @gptj_partial
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64x16xf32>
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x?xi32>
// CHECK: arith.sitofp %{{.*}} : i32 to f32
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7] : vector<8xf32>, vector<8xf32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [8, 0, 9, 1, 10, 2, 11, 3, 12, 4, 13, 5, 14, 6, 15, 7] : vector<8xf32>, vector<8xf32>
// CHECK: %[[X:.*]] = vector.load %{{.*}} : memref<?x8x?x64xf32>, vector<16xf32>
// CHECK: vector.shuffle %[[X]], %[[X]] [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14]
// CHECK: vector.store %{{.*}} : memref<?x8x?x64xf32>, vector<16xf32>
// CHECK-NOT: vector.store %{{.*}} : memref<?x8x?x64xf32>
func.func @gptj_partial(%x: memref<?x8x?x64xf32>, %pos: memref<?x?xi32>) {
  rope.apply %x by %pos : memref<?x8x?x64xf32> by memref<?x?xi32>
      with #rope.semantics<sections = [8], rotary_dim = 16, theta = 1.0e4, layout = gptj>
  return
}

// -----

// An explicit frequency table is loaded once, outside the loops; vision
// frequencies restart per section, so each 8-lane chunk of the 40 lanes is a
// shuffle of the 20-entry table. bf16 storage is widened by a shift and
// rounded back with integer code (no arith.extf/truncf on bf16: LLVM would
// call __truncsfbf2), with or without native f16.
// CHECK-LABEL: func.func @vision_table_bf16
// CHECK: %[[T:.*]] = vector.load %{{.*}}[%{{.*}}] : memref<20xf32>, vector<20xf32>
// CHECK: vector.shuffle %[[T]], %[[T]] [16, 17, 18, 19, 0, 1, 2, 3] : vector<20xf32>, vector<20xf32>
// CHECK: scf.for
// CHECK: vector.load {{.*}} : memref<1x16x?x80xbf16>, vector<8xbf16>
// CHECK: arith.bitcast %{{.*}} : vector<8xbf16> to vector<8xi16>
// CHECK: arith.extui %{{.*}} : vector<8xi16> to vector<8xi32>
// CHECK: arith.cmpf uno
// CHECK: arith.trunci %{{.*}} : vector<8xi32> to vector<8xi16>
// CHECK: arith.bitcast %{{.*}} : vector<8xi16> to vector<8xbf16>
// CHECK-NOT: arith.extf {{.*}}bf16
// CHECK-NOT: arith.truncf {{.*}}bf16
// W16-LABEL: func.func @vision_table_bf16
// W16-NOT: arith.truncf {{.*}}bf16
func.func @vision_table_bf16(%x: memref<1x16x?x80xbf16>, %pos: memref<2x1x?xi64>, %inv: memref<20xf32>) {
  rope.apply %x by %pos freqs %inv : memref<1x16x?x80xbf16> by memref<2x1x?xi64> freqs memref<20xf32>
      with #rope.semantics<sections = [20, 20], rotary_dim = 80, theta = 1.0e4, freqs = per_section>
  return
}

// -----

// f16: integer code by default (no F16C on the x86-64 baseline: LLVM would
// call __extendhfsf2/__truncsfhf2); arith.extf/truncf with native-f16.
// CHECK-LABEL: func.func @half
// CHECK: arith.bitcast %{{.*}} : vector<8xf16> to vector<8xi16>
// CHECK-NOT: arith.extf {{.*}}f16
// CHECK-NOT: arith.truncf {{.*}}f16
// W16-LABEL: func.func @half
// W16: arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
// W16: arith.truncf %{{.*}} : vector<16xf32> to vector<16xf16>
func.func @half(%x: memref<1x2x?x64xf16>, %pos: memref<1x?xi64>) {
  rope.apply %x by %pos : memref<1x2x?x64xf16> by memref<1x?xi64>
      with #rope.semantics<sections = [32], rotary_dim = 64, theta = 1.0e4>
  return
}
