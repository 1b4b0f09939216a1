//===- RopeToGPU.cpp - in-place rope.apply -> one gpu.launch --------------===//
//
// One kernel rotates every tensor of a rope.apply (q and k) for a block of
// T tokens:
//
//   blockDim = (F / V, T, 1)        V consecutive frequencies per thread
//   gridDim  = (ceil(B * S / T), 1, 1)
//
// Phase 1: thread (x, y) of block bx takes token bx * T + y and frequencies
// [x V, x V + V): it forms the V angles f32(p[axis(i)]) * inv_freq[i], takes
// sin and cos once (f64 range reduction, pure arith: no libdevice) and
// stores them in the block's cos/sin table in shared memory (workgroup
// attributions of the gpu.launch). A barrier.
// Phase 2: the block's rows (one head of one token each) in storage order,
// [B, H, S, D] head-major or [B, S, H, D] token-major (read from the memref
// strides, as on the CPU): row slot y takes rows y, y + T, ..., thread x of
// the slot its V-lane chunk of both halves, cos/sin from the shared table.
// A warp's accesses are consecutive 16-byte vectors of adjacent rows
// (coalesced) in either layout.
//
// Fused (RopeGpuFusion, `--fuse norm,cache`): between the loads and the
// rotation of a row, its RMSNorm: the F / V threads that hold the row are
// adjacent lanes of one warp, so their sums of squares meet with butterfly
// shuffles; after the rotation the row goes to its destination (the KV
// cache at a token offset) instead of back in place.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/RopeToGPU/RopeToGPU.h"

#include "mrope/Conversion/Passes.h"
#include "mrope/Conversion/RopeCommon/RopeCommon.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/SymbolTable.h"

namespace mrope {
#define GEN_PASS_DEF_CONVERTROPETOGPU
#include "mrope/Conversion/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;
using namespace mrope::rope;

namespace {

int64_t elementBytes(Value buffer) {
  return cast<MemRefType>(buffer.getType()).getElementTypeBitWidth() / 8;
}

/// True when every row start of `type` ([B, H, S, D]) is a multiple of
/// `elems` elements away from the base pointer, so that vectors of `elems`
/// elements at channel offsets that are multiples of `elems` stay aligned
/// (given an aligned base pointer).
bool rowsAligned(MemRefType type, int64_t elems) {
  auto [strides, offset] = type.getStridesAndOffset();
  if (strides.size() != 4 || strides.back() != 1)
    return false;
  if (type.getLayout().isIdentity()) {
    int64_t d = type.getDimSize(3);
    return !ShapedType::isDynamic(d) && d % elems == 0;
  }
  if (ShapedType::isDynamic(offset) || offset % elems != 0)
    return false;
  for (int64_t stride : ArrayRef<int64_t>(strides).drop_back())
    if (ShapedType::isDynamic(stride) || stride % elems != 0)
      return false;
  return true;
}

/// A private constant memref.global holding `values`, inserted at the start
/// of `module` under a unique name based on `base`.
memref::GlobalOp createTable(RewriterBase &rewriter, ModuleOp module,
                             Location loc, StringRef base, Type elemType,
                             ArrayRef<Attribute> values) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToStart(module.getBody());
  auto memrefType =
      MemRefType::get({static_cast<int64_t>(values.size())}, elemType);
  auto tensorType =
      RankedTensorType::get({static_cast<int64_t>(values.size())}, elemType);
  auto global = memref::GlobalOp::create(
      rewriter, loc, base, rewriter.getStringAttr("private"), memrefType,
      DenseElementsAttr::get(tensorType, values), /*constant=*/true,
      rewriter.getI64IntegerAttr(16));
  SymbolTable(module).insert(global); // renames on a clash
  return global;
}

} // namespace

FailureOr<RopeLaunchShape>
mrope::chooseRopeLaunchShape(ApplyOp op, const RopeToGPUOptions &options,
                             std::string &why) {
  if (failed(checkLowerableApply(op, why)))
    return failure();
  SemanticsAttr sem = op.getSemantics();
  const int64_t numFreqs = sem.getNumFreqs();
  int64_t elemBytes = elementBytes(op.getInputs().front());
  int64_t v = options.freqsPerThread;
  if (v <= 0) {
    v = std::max<int64_t>(1, 16 / elemBytes);
    while (numFreqs % v != 0)
      v /= 2;
  } else if (numFreqs % v != 0) {
    why = "freqs-per-thread " + std::to_string(v) +
          " does not divide the number of frequencies " +
          std::to_string(numFreqs);
    return failure();
  }
  RopeLaunchShape shape;
  shape.freqsPerThread = v;
  shape.blockX = numFreqs / v;
  shape.tokensPerBlock = options.tokensPerBlock > 0
                             ? options.tokensPerBlock
                             : std::max<int64_t>(1, 256 / shape.blockX);
  if (shape.blockX * shape.tokensPerBlock > 1024) {
    why = "a block of " + std::to_string(shape.blockX) + " x " +
          std::to_string(shape.tokensPerBlock) +
          " threads exceeds 1024; lower tokens-per-block";
    return failure();
  }
  // The two cos/sin tables of a block must fit the 48 KiB of static shared
  // memory every CUDA device has.
  int64_t tableWidth =
      sem.getLayout() == PairLayout::neox ? numFreqs : 2 * numFreqs;
  int64_t tableBytes = 2 * shape.tokensPerBlock * tableWidth * 4;
  if (tableBytes > 48 * 1024) {
    why = "the cos/sin tables of " + std::to_string(shape.tokensPerBlock) +
          " tokens take " + std::to_string(tableBytes) +
          " bytes of shared memory (at most 49152); lower tokens-per-block";
    return failure();
  }
  // Alignment the vector accesses may assume: only when every buffer keeps
  // V-element vectors on V-element boundaries (the base pointers themselves
  // must be 16-byte aligned, which cudaMalloc guarantees; see docs/gpu.md).
  shape.vectorAlignment = 0;
  bool aligned = llvm::all_of(op.getInputs(), [&](Value input) {
    return elementBytes(input) == elemBytes &&
           rowsAligned(cast<MemRefType>(input.getType()), v);
  });
  if (aligned && v > 1 && numFreqs % v == 0)
    shape.vectorAlignment = std::min<int64_t>(16, v * elemBytes);
  return shape;
}

namespace {

/// Per-frequency constant tables of a kernel (kernel outlining copies them
/// into the gpu.module); null where not needed.
struct FreqTables {
  /// inv_freq, when the op has no table operand.
  memref::GlobalOp inv;
  /// The position axis of each frequency, when there is more than one.
  memref::GlobalOp axis;
  /// The index into the op's table, when it is not indexed 1:1.
  memref::GlobalOp index;
};

FreqTables createFreqTables(RewriterBase &rewriter, ModuleOp module,
                            ApplyOp op) {
  SemanticsAttr sem = op.getSemantics();
  const int64_t numFreqs = sem.getNumFreqs();
  Location loc = op.getLoc();
  Builder &attrs = rewriter;
  FreqTables tables;
  if (!op.getInvFreq()) {
    SmallVector<Attribute> lanes;
    for (float inv : invFreqOfEachFreq(sem))
      lanes.push_back(attrs.getF32FloatAttr(inv));
    tables.inv = createTable(rewriter, module, loc, "__rope_inv_freq",
                             attrs.getF32Type(), lanes);
  } else if (!tableIndexIsIdentity(sem)) {
    SmallVector<Attribute> lanes;
    for (int64_t i = 0; i < numFreqs; ++i)
      lanes.push_back(attrs.getI32IntegerAttr(sem.tableIndexOfFreq(i)));
    tables.index = createTable(rewriter, module, loc, "__rope_table_index",
                               attrs.getI32Type(), lanes);
  }
  if (sem.getNumAxes() > 1) {
    SmallVector<Attribute> lanes;
    for (int64_t i = 0; i < numFreqs; ++i)
      lanes.push_back(attrs.getI32IntegerAttr(sem.axisOfFreq(i)));
    tables.axis = createTable(rewriter, module, loc, "__rope_axis_of_freq",
                              attrs.getI32Type(), lanes);
  }
  return tables;
}

/// Row r of a tensor in phase 2: whether it is in the block, and its
/// indices (b and s read from the block's token table by `locate`).
struct Row {
  Value valid, b, h, s, t;
};

/// The kernel of one rope.apply, built top-down as the file comment shows:
/// the launch (emit), phase 1 (emitTablePhase) and phase 2
/// (emitRotatePhase). Members hold what both phases read.
class Kernel {
public:
  Kernel(ApplyOp op, const RopeLaunchShape &shape,
         const RopeToGPUOptions &options, const FreqTables &freqTables,
         const RopeGpuFusion &fusion);
  /// The launch, guarded against an empty batch, at b's insertion point.
  void emit(ImplicitLocOpBuilder &b);

private:
  gpu::LaunchOp emitLaunch(ImplicitLocOpBuilder &b);
  void emitKernelSizes(ImplicitLocOpBuilder &b, gpu::LaunchOp launch);
  void emitTablePhase(ImplicitLocOpBuilder &b);
  Value emitLanePositions(ImplicitLocOpBuilder &b, Value bi, Value si);
  Value emitLaneInvFreq(ImplicitLocOpBuilder &b);
  void emitRotatePhase(ImplicitLocOpBuilder &b);
  void emitFusionOperands(ImplicitLocOpBuilder &b);
  void normalizeRows(ImplicitLocOpBuilder &b, ArrayRef<Value> weight,
                     MutableArrayRef<Value> x1, MutableArrayRef<Value> x2);
  Row rowAt(ImplicitLocOpBuilder &b, Value r, Value rows, Value numHeads);
  void locate(ImplicitLocOpBuilder &b, Row &row);
  Value loadF32(ImplicitLocOpBuilder &b, Value buffer, const Row &row,
                Value channel);
  void storeF32(ImplicitLocOpBuilder &b, Value y, Value buffer, const Row &row,
                Value channel);
  void rotateRows(ImplicitLocOpBuilder &b, unsigned input, Value r0,
                  Value rows);

  ApplyOp op;
  SemanticsAttr sem;
  FreqTables freqTables;
  RopeGpuFusion fusion;
  // Per input: its norm weight's chunks of this thread (x1's, x2's; empty:
  // no norm), where its rows go, and that buffer's token count (null: in
  // place).
  SmallVector<SmallVector<Value, 2>> weightChunks;
  SmallVector<Value> outputs, outputSeqs;
  int64_t numFreqs, numAxes, v, T, blockX, heads, width;
  bool neox, tokenMajor;
  llvm::MaybeAlign align;
  Type f32, i32;
  VectorType laneF32, laneI32;
  // Workgroup memory: the block's cos/sin rows and its tokens' batch rows and
  // positions.
  Value cosTab, sinTab, batchOf, seqOf;
  // Kernel values: sizes, thread ids, the first frequency (i0) and table
  // column (col) of the thread, the block's first token and token count.
  Value seq, numTokens, tx, ty, tok0, i0, col, count, channel1;
  SmallVector<Value> headCounts;
};

Value idx(ImplicitLocOpBuilder &b, int64_t value) {
  return arith::ConstantIndexOp::create(b, value);
}

Kernel::Kernel(ApplyOp op, const RopeLaunchShape &shape,
               const RopeToGPUOptions &options, const FreqTables &freqTables,
               const RopeGpuFusion &fusion)
    : op(op), sem(op.getSemantics()), freqTables(freqTables), fusion(fusion) {
  numFreqs = sem.getNumFreqs();
  numAxes = sem.getNumAxes();
  v = shape.freqsPerThread;
  T = shape.tokensPerBlock;
  blockX = shape.blockX;
  heads = std::max<int64_t>(1, options.headsPerIteration);
  align = shape.vectorAlignment ? llvm::MaybeAlign(shape.vectorAlignment)
                                : llvm::MaybeAlign();
  neox = sem.getLayout() == PairLayout::neox;
  width = neox ? v : 2 * v;
  tokenMajor = llvm::all_of(op.getInputs(), [](Value input) {
    return isTokenMajor(cast<MemRefType>(input.getType()));
  });
  MLIRContext *ctx = op.getContext();
  f32 = Float32Type::get(ctx);
  i32 = IntegerType::get(ctx, 32);
  laneF32 = VectorType::get({v}, f32);
  laneI32 = VectorType::get({v}, i32);
}

void Kernel::emit(ImplicitLocOpBuilder &b) {
  gpu::LaunchOp launch = emitLaunch(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  gpu::TerminatorOp::create(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  emitKernelSizes(b, launch);
  emitTablePhase(b);
  gpu::BarrierOp::create(b);
  emitRotatePhase(b);
}

// Host side: grid over tokens; no launch at all for an empty batch (a
// zero-sized grid is an error for CUDA). The block's cos/sin rows live in
// workgroup (shared) memory: neox [T, F], gptj [T, 2F] ([c0 c0 c1 c1 ..],
// [-s0 s0 -s1 s1 ..]); next to them the batch row and position of each of
// its tokens (phase 2 would otherwise divide by S for every row).
gpu::LaunchOp Kernel::emitLaunch(ImplicitLocOpBuilder &b) {
  auto workgroup =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto tableType = MemRefType::get({T, neox ? numFreqs : 2 * numFreqs}, f32,
                                   MemRefLayoutAttrInterface(), workgroup);
  auto tokenType =
      MemRefType::get({T}, i32, MemRefLayoutAttrInterface(), workgroup);
  Value anyInput = op.getInputs().front();
  Value c0 = idx(b, 0), c1 = idx(b, 1);
  Value tokens = arith::MulIOp::create(b, memref::DimOp::create(b, anyInput, 0),
                                       memref::DimOp::create(b, anyInput, 2));
  Value grid = arith::CeilDivUIOp::create(b, tokens, idx(b, T));
  Value nonEmpty =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, tokens, c0);
  auto ifOp = scf::IfOp::create(b, nonEmpty, /*withElse=*/false);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  auto launch = gpu::LaunchOp::create(
      b, grid, c1, c1, idx(b, blockX), idx(b, T), c1,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/ValueRange{},
      /*workgroupAttributions=*/
      TypeRange{tableType, tableType, tokenType, tokenType});
  cosTab = launch.getWorkgroupAttributions()[0];
  sinTab = launch.getWorkgroupAttributions()[1];
  batchOf = launch.getWorkgroupAttributions()[2];
  seqOf = launch.getWorkgroupAttributions()[3];
  return launch;
}

// The sizes of every buffer are read first, in operand order, so that an
// outlined kernel takes q, k, ... and then positions (the order
// mrope-compile documents and checks).
void Kernel::emitKernelSizes(ImplicitLocOpBuilder &b, gpu::LaunchOp launch) {
  Value anyInput = op.getInputs().front();
  Value batch = memref::DimOp::create(b, anyInput, 0);
  seq = memref::DimOp::create(b, anyInput, 2);
  for (Value input : op.getInputs())
    headCounts.push_back(memref::DimOp::create(b, input, 1));
  numTokens = arith::MulIOp::create(b, batch, seq);
  tx = launch.getThreadIds().x;
  ty = launch.getThreadIds().y;
  tok0 = arith::MulIOp::create(b, launch.getBlockIds().x, idx(b, T));
  i0 = arith::MulIOp::create(b, tx, idx(b, v));
  col = neox ? i0 : arith::MulIOp::create(b, i0, idx(b, 2));
}

// Phase 1: thread (x, y) takes sin/cos of frequencies [x V, x V + V) of the
// block's token y, once, into the shared table; thread (0, y) also records
// the token's batch row and position.
void Kernel::emitTablePhase(ImplicitLocOpBuilder &b) {
  Value token = arith::AddIOp::create(b, tok0, ty);
  Value inRange =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, token, numTokens);
  auto guard = scf::IfOp::create(b, inRange, /*withElse=*/false);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(&guard.getThenRegion().front());
  Value bi = arith::DivUIOp::create(b, token, seq);
  Value si = arith::RemUIOp::create(b, token, seq);
  Value pos = emitLanePositions(b, bi, si);
  Value invFreq = emitLaneInvFreq(b);
  Value angle = arith::MulFOp::create(b, pos, invFreq);
  auto [cosV, sinV] = emitTableEntries(b, angle, neox);
  vector::StoreOp::create(b, cosV, cosTab, ValueRange{ty, col});
  vector::StoreOp::create(b, sinV, sinTab, ValueRange{ty, col});
  Value first =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tx, idx(b, 0));
  auto once = scf::IfOp::create(b, first, /*withElse=*/false);
  b.setInsertionPointToStart(&once.getThenRegion().front());
  memref::StoreOp::create(b, arith::IndexCastOp::create(b, i32, bi), batchOf,
                          ValueRange{ty});
  memref::StoreOp::create(b, arith::IndexCastOp::create(b, i32, si), seqOf,
                          ValueRange{ty});
}

// f32(p) of every axis, broadcast; each lane keeps its frequency's axis.
Value Kernel::emitLanePositions(ImplicitLocOpBuilder &b, Value bi, Value si) {
  auto loadPos = [&](int64_t axis) -> Value {
    return vector::BroadcastOp::create(
        b, laneF32, loadPositionF32(b, op.getPositions(), axis, bi, si));
  };
  Value pos = loadPos(0);
  if (!freqTables.axis)
    return pos;
  Value table = memref::GetGlobalOp::create(b, freqTables.axis.getType(),
                                            freqTables.axis.getSymName());
  Value axes =
      vector::LoadOp::create(b, laneI32, table, ValueRange{i0}, false,
                             llvm::MaybeAlign(std::min<int64_t>(16, 4 * v)));
  for (int64_t a = 1; a < numAxes; ++a) {
    Value mask = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq, axes,
        arith::ConstantOp::create(
            b, DenseElementsAttr::get(laneI32, b.getI32IntegerAttr(a))));
    pos = arith::SelectOp::create(b, mask, loadPos(a), pos);
  }
  return pos;
}

// inv_freq of the thread's V frequencies: the constant table, the op's
// table, or the op's table through the index table (lane by lane).
Value Kernel::emitLaneInvFreq(ImplicitLocOpBuilder &b) {
  Value invFreqOperand = op.getInvFreq();
  if (freqTables.inv) {
    Value table = memref::GetGlobalOp::create(b, freqTables.inv.getType(),
                                              freqTables.inv.getSymName());
    return vector::LoadOp::create(
        b, laneF32, table, ValueRange{i0}, false,
        llvm::MaybeAlign(std::min<int64_t>(16, 4 * v)));
  }
  if (!freqTables.index)
    return vector::LoadOp::create(b, laneF32, invFreqOperand, ValueRange{i0});
  Value table = memref::GetGlobalOp::create(b, freqTables.index.getType(),
                                            freqTables.index.getSymName());
  SmallVector<Value> lanes;
  for (int64_t l = 0; l < v; ++l) {
    Value at = arith::AddIOp::create(b, i0, idx(b, l));
    Value j = arith::IndexCastOp::create(b, b.getIndexType(),
                                         memref::LoadOp::create(b, table, at));
    lanes.push_back(memref::LoadOp::create(b, invFreqOperand, j));
  }
  return vector::FromElementsOp::create(b, laneF32, lanes);
}

// Phase 2: the block's rows (one head of one token each) in storage order:
// [B, H, S, D]: head-major, the T rows of a head adjacent; [B, S, H, D]:
// token-major, a token's heads adjacent. Row slot y of the block takes rows
// y, y + T, ...; thread x of the slot its V-lane chunk, so a warp reads and
// writes consecutive 16-byte vectors of adjacent rows (coalesced), with
// cos/sin from the shared table.
void Kernel::emitRotatePhase(ImplicitLocOpBuilder &b) {
  count = arith::MinUIOp::create(b, idx(b, T),
                                 arith::SubIOp::create(b, numTokens, tok0));
  channel1 = neox ? arith::AddIOp::create(b, i0, idx(b, numFreqs)) : Value();
  emitFusionOperands(b);
  Value step = idx(b, T * heads);
  // Head-major, rows = H * T: every row slot y < T runs the same number of
  // iterations (ceil((H T - y) / (heads T)) does not depend on y), so the
  // lanes of a warp stay converged for the fused norm's shuffles.
  for (auto [input, numHeads] : llvm::enumerate(headCounts)) {
    Value rows =
        arith::MulIOp::create(b, numHeads, tokenMajor ? count : idx(b, T));
    scf::ForOp::create(b, ty, rows, step, ValueRange{},
                       [&, input = input](OpBuilder &nested, Location l,
                                          Value r0, ValueRange) {
                         ImplicitLocOpBuilder hb(l, nested);
                         rotateRows(hb, input, r0, rows);
                         scf::YieldOp::create(hb);
                       });
  }
}

// The fusion's operands, read once per thread in the order the kernel's ABI
// lists them (outlining makes captured values parameters in first-use
// order): every norm weight, then every destination, then the offset.
void Kernel::emitFusionOperands(ImplicitLocOpBuilder &b) {
  unsigned n = op.getInputs().size();
  weightChunks.assign(n, {});
  outputs.assign(op.getInputs().begin(), op.getInputs().end());
  outputSeqs.assign(n, Value());
  for (unsigned i = 0; i < fusion.normWeights.size(); ++i) {
    Value w = fusion.normWeights[i];
    if (!w)
      continue;
    Type elem = cast<MemRefType>(w.getType()).getElementType();
    auto load = [&](Value at) -> Value {
      Value x = vector::LoadOp::create(b, VectorType::get({width}, elem), w,
                                       ValueRange{at}, false, align);
      return elem.isF32()
                 ? x
                 : arith::ExtFOp::create(b, VectorType::get({width}, f32), x);
    };
    weightChunks[i].push_back(load(col));
    if (neox)
      weightChunks[i].push_back(load(channel1));
  }
  for (unsigned i = 0; i < fusion.outputs.size(); ++i) {
    if (!fusion.outputs[i])
      continue;
    outputs[i] = fusion.outputs[i];
    outputSeqs[i] = memref::DimOp::create(b, outputs[i], 2);
  }
}

// RMSNorm of the rows x1[u] (and x2[u]): each thread's sum of squares of its
// chunk; the F / V threads of a row are adjacent lanes of one warp (F / V a
// power of two <= 32, whole warps per block), so xor-shuffles over offsets
// F / 2V .. 1 leave every lane with the row's sum; then x * 1/sqrt(sum / D +
// eps) * weight, in f32 (sqrt and reciprocal correctly rounded: sqrt.rn and
// rcp.rn, no libdevice). Rows outside the block hold zeros and take part,
// so that every lane of the warp reaches the shuffles.
void Kernel::normalizeRows(ImplicitLocOpBuilder &b, ArrayRef<Value> weight,
                           MutableArrayRef<Value> x1,
                           MutableArrayRef<Value> x2) {
  SmallVector<Value> sums;
  for (auto [a, c] : llvm::zip(x1, x2)) {
    Value sq = arith::MulFOp::create(b, a, a);
    if (c)
      sq = arith::AddFOp::create(b, sq, arith::MulFOp::create(b, c, c));
    sums.push_back(
        vector::ReductionOp::create(b, vector::CombiningKind::ADD, sq));
  }
  for (int64_t offset = blockX / 2; offset >= 1; offset /= 2)
    for (Value &sum : sums) {
      auto other = gpu::ShuffleOp::create(b, sum, offset, /*width=*/32,
                                          gpu::ShuffleMode::XOR);
      sum = arith::AddFOp::create(b, sum, other.getShuffleResult());
    }
  auto vecF32 = VectorType::get({width}, f32);
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(value));
  };
  Value dim = constant(static_cast<double>(2 * numFreqs));
  Value eps = constant(fusion.eps);
  for (auto [u, sum] : llvm::enumerate(sums)) {
    Value mean = arith::DivFOp::create(b, sum, dim);
    // llvm.nvvm.sqrt.rn.f: convert-gpu-to-nvvm turns math.sqrt into a
    // libdevice call and refuses llvm.intr.sqrt.
    Value root = LLVM::CallIntrinsicOp::create(
                     b, f32, b.getStringAttr("llvm.nvvm.sqrt.rn.f"),
                     ValueRange{arith::AddFOp::create(b, mean, eps)})
                     .getResult(0);
    Value scale = vector::BroadcastOp::create(
        b, vecF32, arith::DivFOp::create(b, constant(1.0), root));
    x1[u] = arith::MulFOp::create(b, arith::MulFOp::create(b, x1[u], scale),
                                  weight[0]);
    if (x2[u])
      x2[u] = arith::MulFOp::create(b, arith::MulFOp::create(b, x2[u], scale),
                                    weight[1]);
  }
}

// Row r of a tensor with `numHeads` heads: [B, H, S, D]: head r / T, token
// r % T (T static: shifts), valid while the token is in the block;
// [B, S, H, D]: token r / heads, head r % heads (32-bit division).
Row Kernel::rowAt(ImplicitLocOpBuilder &b, Value r, Value rows,
                  Value numHeads) {
  Row row;
  row.valid = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, r, rows);
  if (tokenMajor) {
    Value r32 = arith::IndexCastUIOp::create(b, i32, r);
    Value h32 = arith::IndexCastUIOp::create(b, i32, numHeads);
    row.t = arith::IndexCastUIOp::create(b, b.getIndexType(),
                                         arith::DivUIOp::create(b, r32, h32));
    row.h = arith::IndexCastUIOp::create(b, b.getIndexType(),
                                         arith::RemUIOp::create(b, r32, h32));
  } else {
    row.h = arith::DivUIOp::create(b, r, idx(b, T));
    row.t = arith::RemUIOp::create(b, r, idx(b, T));
    row.valid = arith::AndIOp::create(
        b, row.valid,
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row.t, count));
  }
  return row;
}

// The batch row and position of a valid row's token, from the table.
void Kernel::locate(ImplicitLocOpBuilder &b, Row &row) {
  row.b = arith::IndexCastUIOp::create(
      b, b.getIndexType(),
      memref::LoadOp::create(b, batchOf, ValueRange{row.t}));
  row.s = arith::IndexCastUIOp::create(
      b, b.getIndexType(), memref::LoadOp::create(b, seqOf, ValueRange{row.t}));
}

Value Kernel::loadF32(ImplicitLocOpBuilder &b, Value buffer, const Row &row,
                      Value channel) {
  Type elem = cast<MemRefType>(buffer.getType()).getElementType();
  Value x = vector::LoadOp::create(b, VectorType::get({width}, elem), buffer,
                                   ValueRange{row.b, row.h, row.s, channel},
                                   false, align);
  if (!elem.isF32())
    x = arith::ExtFOp::create(b, VectorType::get({width}, f32), x);
  return x;
}

void Kernel::storeF32(ImplicitLocOpBuilder &b, Value y, Value buffer,
                      const Row &row, Value channel) {
  Type elem = cast<MemRefType>(buffer.getType()).getElementType();
  if (!elem.isF32())
    y = arith::TruncFOp::create(b, VectorType::get({width}, elem), y);
  vector::StoreOp::create(
      b, y, buffer, ValueRange{row.b, row.h, row.s, channel}, false, align);
}

// `heads` rows per slot and iteration: all loads (guarded by the row count)
// issued before the first store.
void Kernel::rotateRows(ImplicitLocOpBuilder &b, unsigned input, Value r0,
                        Value rows) {
  Value buffer = op.getInputs()[input];
  Value numHeads = headCounts[input];
  SmallVector<Row> rowList;
  SmallVector<Value> x1, x2;
  auto vecF32 = VectorType::get({width}, f32);
  Value zero = arith::ConstantOp::create(
      b, DenseElementsAttr::get(vecF32, b.getF32FloatAttr(0)));
  for (int64_t u = 0; u < heads; ++u) {
    Value r = u == 0 ? r0 : arith::AddIOp::create(b, r0, idx(b, u * T));
    rowList.push_back(rowAt(b, r, rows, numHeads));
    Row &row = rowList.back();
    SmallVector<Type> types(neox ? 2 : 1, vecF32);
    auto load = scf::IfOp::create(b, types, row.valid,
                                  /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&load.getThenRegion().front());
      locate(b, row);
      SmallVector<Value> values{loadF32(b, buffer, row, col)};
      if (neox)
        values.push_back(loadF32(b, buffer, row, channel1));
      scf::YieldOp::create(b, values);
      b.setInsertionPointToStart(&load.getElseRegion().front());
      scf::YieldOp::create(b, SmallVector<Value>(types.size(), zero));
    }
    x1.push_back(load.getResult(0));
    x2.push_back(neox ? load.getResult(1) : Value());
  }
  if (!weightChunks[input].empty())
    normalizeRows(b, weightChunks[input], x1, x2);
  Value out = outputs[input];
  for (int64_t u = 0; u < heads; ++u) {
    Row &row = rowList[u];
    auto store = scf::IfOp::create(b, row.valid, /*withElse=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&store.getThenRegion().front());
    locate(b, row);
    Value c = vector::LoadOp::create(b, vecF32, cosTab, ValueRange{row.t, col});
    Value s = vector::LoadOp::create(b, vecF32, sinTab, ValueRange{row.t, col});
    SmallVector<std::pair<Value, Value>, 2> results;
    if (neox) {
      auto [y1, y2] = emitRotateHalves(b, x1[u], x2[u], c, s);
      results = {{y1, col}, {y2, channel1}};
    } else {
      results = {{emitRotatePairs(b, x1[u], c, s), col}};
    }
    Row at = row;
    if (outputSeqs[input]) {
      // Token s goes to token offset + s of the destination, when it has one.
      if (fusion.outputSeqOffset)
        at.s = arith::AddIOp::create(b, row.s, fusion.outputSeqOffset);
      Value fits = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, at.s,
                                         outputSeqs[input]);
      auto inside = scf::IfOp::create(b, fits, /*withElse=*/false);
      b.setInsertionPointToStart(&inside.getThenRegion().front());
    }
    for (auto [y, channel] : results)
      storeF32(b, y, out, at, channel);
  }
}

} // namespace

/// What the fused kernel needs beyond the plain one (see the header).
static LogicalResult checkFusion(ApplyOp op, const RopeLaunchShape &shape,
                                 const RopeGpuFusion &fusion,
                                 std::string &why) {
  unsigned n = op.getInputs().size();
  if ((!fusion.normWeights.empty() && fusion.normWeights.size() != n) ||
      (!fusion.outputs.empty() && fusion.outputs.size() != n)) {
    why = "the fusion names a different number of tensors than the op rotates";
    return failure();
  }
  auto firstType = cast<MemRefType>(op.getInputs().front().getType());
  int64_t d = firstType.getDimSize(3);
  for (auto [i, input] : llvm::enumerate(op.getInputs())) {
    auto type = cast<MemRefType>(input.getType());
    if (isTokenMajor(type)) {
      why = "the fused kernel takes [B, H, S, D] storage only";
      return failure();
    }
    if (Value w =
            fusion.normWeights.empty() ? Value() : fusion.normWeights[i]) {
      auto wt = cast<MemRefType>(w.getType());
      if (wt.getRank() != 1 || wt.getDimSize(0) != d ||
          !wt.getLayout().isIdentity() ||
          (!wt.getElementType().isF32() &&
           wt.getElementType() != type.getElementType())) {
        why = "a norm weight must be a contiguous [D] memref of f32 or the "
              "tensor's element type";
        return failure();
      }
    }
    if (Value out = fusion.outputs.empty() ? Value() : fusion.outputs[i]) {
      auto ot = cast<MemRefType>(out.getType());
      if (ot.getRank() != 4 || ot.getDimSize(3) != d ||
          ot.getElementType() != type.getElementType() ||
          (shape.vectorAlignment &&
           !rowsAligned(ot, shape.vectorAlignment /
                                (ot.getElementTypeBitWidth() / 8)))) {
        why = "a destination must be a [B, H, Smax, D] memref of the tensor's "
              "element type with rows as aligned as the tensor's";
        return failure();
      }
    }
  }
  if (fusion.normWeights.empty())
    return success();
  SemanticsAttr sem = op.getSemantics();
  if (ShapedType::isDynamic(d) || sem.getRotaryDim() != d) {
    why = "the fused norm needs rotary_dim == head_dim (a static D)";
    return failure();
  }
  if (!llvm::isPowerOf2_64(shape.blockX) || shape.blockX > 32) {
    why = "a row is held by " + std::to_string(shape.blockX) +
          " threads; the fused norm needs a power of two <= 32 (one warp)";
    return failure();
  }
  if ((shape.blockX * shape.tokensPerBlock) % 32 != 0) {
    why = "the fused norm needs whole warps per block (blockDim.x * "
          "tokens-per-block a multiple of 32)";
    return failure();
  }
  return success();
}

LogicalResult mrope::lowerRopeApplyToGPU(RewriterBase &rewriter, ApplyOp op,
                                         const RopeToGPUOptions &options,
                                         std::string &why) {
  return lowerRopeApplyToGPU(rewriter, op, options, RopeGpuFusion(), why);
}

LogicalResult mrope::lowerRopeApplyToGPU(RewriterBase &rewriter, ApplyOp op,
                                         const RopeToGPUOptions &options,
                                         const RopeGpuFusion &fusion,
                                         std::string &why) {
  FailureOr<RopeLaunchShape> shape = chooseRopeLaunchShape(op, options, why);
  if (failed(shape))
    return failure();
  if (!fusion.empty() && failed(checkFusion(op, *shape, fusion, why)))
    return failure();
  auto module = op->getParentOfType<ModuleOp>();
  if (!module) {
    why = "it is not inside a builtin.module (the kernel's tables are globals)";
    return failure();
  }
  FreqTables freqTables = createFreqTables(rewriter, module, op);
  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder b(op.getLoc(), rewriter);
  Kernel(op, *shape, options, freqTables, fusion).emit(b);
  rewriter.eraseOp(op);
  return success();
}

namespace {
struct ConvertRopeToGPUPass
    : mrope::impl::ConvertRopeToGPUBase<ConvertRopeToGPUPass> {
  using Base::Base;
  void runOnOperation() override {
    RopeToGPUOptions options;
    options.tokensPerBlock = tokensPerBlock;
    options.freqsPerThread = freqsPerThread;
    options.headsPerIteration = headsPerIteration;
    SmallVector<ApplyOp> ops;
    getOperation()->walk([&](ApplyOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (ApplyOp op : ops) {
      std::string why;
      if (failed(lowerRopeApplyToGPU(rewriter, op, options, why))) {
        op.emitError("could not lower rope.apply to a GPU kernel: ") << why;
        return signalPassFailure();
      }
    }
  }
};
} // namespace
