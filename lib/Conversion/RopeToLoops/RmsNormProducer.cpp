//===- RmsNormProducer.cpp - an RMSNorm feeding a memref rope.apply -------===//
#include "mrope/Conversion/RopeToLoops/RmsNormProducer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SmallPtrSet.h"

using namespace mlir;
using namespace mrope;

namespace {

/// The body ops of a one-block generic, yield excluded.
SmallVector<Operation *> bodyOps(linalg::GenericOp g) {
  SmallVector<Operation *> ops;
  for (Operation &op : g.getBody()->without_terminator())
    ops.push_back(&op);
  return ops;
}

Value yielded(linalg::GenericOp g) {
  return g.getBody()->getTerminator()->getOperand(0);
}

/// `a` and `b` are the two operands of `op`, in either order.
bool operandsAre(Operation *op, Value a, Value b) {
  return op->getNumOperands() == 2 &&
         ((op->getOperand(0) == a && op->getOperand(1) == b) ||
          (op->getOperand(0) == b && op->getOperand(1) == a));
}

/// Defined outside `g` (so it dominates whatever follows g in its block).
bool outside(Value v, linalg::GenericOp g) {
  return !g->isAncestor(v.getParentBlock()->getParentOp());
}

Type elementType(Value v) {
  auto type = dyn_cast<MemRefType>(v.getType());
  return type ? type.getElementType() : Type();
}

bool isF32(Value v) {
  Type t = elementType(v);
  return t && t.isF32();
}

/// f16/bf16 rows are widened first: `ops` loses its leading arith.extf of
/// `arg` and the widened value is returned; an f32 `arg` is returned as is.
/// Null when neither.
Value widened(SmallVectorImpl<Operation *> &ops, Value arg) {
  if (arg.getType().isF32())
    return arg;
  auto ext = ops.empty() ? nullptr : dyn_cast<arith::ExtFOp>(ops.front());
  if (!ext || ext.getIn() != arg || !ext.getType().isF32())
    return Value();
  ops.erase(ops.begin());
  return ext.getResult();
}

AffineMap dims(MLIRContext *ctx, ArrayRef<unsigned> targets) {
  return AffineMap::getMultiDimMapWithTargets(4, targets, ctx);
}

bool allParallel(linalg::GenericOp g) {
  return llvm::all_of(g.getIteratorTypesArray(), [](utils::IteratorType t) {
    return t == utils::IteratorType::parallel;
  });
}

/// x[b,h,s,d] = src[b,h,s,d] * rs[b,h,s] * w[d]: (src, rs, w).
std::optional<std::tuple<Value, Value, Value>> matchScale(linalg::GenericOp g,
                                                          Value x) {
  MLIRContext *ctx = g.getContext();
  if (g.getNumDpsInputs() != 3 || g.getNumDpsInits() != 1 ||
      g.getDpsInits()[0] != x || g.getNumLoops() != 4 || !allParallel(g))
    return std::nullopt;
  SmallVector<AffineMap> maps = g.getIndexingMapsArray();
  if (maps[0] != dims(ctx, {0, 1, 2, 3}) || maps[1] != dims(ctx, {0, 1, 2}) ||
      maps[2] != dims(ctx, {3}) || maps[3] != dims(ctx, {0, 1, 2, 3}))
    return std::nullopt;
  SmallVector<Operation *> ops = bodyOps(g);
  Block *body = g.getBody();
  Value a = widened(ops, body->getArgument(0));
  // A narrow x: the scaled value is rounded to it (arith.truncf) last.
  auto trunc = ops.empty() ? nullptr : dyn_cast<arith::TruncFOp>(ops.back());
  if (trunc)
    ops.pop_back();
  if (!a || ops.size() != 2 || !isa<arith::MulFOp>(ops[0]) ||
      !isa<arith::MulFOp>(ops[1]) ||
      !operandsAre(ops[0], a, body->getArgument(1)) ||
      !operandsAre(ops[1], ops[0]->getResult(0), body->getArgument(2)) ||
      !body->getArgument(1).getType().isF32() ||
      !body->getArgument(2).getType().isF32())
    return std::nullopt;
  Value result = ops[1]->getResult(0);
  if (trunc) {
    if (trunc.getIn() != result)
      return std::nullopt;
    result = trunc.getResult();
  }
  if (yielded(g) != result || result.getType() != elementType(x))
    return std::nullopt;
  return std::make_tuple(g.getDpsInputs()[0], g.getDpsInputs()[1],
                         g.getDpsInputs()[2]);
}

/// rs[b,h,s] = rsqrt(ss[b,h,s] / divisor + eps): (ss, divisor, eps).
std::optional<std::tuple<Value, Value, Value>> matchRsqrt(linalg::GenericOp g) {
  if (g.getNumDpsInputs() != 1 || g.getNumDpsInits() != 1 ||
      g.getNumLoops() != 3 || !allParallel(g) ||
      !llvm::all_of(g.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return std::nullopt;
  SmallVector<Operation *> ops = bodyOps(g);
  Block *body = g.getBody();
  if (ops.size() != 3)
    return std::nullopt;
  auto div = dyn_cast<arith::DivFOp>(ops[0]);
  auto add = dyn_cast<arith::AddFOp>(ops[1]);
  auto rsqrt = dyn_cast<math::RsqrtOp>(ops[2]);
  if (!div || !add || !rsqrt || div.getLhs() != body->getArgument(0) ||
      !outside(div.getRhs(), g) || yielded(g) != rsqrt.getResult() ||
      rsqrt.getOperand() != add.getResult())
    return std::nullopt;
  Value eps = add.getLhs() == div.getResult() ? add.getRhs() : add.getLhs();
  if (!operandsAre(add, div.getResult(), eps) || !outside(eps, g))
    return std::nullopt;
  return std::make_tuple(g.getDpsInputs()[0], div.getRhs(), eps);
}

/// ss[b,h,s] += src[b,h,s,d]^2 over d.
bool matchSumOfSquares(linalg::GenericOp g, Value src, Value ss) {
  MLIRContext *ctx = g.getContext();
  if (g.getNumDpsInputs() != 1 || g.getNumDpsInits() != 1 ||
      g.getDpsInputs()[0] != src || g.getDpsInits()[0] != ss ||
      g.getNumLoops() != 4 || g.getNumReductionLoops() != 1 ||
      g.getIteratorTypesArray()[3] != utils::IteratorType::reduction)
    return false;
  SmallVector<AffineMap> maps = g.getIndexingMapsArray();
  if (maps[0] != dims(ctx, {0, 1, 2, 3}) || maps[1] != dims(ctx, {0, 1, 2}))
    return false;
  SmallVector<Operation *> ops = bodyOps(g);
  Block *body = g.getBody();
  Value a = widened(ops, body->getArgument(0));
  return a && body->getArgument(1).getType().isF32() && ops.size() == 2 &&
         isa<arith::MulFOp>(ops[0]) && isa<arith::AddFOp>(ops[1]) &&
         operandsAre(ops[0], a, a) &&
         operandsAre(ops[1], body->getArgument(1), ops[0]->getResult(0)) &&
         yielded(g) == ops[1]->getResult(0);
}

/// The op before `op` in its block that writes `buffer` (as a DPS init).
template <typename OpTy> OpTy writerBefore(Operation *op, Value buffer) {
  for (Operation *p = op->getPrevNode(); p; p = p->getPrevNode())
    if (auto dps = dyn_cast<DestinationStyleOpInterface>(p))
      if (llvm::is_contained(dps.getDpsInits(), buffer))
        return dyn_cast<OpTy>(p);
  return nullptr;
}

/// `buffer` is (a view of) a local allocation whose every use, through
/// views, is one of `ops`: nothing else reads the temporaries we drop.
bool onlyUsedBy(Value buffer, const SmallPtrSetImpl<Operation *> &ops) {
  Value root = buffer;
  while (auto view = root.getDefiningOp<memref::SubViewOp>())
    root = view.getSource();
  if (!root.getDefiningOp<memref::AllocOp>() &&
      !root.getDefiningOp<memref::AllocaOp>())
    return false;
  SmallVector<Value> work = {root};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (auto view = dyn_cast<memref::SubViewOp>(user))
        work.push_back(view.getResult());
      else if (!ops.contains(user))
        return false;
    }
  }
  return true;
}

std::optional<RmsNormProducer> matchProducer(rope::ApplyOp op, Value x) {
  if (!isa_and_nonnull<Float32Type, Float16Type, BFloat16Type>(elementType(x)))
    return std::nullopt;
  auto scaleOp = writerBefore<linalg::GenericOp>(op, x);
  if (!scaleOp)
    return std::nullopt;
  auto scale = matchScale(scaleOp, x);
  if (!scale)
    return std::nullopt;
  auto [src, rs, weight] = *scale;
  auto xType = cast<MemRefType>(x.getType());
  auto srcType = dyn_cast<MemRefType>(src.getType());
  auto wType = dyn_cast<MemRefType>(weight.getType());
  if (!srcType || srcType.getElementType() != xType.getElementType() ||
      srcType.getShape() != xType.getShape() || !isF32(weight) ||
      wType.getRank() != 1 || ShapedType::isDynamic(xType.getShape().back()) ||
      wType.getShape()[0] != xType.getShape().back() ||
      !wType.getLayout().isIdentity())
    return std::nullopt;
  auto rsqrtOp = writerBefore<linalg::GenericOp>(scaleOp, rs);
  if (!rsqrtOp)
    return std::nullopt;
  auto rsq = matchRsqrt(rsqrtOp);
  if (!rsq)
    return std::nullopt;
  auto [ss, divisor, eps] = *rsq;
  auto sumOp = writerBefore<linalg::GenericOp>(rsqrtOp, ss);
  if (!sumOp || !matchSumOfSquares(sumOp, src, ss))
    return std::nullopt;
  auto fill = writerBefore<linalg::FillOp>(sumOp, ss);
  if (!fill || !matchPattern(fill.value(), m_AnyZeroFloat()))
    return std::nullopt;
  RmsNormProducer producer{src, weight, divisor, eps, {}};
  producer.ops = {fill, sumOp, rsqrtOp, scaleOp};
  SmallPtrSet<Operation *, 4> set(producer.ops.begin(), producer.ops.end());
  if (!onlyUsedBy(ss, set) || !onlyUsedBy(rs, set))
    return std::nullopt;
  return producer;
}

} // namespace

SmallVector<std::optional<RmsNormProducer>>
mrope::findRmsNormProducers(rope::ApplyOp op) {
  SmallVector<std::optional<RmsNormProducer>> producers;
  SmallPtrSet<Operation *, 8> absorbed;
  Operation *first = op;
  for (Value x : op.getInputs()) {
    producers.push_back(matchProducer(op, x));
    if (!producers.back())
      continue;
    for (Operation *p : producers.back()->ops) {
      absorbed.insert(p);
      if (p->isBeforeInBlock(first))
        first = p;
    }
  }
  // The norms move to the rows of the rotation: nothing in between may
  // observe or change memory they touch.
  for (Operation *p = first; p != op; p = p->getNextNode())
    if (!absorbed.contains(p) && !isMemoryEffectFree(p))
      return SmallVector<std::optional<RmsNormProducer>>(producers.size());
  return producers;
}
