//===- RopeToGPU.cpp - in-place rope.apply -> one gpu.launch --------------===//
//
// One kernel rotates every tensor of a rope.apply (q and k) for a block of
// tokens:
//
//   blockDim = (F / V, T, 1)        V consecutive frequencies per thread,
//                                   T tokens per block
//   gridDim  = (ceil(B * S / T), 1, 1)
//
// Thread (x, y) of block bx owns token t = bx * T + y and frequencies
// [x * V, x * V + V). It loads the position rows of its token, forms the V
// angles f32(p[axis(i)]) * inv_freq[i], takes sin and cos once (f64 range
// reduction, pure arith: no libdevice), and then rotates those frequencies in
// every head of q and of k, in place. A warp's accesses to one head row are
// consecutive V-element vectors (16 bytes by default), i.e. coalesced.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/RopeToGPU/RopeToGPU.h"

#include "mrope/Conversion/Passes.h"
#include "mrope/Conversion/RopeCommon/RopeCommon.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
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
  if (!op.hasBufferSemantics()) {
    why = "it works on tensors; bufferize first";
    return failure();
  }
  for (Value input : op.getInputs()) {
    auto type = cast<MemRefType>(input.getType());
    if (!isa<Float32Type, Float16Type, BFloat16Type>(type.getElementType())) {
      why = "element type must be f32/f16/bf16";
      return failure();
    }
    auto [strides, offset] = type.getStridesAndOffset();
    if (strides.empty() || strides.back() != 1) {
      why = "the channel dim is not contiguous";
      return failure();
    }
  }
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
                             : std::max<int64_t>(1, 128 / shape.blockX);
  if (shape.blockX * shape.tokensPerBlock > 1024) {
    why = "a block of " + std::to_string(shape.blockX) + " x " +
          std::to_string(shape.tokensPerBlock) +
          " threads exceeds 1024; lower tokens-per-block";
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

LogicalResult mrope::lowerRopeApplyToGPU(RewriterBase &rewriter, ApplyOp op,
                                         const RopeToGPUOptions &options,
                                         std::string &why) {
  FailureOr<RopeLaunchShape> shapeOr = chooseRopeLaunchShape(op, options, why);
  if (failed(shapeOr))
    return failure();
  RopeLaunchShape shape = *shapeOr;
  auto module = op->getParentOfType<ModuleOp>();
  if (!module) {
    why = "it is not inside a builtin.module (the kernel's tables are globals)";
    return failure();
  }

  SemanticsAttr sem = op.getSemantics();
  const int64_t numFreqs = sem.getNumFreqs();
  const int64_t numAxes = sem.getNumAxes();
  const int64_t v = shape.freqsPerThread;
  const int64_t heads = std::max<int64_t>(1, options.headsPerIteration);
  llvm::MaybeAlign align =
      shape.vectorAlignment ? llvm::MaybeAlign(shape.vectorAlignment)
                            : llvm::MaybeAlign();
  Location loc = op.getLoc();

  // Per-frequency tables, as constant globals (kernel outlining copies them
  // into the gpu.module): inv_freq (when the op has no table operand), the
  // position axis of each frequency (when there is more than one), and the
  // index into the op's table (when that table is not indexed 1:1).
  Builder &attrs = rewriter;
  memref::GlobalOp invTable, axisTable, indexTable;
  bool identityIndex = sem.getTableSize() == numFreqs;
  for (int64_t i = 0; i < numFreqs && identityIndex; ++i)
    identityIndex = sem.tableIndexOfFreq(i) == i;
  if (!op.getInvFreq()) {
    SmallVector<float> table = sem.computeInvFreq();
    SmallVector<Attribute> lanes;
    for (int64_t i = 0; i < numFreqs; ++i)
      lanes.push_back(attrs.getF32FloatAttr(table[sem.tableIndexOfFreq(i)]));
    invTable = createTable(rewriter, module, loc, "__rope_inv_freq",
                           attrs.getF32Type(), lanes);
  } else if (!identityIndex) {
    SmallVector<Attribute> lanes;
    for (int64_t i = 0; i < numFreqs; ++i)
      lanes.push_back(attrs.getI32IntegerAttr(sem.tableIndexOfFreq(i)));
    indexTable = createTable(rewriter, module, loc, "__rope_table_index",
                             attrs.getI32Type(), lanes);
  }
  if (numAxes > 1) {
    SmallVector<Attribute> lanes;
    for (int64_t i = 0; i < numFreqs; ++i)
      lanes.push_back(attrs.getI32IntegerAttr(sem.axisOfFreq(i)));
    axisTable = createTable(rewriter, module, loc, "__rope_axis_of_freq",
                            attrs.getI32Type(), lanes);
  }

  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder b(loc, rewriter);
  auto idx = [&](ImplicitLocOpBuilder &bb, int64_t value) -> Value {
    return arith::ConstantIndexOp::create(bb, value);
  };
  Value anyInput = op.getInputs().front();
  Value positions = op.getPositions();
  Value invFreqOperand = op.getInvFreq();

  // Host side: grid over tokens; no launch at all for an empty batch (a
  // zero-sized grid is an error for CUDA).
  {
    Value c0 = idx(b, 0), c1 = idx(b, 1);
    Value tokens = arith::MulIOp::create(b, memref::DimOp::create(b, anyInput, 0),
                                         memref::DimOp::create(b, anyInput, 2));
    Value grid =
        arith::CeilDivUIOp::create(b, tokens, idx(b, shape.tokensPerBlock));
    Value nonEmpty =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, tokens, c0);
    auto ifOp = scf::IfOp::create(b, nonEmpty, /*withElse=*/false);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    auto launch = gpu::LaunchOp::create(b, grid, c1, c1, idx(b, shape.blockX),
                                        idx(b, shape.tokensPerBlock), c1);
    b.setInsertionPointToStart(&launch.getBody().front());
    gpu::TerminatorOp::create(b);
    b.setInsertionPointToStart(&launch.getBody().front());

    // Kernel body. The sizes of every buffer are read first, in operand
    // order, so that an outlined kernel takes q, k, ... and then positions
    // (the order mrope-compile documents and checks).
    Value batch = memref::DimOp::create(b, anyInput, 0);
    Value seq = memref::DimOp::create(b, anyInput, 2);
    SmallVector<Value> headCounts;
    for (Value input : op.getInputs())
      headCounts.push_back(memref::DimOp::create(b, input, 1));
    Value numTokens = arith::MulIOp::create(b, batch, seq);
    Value tx = launch.getThreadIds().x, ty = launch.getThreadIds().y;
    Value token = arith::AddIOp::create(
        b,
        arith::MulIOp::create(b, launch.getBlockIds().x,
                              idx(b, shape.tokensPerBlock)),
        ty);
    Value inRange =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, token, numTokens);
    auto guard = scf::IfOp::create(b, inRange, /*withElse=*/false);
    b.setInsertionPointToStart(&guard.getThenRegion().front());

    Value bi = arith::DivUIOp::create(b, token, seq);
    Value si = arith::RemUIOp::create(b, token, seq);
    Value i0 = arith::MulIOp::create(b, tx, idx(b, v));
    auto f32 = b.getF32Type();
    auto laneF32 = VectorType::get({v}, f32);
    auto laneI32 = VectorType::get({v}, b.getI32Type());

    // f32(p) of every axis, broadcast; each lane keeps its frequency's axis.
    bool rowsFirst = cast<MemRefType>(positions.getType()).getRank() == 3;
    auto loadPos = [&](int64_t axis) -> Value {
      SmallVector<Value> indices;
      if (rowsFirst)
        indices.push_back(idx(b, axis));
      indices.append({bi, si});
      Value p = memref::LoadOp::create(b, positions, indices);
      return vector::BroadcastOp::create(
          b, laneF32, arith::SIToFPOp::create(b, f32, p));
    };
    Value pos = loadPos(0);
    if (axisTable) {
      Value table = memref::GetGlobalOp::create(b, axisTable.getType(),
                                                axisTable.getSymName());
      Value axes = vector::LoadOp::create(
          b, laneI32, table, ValueRange{i0}, false,
          llvm::MaybeAlign(std::min<int64_t>(16, 4 * v)));
      for (int64_t a = 1; a < numAxes; ++a) {
        Value mask = arith::CmpIOp::create(
            b, arith::CmpIPredicate::eq, axes,
            arith::ConstantOp::create(
                b, DenseElementsAttr::get(laneI32, b.getI32IntegerAttr(a))));
        pos = arith::SelectOp::create(b, mask, loadPos(a), pos);
      }
    }

    Value invFreq;
    if (invTable) {
      Value table = memref::GetGlobalOp::create(b, invTable.getType(),
                                                invTable.getSymName());
      invFreq = vector::LoadOp::create(
          b, laneF32, table, ValueRange{i0}, false,
          llvm::MaybeAlign(std::min<int64_t>(16, 4 * v)));
    } else if (!indexTable) {
      invFreq = vector::LoadOp::create(b, laneF32, invFreqOperand,
                                       ValueRange{i0});
    } else {
      Value table = memref::GetGlobalOp::create(b, indexTable.getType(),
                                                indexTable.getSymName());
      SmallVector<Value> lanes;
      for (int64_t l = 0; l < v; ++l) {
        Value at = arith::AddIOp::create(b, i0, idx(b, l));
        Value j = arith::IndexCastOp::create(
            b, b.getIndexType(), memref::LoadOp::create(b, table, at));
        lanes.push_back(memref::LoadOp::create(b, invFreqOperand, j));
      }
      invFreq = vector::FromElementsOp::create(b, laneF32, lanes);
    }

    Value angle = arith::MulFOp::create(b, pos, invFreq);
    auto [sinV, cosV] = emitSinCos(b, angle, SinCosRounding::MagicAdd);

    // The rotation of one head in f32, as a load phase and a store phase so
    // that several heads' loads are in flight before the first store.
    bool neox = sem.getLayout() == PairLayout::neox;
    Value cos2, sin2;
    SmallVector<int64_t> pairSwap;
    if (!neox) {
      SmallVector<int64_t> dup(2 * v), signedSin(2 * v);
      pairSwap.resize(2 * v);
      for (int64_t i = 0; i < v; ++i) {
        dup[2 * i] = dup[2 * i + 1] = i;
        pairSwap[2 * i] = 2 * i + 1;
        pairSwap[2 * i + 1] = 2 * i;
        signedSin[2 * i] = v + i; // lane i of -sin
        signedSin[2 * i + 1] = i; // lane i of sin
      }
      cos2 = vector::ShuffleOp::create(b, cosV, cosV, dup);
      sin2 = vector::ShuffleOp::create(b, sinV, arith::NegFOp::create(b, sinV),
                                       signedSin);
    }
    Value channel0 = neox ? i0 : arith::MulIOp::create(b, i0, idx(b, 2));
    Value channel1 =
        neox ? arith::AddIOp::create(b, i0, idx(b, numFreqs)) : Value();
    int64_t width = neox ? v : 2 * v;

    auto loadF32 = [&](ImplicitLocOpBuilder &hb, Value buffer, Value head,
                       Value channel) -> Value {
      Type elem = cast<MemRefType>(buffer.getType()).getElementType();
      Value x = vector::LoadOp::create(hb, VectorType::get({width}, elem),
                                       buffer, ValueRange{bi, head, si, channel},
                                       false, align);
      if (!elem.isF32())
        x = arith::ExtFOp::create(hb, VectorType::get({width}, f32), x);
      return x;
    };
    auto storeF32 = [&](ImplicitLocOpBuilder &hb, Value y, Value buffer,
                        Value head, Value channel) {
      Type elem = cast<MemRefType>(buffer.getType()).getElementType();
      if (!elem.isF32())
        y = arith::TruncFOp::create(hb, VectorType::get({width}, elem), y);
      vector::StoreOp::create(hb, y, buffer, ValueRange{bi, head, si, channel},
                              false, align);
    };
    // Rotates heads [h, h + count) of `buffer`.
    auto rotateHeads = [&](ImplicitLocOpBuilder &hb, Value buffer, Value h,
                           int64_t count) {
      SmallVector<Value> headIdx, x1, x2;
      for (int64_t u = 0; u < count; ++u) {
        headIdx.push_back(u == 0 ? h : arith::AddIOp::create(hb, h, idx(hb, u)));
        x1.push_back(loadF32(hb, buffer, headIdx.back(), channel0));
        if (neox)
          x2.push_back(loadF32(hb, buffer, headIdx.back(), channel1));
      }
      for (int64_t u = 0; u < count; ++u) {
        if (neox) {
          Value y1 = arith::SubFOp::create(
              hb, arith::MulFOp::create(hb, x1[u], cosV),
              arith::MulFOp::create(hb, x2[u], sinV));
          Value y2 = arith::AddFOp::create(
              hb, arith::MulFOp::create(hb, x2[u], cosV),
              arith::MulFOp::create(hb, x1[u], sinV));
          storeF32(hb, y1, buffer, headIdx[u], channel0);
          storeF32(hb, y2, buffer, headIdx[u], channel1);
        } else {
          Value xs = vector::ShuffleOp::create(hb, x1[u], x1[u], pairSwap);
          Value y = arith::AddFOp::create(
              hb, arith::MulFOp::create(hb, x1[u], cos2),
              arith::MulFOp::create(hb, xs, sin2));
          storeF32(hb, y, buffer, headIdx[u], channel0);
        }
      }
    };

    Value c0b = idx(b, 0), c1b = idx(b, 1);
    for (auto [buffer, numHeads] : llvm::zip(op.getInputs(), headCounts)) {
      // Main loop: `heads` heads per iteration; then the remainder one by one.
      Value main = numHeads;
      if (heads > 1) {
        Value step = idx(b, heads);
        main = arith::SubIOp::create(
            b, numHeads, arith::RemUIOp::create(b, numHeads, step));
        scf::ForOp::create(b, c0b, main, step, ValueRange{},
                           [&](OpBuilder &nested, Location l, Value h,
                               ValueRange) {
                             ImplicitLocOpBuilder hb(l, nested);
                             rotateHeads(hb, buffer, h, heads);
                             scf::YieldOp::create(hb);
                           });
      }
      scf::ForOp::create(b, heads > 1 ? main : c0b, numHeads, c1b,
                         ValueRange{},
                         [&](OpBuilder &nested, Location l, Value h,
                             ValueRange) {
                           ImplicitLocOpBuilder hb(l, nested);
                           rotateHeads(hb, buffer, h, 1);
                           scf::YieldOp::create(hb);
                         });
    }
  }
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
