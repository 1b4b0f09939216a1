//===- Export.cpp - onnx dialect -> ONNX model ----------------------------===//
//
// Writes the ModelProto an onnx-dialect module stands for. Names: every
// value gets its stored ONNX name unless that clashes, graph outputs keep
// their names, values passes created get fresh unique names. Tensors:
// dense / dense_resource bytes are written as raw_data; external data is
// copied file-to-file (copy_file_range) into the output's own data file.
// Both files are written to temporaries and renamed on success.
//
//===----------------------------------------------------------------------===//
#include "mrope/Target/Onnx/Export.h"
#include "Common.h"
#include "DataFile.h"
#include "Libonnx.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/unknown_field_set.h>
#include <onnx/onnx_pb.h>

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

using namespace mlir;
using namespace mrope::onnx;
using namespace mrope::onnx::detail;

namespace {

struct ExportError {};

/// Where a tensor's bytes come from.
struct TensorSource {
  ArrayRef<char> memory; // dense_resource blob or converted dense
  std::string owned;     // bytes converted from a DenseElementsAttr
  std::string file;      // external source file
  int64_t offset = 0, length = 0;
  bool isFile = false;
  int64_t size() const { return isFile ? length : (int64_t)memory.size(); }
};

class Exporter {
public:
  Exporter(ModuleOp module, StringRef outPath, const ExportOptions &options,
           std::string *buffer = nullptr)
      : module(module), ctx(module.getContext()), outPath(outPath.str()),
        options(options), buffer(buffer) {}

  LogicalResult run();

private:
  std::unique_ptr<LibonnxJob> startCheck(const ::onnx::ModelProto &model,
                                         llvm::StringRef bytes);
  void finishCheck(LibonnxJob &job);
  ImportOptions libonnxOptions; // the checker's limits: the defaults
  [[noreturn]] void fail(Location loc, const Twine &msg) {
    emitError(loc) << msg.str();
    throw ExportError();
  }
  [[noreturn]] void fail(const Twine &msg) { fail(module.getLoc(), msg); }

  // Names ------------------------------------------------------------------
  bool taken(StringRef name) const {
    for (const auto &s : scopes)
      if (s.contains(name))
        return true;
    return false;
  }
  std::string uniqueName(StringRef base) {
    if (!base.empty() && !taken(base))
      return base.str();
    std::string stem = base.empty() ? std::string("mrope") : base.str();
    unsigned &counter = counters[stem];
    std::string candidate;
    do {
      candidate = stem + "_" + std::to_string(++counter);
    } while (taken(candidate));
    return candidate;
  }
  void claim(StringRef name) { scopes.back().insert(name); }
  std::string nameOf(Value v, Operation *user) {
    if (llvm::isa_and_nonnull<NoneOp>(v.getDefiningOp()))
      return "";
    auto it = names.find(v);
    if (it == names.end())
      fail(user->getLoc(),
           "internal: a value used by an exported node has no name");
    return it->second;
  }

  // Types and tensors ------------------------------------------------------
  void exportType(Type type, ArrayAttr dims, ::onnx::TypeProto *out,
                  Location loc, StringRef what);
  void exportValueInfo(StringRef name, Type type, DictionaryAttr attrs,
                       ::onnx::ValueInfoProto *out, Location loc);
  TensorSource tensorSource(Attribute value, Location loc, StringRef what);
  void exportTensor(Attribute value, StringRef name, ::onnx::TensorProto *t,
                    bool isInitializer, Location loc);
  void writeExternal(TensorSource &src, ::onnx::TensorProto *t);
  int64_t tensorBytes(Attribute value);

  // Graphs -----------------------------------------------------------------
  void exportGraph(Operation *graphOp, ::onnx::GraphProto *g);
  void exportNode(NodeOp node, ::onnx::NodeProto *n);
  void exportAttribute(NodeOp node, StringRef name, Attribute value,
                       ::onnx::AttributeProto *a);
  static void restoreUnknown(Operation *op, google::protobuf::Message &m) {
    if (auto p = op->getAttrOfType<ProtoAttr>(attr::kUnknownFields))
      m.GetReflection()->MutableUnknownFields(&m)->ParseFromString(
          p.getBytes().str());
  }

  ModuleOp module;
  MLIRContext *ctx;
  std::string outPath, dataPath, dataLocation, modelDir;
  const ExportOptions &options;
  std::string *buffer; // export to memory, not to outPath
  ExportOptions::Placement placement = ExportOptions::Placement::Keep;
  std::vector<llvm::StringSet<>> scopes;
  std::vector<llvm::StringSet<>> nodeNames; // per graph
  llvm::StringMap<unsigned> nodeNameCounters;
  llvm::StringMap<unsigned> counters;
  DenseMap<Value, std::string> names;
  llvm::StringMap<std::pair<std::string, uint64_t>> resolvedLocations;
  DataFileWriter data;
  // Written to temporaries, renamed into place once both are complete.
  std::optional<llvm::sys::fs::TempFile> dataFile, modelFile;
  void discardTemporaries() {
    if (options.precopy) // it may be writing to the data file taken from it
      options.precopy->wait();
    for (auto *temp : {&dataFile, &modelFile})
      if (*temp) {
        consumeError((*temp)->discard());
        temp->reset();
      }
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

void Exporter::exportType(Type type, ArrayAttr dims, ::onnx::TypeProto *out,
                          Location loc, StringRef what) {
  if (auto opaque = llvm::dyn_cast<mrope::onnx::OpaqueType>(type)) {
    if (!out->ParseFromString(opaque.getProto().str()))
      fail(loc, what + ": corrupt !onnx.opaque type");
    return;
  }
  auto shaped = llvm::dyn_cast<TensorType>(type);
  if (!shaped)
    fail(loc, what + ": type " + llvm::formatv("{0}", type).str() +
                  " has no ONNX counterpart");
  int32_t dt = dataTypeFor(shaped.getElementType());
  if (dt == UNDEFINED)
    fail(loc, what + ": element type " +
                  llvm::formatv("{0}", shaped.getElementType()).str() +
                  " has no ONNX counterpart");
  auto *tt = out->mutable_tensor_type();
  tt->set_elem_type(dt);
  auto ranked = llvm::dyn_cast<RankedTensorType>(shaped);
  if (!ranked)
    return;
  auto *shape = tt->mutable_shape();
  if (dims && (int64_t)dims.size() != ranked.getRank())
    dims = nullptr;
  for (int64_t i = 0; i < ranked.getRank(); ++i) {
    auto *d = shape->add_dim();
    if (!ranked.isDynamicDim(i)) {
      d->set_dim_value(ranked.getDimSize(i));
      continue;
    }
    if (dims)
      if (auto s = llvm::dyn_cast<StringAttr>(dims[i]);
          s && !s.getValue().empty())
        d->set_dim_param(s.getValue().str());
  }
}

void Exporter::exportValueInfo(StringRef name, Type type, DictionaryAttr attrs,
                               ::onnx::ValueInfoProto *out, Location loc) {
  out->set_name(name.str());
  ArrayAttr dims = attrs ? attrs.getAs<ArrayAttr>(attr::kDimParams) : nullptr;
  if (!llvm::isa<UnknownType>(type))
    exportType(type, dims, out->mutable_type(), loc, "'" + name.str() + "'");
  if (attrs)
    if (auto doc = attrs.getAs<StringAttr>(attr::kDocString))
      out->set_doc_string(doc.getValue().str());
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

int64_t Exporter::tensorBytes(Attribute value) {
  if (auto ext = llvm::dyn_cast<ExternalAttr>(value))
    return ext.getLength();
  if (auto res = llvm::dyn_cast<DenseResourceElementsAttr>(value))
    if (AsmResourceBlob *blob = res.getRawHandle().getBlob())
      return blob->getData().size();
  if (auto dense = llvm::dyn_cast<DenseElementsAttr>(value)) {
    if (llvm::isa<DenseStringElementsAttr>(dense))
      return 0;
    return dense.getNumElements() * getElementByteSize(dense.getElementType());
  }
  return 0;
}

TensorSource Exporter::tensorSource(Attribute value, Location loc,
                                    StringRef what) {
  TensorSource src;
  if (auto ext = llvm::dyn_cast<ExternalAttr>(value)) {
    // Resolved once per location: a model's tensors share one or two files.
    auto cached = resolvedLocations.find(ext.getLocation());
    if (cached == resolvedLocations.end()) {
      auto resolved = resolveExternalLocation(modelDir, ext.getLocation());
      if (!resolved)
        fail(loc, what + ": " + llvm::toString(resolved.takeError()));
      cached =
          resolvedLocations.try_emplace(ext.getLocation(), std::move(*resolved))
              .first;
    }
    const std::pair<std::string, uint64_t> *resolved = &cached->second;
    if ((uint64_t)ext.getOffset() + (uint64_t)ext.getLength() >
        resolved->second)
      fail(loc, what + ": external data runs past the end of '" +
                    ext.getLocation() + "'");
    src.isFile = true;
    src.file = resolved->first;
    src.offset = ext.getOffset();
    src.length = ext.getLength();
    return src;
  }
  if (auto res = llvm::dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob)
      fail(loc, what + ": dense_resource blob '" + res.getRawHandle().getKey() +
                    "' has no data");
    src.memory = blob->getData();
    int64_t expected = rawByteSize(dataTypeFor(res.getType().getElementType()),
                                   res.getType().getNumElements());
    if ((int64_t)src.memory.size() != expected)
      fail(loc, what + ": dense_resource blob has " + Twine(src.memory.size()) +
                    " bytes, its type needs " + Twine(expected));
    return src;
  }
  auto dense = llvm::dyn_cast<DenseElementsAttr>(value);
  if (!dense)
    fail(loc, what + ": value has no ONNX counterpart");
  Type et = dense.getElementType();
  int64_t n = dense.getNumElements();
  int64_t size = getElementByteSize(et);
  if (size == 0)
    fail(loc, what + ": dense values of " + llvm::formatv("{0}", et).str() +
                  " cannot be exported; use dense_resource");
  if (et.isInteger(1)) {
    src.owned.reserve(n);
    for (bool v : dense.getValues<bool>())
      src.owned.push_back(v ? 1 : 0);
  } else {
    ArrayRef<char> raw = dense.getRawData();
    if (dense.isSplat()) {
      src.owned.reserve(n * size);
      for (int64_t i = 0; i < n; ++i)
        src.owned.append(raw.data(), size);
    } else {
      src.owned.assign(raw.data(), raw.size());
    }
  }
  src.memory = ArrayRef<char>(src.owned.data(), src.owned.size());
  return src;
}

void Exporter::writeExternal(TensorSource &src, ::onnx::TensorProto *t) {
  if (src.isFile)
    data.addFileRange(t, std::move(src.file), src.offset, src.length);
  else
    data.addMemory(t, src.memory, std::move(src.owned));
}

void Exporter::exportTensor(Attribute value, StringRef name,
                            ::onnx::TensorProto *t, bool isInitializer,
                            Location loc) {
  std::string what =
      (isInitializer ? "initializer '" : "tensor '") + name.str() + "'";
  auto typed = llvm::dyn_cast<TypedAttr>(value);
  auto type = typed ? llvm::dyn_cast<RankedTensorType>(typed.getType())
                    : RankedTensorType();
  if (!type)
    fail(loc, what + ": value is not a ranked tensor");
  t->set_name(name.str());
  for (int64_t d : type.getShape())
    t->add_dims(d);
  int32_t dt = dataTypeFor(type.getElementType());
  if (dt == UNDEFINED)
    fail(loc, what + ": element type has no ONNX counterpart");
  t->set_data_type(dt);
  if (auto strs = llvm::dyn_cast<DenseStringElementsAttr>(value)) {
    for (StringRef s : strs.getValues<StringRef>())
      t->add_string_data(s.str());
    return;
  }
  TensorSource src = tensorSource(value, loc, what);
  bool external = false;
  switch (placement) {
  case ExportOptions::Placement::Keep:
    external = src.isFile;
    break;
  case ExportOptions::Placement::Threshold:
    external =
        isInitializer ? src.size() >= options.externalThreshold : src.isFile;
    break;
  case ExportOptions::Placement::Inline:
    external = false;
    break;
  }
  if (external) {
    writeExternal(src, t);
    return;
  }
  if (!src.isFile) {
    t->set_raw_data(src.memory.data(), src.memory.size());
    return;
  }
  std::string *raw = t->mutable_raw_data();
  raw->resize(src.length);
  int fd = ::open(src.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  bool ok = fd >= 0;
  for (int64_t done = 0; ok && done < src.length;) {
    ssize_t n =
        ::pread(fd, raw->data() + done, src.length - done, src.offset + done);
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0;
    done += n;
  }
  if (fd >= 0)
    ::close(fd);
  if (!ok)
    fail(loc, what + ": cannot read external data '" + src.file + "'");
}

//===----------------------------------------------------------------------===//
// Nodes and attributes
//===----------------------------------------------------------------------===//

static std::string printed(Attribute a) {
  std::string s;
  llvm::raw_string_ostream os(s);
  a.print(os);
  return s;
}

void Exporter::exportAttribute(NodeOp node, StringRef name, Attribute value,
                               ::onnx::AttributeProto *a) {
  using AP = ::onnx::AttributeProto;
  Location loc = node.getLoc();
  auto subgraph = [&](SubgraphRefAttr ref, ::onnx::GraphProto *g) {
    if (ref.getIndex() < 0 ||
        ref.getIndex() >= (int64_t)node.getSubgraphs().size())
      fail(loc, "attribute '" + name + "' refers to a missing region");
    Region &r = node.getSubgraphs()[ref.getIndex()];
    exportGraph(&r.front().front(), g);
  };
  if (auto p = llvm::dyn_cast<ProtoAttr>(value)) {
    if (p.getKind() != "AttributeProto" ||
        !a->ParseFromString(p.getBytes().str()))
      fail(loc, "attribute '" + name + "': corrupt #onnx.proto");
    a->set_name(name.str());
    return;
  }
  a->set_name(name.str());
  if (auto i = llvm::dyn_cast<IntegerAttr>(value)) {
    a->set_type(AP::INT);
    a->set_i(i.getType().isInteger(1) ? (int64_t)i.getValue().getZExtValue()
                                      : i.getValue().getSExtValue());
  } else if (auto f = llvm::dyn_cast<FloatAttr>(value)) {
    a->set_type(AP::FLOAT);
    a->set_f((float)f.getValueAsDouble());
  } else if (auto s = llvm::dyn_cast<StringAttr>(value)) {
    a->set_type(AP::STRING);
    a->set_s(s.getValue().str());
  } else if (auto is = llvm::dyn_cast<DenseI64ArrayAttr>(value)) {
    a->set_type(AP::INTS);
    for (int64_t v : is.asArrayRef())
      a->add_ints(v);
  } else if (auto is32 = llvm::dyn_cast<DenseI32ArrayAttr>(value)) {
    a->set_type(AP::INTS);
    for (int32_t v : is32.asArrayRef())
      a->add_ints(v);
  } else if (auto fs = llvm::dyn_cast<DenseF32ArrayAttr>(value)) {
    a->set_type(AP::FLOATS);
    for (float v : fs.asArrayRef())
      a->add_floats(v);
  } else if (auto ref = llvm::dyn_cast<SubgraphRefAttr>(value)) {
    a->set_type(AP::GRAPH);
    subgraph(ref, a->mutable_g());
  } else if (llvm::isa<ElementsAttr, ExternalAttr>(value)) {
    a->set_type(AP::TENSOR);
    // The tensor's own name, which the importer keeps beside the elements.
    StringRef tensorName;
    if (auto names = node->getAttrOfType<DictionaryAttr>("onnx.tensor_names"))
      if (auto s = names.getAs<StringAttr>(name))
        tensorName = s.getValue();
    exportTensor(value, tensorName, a->mutable_t(), /*isInitializer=*/false,
                 loc);
  } else if (auto t = llvm::dyn_cast<TypeAttr>(value)) {
    a->set_type(AP::TYPE_PROTO);
    exportType(t.getValue(), nullptr, a->mutable_tp(), loc,
               "attribute '" + name.str() + "'");
  } else if (auto arr = llvm::dyn_cast<ArrayAttr>(value)) {
    auto all = [&](auto pred) { return llvm::all_of(arr, pred); };
    if (arr.empty() ||
        all([](Attribute e) { return llvm::isa<StringAttr>(e); })) {
      a->set_type(AP::STRINGS);
      for (Attribute e : arr)
        a->add_strings(llvm::cast<StringAttr>(e).getValue().str());
    } else if (all([](Attribute e) { return llvm::isa<SubgraphRefAttr>(e); })) {
      a->set_type(AP::GRAPHS);
      for (Attribute e : arr)
        subgraph(llvm::cast<SubgraphRefAttr>(e), a->add_graphs());
    } else if (all([](Attribute e) {
                 return llvm::isa<ElementsAttr, ExternalAttr>(e);
               })) {
      a->set_type(AP::TENSORS);
      for (Attribute e : arr)
        exportTensor(e, "", a->add_tensors(), false, loc);
    } else if (all([](Attribute e) { return llvm::isa<IntegerAttr>(e); })) {
      a->set_type(AP::INTS);
      for (Attribute e : arr)
        a->add_ints(llvm::cast<IntegerAttr>(e).getInt());
    } else if (all([](Attribute e) { return llvm::isa<FloatAttr>(e); })) {
      a->set_type(AP::FLOATS);
      for (Attribute e : arr)
        a->add_floats((float)llvm::cast<FloatAttr>(e).getValueAsDouble());
    } else {
      fail(loc, "attribute '" + name + "' (" + printed(value) +
                    ") has no ONNX counterpart");
    }
  } else {
    fail(loc, "attribute '" + name + "' (" + printed(value) +
                  ") has no ONNX counterpart");
  }
}

void Exporter::exportNode(NodeOp node, ::onnx::NodeProto *n) {
  n->set_op_type(node.getOpType().str());
  if (!node.getDomain().empty())
    n->set_domain(node.getDomain().str());
  if (!node.getNodeName().empty()) {
    // Node names must be unique in a graph (ONNX Runtime rejects
    // duplicates, which passes create by cloning).
    std::string name = node.getNodeName().str();
    llvm::StringSet<> &used = nodeNames.back();
    if (used.contains(name)) {
      unsigned &counter = nodeNameCounters[name];
      std::string candidate;
      do {
        candidate = name + "_" + std::to_string(++counter);
      } while (used.contains(candidate));
      name = candidate;
    }
    used.insert(name);
    n->set_name(name);
  }
  if (auto doc = node.getDocString())
    n->set_doc_string(doc->str());
  for (Value in : node.getInputs())
    n->add_input(nameOf(in, node));
  for (Value out : node.getResults())
    n->add_output(names.lookup(out));
  if (DictionaryAttr attrs = node.getAttrsAttr()) {
    if (ArrayAttr order = node.getAttrOrderAttr();
        order && order.size() == attrs.size() &&
        llvm::all_of(order, [&](Attribute k) {
          auto s = llvm::dyn_cast<StringAttr>(k);
          return s && attrs.get(s);
        })) {
      for (Attribute k : order) {
        StringAttr key = llvm::cast<StringAttr>(k);
        exportAttribute(node, key.getValue(), attrs.get(key),
                        n->add_attribute());
      }
    } else {
      for (NamedAttribute na : attrs)
        exportAttribute(node, na.getName().getValue(), na.getValue(),
                        n->add_attribute());
    }
  }
  restoreUnknown(node, *n);
}

//===----------------------------------------------------------------------===//
// Graphs
//===----------------------------------------------------------------------===//

void Exporter::exportGraph(Operation *graphOp, ::onnx::GraphProto *g) {
  auto ftAttr = graphOp->getAttrOfType<TypeAttr>("function_type");
  if (!ftAttr)
    fail(graphOp->getLoc(), "graph without a function type");
  auto ft = llvm::cast<FunctionType>(ftAttr.getValue());
  auto argAttrs = graphOp->getAttrOfType<ArrayAttr>("arg_attrs");
  auto resAttrs = graphOp->getAttrOfType<ArrayAttr>("res_attrs");
  Block &block = graphOp->getRegion(0).front();
  auto ret = llvm::dyn_cast<ReturnOp>(block.getTerminator());
  auto dictAt = [](ArrayAttr attrs, unsigned i) -> DictionaryAttr {
    return attrs && i < attrs.size() ? llvm::dyn_cast<DictionaryAttr>(attrs[i])
                                     : DictionaryAttr();
  };
  auto nameAt = [&](ArrayAttr attrs, unsigned i) -> StringRef {
    if (DictionaryAttr d = dictAt(attrs, i))
      if (auto s = d.getAs<StringAttr>(attr::kName))
        return s.getValue();
    return "";
  };
  if (auto s = graphOp->getAttrOfType<StringAttr>("graph_name"))
    g->set_name(s.getValue().str());
  else if (llvm::isa<GraphOp>(graphOp))
    g->set_name("main_graph"); // the checker wants a name
  if (auto s = graphOp->getAttrOfType<StringAttr>("doc_string"))
    g->set_doc_string(s.getValue().str());

  scopes.emplace_back();
  nodeNames.emplace_back();
  llvm::StringSet<> inputNames;
  // Inputs: their names are the signature.
  for (BlockArgument arg : block.getArguments()) {
    unsigned i = arg.getArgNumber();
    StringRef stored = nameAt(argAttrs, i);
    std::string name =
        uniqueName(stored.empty() ? ("input_" + Twine(i)).str() : stored.str());
    claim(name);
    inputNames.insert(name);
    names[arg] = name;
    exportValueInfo(name, ft.getInput(i), dictAt(argAttrs, i), g->add_input(),
                    graphOp->getLoc());
  }
  // Output names are fixed too: the value an output returns is named after
  // it when it is a node result or initializer of this graph (first output
  // wins); otherwise an Identity is added below.
  SmallVector<std::string> outNames;
  DenseMap<Value, std::string> claimed;
  llvm::StringMap<Value> outputOwner;
  for (unsigned k = 0; k < ft.getNumResults(); ++k) {
    StringRef stored = nameAt(resAttrs, k);
    std::string name =
        stored.empty() ? ("output_" + Twine(k)).str() : stored.str();
    Value v = ret.getOperand(k);
    auto it = names.find(v);
    bool alreadyNamed = it != names.end() && it->second == name;
    if (!alreadyNamed && (taken(name) || outputOwner.count(name)) &&
        !(outputOwner.count(name) && outputOwner[name] == v))
      name = uniqueName(name + "_out");
    Operation *def = v.getDefiningOp();
    if (!alreadyNamed && !outputOwner.count(name) && def &&
        def->getBlock() == &block && llvm::isa<NodeOp, InitializerOp>(def) &&
        !claimed.count(v))
      claimed[v] = name;
    outputOwner.try_emplace(name, v);
    outNames.push_back(name);
  }
  for (auto &entry : outputOwner)
    if (!inputNames.contains(entry.getKey()))
      claim(entry.getKey());
  auto preferred = [&](Value v, StringRef stored) -> std::string {
    auto c = claimed.find(v);
    if (c != claimed.end())
      return c->second;
    if (outputOwner.count(stored)) // another value owns this output name
      return uniqueName(stored.str() + "_0");
    return uniqueName(stored);
  };

  // The graph's name → value map for value_info lookups.
  llvm::StringMap<Value> byStoredName;
  for (BlockArgument arg : block.getArguments())
    byStoredName.try_emplace(nameAt(argAttrs, arg.getArgNumber()), arg);

  for (Operation &op : block) {
    if (auto init = llvm::dyn_cast<InitializerOp>(op)) {
      std::string name;
      if (inputNames.contains(init.getName()) && !claimed.count(init))
        name = init.getName().str(); // default value of that input
      else {
        name = preferred(init, init.getName());
        claim(name);
      }
      names[init] = name;
      byStoredName.try_emplace(init.getName(), init.getResult());
      if (auto p = llvm::dyn_cast<ProtoAttr>(init.getValue())) {
        auto *st = g->add_sparse_initializer();
        if (!st->ParseFromString(p.getBytes().str()))
          fail(init.getLoc(), "sparse initializer '" + init.getName() +
                                  "': corrupt #onnx.proto");
        st->mutable_values()->set_name(name);
        continue;
      }
      ::onnx::TensorProto *t = g->add_initializer();
      exportTensor(init.getValue(), name, t, /*isInitializer=*/true,
                   init.getLoc());
      if (auto doc = init.getDocString())
        t->set_doc_string(doc->str());
      continue;
    }
    if (auto node = llvm::dyn_cast<NodeOp>(op)) {
      // Name the outputs first: subgraphs must not reuse them.
      for (OpResult r : node->getResults()) {
        std::string stored = node.getOutputName(r.getResultNumber());
        bool returned = claimed.count(r);
        if (stored.empty() && r.use_empty() && !returned) {
          names[r] = "";
          continue;
        }
        if (stored.empty() && !returned)
          stored = node.getNodeName().empty()
                       ? std::string("mrope")
                       : node.getNodeName().str() + "_output_" +
                             std::to_string(r.getResultNumber());
        std::string name = preferred(r, stored);
        claim(name);
        names[r] = name;
        byStoredName.try_emplace(node.getOutputName(r.getResultNumber()), r);
      }
      exportNode(node, g->add_node());
      continue;
    }
    if (llvm::isa<NoneOp, ReturnOp>(op))
      continue;
    fail(op.getLoc(), "'" + op.getName().getStringRef() +
                          "' cannot be exported to ONNX; only onnx dialect "
                          "ops can (lower it to onnx.node first)");
  }

  // Outputs; an Identity where the returned value carries another name.
  for (unsigned k = 0; k < ft.getNumResults(); ++k) {
    Value v = ret.getOperand(k);
    std::string src = nameOf(v, ret);
    if (src != outNames[k]) {
      if (src.empty())
        fail(ret.getLoc(), "graph output '" + outNames[k] +
                               "' returns an absent (onnx.none) value");
      auto *n = g->add_node();
      n->set_op_type("Identity");
      n->add_input(src);
      n->add_output(outNames[k]);
    }
    exportValueInfo(outNames[k], ft.getResult(k), dictAt(resAttrs, k),
                    g->add_output(), graphOp->getLoc());
  }

  // value_info: the recorded entry, or the value's current type when a pass
  // changed it.
  if (auto vinfo = graphOp->getAttrOfType<ArrayAttr>("value_info")) {
    for (Attribute a : vinfo) {
      auto vi = llvm::cast<ValueInfoAttr>(a);
      auto *out = g->add_value_info();
      Value v = byStoredName.lookup(vi.getName());
      std::string name = v ? names.lookup(v) : vi.getName().str();
      if (v && name.empty())
        name = vi.getName().str();
      out->set_name(name);
      Type type = vi.getType();
      ArrayAttr dims = vi.getDimParams();
      if (v && v.getType() != type && !llvm::isa<UnknownType>(v.getType())) {
        type = v.getType();
        dims = nullptr;
      }
      if (!llvm::isa<UnknownType>(type))
        exportType(type, dims, out->mutable_type(), graphOp->getLoc(),
                   "value_info '" + name + "'");
      if (vi.getDocString())
        out->set_doc_string(vi.getDocString().getValue().str());
    }
  }
  if (auto qa =
          graphOp->getAttrOfType<ArrayAttr>(attr::kQuantizationAnnotation))
    for (Attribute a : qa)
      g->add_quantization_annotation()->ParseFromString(
          llvm::cast<ProtoAttr>(a).getBytes().str());
  restoreUnknown(graphOp, *g);
  scopes.pop_back();
  nodeNames.pop_back();
}

//===----------------------------------------------------------------------===//
// Model
//===----------------------------------------------------------------------===//

/// The writer's own check (ExportOptions::check), started: libonnx's checker
/// in another process, where libonnx knows every op schema of the model's
/// opset (else ONNX Runtime is the judge, docs/onnx-dialect.md, and no job
/// starts). It checks `bytes`, `model` serialized, in a worker of libonnx's
/// server, else `model` as it is now in a child forked from here.
std::unique_ptr<LibonnxJob>
Exporter::startCheck(const ::onnx::ModelProto &model, llvm::StringRef bytes) {
  int64_t opset = 0;
  for (const auto &o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      opset = o.version();
  if (opset > libonnxMaxOpset())
    return nullptr;
  if (auto job = LibonnxJob::submit(bytes, LibonnxInput::Written,
                                    libonnxOptions, /*check=*/true,
                                    /*infer=*/false))
    return job;
  return std::make_unique<LibonnxJob>(model, libonnxOptions, /*check=*/true,
                                      /*infer=*/false);
}

void Exporter::finishCheck(LibonnxJob &job) {
  std::optional<std::string> finding;
  job.finish(&finding, nullptr);
  if (!finding)
    fail("the ONNX checker (libonnx) did not finish on the model to write");
  if (!finding->empty())
    fail("the model to write fails the ONNX checker (libonnx): " + *finding);
}

LogicalResult Exporter::run() {
  try {
    auto nest = [&](StringRef name) {
      return options.timing ? options.timing->nest(name) : TimingScope();
    };
    TimingScope phase = nest("verify");
    GraphOp main = getMainGraph(module);
    if (!main)
      fail("no onnx.graph in the module: nothing to export");
    if (failed(verify(module)))
      return failure();
    if (auto dir = module->getAttrOfType<StringAttr>(attr::kModelDir))
      modelDir = dir.getValue().str();
    dataLocation = options.dataFileName.empty()
                       ? llvm::sys::path::filename(outPath).str() + ".data"
                       : options.dataFileName;
    if (llvm::sys::path::has_parent_path(dataLocation) ||
        dataLocation.find("..") != std::string::npos)
      fail("data file name '" + dataLocation +
           "' must be a plain file name (it is written next to the output)");
    SmallString<256> dp(outPath);
    llvm::sys::path::remove_filename(dp);
    llvm::sys::path::append(dp, dataLocation);
    dataPath = std::string(dp);

    placement = buffer ? ExportOptions::Placement::Inline : options.placement;
    if (placement == ExportOptions::Placement::Keep) {
      // Inline data over the protobuf limit would not serialize: move the
      // large tensors out.
      int64_t inlineBytes = 0;
      module.walk([&](InitializerOp init) {
        if (!llvm::isa<ExternalAttr>(init.getValue()))
          inlineBytes += tensorBytes(init.getValue());
      });
      if (inlineBytes > (int64_t)1800 << 20) {
        emitWarning(module.getLoc())
            << "inline tensors total " << inlineBytes
            << " bytes, over protobuf's 2 GB limit: tensors of 1024 bytes or "
               "more go to external data file '"
            << dataLocation << "'";
        placement = ExportOptions::Placement::Threshold;
      }
    }

    phase = nest("build ModelProto");
    // On an arena: freeing it is one release, not one per message.
    google::protobuf::Arena arena;
    ::onnx::ModelProto &model =
        *google::protobuf::Arena::CreateMessage<::onnx::ModelProto>(&arena);
    auto i64 = [&](StringRef key, int64_t def) {
      if (auto a = module->getAttrOfType<IntegerAttr>(key))
        return a.getInt();
      return def;
    };
    auto str = [&](StringRef key) -> std::string {
      if (auto a = module->getAttrOfType<StringAttr>(key))
        return a.getValue().str();
      return "";
    };
    model.set_ir_version(i64(attr::kIrVersion, 8));
    if (auto opsets = module->getAttrOfType<ArrayAttr>(attr::kOpsetImport)) {
      for (Attribute a : opsets) {
        auto o = llvm::dyn_cast<OpsetAttr>(a);
        if (!o)
          fail("onnx.opset_import entries must be #onnx.opset");
        auto *op = model.add_opset_import();
        op->set_domain(o.getDomain().str());
        op->set_version(o.getVersion());
      }
    } else {
      auto *op = model.add_opset_import();
      op->set_domain("");
      op->set_version(17);
    }
    if (auto s = str(attr::kProducerName); !s.empty())
      model.set_producer_name(s);
    if (auto s = str(attr::kProducerVersion); !s.empty())
      model.set_producer_version(s);
    if (auto s = str(attr::kDomain); !s.empty())
      model.set_domain(s);
    if (auto s = str(attr::kDocString); !s.empty())
      model.set_doc_string(s);
    if (int64_t v = i64(attr::kModelVersion, 0))
      model.set_model_version(v);
    if (auto props =
            module->getAttrOfType<DictionaryAttr>(attr::kMetadataProps))
      for (NamedAttribute p : props) {
        auto *e = model.add_metadata_props();
        e->set_key(p.getName().str());
        if (auto s = llvm::dyn_cast<StringAttr>(p.getValue()))
          e->set_value(s.getValue().str());
      }

    exportGraph(main, model.mutable_graph());

    if (auto fs = module->getAttrOfType<ArrayAttr>(attr::kFunctions))
      for (Attribute a : fs)
        model.add_functions()->ParseFromString(
            llvm::cast<ProtoAttr>(a).getBytes().str());
    if (auto ts = module->getAttrOfType<ArrayAttr>(attr::kTrainingInfo))
      for (Attribute a : ts)
        model.add_training_info()->ParseFromString(
            llvm::cast<ProtoAttr>(a).getBytes().str());
    restoreUnknown(module, model);

    // Data file placement first: it adds external_data to the tensors,
    // which the model's size must count.
    DataFilePrecopy *precopy =
        options.precopy && options.precopy->dataPath() == dataPath
            ? options.precopy
            : nullptr;
    if (!buffer && !data.empty()) {
      if (data.place(dataLocation, precopy ? precopy->sourceFile() : "")) {
        dataFile.emplace(precopy->takeFile());
      } else {
        precopy = nullptr;
        auto temp = llvm::sys::fs::TempFile::create(dataPath + "-%%%%%%%%.tmp");
        if (!temp)
          fail("cannot create data file next to '" + dataPath +
               "': " + llvm::toString(temp.takeError()));
        dataFile.emplace(std::move(*temp));
      }
    }
    // From here on the model is not written to: the sizes cached now serve
    // the serialization (and a checker's child forked from here shares the
    // model's pages).
    size_t size = model.ByteSizeLong();
    if (size > (size_t)INT_MAX)
      fail("the model is " + Twine(size) +
           " bytes inline, over protobuf's 2 GB limit; export with external "
           "data (--external-threshold)");
    if (buffer) {
      buffer->assign(size, '\0');
      model.SerializeWithCachedSizesToArray(
          reinterpret_cast<uint8_t *>(buffer->data()));
      if (options.check)
        if (auto checker = startCheck(model, *buffer))
          finishCheck(*checker);
      return success();
    }

    // The data file is written on a second thread while the model is
    // checked and serialized: with large weights the copy is most of the
    // export's time, and the checker's child process would otherwise wait.
    std::optional<std::string> copyError;
    {
      std::thread copier;
      if (dataFile)
        copier = std::thread([&, fd = dataFile->FD] {
          if (precopy)
            copyError = precopy->wait();
          if (!copyError)
            copyError = data.write(fd);
        });
      llvm::scope_exit join([&] {
        if (copier.joinable())
          copier.join();
      });
      phase = nest("serialize");
      std::string bytes(size, '\0');
      model.SerializeWithCachedSizesToArray(
          reinterpret_cast<uint8_t *>(bytes.data()));
      // The checker runs while the model is written to its temporary;
      // nothing is renamed into place before its verdict.
      std::unique_ptr<LibonnxJob> checker;
      if (options.check) {
        phase = nest("start onnx checker");
        checker = startCheck(model, bytes);
      }
      phase = nest("write model");
      auto temp = llvm::sys::fs::TempFile::create(outPath + "-%%%%%%%%.tmp");
      if (!temp)
        fail("cannot create '" + outPath +
             "': " + llvm::toString(temp.takeError()));
      modelFile.emplace(std::move(*temp));
      if (!writeAll(modelFile->FD, bytes.data(), bytes.size(), 0))
        fail("cannot write '" + outPath + "': " + std::strerror(errno));
      if (checker) {
        phase = nest("onnx checker");
        finishCheck(*checker);
      }
      phase = nest("write data file");
    }
    phase = nest("rename into place");
    if (copyError)
      fail("cannot write data file '" + dataPath + "': " + *copyError);
    if (dataFile) {
      if (llvm::Error e = dataFile->keep(dataPath))
        fail("cannot write '" + dataPath +
             "': " + llvm::toString(std::move(e)));
      dataFile.reset();
    }
    if (llvm::Error e = modelFile->keep(outPath))
      fail("cannot write '" + outPath + "': " + llvm::toString(std::move(e)));
    modelFile.reset();
    return success();
  } catch (const ExportError &) {
    discardTemporaries();
    return failure();
  } catch (const std::exception &e) {
    discardTemporaries();
    emitError(module.getLoc())
        << "internal error while exporting: " << e.what();
    return failure();
  }
}

LogicalResult mrope::onnx::exportOnnxModel(ModuleOp module, StringRef outPath,
                                           const ExportOptions &options) {
  // The model is renamed into place: over a device such as /dev/null that
  // would replace the device itself (as root).
  llvm::sys::fs::file_status status;
  if (!llvm::sys::fs::status(outPath, status) &&
      llvm::sys::fs::exists(status) && !llvm::sys::fs::is_regular_file(status))
    return emitError(module.getLoc())
           << "cannot write '" << outPath
           << "': it exists and is not a regular file (models are written to "
              "files)";
  Exporter exporter(module, outPath, options);
  return exporter.run();
}

LogicalResult
mrope::onnx::exportOnnxModelToBuffer(ModuleOp module, std::string &bytes,
                                     const ExportOptions &options) {
  Exporter exporter(module, "model.onnx", options, &bytes);
  return exporter.run();
}
