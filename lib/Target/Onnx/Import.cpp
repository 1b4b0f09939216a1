//===- Import.cpp - ONNX model -> onnx dialect ----------------------------===//
//
// Builds the onnx dialect image of a ModelProto: one onnx.node per NodeProto,
// one onnx.initializer per TensorProto, graph inputs as block arguments,
// subgraphs as onnx.subgraph in node regions. Weights are moved (not copied)
// from the parsed protobuf into dense_resource blobs; external data is
// checked but never read. libonnx (checker, shape inference) may throw: this
// file is compiled with exceptions and catches them here.
//
//===----------------------------------------------------------------------===//
#include "mrope/Target/Onnx/Import.h"
#include "Common.h"
#include "DataFile.h"
#include "InlineFunctions.h"
#include "Libonnx.h"
#include "Validate.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Target/Onnx/Export.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/unknown_field_set.h>
#include <onnx/onnx_pb.h>

#include <queue>

using namespace mlir;
using namespace mrope::onnx;
using namespace mrope::onnx::detail;

namespace {

/// Reports the first error; everything after it is suppressed.
struct ImportError {};

/// Scoped name → value map (one scope per graph, outer scopes visible).
struct Scope {
  Scope *parent = nullptr;
  llvm::StringMap<Value> values;
  Value lookup(StringRef name) const {
    for (const Scope *s = this; s; s = s->parent) {
      auto it = s->values.find(name);
      if (it != s->values.end())
        return it->second;
    }
    return nullptr;
  }
};

class Importer {
public:
  Importer(MLIRContext *ctx, StringRef displayName, StringRef modelDir,
           const ImportOptions &options)
      : ctx(ctx), b(ctx), displayName(displayName.str()),
        modelDir(modelDir.str()), options(options),
        fileLoc(FileLineColLoc::get(ctx, displayName, 0, 0)) {}

  /// `libonnx`: the job on the model file's bytes, when the server took
  /// it before the parse (see importOnnxModelFromBuffer).
  FailureOr<OwningOpRef<ModuleOp>> run(::onnx::ModelProto &model,
                                       std::unique_ptr<LibonnxJob> libonnx);
  void startPrecopy(const ::onnx::GraphProto &graph);

private:
  /// ImportOptions::inlineFunctions; a libonnx job on the calls is
  /// replaced by one on the inlined model.
  void inlineFunctionCalls(::onnx::ModelProto &model,
                           std::unique_ptr<LibonnxJob> &libonnx);

  // Diagnostics ------------------------------------------------------------
  [[noreturn]] void fail(const Twine &msg) {
    emitError(fileLoc) << msg.str();
    throw ImportError();
  }
  std::string describe(const ::onnx::NodeProto &node) {
    return describeNode(node);
  }

  // Types -------------------------------------------------------------------
  Type convertType(const ::onnx::TypeProto &type,
                   SmallVectorImpl<StringRef> *dims,
                   std::vector<std::string> &dimStorage);
  Type convertValueInfoType(const ::onnx::ValueInfoProto &vi,
                            ArrayAttr &dimParams);
  Type tensorElementType(int32_t dataType) {
    if (dataType == STRING)
      return StringType::get(ctx);
    return elementTypeFor(dataType, ctx);
  }

  // Tensors and attributes --------------------------------------------------
  /// `what` names the tensor in errors (built only when there is one).
  Attribute convertTensor(::onnx::TensorProto &tensor,
                          llvm::function_ref<std::string()> what);
  Attribute convertAttribute(::onnx::AttributeProto &attr,
                             const ::onnx::NodeProto &node, Scope &scope,
                             unsigned &nextRegion,
                             SmallVectorImpl<::onnx::GraphProto *> &graphs);
  Attribute opaque(StringRef kind, const google::protobuf::MessageLite &m) {
    return ProtoAttr::get(ctx, kind, m.SerializeAsString());
  }
  void keepUnknownFields(const google::protobuf::Message &m,
                         function_ref<void(Attribute)> set);

  // Graphs ------------------------------------------------------------------
  void importGraph(::onnx::GraphProto &graph, Operation *graphOp, Scope &scope);
  void importNodes(::onnx::GraphProto &graph, OpBuilder &builder, Scope &scope,
                   const llvm::StringMap<const ::onnx::ValueInfoProto *> &vinfo,
                   const llvm::StringMap<Type> &outputTypes);
  void collectFreeNames(const ::onnx::GraphProto &graph,
                        llvm::StringSet<> &defined,
                        llvm::SmallVectorImpl<std::string> &free);

  MLIRContext *ctx;
  Builder b;
  std::string displayName, modelDir;
  const ImportOptions &options;
  Location fileLoc;
  /// Types from best-effort shape inference, by value name, and the node
  /// results that wait for them (shape inference runs while nodes are
  /// built).
  llvm::StringMap<::onnx::TypeProto> inferred;
  std::vector<std::pair<Value, std::string>> untyped;
  void applyInferredTypes();
  /// Op types, domains and attribute names repeat across thousands of
  /// nodes: each is uniqued in the context once.
  llvm::StringMap<StringAttr> strings;
  StringAttr uniqued(StringRef s) {
    auto [it, inserted] = strings.try_emplace(s);
    if (inserted)
      it->second = b.getStringAttr(s);
    return it->second;
  }
  llvm::StringMap<uint64_t> fileSizes;
};

} // namespace

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

static std::string typeSummary(const ::onnx::TypeProto &t) {
  switch (t.value_case()) {
  case ::onnx::TypeProto::kTensorType:
    return "tensor(" + dataTypeName(t.tensor_type().elem_type()).str() + ")";
  case ::onnx::TypeProto::kSequenceType:
    return "seq(" + typeSummary(t.sequence_type().elem_type()) + ")";
  case ::onnx::TypeProto::kMapType:
    return "map(" + dataTypeName(t.map_type().key_type()).str() + ", " +
           typeSummary(t.map_type().value_type()) + ")";
  case ::onnx::TypeProto::kOptionalType:
    return "optional(" + typeSummary(t.optional_type().elem_type()) + ")";
  case ::onnx::TypeProto::kSparseTensorType:
    return "sparse_tensor(" +
           dataTypeName(t.sparse_tensor_type().elem_type()).str() + ")";
  default:
    return "unknown";
  }
}

Type Importer::convertType(const ::onnx::TypeProto &type,
                           SmallVectorImpl<StringRef> *dims,
                           std::vector<std::string> &dimStorage) {
  auto makeOpaque = [&]() -> Type {
    return mrope::onnx::OpaqueType::get(ctx, typeSummary(type),
                                        type.SerializeAsString());
  };
  if (type.value_case() != ::onnx::TypeProto::kTensorType ||
      !type.denotation().empty() ||
      type.GetReflection()->GetUnknownFields(type).field_count() != 0)
    return makeOpaque();
  const auto &tt = type.tensor_type();
  Type et = tensorElementType(tt.elem_type());
  if (!et || !tt.has_elem_type())
    return makeOpaque();
  if (!tt.has_shape())
    return UnrankedTensorType::get(et);
  SmallVector<int64_t> shape;
  bool anyParam = false;
  for (const auto &d : tt.shape().dim()) {
    if (!d.denotation().empty())
      return makeOpaque();
    if (d.has_dim_value()) {
      if (d.dim_value() < 0)
        return makeOpaque();
      shape.push_back(d.dim_value());
      dimStorage.emplace_back();
    } else {
      shape.push_back(ShapedType::kDynamic);
      dimStorage.push_back(d.has_dim_param() ? d.dim_param() : "");
      anyParam |= d.has_dim_param();
    }
  }
  if (dims && anyParam)
    for (const std::string &s : dimStorage)
      dims->push_back(s);
  return RankedTensorType::get(shape, et);
}

Type Importer::convertValueInfoType(const ::onnx::ValueInfoProto &vi,
                                    ArrayAttr &dimParams) {
  dimParams = nullptr;
  if (!vi.has_type())
    return UnknownType::get(ctx);
  SmallVector<StringRef> dims;
  std::vector<std::string> storage;
  storage.reserve(16);
  Type t = convertType(vi.type(), &dims, storage);
  if (!dims.empty())
    dimParams = getDimParamsAttr(ctx, dims);
  return t;
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

/// Appends `v` little-endian.
template <typename T> static void appendLE(std::string &out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

Attribute Importer::convertTensor(::onnx::TensorProto &t,
                                  llvm::function_ref<std::string()> what) {
  auto label = [&] { return what() + " '" + t.name() + "'"; };
  int32_t dt = t.data_type();
  Type et = tensorElementType(dt);
  if (!et)
    fail(label() + ": unsupported element type " + Twine(dt) + " (" +
         dataTypeName(dt) + ")");
  // Type, dims within the limits and inline payload size (what libonnx
  // would trust) were checked by validateModel; check again for callers
  // that come here another way.
  if (std::string problem = tensorProblem(t, options); !problem.empty())
    fail(label() + ": " + problem);
  SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  auto type = RankedTensorType::get(shape, et);
  int64_t expected = rawByteSize(dt, n);
  auto sizeText = [&](int64_t bytes) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
      s += (i ? "x" : "") + std::to_string(shape[i]);
    return s + "] of " + dataTypeName(dt).str() + " needs " +
           std::to_string(expected) + " bytes, got " + std::to_string(bytes);
  };

  if (t.has_data_location() &&
      t.data_location() == ::onnx::TensorProto::EXTERNAL) {
    if (dt == STRING)
      fail(label() + ": string tensors cannot use external data");
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto &kv : t.external_data()) {
      auto parseNum = [&](int64_t &out) {
        if (StringRef(kv.value()).getAsInteger(10, out) || out < 0)
          fail(label() + ": external data " + kv.key() + " '" + kv.value() +
               "' is not a non-negative integer");
      };
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        parseNum(offset);
      else if (kv.key() == "length")
        parseNum(length);
    }
    auto resolved = resolveExternalLocation(modelDir, location);
    if (!resolved)
      fail(label() + ": " + llvm::toString(resolved.takeError()));
    uint64_t fileSize = resolved->second;
    if ((uint64_t)offset > fileSize)
      fail(label() + ": external data offset " + Twine(offset) +
           " is past the end of '" + location + "' (" + Twine(fileSize) +
           " bytes)");
    if (length < 0)
      length = fileSize - offset;
    if ((uint64_t)length > fileSize - (uint64_t)offset)
      fail(label() + ": external data offset " + Twine(offset) + " + length " +
           Twine(length) + " runs past the end of '" + location + "' (" +
           Twine(fileSize) + " bytes)");
    if (length != expected)
      fail(label() +
           ": external data size does not match its type: " + sizeText(length));
    return ExternalAttr::get(ctx, location, offset, length, type);
  }

  if (dt == STRING) {
    SmallVector<StringRef> strs;
    for (const std::string &s : t.string_data())
      strs.push_back(s);
    return DenseStringElementsAttr::get(type, strs);
  }

  // Everything else becomes the exact raw_data bytes. Small tensors are
  // read in place: the model is not written to while the libonnx children
  // share its pages (each write would cost a copy-on-write fault).
  std::string raw;
  if (!t.has_raw_data()) {
    raw.reserve(expected);
    switch (dt) {
    case FLOAT:
    case COMPLEX64:
      for (float v : t.float_data())
        appendLE(raw, v);
      break;
    case DOUBLE:
    case COMPLEX128:
      for (double v : t.double_data())
        appendLE(raw, v);
      break;
    case INT64:
      for (int64_t v : t.int64_data())
        appendLE(raw, v);
      break;
    case UINT32:
      for (uint64_t v : t.uint64_data())
        appendLE(raw, (uint32_t)v);
      break;
    case UINT64:
      for (uint64_t v : t.uint64_data())
        appendLE(raw, v);
      break;
    case INT32:
      for (int32_t v : t.int32_data())
        appendLE(raw, v);
      break;
    case INT16:
    case UINT16:
    case FLOAT16:
    case BFLOAT16:
      for (int32_t v : t.int32_data())
        appendLE(raw, (uint16_t)v);
      break;
    default: // 8-bit and packed 4-bit types, bool
      for (int32_t v : t.int32_data())
        raw.push_back((char)(uint8_t)v);
      break;
    }
    assert((int64_t)raw.size() == expected && "checked by tensorProblem");
  }
  ArrayRef<char> bytes =
      t.has_raw_data()
          ? ArrayRef<char>(t.raw_data().data(), t.raw_data().size())
          : ArrayRef<char>(raw.data(), raw.size());

  bool denseOk = n <= options.denseElementLimit &&
                 (llvm::isa<FloatType>(et) || llvm::isa<IntegerType>(et)) &&
                 getElementByteSize(et) > 0;
  if (denseOk) {
    if (et.isInteger(1)) {
      SmallVector<bool> bits;
      for (char c : bytes)
        bits.push_back(c != 0);
      // Bytes other than 0/1 would not survive a round trip through bits.
      if (llvm::all_of(bytes, [](char c) { return c == 0 || c == 1; }))
        return DenseElementsAttr::get(type, bits);
    } else {
      bool splat = false;
      if (DenseElementsAttr::isValidRawBuffer(type, bytes, splat))
        return DenseElementsAttr::getFromRawBuffer(type, bytes);
    }
  }
  // A blob that owns the bytes, moved out of the protobuf (no copy).
  auto *owned = new std::string(
      std::move(t.has_raw_data() ? *t.mutable_raw_data() : raw));
  AsmResourceBlob blob(
      ArrayRef<char>(owned->data(), owned->size()),
      /*dataAlignment=*/alignof(uint64_t),
      [owned](void *, size_t, size_t) { delete owned; },
      /*dataIsMutable=*/false);
  std::string key = t.name().empty() ? std::string("tensor") : t.name();
  return DenseResourceElementsAttr::get(type, key, std::move(blob));
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

void Importer::keepUnknownFields(const google::protobuf::Message &m,
                                 function_ref<void(Attribute)> set) {
  const auto &u = m.GetReflection()->GetUnknownFields(m);
  if (u.empty())
    return;
  std::string bytes;
  u.SerializeToString(&bytes);
  set(ProtoAttr::get(ctx, "unknown", bytes));
}

/// On a node: the names of its tensor attributes that were read as
/// elements (attribute name -> TensorProto name), for the exporter to give
/// them back.
static constexpr llvm::StringLiteral kTensorNames = "onnx.tensor_names";

/// The largest named Constant tensor read as elements (what the analysis
/// reads at most: RoPE constants are far below it); larger ones stay opaque.
static constexpr int64_t kMaxNamedConstantElements = 1 << 14;

/// Whether attribute `a` of `node` is the inline `value` tensor of a
/// default-domain Constant node, small enough to be read as elements.
static bool isReadableNamedConstant(const ::onnx::AttributeProto &a,
                                    const ::onnx::NodeProto &node) {
  if (a.type() != ::onnx::AttributeProto::TENSOR || a.name() != "value" ||
      node.op_type() != "Constant" ||
      !(node.domain().empty() || node.domain() == "ai.onnx"))
    return false;
  const ::onnx::TensorProto &t = a.t();
  if (t.has_data_location() &&
      t.data_location() == ::onnx::TensorProto::EXTERNAL)
    return false;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || d > kMaxNamedConstantElements)
      return false;
    n *= d;
    if (n > kMaxNamedConstantElements)
      return false;
  }
  return true;
}

Attribute Importer::convertAttribute(
    ::onnx::AttributeProto &a, const ::onnx::NodeProto &node, Scope &scope,
    unsigned &nextRegion, SmallVectorImpl<::onnx::GraphProto *> &graphs) {
  using AP = ::onnx::AttributeProto;
  if (!a.ref_attr_name().empty() || !a.doc_string().empty() ||
      a.GetReflection()->GetUnknownFields(a).field_count() != 0)
    return opaque("AttributeProto", a);
  switch (a.type()) {
  case AP::INT:
    return b.getI64IntegerAttr(a.i());
  case AP::FLOAT:
    return b.getF32FloatAttr(a.f());
  case AP::STRING:
    return b.getStringAttr(a.s());
  case AP::INTS:
    return b.getDenseI64ArrayAttr(
        SmallVector<int64_t>(a.ints().begin(), a.ints().end()));
  case AP::FLOATS:
    return b.getDenseF32ArrayAttr(
        SmallVector<float>(a.floats().begin(), a.floats().end()));
  case AP::STRINGS: {
    SmallVector<Attribute> strs;
    for (const std::string &s : a.strings())
      strs.push_back(b.getStringAttr(s));
    return b.getArrayAttr(strs);
  }
  case AP::TENSOR:
    // A tensor name is kept by keeping the whole AttributeProto, except
    // for the value of a Constant node: exporters name those, and the
    // analysis must read what they hold (caches, inv_freq, split sizes).
    // importNode records the name in kTensorNames.
    if (!a.t().doc_string().empty() ||
        (!a.t().name().empty() && !isReadableNamedConstant(a, node)))
      return opaque("AttributeProto", a);
    return convertTensor(*a.mutable_t(), [&] {
      return "tensor attribute '" + a.name() + "' of " + describe(node);
    });
  case AP::TENSORS: {
    if (a.tensors_size() == 0)
      return opaque("AttributeProto", a);
    for (const auto &t : a.tensors())
      if (!t.name().empty() || !t.doc_string().empty())
        return opaque("AttributeProto", a);
    SmallVector<Attribute> ts;
    for (auto &t : *a.mutable_tensors())
      ts.push_back(convertTensor(t, [&] {
        return "tensor attribute '" + a.name() + "' of " + describe(node);
      }));
    return b.getArrayAttr(ts);
  }
  case AP::GRAPH:
    graphs.push_back(a.mutable_g());
    return SubgraphRefAttr::get(ctx, nextRegion++);
  case AP::GRAPHS: {
    if (a.graphs_size() == 0)
      return opaque("AttributeProto", a);
    SmallVector<Attribute> refs;
    for (auto &g : *a.mutable_graphs()) {
      graphs.push_back(&g);
      refs.push_back(SubgraphRefAttr::get(ctx, nextRegion++));
    }
    return b.getArrayAttr(refs);
  }
  default:
    return opaque("AttributeProto", a);
  }
}

//===----------------------------------------------------------------------===//
// Graphs
//===----------------------------------------------------------------------===//

/// Names a subgraph uses from enclosing scopes (for ordering its node).
void Importer::collectFreeNames(const ::onnx::GraphProto &g,
                                llvm::StringSet<> &defined,
                                SmallVectorImpl<std::string> &free) {
  llvm::StringSet<> local = defined;
  for (const auto &i : g.input())
    local.insert(i.name());
  for (const auto &i : g.initializer())
    local.insert(i.name());
  for (const auto &i : g.sparse_initializer())
    local.insert(i.values().name());
  for (const auto &n : g.node()) {
    for (const std::string &in : n.input())
      if (!in.empty() && !local.contains(in))
        free.push_back(in);
    for (const auto &a : n.attribute()) {
      if (a.has_g())
        collectFreeNames(a.g(), local, free);
      for (const auto &sg : a.graphs())
        collectFreeNames(sg, local, free);
    }
    for (const std::string &out : n.output())
      local.insert(out);
  }
  for (const auto &o : g.output())
    if (!local.contains(o.name()))
      free.push_back(o.name());
}

void Importer::importGraph(::onnx::GraphProto &g, Operation *graphOp,
                           Scope &scope) {
  Region &region = graphOp->getRegion(0);
  Block *block = new Block();
  region.push_back(block);
  OpBuilder builder(ctx);
  builder.setInsertionPointToEnd(block);
  std::string graphLabel =
      llvm::isa<GraphOp>(graphOp) ? "graph" : "subgraph '" + g.name() + "'";

  // Inputs.
  SmallVector<Type> inputTypes, outputTypes;
  SmallVector<Attribute> argAttrs, resAttrs;
  for (const auto &in : g.input()) {
    if (scope.values.count(in.name()))
      fail(graphLabel + ": duplicate input name '" + in.name() + "'");
    ArrayAttr dims;
    Type t = convertValueInfoType(in, dims);
    NamedAttrList attrs;
    attrs.set(attr::kName, b.getStringAttr(in.name()));
    if (dims)
      attrs.set(attr::kDimParams, dims);
    if (!in.doc_string().empty())
      attrs.set(attr::kDocString, b.getStringAttr(in.doc_string()));
    inputTypes.push_back(t);
    argAttrs.push_back(attrs.getDictionary(ctx));
    Value arg = block->addArgument(
        t, NameLoc::get(b.getStringAttr(in.name()), fileLoc));
    scope.values[in.name()] = arg;
  }
  llvm::StringMap<Type> declaredOutputs;
  for (const auto &out : g.output()) {
    ArrayAttr dims;
    Type t = convertValueInfoType(out, dims);
    NamedAttrList attrs;
    attrs.set(attr::kName, b.getStringAttr(out.name()));
    if (dims)
      attrs.set(attr::kDimParams, dims);
    if (!out.doc_string().empty())
      attrs.set(attr::kDocString, b.getStringAttr(out.doc_string()));
    outputTypes.push_back(t);
    resAttrs.push_back(attrs.getDictionary(ctx));
    declaredOutputs.try_emplace(out.name(), t);
  }
  graphOp->setAttr("function_type",
                   TypeAttr::get(b.getFunctionType(inputTypes, outputTypes)));
  if (!argAttrs.empty())
    graphOp->setAttr("arg_attrs", b.getArrayAttr(argAttrs));
  if (!resAttrs.empty())
    graphOp->setAttr("res_attrs", b.getArrayAttr(resAttrs));
  if (!g.name().empty())
    graphOp->setAttr("graph_name", b.getStringAttr(g.name()));
  if (!g.doc_string().empty())
    graphOp->setAttr("doc_string", b.getStringAttr(g.doc_string()));

  // value_info.
  llvm::StringMap<const ::onnx::ValueInfoProto *> vinfo;
  SmallVector<Attribute> vinfoAttrs;
  for (const auto &vi : g.value_info()) {
    ArrayAttr dims;
    Type t = convertValueInfoType(vi, dims);
    vinfoAttrs.push_back(ValueInfoAttr::get(
        ctx, vi.name(), t, dims,
        vi.doc_string().empty() ? StringAttr()
                                : b.getStringAttr(vi.doc_string())));
    vinfo.try_emplace(vi.name(), &vi);
  }
  if (!vinfoAttrs.empty())
    graphOp->setAttr("value_info", b.getArrayAttr(vinfoAttrs));

  // Initializers (an initializer named like an input is that input's
  // default value, IR < 4 style: uses resolve to the input).
  llvm::StringSet<> initNames;
  for (auto &t : *g.mutable_initializer()) {
    if (!initNames.insert(t.name()).second)
      fail(graphLabel + ": duplicate initializer name '" + t.name() + "'");
    Attribute value =
        convertTensor(t, [] { return std::string("initializer"); });
    Type type = llvm::cast<TypedAttr>(value).getType();
    auto init = InitializerOp::create(
        builder, NameLoc::get(b.getStringAttr(t.name()), fileLoc), type,
        b.getStringAttr(t.name()), value,
        t.doc_string().empty() ? StringAttr()
                               : b.getStringAttr(t.doc_string()));
    scope.values.try_emplace(t.name(), init.getResult());
  }
  for (auto &st : *g.mutable_sparse_initializer()) {
    const auto &values = st.values();
    Type et = tensorElementType(values.data_type());
    if (!et)
      fail(graphLabel + ": sparse initializer '" + values.name() +
           "': unsupported element type " + Twine(values.data_type()));
    SmallVector<int64_t> shape(st.dims().begin(), st.dims().end());
    if (llvm::any_of(shape, [](int64_t d) { return d < 0; }))
      fail(graphLabel + ": sparse initializer '" + values.name() +
           "': negative dimension");
    auto type = RankedTensorType::get(shape, et);
    if (!initNames.insert(values.name()).second)
      fail(graphLabel + ": duplicate initializer name '" + values.name() + "'");
    auto init = InitializerOp::create(
        builder, NameLoc::get(b.getStringAttr(values.name()), fileLoc), type,
        b.getStringAttr(values.name()), opaque("SparseTensorProto", st),
        StringAttr());
    scope.values.try_emplace(values.name(), init.getResult());
  }

  importNodes(g, builder, scope, vinfo, declaredOutputs);

  // Outputs.
  SmallVector<Value> results;
  for (const auto &out : g.output()) {
    Value v = scope.lookup(out.name());
    if (!v)
      fail(graphLabel + ": output '" + out.name() +
           "' is not defined by any node, input or initializer");
    results.push_back(v);
  }
  ReturnOp::create(builder, fileLoc, results);

  if (g.quantization_annotation_size()) {
    SmallVector<Attribute> qa;
    for (const auto &q : g.quantization_annotation())
      qa.push_back(opaque("TensorAnnotation", q));
    graphOp->setAttr(attr::kQuantizationAnnotation, b.getArrayAttr(qa));
  }
  keepUnknownFields(
      g, [&](Attribute a) { graphOp->setAttr(attr::kUnknownFields, a); });
}

void Importer::importNodes(
    ::onnx::GraphProto &g, OpBuilder &builder, Scope &scope,
    const llvm::StringMap<const ::onnx::ValueInfoProto *> &vinfo,
    const llvm::StringMap<Type> &declaredOutputs) {
  int numNodes = g.node_size();
  // Who produces each name in this graph; duplicates are errors.
  llvm::StringMap<int> producer;
  for (int i = 0; i < numNodes; ++i) {
    const auto &n = g.node(i);
    for (const std::string &out : n.output()) {
      if (out.empty())
        continue;
      if (scope.values.count(out))
        fail(describe(n) + ": output '" + out +
             "' is already defined as a graph input or initializer");
      auto [it, inserted] = producer.try_emplace(out, i);
      if (!inserted)
        fail(describe(n) + ": output '" + out + "' is already produced by " +
             describe(g.node(it->second)));
    }
  }
  // Dependencies of each node on nodes of this graph (inputs and names its
  // subgraphs use from here); names nothing defines are errors.
  std::vector<SmallVector<int, 4>> deps(numNodes);
  bool sorted = true;
  for (int i = 0; i < numNodes; ++i) {
    const auto &n = g.node(i);
    SmallVector<std::string> names(n.input().begin(), n.input().end());
    llvm::StringSet<> none;
    for (const auto &a : n.attribute()) {
      if (a.has_g())
        collectFreeNames(a.g(), none, names);
      for (const auto &sg : a.graphs())
        collectFreeNames(sg, none, names);
    }
    for (const std::string &name : names) {
      if (name.empty())
        continue;
      auto it = producer.find(name);
      if (it != producer.end()) {
        if (it->second == i && llvm::is_contained(n.input(), name))
          fail(describe(n) + ": input '" + name +
               "' is its own output (cycle)");
        deps[i].push_back(it->second);
        if (it->second >= i)
          sorted = false;
        continue;
      }
      if (!scope.lookup(name))
        fail(describe(n) + ": input '" + name +
             "' is not defined by any node, graph input or initializer");
    }
  }
  // The model's order when it is topological; else a stable topological
  // order (Kahn, smallest index first); a cycle is an error.
  std::vector<int> order;
  order.reserve(numNodes);
  if (sorted) {
    for (int i = 0; i < numNodes; ++i)
      order.push_back(i);
  } else {
    std::vector<int> pending(numNodes, 0);
    std::vector<SmallVector<int, 4>> users(numNodes);
    for (int i = 0; i < numNodes; ++i)
      for (int d : deps[i])
        if (d != i) {
          ++pending[i];
          users[d].push_back(i);
        }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (int i = 0; i < numNodes; ++i)
      if (!pending[i])
        ready.push(i);
    while (!ready.empty()) {
      int i = ready.top();
      ready.pop();
      order.push_back(i);
      for (int u : users[i])
        if (--pending[u] == 0)
          ready.push(u);
    }
    if ((int)order.size() != numNodes) {
      for (int i = 0; i < numNodes; ++i)
        if (pending[i])
          fail(describe(g.node(i)) + ": is on a cycle (its inputs depend on "
                                     "its own outputs)");
    }
  }

  Value none;
  OperationName nodeOpName(NodeOp::getOperationName(), ctx);
  for (int idx : order) {
    ::onnx::NodeProto &n = *g.mutable_node(idx);
    SmallVector<Value> operands;
    for (const std::string &in : n.input()) {
      if (in.empty()) {
        if (!none) {
          OpBuilder::InsertionGuard guard(builder);
          Block *block = builder.getInsertionBlock();
          // After the initializers, before the first node.
          auto it = block->begin();
          while (it != block->end() && llvm::isa<InitializerOp>(*it))
            ++it;
          builder.setInsertionPoint(block, it);
          none = NoneOp::create(builder, fileLoc);
        }
        operands.push_back(none);
        continue;
      }
      operands.push_back(scope.lookup(in));
    }
    SmallVector<Type> resultTypes;
    for (const std::string &out : n.output()) {
      Type t;
      if (auto it = vinfo.find(out); it != vinfo.end()) {
        ArrayAttr dims;
        t = convertValueInfoType(*it->second, dims);
      } else if (auto it2 = declaredOutputs.find(out);
                 it2 != declaredOutputs.end() &&
                 !llvm::isa<UnknownType>(it2->second)) {
        t = it2->second;
      }
      resultTypes.push_back(t ? t : UnknownType::get(ctx));
    }
    StringAttr nodeName =
        n.name().empty() ? StringAttr() : b.getStringAttr(n.name());
    Location loc =
        nodeName ? Location(NameLoc::get(nodeName, fileLoc)) : fileLoc;
    OperationState state(loc, nodeOpName);
    state.addOperands(operands);
    state.addTypes(resultTypes);
    // Attributes; GRAPH ones become regions.
    unsigned nextRegion = 0;
    SmallVector<::onnx::GraphProto *> graphs;
    NamedAttrList onnxAttrs, tensorNames;
    SmallVector<Attribute> attrOrder;
    bool isSorted = true;
    for (int i = 0; i < n.attribute_size(); ++i) {
      auto &a = *n.mutable_attribute(i);
      if (a.name().empty())
        fail(describe(n) + ": attribute " + Twine(i) + " has no name");
      for (int j = 0; j < i; ++j) // nodes have a handful of attributes
        if (n.attribute(j).name() == a.name())
          fail(describe(n) + ": duplicate attribute '" + a.name() + "'");
      if (i && a.name() < n.attribute(i - 1).name())
        isSorted = false;
      StringAttr name = uniqued(a.name());
      attrOrder.push_back(name);
      std::string tensorName =
          a.type() == ::onnx::AttributeProto::TENSOR ? a.t().name() : "";
      Attribute value = convertAttribute(a, n, scope, nextRegion, graphs);
      if (!tensorName.empty() && !llvm::isa<ProtoAttr>(value))
        tensorNames.append(name, b.getStringAttr(tensorName));
      onnxAttrs.append(name, value);
    }
    bool defaultOutputs = !n.name().empty();
    for (int i = 0; defaultOutputs && i < n.output_size(); ++i) {
      StringRef out = n.output(i);
      defaultOutputs = out.consume_front(n.name()) &&
                       out.consume_front("_output_") && out == Twine(i).str();
    }
    // Appended in name order, so the dictionary needs no sorting.
    NamedAttrList attrs;
    if (!isSorted)
      attrs.append(NodeOp::getAttrOrderAttrName(nodeOpName),
                   b.getArrayAttr(attrOrder));
    if (!onnxAttrs.empty())
      attrs.append(NodeOp::getAttrsAttrName(nodeOpName),
                   onnxAttrs.getDictionary(ctx));
    if (!n.doc_string().empty())
      attrs.append(NodeOp::getDocStringAttrName(nodeOpName),
                   b.getStringAttr(n.doc_string()));
    if (!n.domain().empty())
      attrs.append(NodeOp::getDomainAttrName(nodeOpName), uniqued(n.domain()));
    if (nodeName)
      attrs.append(NodeOp::getNameAttrName(nodeOpName), nodeName);
    if (!tensorNames.empty())
      attrs.append(kTensorNames, tensorNames.getDictionary(ctx));
    keepUnknownFields(
        n, [&](Attribute a) { attrs.append(attr::kUnknownFields, a); });
    attrs.append(NodeOp::getOpTypeAttrName(nodeOpName), uniqued(n.op_type()));
    if (!defaultOutputs) {
      SmallVector<Attribute> outs;
      for (const std::string &o : n.output())
        outs.push_back(b.getStringAttr(o));
      attrs.append(NodeOp::getOutputsAttrName(nodeOpName),
                   b.getArrayAttr(outs));
    }
    state.addAttributes(attrs);
    for (size_t i = 0; i < graphs.size(); ++i)
      state.addRegion();
    Operation *op = builder.create(state);
    for (auto [i, sg] : llvm::enumerate(graphs)) {
      Region &r = op->getRegion(i);
      Block *holder = new Block();
      r.push_back(holder);
      OpBuilder inner(ctx);
      inner.setInsertionPointToEnd(holder);
      OperationState sgState(loc, SubgraphOp::getOperationName());
      sgState.addRegion();
      Operation *sub = inner.create(sgState);
      Scope child;
      child.parent = &scope;
      importGraph(*sg, sub, child);
    }
    for (auto [i, out] : llvm::enumerate(n.output())) {
      if (out.empty())
        continue;
      scope.values[out] = op->getResult(i);
      if (llvm::isa<UnknownType>(resultTypes[i]))
        untyped.push_back({op->getResult(i), out});
    }
  }
}

void Importer::applyInferredTypes() {
  for (auto &[value, name] : untyped) {
    auto it = inferred.find(name);
    if (it == inferred.end())
      continue;
    std::vector<std::string> storage;
    Type t = convertType(it->second, nullptr, storage);
    // libonnx's guesses obey the same ceiling as declared shapes.
    if (auto rt = llvm::dyn_cast_or_null<RankedTensorType>(t)) {
      int64_t elements = 1;
      for (int64_t d : rt.getShape()) {
        if (ShapedType::isDynamic(d))
          continue;
        if (d > options.maxDim || (d && elements > options.maxElements / d)) {
          t = nullptr;
          break;
        }
        elements *= d;
      }
    }
    if (t)
      value.setType(t);
  }
}

//===----------------------------------------------------------------------===//
// Model
//===----------------------------------------------------------------------===//

void Importer::startPrecopy(const ::onnx::GraphProto &graph) {
  llvm::StringMap<uint64_t> bytesPerLocation;
  for (const auto &t : graph.initializer()) {
    if (t.data_location() != ::onnx::TensorProto::EXTERNAL)
      continue;
    StringRef location;
    uint64_t length = 0;
    for (const auto &kv : t.external_data()) {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "length")
        (void)StringRef(kv.value()).getAsInteger(10, length);
    }
    bytesPerLocation[location] += length;
  }
  *options.precopy =
      startForLargest(bytesPerLocation, modelDir, options.precopyFor);
}

void Importer::inlineFunctionCalls(::onnx::ModelProto &model,
                                   std::unique_ptr<LibonnxJob> &libonnx) {
  mrope::onnx::detail::InlinedFunctions inlined =
      mrope::onnx::detail::inlineLocalFunctions(model);
  for (const std::string &line : inlined.kept)
    emitWarning(fileLoc) << line << "; the nodes inside it are not analysed";
  if (!inlined.calls)
    return;
  emitRemark(fileLoc) << "inlined " << inlined.calls
                      << (inlined.calls == 1 ? " call" : " calls")
                      << " of model-local functions ("
                      << llvm::join(inlined.functions, ", ")
                      << "): their nodes are graph nodes named CALL/NODE";
  // libonnx was given the calls: it runs again, on the inlined model.
  if (libonnx) {
    libonnx.reset();
    std::string bytes;
    if (model.SerializeToString(&bytes))
      libonnx = LibonnxJob::submit(bytes, LibonnxInput::Model, options,
                                   options.runChecker, options.inferShapes);
  }
}

FailureOr<OwningOpRef<ModuleOp>>
Importer::run(::onnx::ModelProto &model, std::unique_ptr<LibonnxJob> libonnx) {
  try {
    if (!model.has_graph())
      fail("not an ONNX model: it has no graph");
    if (model.ir_version() <= 0)
      fail("not an ONNX model: ir_version is missing");

    // What libonnx and the passes trust is checked before either runs.
    auto nest = [&](StringRef name) {
      return options.timing ? options.timing->nest(name) : TimingScope();
    };
    TimingScope phase = nest("validate");
    auto opset = checkOpsetImports(model, options);
    if (!opset)
      fail(llvm::toString(opset.takeError()));
    if (options.inlineFunctions && model.functions_size())
      inlineFunctionCalls(model, libonnx);
    // The copy needs only its file's location checked (as resolving it
    // does: relative, no '..', no symlink, a regular file), so it starts
    // before the rest is validated; a failed import discards it.
    if (options.precopy && !options.precopyFor.empty())
      startPrecopy(model.graph());
    if (llvm::Error e = validateModel(model, options))
      fail(llvm::toString(std::move(e)));

    // libonnx 1.12 has no schemas past its own opset: its checker would
    // call every newer op unknown, so such models go unchecked. It runs in
    // another process while the IR is built here (the server's worker
    // decides the same from its own parse); inferred types come in after.
    bool check = options.runChecker && *opset <= libonnxMaxOpset();
    if (!check && !options.inferShapes)
      libonnx.reset();
    else if (!libonnx) {
      phase = nest("start libonnx");
      libonnx = std::make_unique<LibonnxJob>(model, options, check,
                                             options.inferShapes);
    }
    phase = nest("build IR");

    OwningOpRef<ModuleOp> module(ModuleOp::create(fileLoc));
    ModuleOp m = *module;
    m->setAttr(attr::kIrVersion, b.getI64IntegerAttr(model.ir_version()));
    SmallVector<Attribute> opsets;
    for (const auto &o : model.opset_import())
      opsets.push_back(OpsetAttr::get(ctx, o.domain(), o.version()));
    m->setAttr(attr::kOpsetImport, b.getArrayAttr(opsets));
    auto setStr = [&](StringRef key, const std::string &v) {
      if (!v.empty())
        m->setAttr(key, b.getStringAttr(v));
    };
    setStr(attr::kProducerName, model.producer_name());
    setStr(attr::kProducerVersion, model.producer_version());
    setStr(attr::kDomain, model.domain());
    setStr(attr::kDocString, model.doc_string());
    if (model.model_version())
      m->setAttr(attr::kModelVersion,
                 b.getI64IntegerAttr(model.model_version()));
    if (model.metadata_props_size()) {
      NamedAttrList props;
      for (const auto &p : model.metadata_props()) {
        if (p.key().empty())
          fail("metadata_props has an entry with an empty key");
        props.set(p.key(), b.getStringAttr(p.value()));
      }
      m->setAttr(attr::kMetadataProps, props.getDictionary(ctx));
    }
    if (model.functions_size()) {
      SmallVector<Attribute> fs;
      for (const auto &f : model.functions())
        fs.push_back(opaque("FunctionProto", f));
      m->setAttr(attr::kFunctions, b.getArrayAttr(fs));
    }
    if (model.training_info_size()) {
      SmallVector<Attribute> ts;
      for (const auto &t : model.training_info())
        ts.push_back(opaque("TrainingInfoProto", t));
      m->setAttr(attr::kTrainingInfo, b.getArrayAttr(ts));
    }
    keepUnknownFields(
        model, [&](Attribute a) { m->setAttr(attr::kUnknownFields, a); });
    if (!modelDir.empty())
      m->setAttr(attr::kModelDir, b.getStringAttr(modelDir));

    OpBuilder builder(ctx);
    builder.setInsertionPointToEnd(m.getBody());
    OperationState state(fileLoc, GraphOp::getOperationName());
    state.addAttribute(SymbolTable::getSymbolAttrName(),
                       b.getStringAttr("main"));
    state.addRegion();
    Operation *graph = builder.create(state);
    Scope scope;
    importGraph(*model.mutable_graph(), graph, scope);
    if (libonnx) {
      phase = nest(check ? "wait for onnx checker + shape inference"
                         : "wait for shape inference");
      std::optional<std::string> finding;
      libonnx->finish(check ? &finding : nullptr,
                      options.inferShapes ? &inferred : nullptr);
      if (check && !finding)
        finding = "did not run to the end";
      if (check && options.checkerFinding)
        *options.checkerFinding = *finding;
      else if (check && !finding->empty())
        emitWarning(fileLoc)
            << "onnx checker (libonnx 1.12, best effort): " << *finding;
      phase = nest("apply inferred types");
      applyInferredTypes();
    }
    phase = nest("verify");
    if (failed(verify(m)))
      return failure();
    return module;
  } catch (const ImportError &) {
    return failure();
  } catch (const std::exception &e) {
    emitError(fileLoc) << "internal error while importing: " << e.what();
    return failure();
  }
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

FailureOr<OwningOpRef<ModuleOp>> mrope::onnx::importOnnxModelFromBuffer(
    StringRef bytes, StringRef modelDir, StringRef displayName,
    MLIRContext *context, const ImportOptions &options) {
  context->loadDialect<OnnxDialect>();
  Location loc = FileLineColLoc::get(context, displayName, 0, 0);
  // libonnx's server takes the bytes before they are parsed here: its
  // worker parses and validates them itself, on the other core, and shares
  // none of the heap this import fills.
  std::unique_ptr<LibonnxJob> libonnx;
  if (options.runChecker || options.inferShapes) {
    TimingScope submit = options.timing
                             ? options.timing->nest("submit to libonnx")
                             : TimingScope();
    libonnx = LibonnxJob::submit(
        bytes, options.text ? LibonnxInput::ModelText : LibonnxInput::Model,
        options, options.runChecker, options.inferShapes);
    // Without a server libonnx runs in a child forked from here later:
    // its schemas are registered meanwhile.
    if (!libonnx && options.isolateLibonnx)
      prepareLibonnx();
  }
  llvm::scope_exit registered([] { waitForLibonnx(); });
  TimingScope parse =
      options.timing ? options.timing->nest("parse") : TimingScope();
  // On an arena: parsing allocates less and freeing the model at the end
  // of the import is one release, not one per message.
  google::protobuf::Arena arena;
  ::onnx::ModelProto &model =
      *google::protobuf::Arena::CreateMessage<::onnx::ModelProto>(&arena);
  if (auto problem = parseModelBytes(bytes, options.text, model))
    return emitError(loc) << *problem;
  parse.stop();
  Importer importer(context, displayName, modelDir, options);
  auto module = importer.run(model, std::move(libonnx));
  // Freeing the parsed model is part of the import's time (--timing adds
  // up).
  TimingScope free = options.timing
                         ? options.timing->nest("free the parsed model")
                         : TimingScope();
  arena.Reset();
  return module;
}

FailureOr<OwningOpRef<ModuleOp>>
mrope::onnx::importOnnxModel(StringRef path, MLIRContext *context,
                             const ImportOptions &optionsIn) {
  Location loc = FileLineColLoc::get(context, path, 0, 0);
  llvm::sys::fs::file_status st;
  if (std::error_code ec = llvm::sys::fs::status(path, st))
    return emitError(loc) << "cannot open: " << ec.message();
  if (!llvm::sys::fs::is_regular_file(st))
    return emitError(loc) << "not a regular file";
  if (st.getSize() == 0)
    return emitError(loc) << "empty file, not an ONNX model";
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return emitError(loc) << "cannot read: " << buffer.getError().message();
  ImportOptions options = optionsIn;
  if (path.ends_with(".onnxtext") || path.ends_with(".onnxtxt"))
    options.text = true;
  SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  (void)llvm::sys::fs::make_absolute(dir);
  llvm::sys::path::remove_dots(dir, /*remove_dot_dot=*/true);
  return importOnnxModelFromBuffer((*buffer)->getBuffer(), dir, path, context,
                                   options);
}
