//===- OnnxOps.cpp - onnx operations and helpers --------------------------===//
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/FunctionImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mrope::onnx;

#define GET_OP_CLASSES
#include "mrope/Dialect/Onnx/IR/OnnxOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shared graph helpers
//===----------------------------------------------------------------------===//

static StringRef getArgOrResName(ArrayAttr attrs, unsigned i) {
  if (!attrs || i >= attrs.size())
    return "";
  auto dict = llvm::dyn_cast<DictionaryAttr>(attrs[i]);
  if (!dict)
    return "";
  if (auto name = dict.getAs<StringAttr>(attr::kName))
    return name.getValue();
  return "";
}

static ReturnOp findReturn(Region &body) {
  if (body.empty())
    return nullptr;
  return llvm::dyn_cast_or_null<ReturnOp>(body.front().getTerminator());
}

/// Checks what every graph-like op needs: inputs match the block, outputs
/// match the return, dim params fit the types.
static LogicalResult verifyGraphLike(Operation *op, FunctionType type,
                                     ArrayAttr argAttrs, ArrayAttr resAttrs,
                                     Region &body, ArrayAttr valueInfo) {
  if (body.empty())
    return op->emitOpError("needs a body");
  Block &block = body.front();
  if (block.getNumArguments() != type.getNumInputs())
    return op->emitOpError("has ")
           << block.getNumArguments() << " block arguments but "
           << type.getNumInputs() << " inputs";
  for (auto [i, arg] : llvm::enumerate(block.getArguments()))
    if (arg.getType() != type.getInput(i))
      return op->emitOpError("type of input ")
             << i << " differs from block argument type";
  auto ret = llvm::dyn_cast<ReturnOp>(block.getTerminator());
  if (!ret)
    return op->emitOpError("must end with onnx.return");
  if (ret.getNumOperands() != type.getNumResults())
    return op->emitOpError("returns ")
           << ret.getNumOperands() << " values but declares "
           << type.getNumResults() << " outputs";
  auto checkDims = [&](ArrayAttr attrs, ArrayRef<Type> types,
                       StringRef what) -> LogicalResult {
    if (!attrs)
      return success();
    for (auto [i, a] : llvm::enumerate(attrs)) {
      auto dict = llvm::dyn_cast<DictionaryAttr>(a);
      if (!dict)
        continue;
      Attribute dims = dict.get(attr::kDimParams);
      if (!dims)
        continue;
      auto arr = llvm::dyn_cast<ArrayAttr>(dims);
      if (!arr || !llvm::all_of(arr, [](Attribute e) {
            return llvm::isa<StringAttr>(e);
          }))
        return op->emitOpError()
               << what << " " << i
               << ": onnx.dim_params must be an array of strings";
      auto shaped = llvm::dyn_cast<RankedTensorType>(types[i]);
      if (!shaped || shaped.getRank() != (int64_t)arr.size())
        return op->emitOpError()
               << what << " " << i << ": onnx.dim_params has " << arr.size()
               << " entries for type " << types[i];
    }
    return success();
  };
  if (failed(checkDims(argAttrs, type.getInputs(), "input")) ||
      failed(checkDims(resAttrs, type.getResults(), "output")))
    return failure();
  if (valueInfo)
    for (Attribute a : valueInfo)
      if (!llvm::isa<ValueInfoAttr>(a))
        return op->emitOpError("value_info entries must be #onnx.value_info");
  return success();
}

/// SSA names of graph inputs from their ONNX names, for readable dumps.
static void nameBlockArgs(Region &region, ArrayAttr argAttrs,
                          OpAsmSetValueNameFn setNameFn) {
  if (region.empty())
    return;
  for (BlockArgument arg : region.front().getArguments()) {
    StringRef name = getArgOrResName(argAttrs, arg.getArgNumber());
    if (!name.empty())
      setNameFn(arg, name);
  }
}

//===----------------------------------------------------------------------===//
// GraphOp
//===----------------------------------------------------------------------===//

void GraphOp::getAsmBlockArgumentNames(Region &region,
                                       OpAsmSetValueNameFn setNameFn) {
  nameBlockArgs(region, getArgAttrsAttr(), setNameFn);
}

void GraphOp::build(OpBuilder &builder, OperationState &state, StringRef name,
                    FunctionType type) {
  state.addAttribute(SymbolTable::getSymbolAttrName(),
                     builder.getStringAttr(name));
  state.addAttribute(getFunctionTypeAttrName(state.name), TypeAttr::get(type));
  Region *body = state.addRegion();
  Block *block = new Block();
  body->push_back(block);
  for (Type t : type.getInputs())
    block->addArgument(t, state.location);
}

ParseResult GraphOp::parse(OpAsmParser &parser, OperationState &result) {
  auto buildFuncType =
      [](Builder &builder, ArrayRef<Type> argTypes, ArrayRef<Type> results,
         function_interface_impl::VariadicFlag,
         std::string &) { return builder.getFunctionType(argTypes, results); };
  return function_interface_impl::parseFunctionOp(
      parser, result, /*allowVariadic=*/false,
      getFunctionTypeAttrName(result.name), buildFuncType,
      getArgAttrsAttrName(result.name), getResAttrsAttrName(result.name));
}

void GraphOp::print(OpAsmPrinter &p) {
  function_interface_impl::printFunctionOp(
      p, *this, /*isVariadic=*/false, getFunctionTypeAttrName(),
      getArgAttrsAttrName(), getResAttrsAttrName());
}

LogicalResult GraphOp::verify() {
  return verifyGraphLike(*this, getFunctionType(), getArgAttrsAttr(),
                         getResAttrsAttr(), getBody(), getValueInfoAttr());
}

ReturnOp GraphOp::getReturnOp() { return findReturn(getBody()); }

StringRef GraphOp::getInputName(unsigned i) {
  return getArgOrResName(getArgAttrsAttr(), i);
}

StringRef GraphOp::getOutputName(unsigned i) {
  return getArgOrResName(getResAttrsAttr(), i);
}

ArrayAttr mrope::onnx::getDimParamsAttr(MLIRContext *ctx,
                                        ArrayRef<StringRef> dims) {
  SmallVector<Attribute> attrs;
  for (StringRef d : dims)
    attrs.push_back(StringAttr::get(ctx, d));
  return ArrayAttr::get(ctx, attrs);
}

void GraphOp::setInputType(unsigned i, Type type, ArrayRef<StringRef> dims) {
  getBodyBlock().getArgument(i).setType(type);
  SmallVector<Type> inputs(getArgumentTypes());
  inputs[i] = type;
  setFunctionType(FunctionType::get(getContext(), inputs, getResultTypes()));
  if (dims.empty())
    removeArgAttr(i, StringAttr::get(getContext(), attr::kDimParams));
  else
    setArgAttr(i, attr::kDimParams, getDimParamsAttr(getContext(), dims));
}

void GraphOp::setOutputType(unsigned i, Type type, ArrayRef<StringRef> dims) {
  SmallVector<Type> results(getResultTypes());
  results[i] = type;
  setFunctionType(FunctionType::get(getContext(), getArgumentTypes(), results));
  if (dims.empty())
    removeResultAttr(i, StringAttr::get(getContext(), attr::kDimParams));
  else
    setResultAttr(i, attr::kDimParams, getDimParamsAttr(getContext(), dims));
}

BlockArgument GraphOp::addInput(StringRef name, Type type,
                                ArrayRef<StringRef> dims) {
  unsigned index = getNumArguments();
  SmallVector<NamedAttribute> attrs;
  Builder b(getContext());
  attrs.push_back(b.getNamedAttr(attr::kName, b.getStringAttr(name)));
  if (!dims.empty())
    attrs.push_back(
        b.getNamedAttr(attr::kDimParams, getDimParamsAttr(getContext(), dims)));
  if (failed(insertArgument(index, type, b.getDictionaryAttr(attrs), getLoc())))
    return nullptr;
  return getBodyBlock().getArgument(index);
}

void GraphOp::addOutput(StringRef name, Value value, ArrayRef<StringRef> dims) {
  unsigned index = getNumResults();
  Builder b(getContext());
  SmallVector<NamedAttribute> attrs;
  attrs.push_back(b.getNamedAttr(attr::kName, b.getStringAttr(name)));
  if (!dims.empty())
    attrs.push_back(
        b.getNamedAttr(attr::kDimParams, getDimParamsAttr(getContext(), dims)));
  (void)insertResult(index, value.getType(), b.getDictionaryAttr(attrs));
  ReturnOp ret = getReturnOp();
  ret->insertOperands(ret->getNumOperands(), value);
}

//===----------------------------------------------------------------------===//
// SubgraphOp
//===----------------------------------------------------------------------===//

ParseResult SubgraphOp::parse(OpAsmParser &parser, OperationState &result) {
  SmallVector<OpAsmParser::Argument> args;
  SmallVector<Type> resultTypes;
  SmallVector<DictionaryAttr> resultAttrs;
  bool isVariadic = false;
  if (function_interface_impl::parseFunctionSignatureWithArguments(
          parser, /*allowVariadic=*/false, args, isVariadic, resultTypes,
          resultAttrs))
    return failure();
  SmallVector<Type> argTypes;
  for (auto &arg : args)
    argTypes.push_back(arg.type);
  Builder &b = parser.getBuilder();
  result.addAttribute(getFunctionTypeAttrName(result.name),
                      TypeAttr::get(b.getFunctionType(argTypes, resultTypes)));
  call_interface_impl::addArgAndResultAttrs(b, result, args, resultAttrs,
                                            getArgAttrsAttrName(result.name),
                                            getResAttrsAttrName(result.name));
  if (parser.parseOptionalAttrDictWithKeyword(result.attributes))
    return failure();
  Region *body = result.addRegion();
  return parser.parseRegion(*body, args);
}

void SubgraphOp::print(OpAsmPrinter &p) {
  FunctionType type = getFunctionType();
  p << ' ';
  call_interface_impl::printFunctionSignature(
      p, type.getInputs(), getArgAttrsAttr(), /*isVariadic=*/false,
      type.getResults(), getResAttrsAttr(), &getBody(),
      /*printEmptyResult=*/false);
  p.printOptionalAttrDictWithKeyword(
      (*this)->getAttrs(), {getFunctionTypeAttrName(), getArgAttrsAttrName(),
                            getResAttrsAttrName()});
  p << ' ';
  p.printRegion(getBody(), /*printEntryBlockArgs=*/false,
                /*printBlockTerminators=*/true);
}

LogicalResult SubgraphOp::verify() {
  return verifyGraphLike(*this, getFunctionType(), getArgAttrsAttr(),
                         getResAttrsAttr(), getBody(), getValueInfoAttr());
}

void SubgraphOp::getAsmBlockArgumentNames(Region &region,
                                          OpAsmSetValueNameFn setNameFn) {
  nameBlockArgs(region, getArgAttrsAttr(), setNameFn);
}

ReturnOp SubgraphOp::getReturnOp() { return findReturn(getBody()); }

StringRef SubgraphOp::getInputName(unsigned i) {
  return getArgOrResName(getArgAttrsAttr(), i);
}

StringRef SubgraphOp::getOutputName(unsigned i) {
  return getArgOrResName(getResAttrsAttr(), i);
}

//===----------------------------------------------------------------------===//
// NodeOp
//===----------------------------------------------------------------------===//

void NodeOp::build(OpBuilder &builder, OperationState &state,
                   TypeRange resultTypes, StringRef opType, ValueRange inputs,
                   ArrayRef<NamedAttribute> onnxAttrs, StringRef nodeName,
                   StringRef domain) {
  state.addOperands(inputs);
  state.addTypes(resultTypes);
  state.addAttribute(getOpTypeAttrName(state.name),
                     builder.getStringAttr(opType));
  if (!domain.empty())
    state.addAttribute(getDomainAttrName(state.name),
                       builder.getStringAttr(domain));
  if (!nodeName.empty())
    state.addAttribute(getNameAttrName(state.name),
                       builder.getStringAttr(nodeName));
  if (!onnxAttrs.empty())
    state.addAttribute(getAttrsAttrName(state.name),
                       builder.getDictionaryAttr(onnxAttrs));
}

ParseResult NodeOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr opType;
  SmallVector<OpAsmParser::UnresolvedOperand> operands;
  FunctionType type;
  if (parser.parseAttribute(opType, parser.getBuilder().getNoneType(),
                            getOpTypeAttrName(result.name), result.attributes))
    return failure();
  SMLoc operandLoc = parser.getCurrentLocation();
  if (parser.parseOperandList(operands, OpAsmParser::Delimiter::Paren) ||
      parser.parseOptionalAttrDict(result.attributes) ||
      parser.parseColonType(type))
    return failure();
  if (parser.resolveOperands(operands, type.getInputs(), operandLoc,
                             result.operands))
    return failure();
  result.addTypes(type.getResults());
  if (succeeded(parser.parseOptionalLParen())) {
    do {
      Region *region = result.addRegion();
      if (parser.parseRegion(*region))
        return failure();
    } while (succeeded(parser.parseOptionalComma()));
    if (parser.parseRParen())
      return failure();
  }
  return success();
}

void NodeOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printAttributeWithoutType(getOpTypeAttr());
  p << '(';
  p.printOperands(getInputs());
  p << ')';
  SmallVector<StringRef, 2> elided = {getOpTypeAttrName()};
  if (getDomain().empty())
    elided.push_back(getDomainAttrName());
  p.printOptionalAttrDict((*this)->getAttrs(), elided);
  p << " : ";
  p.printFunctionalType(getInputs().getTypes(), getResults().getTypes());
  if (!getSubgraphs().empty()) {
    p << " (";
    llvm::interleaveComma(getSubgraphs(), p, [&](Region &r) {
      p.printRegion(r, /*printEntryBlockArgs=*/false,
                    /*printBlockTerminators=*/false);
    });
    p << ')';
  }
}

LogicalResult NodeOp::verify() {
  if (auto outs = getOutputsAttr())
    if (outs.size() != getNumResults())
      return emitOpError("has ") << outs.size() << " output names for "
                                 << getNumResults() << " results";
  unsigned numRegions = getSubgraphs().size();
  auto checkRef = [&](StringRef name, Attribute a) -> LogicalResult {
    auto ref = llvm::dyn_cast<SubgraphRefAttr>(a);
    if (!ref)
      return success();
    if (ref.getIndex() < 0 || ref.getIndex() >= (int64_t)numRegions)
      return emitOpError("attribute '")
             << name << "' refers to region " << ref.getIndex()
             << " but the node has " << numRegions;
    return success();
  };
  if (auto attrs = getAttrsAttr()) {
    for (NamedAttribute na : attrs) {
      if (failed(checkRef(na.getName(), na.getValue())))
        return failure();
      if (auto arr = llvm::dyn_cast<ArrayAttr>(na.getValue()))
        for (Attribute e : arr)
          if (failed(checkRef(na.getName(), e)))
            return failure();
    }
  }
  for (Region &r : getSubgraphs()) {
    Block &b = r.front();
    if (b.getNumArguments() != 0 || !llvm::hasSingleElement(b) ||
        !llvm::isa<SubgraphOp>(b.front()))
      return emitOpError("regions must hold exactly one onnx.subgraph");
  }
  return success();
}

std::string NodeOp::getOutputName(unsigned i) {
  if (auto outs = getOutputsAttr())
    return llvm::cast<StringAttr>(outs[i]).getValue().str();
  StringRef name = getNodeName();
  if (name.empty())
    return "";
  return (name + "_output_" + llvm::Twine(i)).str();
}

SmallVector<std::string> NodeOp::getOutputNames() {
  SmallVector<std::string> names;
  for (unsigned i = 0, e = getNumResults(); i < e; ++i)
    names.push_back(getOutputName(i));
  return names;
}

Attribute NodeOp::getOnnxAttr(StringRef name) {
  if (auto attrs = getAttrsAttr())
    return attrs.get(name);
  return nullptr;
}

void NodeOp::setOnnxAttr(StringRef name, Attribute value) {
  NamedAttrList list(getAttrsAttr() ? getAttrsAttr()
                                    : DictionaryAttr::get(getContext()));
  list.set(name, value);
  setAttrsAttr(list.getDictionary(getContext()));
}

void NodeOp::removeOnnxAttr(StringRef name) {
  if (!getAttrsAttr())
    return;
  NamedAttrList list(getAttrsAttr());
  list.erase(name);
  if (list.empty())
    removeAttrsAttr();
  else
    setAttrsAttr(list.getDictionary(getContext()));
}

std::optional<int64_t> NodeOp::getIntAttr(StringRef name) {
  if (auto a = llvm::dyn_cast_or_null<IntegerAttr>(getOnnxAttr(name)))
    return a.getInt();
  return std::nullopt;
}

std::optional<float> NodeOp::getFloatAttr(StringRef name) {
  if (auto a = llvm::dyn_cast_or_null<FloatAttr>(getOnnxAttr(name)))
    return static_cast<float>(a.getValueAsDouble());
  return std::nullopt;
}

std::optional<StringRef> NodeOp::getStringAttr(StringRef name) {
  if (auto a = llvm::dyn_cast_or_null<StringAttr>(getOnnxAttr(name)))
    return a.getValue();
  return std::nullopt;
}

std::optional<SmallVector<int64_t>> NodeOp::getIntsAttr(StringRef name) {
  if (auto a = llvm::dyn_cast_or_null<DenseI64ArrayAttr>(getOnnxAttr(name)))
    return SmallVector<int64_t>(a.asArrayRef());
  return std::nullopt;
}

std::optional<SmallVector<float>> NodeOp::getFloatsAttr(StringRef name) {
  if (auto a = llvm::dyn_cast_or_null<DenseF32ArrayAttr>(getOnnxAttr(name)))
    return SmallVector<float>(a.asArrayRef());
  return std::nullopt;
}

std::optional<SmallVector<StringRef>> NodeOp::getStringsAttr(StringRef name) {
  auto a = llvm::dyn_cast_or_null<ArrayAttr>(getOnnxAttr(name));
  if (!a)
    return std::nullopt;
  SmallVector<StringRef> out;
  for (Attribute e : a) {
    auto s = llvm::dyn_cast<StringAttr>(e);
    if (!s)
      return std::nullopt;
    out.push_back(s.getValue());
  }
  return out;
}

ElementsAttr NodeOp::getTensorAttr(StringRef name) {
  return llvm::dyn_cast_or_null<ElementsAttr>(getOnnxAttr(name));
}

SubgraphOp NodeOp::getSubgraphAttr(StringRef name) {
  auto ref = llvm::dyn_cast_or_null<SubgraphRefAttr>(getOnnxAttr(name));
  if (!ref || ref.getIndex() < 0 ||
      ref.getIndex() >= (int64_t)getSubgraphs().size())
    return nullptr;
  Region &r = getSubgraphs()[ref.getIndex()];
  if (r.empty() || r.front().empty())
    return nullptr;
  return llvm::dyn_cast<SubgraphOp>(r.front().front());
}

//===----------------------------------------------------------------------===//
// InitializerOp
//===----------------------------------------------------------------------===//

void InitializerOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getResult(), getName());
}

ParseResult InitializerOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr name;
  Type type;
  Attribute value;
  if (parser.parseAttribute(name, parser.getBuilder().getNoneType(),
                            getNameAttrName(result.name), result.attributes) ||
      parser.parseOptionalAttrDict(result.attributes) ||
      parser.parseColonType(type) || parser.parseEqual() ||
      parser.parseAttribute(value, type))
    return failure();
  result.addAttribute(getValueAttrName(result.name), value);
  result.addTypes(type);
  return success();
}

void InitializerOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printAttributeWithoutType(getNameAttr());
  p.printOptionalAttrDict((*this)->getAttrs(),
                          {getNameAttrName(), getValueAttrName()});
  p << " : " << getType() << " = ";
  Attribute value = getValue();
  auto typed = llvm::dyn_cast<TypedAttr>(value);
  if (typed && typed.getType() == getType())
    p.printAttributeWithoutType(value);
  else
    p.printAttribute(value);
}

LogicalResult InitializerOp::verify() {
  Attribute value = getValue();
  if (auto elements = llvm::dyn_cast<ElementsAttr>(value)) {
    if (elements.getType() != getType())
      return emitOpError("value type ")
             << elements.getType() << " differs from result type " << getType();
    return success();
  }
  if (auto ext = llvm::dyn_cast<ExternalAttr>(value)) {
    if (ext.getType() != getType())
      return emitOpError("external value type ")
             << ext.getType() << " differs from result type " << getType();
    if (ext.getOffset() < 0 || ext.getLength() < 0)
      return emitOpError("external data offset/length must be >= 0");
    return success();
  }
  if (llvm::isa<ProtoAttr>(value))
    return success();
  return emitOpError("value must be elements, #onnx.external or #onnx.proto");
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

int64_t mrope::onnx::getElementByteSize(Type t) {
  if (auto c = llvm::dyn_cast<ComplexType>(t))
    return 2 * getElementByteSize(c.getElementType());
  if (t.isInteger(1))
    return 1;
  if (t.isIntOrFloat()) {
    unsigned bits = t.getIntOrFloatBitWidth();
    return bits % 8 ? 0 : bits / 8;
  }
  return 0;
}

/// Builds a DenseElementsAttr from ONNX little-endian bytes (bool: one byte
/// per element).
static std::optional<DenseElementsAttr> fromOnnxBytes(ShapedType type,
                                                      ArrayRef<char> bytes) {
  Type et = type.getElementType();
  int64_t n = type.getNumElements();
  int64_t size = getElementByteSize(et);
  if (size == 0 || (int64_t)bytes.size() != n * size)
    return std::nullopt;
  if (et.isInteger(1)) {
    SmallVector<bool> bits(n);
    for (int64_t i = 0; i < n; ++i)
      bits[i] = bytes[i] != 0;
    return DenseElementsAttr::get(type, bits);
  }
  if (llvm::isa<ComplexType>(et))
    return std::nullopt;
  bool splat = false;
  if (!DenseElementsAttr::isValidRawBuffer(type, bytes, splat))
    return std::nullopt;
  return DenseElementsAttr::getFromRawBuffer(type, bytes);
}

static std::optional<DenseElementsAttr> fromExternal(ExternalAttr ext,
                                                     Operation *anchor) {
  auto type = llvm::dyn_cast<RankedTensorType>(ext.getType());
  if (!type)
    return std::nullopt;
  SmallString<256> path;
  if (auto module = anchor->getParentOfType<ModuleOp>())
    if (auto dir = module->getAttrOfType<StringAttr>(attr::kModelDir))
      path = dir.getValue();
  llvm::sys::path::append(path, ext.getLocation());
  auto buf =
      llvm::MemoryBuffer::getFileSlice(path, ext.getLength(), ext.getOffset(),
                                       /*IsVolatile=*/false);
  if (!buf)
    return std::nullopt;
  StringRef data = (*buf)->getBuffer();
  return fromOnnxBytes(type, ArrayRef<char>(data.data(), data.size()));
}

static std::optional<DenseElementsAttr>
fromTensorAttr(Attribute a, Operation *anchor, int64_t maxElements) {
  if (auto typed = llvm::dyn_cast_or_null<TypedAttr>(a))
    if (auto st = llvm::dyn_cast<ShapedType>(typed.getType()))
      if (!st.hasStaticShape() || st.getNumElements() > maxElements)
        return std::nullopt;
  if (auto dense = llvm::dyn_cast_or_null<DenseElementsAttr>(a))
    return dense;
  if (auto res = llvm::dyn_cast_or_null<DenseResourceElementsAttr>(a)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    return fromOnnxBytes(res.getType(), blob->getData());
  }
  if (auto ext = llvm::dyn_cast_or_null<ExternalAttr>(a))
    return fromExternal(ext, anchor);
  return std::nullopt;
}

std::optional<DenseElementsAttr>
mrope::onnx::getConstantValue(Value value, int64_t maxElements) {
  Operation *def = value.getDefiningOp();
  if (!def)
    return std::nullopt;
  if (auto init = llvm::dyn_cast<InitializerOp>(def))
    return fromTensorAttr(init.getValue(), def, maxElements);
  auto node = llvm::dyn_cast<NodeOp>(def);
  if (!node || !node.isOnnx("Constant") || node->getNumResults() != 1)
    return std::nullopt;
  MLIRContext *ctx = node.getContext();
  if (Attribute v = node.getOnnxAttr("value"))
    return fromTensorAttr(v, def, maxElements);
  if (auto i = node.getIntAttr("value_int"))
    return DenseElementsAttr::get(
        RankedTensorType::get({}, IntegerType::get(ctx, 64)), *i);
  if (auto f = node.getFloatAttr("value_float"))
    return DenseElementsAttr::get(
        RankedTensorType::get({}, Float32Type::get(ctx)), *f);
  if (auto is = node.getIntsAttr("value_ints"))
    return DenseElementsAttr::get(
        RankedTensorType::get({(int64_t)is->size()}, IntegerType::get(ctx, 64)),
        ArrayRef<int64_t>(*is));
  if (auto fs = node.getFloatsAttr("value_floats"))
    return DenseElementsAttr::get(
        RankedTensorType::get({(int64_t)fs->size()}, Float32Type::get(ctx)),
        ArrayRef<float>(*fs));
  if (auto s = node.getStringAttr("value_string"))
    return DenseElementsAttr::get(
        RankedTensorType::get({}, StringType::get(ctx)), {*s});
  if (auto ss = node.getStringsAttr("value_strings"))
    return DenseElementsAttr::get(
        RankedTensorType::get({(int64_t)ss->size()}, StringType::get(ctx)),
        ArrayRef<StringRef>(*ss));
  return std::nullopt;
}

std::optional<SmallVector<int64_t>> mrope::onnx::getConstantInts(Value value) {
  auto dense = getConstantValue(value);
  if (!dense || !dense->getElementType().isIntOrIndex())
    return std::nullopt;
  SmallVector<int64_t> out;
  bool isUnsigned = dense->getElementType().isUnsignedInteger();
  for (const APInt &v : dense->getValues<APInt>())
    out.push_back(isUnsigned ? (int64_t)v.getZExtValue() : v.getSExtValue());
  return out;
}

std::optional<int64_t> mrope::onnx::getOpsetVersion(Operation *op,
                                                    StringRef domain) {
  auto module = llvm::dyn_cast<ModuleOp>(op);
  if (!module)
    module = op->getParentOfType<ModuleOp>();
  if (!module)
    return std::nullopt;
  auto opsets = module->getAttrOfType<ArrayAttr>(attr::kOpsetImport);
  if (!opsets)
    return std::nullopt;
  auto isDefault = [](StringRef d) { return d.empty() || d == "ai.onnx"; };
  for (Attribute a : opsets) {
    auto opset = llvm::dyn_cast<OpsetAttr>(a);
    if (!opset)
      continue;
    if (opset.getDomain() == domain ||
        (isDefault(domain) && isDefault(opset.getDomain())))
      return opset.getVersion();
  }
  return std::nullopt;
}

GraphOp mrope::onnx::getMainGraph(ModuleOp module) {
  if (auto g = module.lookupSymbol<GraphOp>("main"))
    return g;
  for (auto g : module.getOps<GraphOp>())
    return g;
  return nullptr;
}
