//===- RopeKernel.cpp - the kernel one rope.apply describes ---------------===//
#include "mrope/Compile/RopeKernel.h"

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/raw_ostream.h"

#include <cctype>

using namespace mlir;
using namespace mrope;

/// The contents of a frequency table operand: an arith/ONNX constant or
/// initializer on tensors, a constant memref.global on memrefs.
static std::optional<DenseElementsAttr> constantTable(Value table) {
  DenseElementsAttr attr;
  if (matchPattern(table, m_Constant(&attr)))
    return attr;
  if (std::optional<DenseElementsAttr> onnxValue =
          onnx::getConstantValue(table))
    return onnxValue;
  if (auto get = table.getDefiningOp<memref::GetGlobalOp>()) {
    auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
        get, get.getNameAttr());
    if (global && global.getConstant())
      if (auto init =
              dyn_cast_or_null<DenseElementsAttr>(global.getInitialValueAttr()))
        return init;
  }
  return std::nullopt;
}

FailureOr<RopeKernel> RopeKernel::fromApply(rope::ApplyOp apply,
                                            KernelOptions options,
                                            std::string &error) {
  llvm::raw_string_ostream os(error);
  RopeKernel kernel;
  kernel.options = std::move(options);
  kernel.semantics = apply.getSemantics();
  ValueRange inputs = apply.getInputs();
  if (inputs.empty() || inputs.size() > 2) {
    os << "the rope.apply rotates " << inputs.size()
       << " tensors; a kernel rotates q, or q and k";
    return failure();
  }
  auto q = cast<ShapedType>(inputs.front().getType());
  kernel.elementType = q.getElementType();
  if (!kernel.elementType.isF32() && !kernel.elementType.isF16() &&
      !kernel.elementType.isBF16()) {
    os << "the rotated tensors are " << kernel.elementType
       << "; a kernel stores f32, f16 or bf16";
    return failure();
  }
  // The verifier made the head dims agree; take the one that is known.
  kernel.headDim = ShapedType::kDynamic;
  for (Value input : inputs)
    if (int64_t d = cast<ShapedType>(input.getType()).getDimSize(3);
        !ShapedType::isDynamic(d))
      kernel.headDim = d;
  if (ShapedType::isDynamic(kernel.headDim)) {
    os << "the head dim of the rotated tensors is not known statically";
    return failure();
  }
  auto heads = [](Value v) {
    int64_t h = cast<ShapedType>(v.getType()).getDimSize(1);
    return ShapedType::isDynamic(h) ? int64_t{0} : h;
  };
  kernel.qHeads = heads(inputs[0]);
  kernel.kvHeads = inputs.size() == 2 ? heads(inputs[1]) : -1;
  if (Value table = apply.getInvFreq()) {
    std::optional<DenseElementsAttr> values = constantTable(table);
    if (!values) {
      os << "the frequency table of the rope.apply is not a constant";
      return failure();
    }
    kernel.invFreq.assign(values->getValues<float>().begin(),
                          values->getValues<float>().end());
  }
  return kernel;
}

std::string RopeKernel::dtype() const {
  if (elementType.isF16())
    return "f16";
  if (elementType.isBF16())
    return "bf16";
  return "f32";
}

LogicalResult RopeKernel::verify(std::string &error) const {
  llvm::raw_string_ostream os(error);
  const std::string &name = options.name;
  if (name.empty() || !(std::isalpha(name[0]) || name[0] == '_') ||
      !llvm::all_of(name, [](char c) { return std::isalnum(c) || c == '_'; })) {
    os << "--name '" << name << "' is not a C identifier";
    return failure();
  }
  if (options.tensorLayout != "bhsd" && options.tensorLayout != "bshd") {
    os << "--layout must be bhsd or bshd (or neox/gptj for the pairs), got '"
       << options.tensorLayout << "'";
    return failure();
  }
  if (options.tokensPerBlock < 0) {
    os << "--tokens-per-block must be >= 0 (0: from the L2 size)";
    return failure();
  }
  return success();
}

OwningOpRef<ModuleOp>
mrope::buildTemplateApply(MLIRContext &ctx, const TemplateRotation &rotation,
                          std::string &error) {
  ctx.loadDialect<func::FuncDialect, rope::RopeDialect>();
  OpBuilder b(&ctx);
  Location loc = NameLoc::get(b.getStringAttr("rope_template"));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  int64_t dyn = ShapedType::kDynamic;
  auto heads = [&](int64_t n) { return n > 0 ? n : dyn; };
  SmallVector<Type> args = {RankedTensorType::get(
      {dyn, heads(rotation.qHeads), dyn, rotation.headDim},
      rotation.elementType)};
  if (rotation.kvHeads >= 0)
    args.push_back(RankedTensorType::get(
        {dyn, heads(rotation.kvHeads), dyn, rotation.headDim},
        rotation.elementType));
  args.push_back(RankedTensorType::get(
      {rotation.semantics.getNumAxes(), dyn, dyn}, b.getI64Type()));
  SmallVector<Type> results(args.begin(), args.end() - 1);
  auto func = func::FuncOp::create(b, loc, "rope_template",
                                   b.getFunctionType(args, results));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  ValueRange blockArgs = entry->getArguments();
  auto apply =
      rope::ApplyOp::create(b, loc, TypeRange(results), blockArgs.drop_back(),
                            blockArgs.back(), Value(), rotation.semantics);
  func::ReturnOp::create(b, loc, apply.getResults());

  // The verifier's words, without the location prefix.
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    if (error.empty())
      error = d.str();
    return success();
  });
  if (failed(mlir::verify(*module)))
    return nullptr;
  return module;
}

rope::ApplyOp mrope::getTemplateApply(ModuleOp module) {
  rope::ApplyOp apply;
  module.walk([&](rope::ApplyOp op) { apply = op; });
  return apply;
}

OwningOpRef<ModuleOp> mrope::buildRopeKernelModule(MLIRContext &ctx,
                                                   const RopeKernel &kernel,
                                                   StringRef funcName,
                                                   bool strided) {
  ctx.loadDialect<func::FuncDialect, memref::MemRefDialect,
                  rope::RopeDialect>();
  OpBuilder b(&ctx);
  Location loc = NameLoc::get(b.getStringAttr(kernel.options.name));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());

  int64_t dyn = ShapedType::kDynamic;
  auto heads = [&](int64_t n) { return n > 0 ? n : dyn; };
  // Strided: the C wrapper views each thread's token slice. The one static
  // stride says how q and k are stored: [B, H, S, D] has tokens D apart,
  // [B, S, H * D] heads D apart (the lowering picks its loop order from it).
  auto bufferType = [&](ArrayRef<int64_t> shape, Type elem, bool rotated) {
    if (!strided)
      return MemRefType::get(shape, elem);
    SmallVector<int64_t> strides(shape.size(), dyn);
    strides.back() = 1;
    if (rotated)
      strides[kernel.tokenMajor() ? 1 : 2] = kernel.headDim;
    return MemRefType::get(shape, elem,
                           StridedLayoutAttr::get(&ctx, dyn, strides));
  };
  SmallVector<Type> args;
  args.push_back(bufferType({dyn, heads(kernel.qHeads), dyn, kernel.headDim},
                            kernel.elementType, true));
  if (kernel.numTensors() == 2)
    args.push_back(bufferType({dyn, heads(kernel.kvHeads), dyn, kernel.headDim},
                              kernel.elementType, true));
  args.push_back(
      bufferType({kernel.numAxes(), dyn, dyn}, b.getI64Type(), false));

  // A frequency table taken from a model keeps its exact bits.
  memref::GlobalOp table;
  if (!kernel.invFreq.empty()) {
    auto type = MemRefType::get({static_cast<int64_t>(kernel.invFreq.size())},
                                b.getF32Type());
    table = memref::GlobalOp::create(
        b, loc, kernel.options.name + "_inv_freq", b.getStringAttr("private"),
        type,
        DenseElementsAttr::get(
            RankedTensorType::get(type.getShape(), b.getF32Type()),
            ArrayRef<float>(kernel.invFreq)),
        /*constant=*/true, /*alignment=*/nullptr);
  }

  auto func =
      func::FuncOp::create(b, loc, funcName, b.getFunctionType(args, {}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value invFreq;
  if (table)
    invFreq = memref::GetGlobalOp::create(b, loc, table.getType(),
                                          table.getSymName());
  ValueRange blockArgs = entry->getArguments();
  rope::ApplyOp::create(b, loc, TypeRange{}, blockArgs.drop_back(),
                        blockArgs.back(), invFreq, kernel.semantics);
  func::ReturnOp::create(b, loc);
  return module;
}
