//===- FixFusedSites.cpp - fused RoPE ops to true M-RoPE ------------------===//
#include "mrope/Transforms/FixFusedSites.h"
#include "mrope/Analysis/ArchTraits.h"

#include "FixSitesImpl.h"

#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Transforms/FixSites.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mrope;
using onnx::NodeOp;

namespace {

/// Per-frequency position axis of M-RoPE `sections` (contiguous, or
/// Qwen3-VL interleaved).
SmallVector<int64_t> axisOfFreqs(ArrayRef<int64_t> sections, bool interleaved) {
  int64_t numFreqs = 0;
  for (int64_t s : sections)
    numFreqs += s;
  SmallVector<int64_t> axes;
  if (!interleaved) {
    for (auto [axis, count] : llvm::enumerate(sections))
      axes.append(count, static_cast<int64_t>(axis));
    return axes;
  }
  int64_t numAxes = sections.size();
  for (int64_t i = 0; i < numFreqs; ++i) {
    int64_t axis = 0;
    for (int64_t a = 1; a < numAxes; ++a)
      if (i % numAxes == a && i < numAxes * sections[a])
        axis = a;
    axes.push_back(axis);
  }
  return axes;
}

/// Whether a cache is computed by nodes of the graph (not a graph input or
/// a constant, seen through the views that keep its rows).
static bool computedInGraph(Value cache) {
  Value v = match::peelCacheView(cache);
  return v.getDefiningOp() && !match::isConstant(v);
}

class Fixer {
public:
  Fixer(onnx::GraphOp graph, const FusedFixOptions &options)
      : graph(graph), options(options), b(graph.getContext()) {}

  LogicalResult fix(const FusedRopeSite &site);
  LogicalResult finish();
  FusedFixResult result;

private:
  /// Builds the new caches before `first`, named after it.
  onnx::OnnxBuilder cacheBuilder(NodeOp first) {
    b.setInsertionPoint(first);
    std::string prefix =
        first.getNodeName().empty() ? "mrope" : first.getNodeName().str();
    return onnx::OnnxBuilder(b, graph, first.getLoc(), prefix + "/mrope_caches",
                             "mrope.fused");
  }

  /// The architecture's sections for `site` (or --sections).
  FailureOr<SmallVector<int64_t>> sectionsFor(const FusedRopeSite &site);
  bool interleaved() const {
    return sectionOrderOf(options.arch) == rope::SectionOrder::interleaved;
  }
  /// The [3, B, S] positions input (added on first use); `old` is the 1D
  /// input it may replace.
  Value positions3(Value old);
  /// How change lines name what positions3 gives.
  StringRef newWords() const {
    return options.computePositions
               ? "the [3, batch, seq] positions the graph computes"
               : "the [3, batch, seq] input";
  }
  NamedAttribute intAttr(StringRef name, int64_t v) {
    return b.getNamedAttr(name, b.getI64IntegerAttr(v));
  }
  /// A copy of `node` with `opType`, `inputs` and `attrs` (name and output
  /// names kept) that replaces it.
  NodeOp replaceNode(NodeOp node, StringRef opType, StringRef domain,
                     ValueRange inputs, ArrayRef<NamedAttribute> attrs);
  SmallVector<NamedAttribute> attrsOf(NodeOp node,
                                      ArrayRef<StringRef> drop = {});

  LogicalResult fixMsRotary(const FusedRopeSite &site);
  LogicalResult fixOnnxRotary(const FusedRopeSite &site);
  LogicalResult fixGqa(const FusedRopeSite &site);
  LogicalResult fixDegenerate(const FusedRopeSite &site);
  LogicalResult fixPerToken(const FusedRopeSite &site);
  LogicalResult fixPerToken1D(const FusedRopeSite &site);

  onnx::GraphOp graph;
  const FusedFixOptions &options;
  OpBuilder b;
  Value newPositions;
  BlockArgument oldInput;
  /// Copied-row tensors already replaced (sites of several layers share
  /// them), by address: the op may be gone.
  llvm::DenseSet<void *> replacedRows;
};

FailureOr<SmallVector<int64_t>> Fixer::sectionsFor(const FusedRopeSite &site) {
  int64_t numFreqs = site.rotaryDim / 2;
  SmallVector<int64_t> sections(options.sections.begin(),
                                options.sections.end());
  if (sections.empty()) {
    SmallVector<int64_t> base = interleaved()
                                    ? SmallVector<int64_t>{24, 20, 20}
                                    : SmallVector<int64_t>{16, 24, 24};
    for (int64_t s : base) {
      if ((s * numFreqs) % 64)
        return NodeOp(site.nodes.front()).emitError()
               << "cannot scale the default M-RoPE sections to " << numFreqs
               << " frequencies: pass --sections";
      sections.push_back(s * numFreqs / 64);
    }
  }
  int64_t sum = 0;
  for (int64_t s : sections)
    sum += s;
  if (sections.size() != 3 || sum != numFreqs)
    return NodeOp(site.nodes.front()).emitError()
           << "M-RoPE needs 3 sections summing to " << numFreqs
           << " (rotary_dim / 2)";
  return sections;
}

Value Fixer::positions3(Value old) {
  if (!oldInput)
    if (auto arg = dyn_cast_or_null<BlockArgument>(old);
        arg && arg.getOwner() == &graph.getBodyBlock())
      oldInput = arg;
  if (newPositions)
    return newPositions;
  SmallVector<int64_t> shape{3, ShapedType::kDynamic, ShapedType::kDynamic};
  SmallVector<StringRef> params{"", "", ""};
  // (batch, seq) of the old 1D input, else (under compute mode, where they
  // name input_ids and the mask) of the first input of rank >= 2.
  Value dimsOf = oldInput;
  if (!dimsOf && options.computePositions)
    for (BlockArgument arg : graph.getBodyBlock().getArguments())
      if (auto type = dyn_cast<RankedTensorType>(arg.getType());
          !dimsOf && type && type.getRank() >= 2)
        dimsOf = arg;
  if (dimsOf) {
    auto dimsArg = cast<BlockArgument>(dimsOf);
    auto type = dyn_cast<RankedTensorType>(dimsOf.getType());
    if (type &&
        (type.getRank() == 2 || (dimsOf != oldInput && type.getRank() > 2))) {
      shape[1] = type.getDimSize(0);
      shape[2] = type.getDimSize(1);
      if (auto dims = graph.getArgAttrOfType<ArrayAttr>(dimsArg.getArgNumber(),
                                                        onnx::attr::kDimParams))
        for (auto [i, d] : llvm::enumerate(dims.getAsValueRange<StringAttr>()))
          if (i < 2)
            params[i + 1] = d;
    }
  }
  std::string name = positionsInputName(graph, options.positionsName);
  bool named = llvm::any_of(params, [](StringRef p) { return !p.empty(); });
  newPositions = graph.addInput(
      name, RankedTensorType::get(shape, b.getI64Type()),
      named ? ArrayRef<StringRef>(params) : ArrayRef<StringRef>());
  return newPositions;
}

SmallVector<NamedAttribute> Fixer::attrsOf(NodeOp node,
                                           ArrayRef<StringRef> drop) {
  SmallVector<NamedAttribute> attrs;
  if (DictionaryAttr dict = node.getAttrsAttr())
    for (NamedAttribute a : dict)
      if (!llvm::is_contained(drop, a.getName().strref()))
        attrs.push_back(a);
  return attrs;
}

NodeOp Fixer::replaceNode(NodeOp node, StringRef opType, StringRef domain,
                          ValueRange inputs, ArrayRef<NamedAttribute> attrs) {
  b.setInsertionPoint(node);
  NodeOp copy = NodeOp::create(b, node.getLoc(), node.getResultTypes(), opType,
                               inputs, attrs, node.getNodeName(), domain);
  if (ArrayAttr outputs = node.getOutputsAttr())
    copy.setOutputsAttr(outputs);
  node.replaceAllUsesWith(copy.getResults());
  node.erase();
  return copy;
}

LogicalResult Fixer::fixMsRotary(const FusedRopeSite &site) {
  FailureOr<SmallVector<int64_t>> sections = sectionsFor(site);
  if (failed(sections))
    return failure();
  for (NodeOp node : site.nodes) {
    if (node.getIntAttr("is_packed_batching").value_or(0) != 0)
      return node.emitError("cannot fix RotaryEmbedding with "
                            "is_packed_batching = 1: MRotaryEmbedding has no "
                            "packed mode");
    if (node.getFloatAttr("scale").value_or(1.0f) != 1.0f)
      return node.emitError("cannot fix RotaryEmbedding with scale != 1: "
                            "MRotaryEmbedding has no scale");
    Value pos = positions3(site.source);
    SmallVector<NamedAttribute> attrs =
        attrsOf(node, {"is_packed_batching", "scale"});
    attrs.push_back(
        b.getNamedAttr("mrope_section", b.getDenseI64ArrayAttr(*sections)));
    attrs.push_back(intAttr("mrope_layout", interleaved() ? 1 : 0));
    Value x = node.getInputs()[0];
    replaceNode(node, "MRotaryEmbedding", "com.microsoft",
                {x, pos, site.cosCache, site.sinCache}, attrs);
  }
  result.changes.push_back(
      llvm::formatv("{0} x com.microsoft.RotaryEmbedding -> MRotaryEmbedding "
                    "(sections [{1}], {2}) over the same caches",
                    site.nodes.size(),
                    llvm::make_range(sections->begin(), sections->end()),
                    interleaved() ? "interleaved" : "contiguous")
          .str());
  return success();
}

LogicalResult Fixer::fixOnnxRotary(const FusedRopeSite &site) {
  FailureOr<SmallVector<int64_t>> sections = sectionsFor(site);
  if (failed(sections))
    return failure();
  NodeOp first = site.nodes.front();
  auto cacheType = dyn_cast<RankedTensorType>(site.cosCache.getType());
  int64_t numFreqs = site.rotaryDim / 2;
  if (!cacheType || cacheType.getRank() != 2 ||
      (!cacheType.isDynamicDim(1) && cacheType.getDimSize(1) != numFreqs))
    return first.emitError("cannot fix RotaryEmbedding: its caches are not "
                           "[max_position, rotary_dim / 2]");
  Value pos = positions3(site.source);
  // merged[b, s, i] = cache[pos[axis(i), b, s], i], as one Gather of the
  // flattened cache at pos * F + i: exact, any section order.
  onnx::OnnxBuilder emit = cacheBuilder(first);
  int64_t dyn = ShapedType::kDynamic;
  Type i64 = b.getI64Type();
  auto bsf = [&](Type elem) {
    return RankedTensorType::get({dyn, dyn, numFreqs}, elem);
  };
  Value rows =
      emit.ints(axisOfFreqs(*sections, interleaved()), {numFreqs}, "rows");
  Value gathered =
      emit.node("Gather", RankedTensorType::get({numFreqs, dyn, dyn}, i64),
                {pos, rows}, {intAttr("axis", 0)});
  Value perToken =
      emit.node("Transpose", bsf(i64), {gathered},
                {b.getNamedAttr("perm", b.getDenseI64ArrayAttr({1, 2, 0}))});
  SmallVector<int64_t> channel;
  for (int64_t i = 0; i < numFreqs; ++i)
    channel.push_back(i);
  Value index =
      emit.node("Add", bsf(i64),
                {emit.node("Mul", bsf(i64),
                           {perToken, emit.ints({numFreqs}, {}, "width")}),
                 emit.ints(channel, {numFreqs}, "channel")});
  Value flat = emit.ints({-1}, {1}, "flat");
  auto merged = [&](Value cache) {
    Type elem = cast<ShapedType>(cache.getType()).getElementType();
    Value flatCache =
        emit.node("Reshape", RankedTensorType::get({dyn}, elem), {cache, flat});
    return emit.node("Gather", bsf(elem), {flatCache, index},
                     {intAttr("axis", 0)});
  };
  Value cos = merged(site.cosCache), sin = merged(site.sinCache);
  for (NodeOp node : site.nodes)
    replaceNode(node, "RotaryEmbedding", "", {node.getInputs()[0], cos, sin},
                attrsOf(node));
  result.changes.push_back(
      llvm::formatv("{0} x RotaryEmbedding: per-token M-RoPE caches (sections "
                    "[{1}], {2}) gathered from the old caches, no position_ids",
                    site.nodes.size(),
                    llvm::make_range(sections->begin(), sections->end()),
                    interleaved() ? "interleaved" : "contiguous")
          .str());
  return success();
}

LogicalResult Fixer::fixGqa(const FusedRopeSite &site) {
  FailureOr<SmallVector<int64_t>> sections = sectionsFor(site);
  if (failed(sections))
    return failure();
  for (NodeOp node : site.nodes) {
    auto in = node.getInputs();
    auto present = [&](unsigned i) {
      return i < in.size() && !in[i].getDefiningOp<onnx::NoneOp>();
    };
    if (!present(1) || !present(2))
      return node.emitError("cannot fix GroupQueryAttention with packed QKV: "
                            "its query and key cannot be rotated apart");
    for (unsigned i = 12; i < in.size(); ++i)
      if (present(i))
        return node.emitError("cannot fix GroupQueryAttention with inputs "
                              "after head_sink (q/k norm happens inside the "
                              "op, before its rotary)");
    std::optional<int64_t> heads = node.getIntAttr("num_heads");
    std::optional<int64_t> kvHeads = node.getIntAttr("kv_num_heads");
    if (!heads || !kvHeads)
      return node.emitError("GroupQueryAttention without num_heads and "
                            "kv_num_heads");
    Value pos = positions3(site.positions ? site.source : Value());
    b.setInsertionPoint(node);
    auto rotate = [&](Value x, int64_t numHeads, StringRef what) {
      SmallVector<NamedAttribute> attrs{
          intAttr("num_heads", numHeads),
          intAttr("interleaved", site.gptj ? 1 : 0),
          intAttr("rotary_embedding_dim", site.rotaryDim),
          b.getNamedAttr("mrope_section", b.getDenseI64ArrayAttr(*sections)),
          intAttr("mrope_layout", interleaved() ? 1 : 0)};
      std::string name =
          (node.getNodeName().empty() ? "mrope" : node.getNodeName().str()) +
          "/mrope_" + what.str();
      return NodeOp::create(b, node.getLoc(), TypeRange{x.getType()},
                            "MRotaryEmbedding",
                            ValueRange{x, pos, site.cosCache, site.sinCache},
                            attrs, name, "com.microsoft")
          .getResults()[0];
    };
    Value q = rotate(in[0], *heads, "q"), k = rotate(in[1], *kvHeads, "k");
    node->setOperand(0, q);
    node->setOperand(1, k);
    // The op no longer rotates: drop its caches and positions (absent
    // inputs where attention_bias or head_sink follow).
    unsigned keep = 7;
    for (unsigned i = 10; i < in.size(); ++i)
      if (present(i))
        keep = i + 1;
    if (keep > 7) {
      b.setInsertionPointToStart(&graph.getBodyBlock());
      Value none = onnx::NoneOp::create(b, node.getLoc());
      for (unsigned i = 7; i < 10 && i < keep; ++i)
        node->setOperand(i, none);
    }
    if (node->getNumOperands() > keep)
      node->eraseOperands(keep, node->getNumOperands() - keep);
    node.setOnnxAttr("do_rotary", b.getI64IntegerAttr(0));
    node.removeOnnxAttr("rotary_interleaved");
  }
  result.changes.push_back(
      llvm::formatv("{0} x GroupQueryAttention: do_rotary = 0, query and key "
                    "rotated first by MRotaryEmbedding (sections [{1}], {2}) "
                    "over the same caches",
                    site.nodes.size(),
                    llvm::make_range(sections->begin(), sections->end()),
                    interleaved() ? "interleaved" : "contiguous")
          .str());
  return success();
}

LogicalResult Fixer::fixDegenerate(const FusedRopeSite &site) {
  Value built = site.positions;
  Value pos = positions3(site.source);
  Operation *producer = built.getDefiningOp();
  if (site.op == FusedOp::MsMRotary) {
    for (NodeOp node : site.nodes)
      node->setOperand(1, pos);
  } else {
    built.replaceAllUsesWith(pos);
  }
  if (producer)
    eraseDeadProducers(graph, {producer});
  result.changes.push_back(
      llvm::formatv("{0}: the three position rows built from {1} replaced by "
                    "{2}",
                    fusedOpName(site.op), site.positionsName(), newWords())
          .str());
  return success();
}

/// Per-token caches (a [B*S, F] table the op reads through Range(B*S)) are
/// right per token whatever the op's position_ids: the positions to fix are
/// the rows the caches are built from. Degenerate rows are replaced by the
/// true [3, batch, seq] positions; the op keeps reading per token. Per-token
/// caches from 1D positions are recomputed (fixPerToken1D).
/// Per-token caches computed from 1D positions: new caches, computed the
/// same way (f32 position x f32 inv_freq, one product per channel, Cos and
/// Sin) from the [3, batch, seq] positions, each channel from its section's
/// row, replace the old ones as the fused ops' cos/sin inputs:
///   cache[b, s, c] = cos(f32(pos3[slot(c), b, s]) * inv_freq[freq(c)])
/// reshaped to [B*S, F] when the old caches were.
LogicalResult Fixer::fixPerToken1D(const FusedRopeSite &site) {
  NodeOp first = site.nodes.front();
  auto refuse = [&](StringRef why) {
    return first.emitError()
           << "cannot fix " << fusedOpName(site.op) << " " << nodeLabel(first)
           << ": its per-token caches come from 1D positions (" << why << ")";
  };
  // Rank and width as the analysis read them (the type's, or the lattice's
  // where shape inference lost the caches' shape); the element type of the
  // caches, else of the angle table they are the cos/sin of.
  int64_t numFreqs = static_cast<int64_t>(site.channelFreqs.size());
  ArrayRef<int64_t> shape = site.cacheShape;
  Type elem = match::elementTypeOf(site.cosCache);
  if (!elem && site.table)
    elem = match::elementTypeOf(site.table);
  if (!elem || !elem.isF32() || (shape.size() != 2 && shape.size() != 3) ||
      (shape.back() >= 0 && shape.back() != numFreqs))
    return refuse("caches that are not f32 [B, S, F] or [B*S, F]");
  if (llvm::any_of(site.channelFreqs, [&](int32_t f) {
        return f < 0 || f >= static_cast<int32_t>(site.invFreq.size());
      }))
    return refuse("channels of unknown frequency");
  FusedRopeSite scaled = site;
  scaled.rotaryDim = 2 * numFreqs;
  FailureOr<SmallVector<int64_t>> sections = sectionsFor(scaled);
  if (failed(sections))
    return failure();
  Value pos = positions3(site.source);
  onnx::OnnxBuilder emit = cacheBuilder(first);
  int64_t dyn = ShapedType::kDynamic;
  Type i64 = b.getI64Type(), f32 = b.getF32Type();
  SmallVector<float> freqs;
  for (int32_t f : site.channelFreqs)
    freqs.push_back(site.invFreq[f]);
  Value rows =
      emit.ints(axisOfFreqs(*sections, interleaved()), {numFreqs}, "rows");
  Value gathered =
      emit.node("Gather", RankedTensorType::get({numFreqs, dyn, dyn}, i64),
                {pos, rows}, {intAttr("axis", 0)});
  auto bsf = [&](Type elem) {
    return RankedTensorType::get({dyn, dyn, numFreqs}, elem);
  };
  Value perToken =
      emit.node("Transpose", bsf(i64), {gathered},
                {b.getNamedAttr("perm", b.getDenseI64ArrayAttr({1, 2, 0}))});
  Value angle =
      emit.node("Mul", bsf(f32),
                {emit.node("Cast", bsf(f32), {perToken}, {intAttr("to", 1)}),
                 emit.constant(DenseElementsAttr::get(
                                   RankedTensorType::get({numFreqs}, f32),
                                   ArrayRef<float>(freqs)),
                               "inv_freq")});
  auto cache = [&](StringRef fn) {
    Value v = emit.node(fn, bsf(f32), {angle});
    if (shape.size() == 2)
      v = emit.node("Reshape", RankedTensorType::get({dyn, numFreqs}, f32),
                    {v, emit.ints({-1, numFreqs}, {2}, "flat")});
    return v;
  };
  Value cos = cache("Cos"), sin = cache("Sin");
  unsigned cosAt = site.op == FusedOp::MsRotary     ? 2
                   : site.op == FusedOp::OnnxRotary ? 1
                                                    : 7;
  result.changes.push_back(
      llvm::formatv("{0} x {1}: per-token caches recomputed from the [3, "
                    "batch, seq] positions (sections [{2}], {3}) in place of "
                    "the ones from {4}",
                    site.nodes.size(), fusedOpName(site.op),
                    llvm::make_range(sections->begin(), sections->end()),
                    interleaved() ? "interleaved" : "contiguous",
                    site.positionsName())
          .str());
  SmallVector<Operation *> old;
  for (NodeOp node : site.nodes) {
    for (unsigned i : {cosAt, cosAt + 1})
      if (Operation *def = node->getOperand(i).getDefiningOp())
        old.push_back(def);
    node->setOperand(cosAt, cos);
    node->setOperand(cosAt + 1, sin);
  }
  eraseDeadProducers(graph, old);
  return success();
}

LogicalResult Fixer::fixPerToken(const FusedRopeSite &site) {
  NodeOp first = site.nodes.front();
  Value built = site.rowsBuiltAt;
  if (site.kind == FusedPositions::OneD)
    return fixPerToken1D(site);
  if (site.kind != FusedPositions::MRopeDegenerate || !built)
    return first.emitError()
           << "cannot fix " << fusedOpName(site.op) << " " << nodeLabel(first)
           << ": its per-token caches are built in the graph from positions ("
           << site.positionsName()
           << ") whose rows do not follow M-RoPE sections";
  if (replacedRows.contains(built.getAsOpaquePointer())) {
    result.changes.push_back(
        llvm::formatv("{0} {1}: reads the caches fixed above",
                      fusedOpName(site.op), nodeLabel(first))
            .str());
    return success();
  }
  // Unranked is fine: the analysis read these as [3, batch, seq] rows (shape
  // inference gives up on an Unsqueeze spelled as a Reshape of Shape dims).
  auto type = dyn_cast<TensorType>(built.getType());
  if (!type || (type.hasRank() && type.getRank() != 3) ||
      !type.getElementType().isInteger())
    return first.emitError()
           << "cannot fix " << fusedOpName(site.op) << " " << nodeLabel(first)
           << ": the copied position rows are not an integer [3, batch, seq] "
              "tensor";
  Value pos = positions3(site.source);
  if (type.getElementType() != b.getI64Type()) {
    b.setInsertionPointAfterValue(pos);
    if (auto arg = dyn_cast<BlockArgument>(pos))
      b.setInsertionPointToStart(arg.getOwner());
    pos = NodeOp::create(
              b, first.getLoc(),
              TypeRange{RankedTensorType::get(
                  cast<RankedTensorType>(pos.getType()).getShape(),
                  type.getElementType())},
              "Cast", ValueRange{pos},
              {intAttr("to", type.getElementType().getIntOrFloatBitWidth() == 32
                                 ? 6
                                 : 7)},
              "mrope/positions_cast")
              .getResult(0);
  }
  // Worded before the copies (and maybe their source) are erased.
  result.changes.push_back(
      llvm::formatv("{0} {1}: the three position rows its per-token caches "
                    "are built from (copies of {2}) replaced by {3}; the op "
                    "still reads its caches per token",
                    fusedOpName(site.op), nodeLabel(first),
                    site.positionsName(), newWords())
          .str());
  replacedRows.insert(built.getAsOpaquePointer());
  Operation *producer = built.getDefiningOp();
  built.replaceAllUsesWith(pos);
  if (producer)
    eraseDeadProducers(graph, {producer});
  return success();
}

LogicalResult Fixer::fix(const FusedRopeSite &site) {
  LogicalResult fixed = failure();
  if (site.perTokenCaches)
    fixed = fixPerToken(site);
  else if (site.kind == FusedPositions::MRopeDegenerate)
    fixed = fixDegenerate(site);
  else if (site.kind != FusedPositions::OneD)
    return NodeOp(site.nodes.front()).emitError("no fix for fused site: ")
           << site.reason;
  else if (computedInGraph(site.cosCache) || computedInGraph(site.sinCache))
    // The 1D fixes below index the caches by position value: right for
    // per-position tables only. Caches computed in the graph whose meaning
    // the lattice lost may be per-token tables; never guess.
    return NodeOp(site.nodes.front()).emitError("cannot fix ")
           << fusedOpName(site.op)
           << ": its caches are computed in the graph and what they hold "
              "could not be followed, so they cannot be indexed by position";
  else if (site.op == FusedOp::MsRotary)
    fixed = fixMsRotary(site);
  else if (site.op == FusedOp::OnnxRotary)
    fixed = fixOnnxRotary(site);
  else if (site.op == FusedOp::GroupQueryAttention)
    fixed = fixGqa(site);
  else
    return NodeOp(site.nodes.front()).emitError("no fix for 1D positions in ")
           << fusedOpName(site.op);
  if (succeeded(fixed))
    ++result.fixedSites;
  return fixed;
}

/// Erases the nodes that read `input` (directly or through others) and are
/// dead now: an Identity or Cast the exporter put between the old positions
/// and the fused ops keeps the old input alive otherwise.
static void eraseDeadReaders(onnx::GraphOp graph, BlockArgument input) {
  SmallVector<Operation *> readers;
  llvm::DenseSet<Operation *> seen;
  SmallVector<Value> work{input};
  while (!work.empty())
    for (Operation *user : work.pop_back_val().getUsers())
      if (isa<NodeOp>(user) && seen.insert(user).second) {
        readers.push_back(user);
        llvm::append_range(work, user->getResults());
      }
  eraseDeadProducers(graph, readers);
}

LogicalResult Fixer::finish() {
  if (!newPositions)
    return success();
  result.positions = newPositions;
  if (oldInput)
    eraseDeadReaders(graph, oldInput);
  std::string oldName =
      oldInput ? graph.getInputName(oldInput.getArgNumber()).str() : "";
  if (options.computePositions) {
    // The new input is a placeholder computeFusedPositions fills; the old
    // 1D input goes when nothing reads it any more.
    if (!oldInput || !oldInput.use_empty())
      return success();
    if (failed(graph.eraseArgument(oldInput.getArgNumber())))
      return graph.emitError("could not remove input '") << oldName << "'";
    result.changes.push_back("removed input '" + oldName +
                             "' (the graph computes its positions now)");
    return success();
  }
  // The new input takes the old 1D input's place when nothing reads that
  // any more.
  if (oldInput && oldInput.use_empty()) {
    unsigned oldIndex = oldInput.getArgNumber();
    auto newArg = cast<BlockArgument>(newPositions);
    unsigned newIndex = newArg.getArgNumber();
    SmallVector<std::string> params;
    if (auto dims =
            graph.getArgAttrOfType<ArrayAttr>(newIndex, onnx::attr::kDimParams))
      for (StringRef d : dims.getAsValueRange<StringAttr>())
        params.push_back(d.str());
    SmallVector<StringRef> refs(params.begin(), params.end());
    graph.setInputType(oldIndex, newArg.getType(), refs);
    newArg.replaceAllUsesWith(oldInput);
    if (failed(graph.eraseArgument(newIndex)))
      return graph.emitError("could not remove a temporary input");
    result.positions = oldInput;
    result.changes.push_back("input '" + oldName +
                             "' is now int64 [3, batch, seq]");
    return success();
  }
  result.changes.push_back(
      "added input '" +
      graph.getInputName(cast<BlockArgument>(newPositions).getArgNumber())
          .str() +
      "' int64 [3, batch, seq]");
  return success();
}

/// Whether `v` is an int64 [3, batch, seq] input of `graph`.
bool isPositions3Input(onnx::GraphOp graph, Value v) {
  auto arg = dyn_cast_or_null<BlockArgument>(v);
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
  return arg && arg.getOwner() == &graph.getBodyBlock() && type &&
         type.getRank() == 3 && type.getDimSize(0) == 3 &&
         type.getElementType().isInteger(64);
}

} // namespace

FailureOr<FusedFixResult> mrope::fixFusedSites(onnx::GraphOp graph,
                                               const FusedFixOptions &options) {
  std::vector<FusedRopeSite> sites = findFusedRopeSites(graph, options.arch);
  // A fix must not leave beside it a site whose caches the graph computes
  // from positions it could not follow: that site may be the same bug, and
  // the written model would still have it.
  if (llvm::any_of(sites, [](const FusedRopeSite &s) { return s.bug; }))
    for (const FusedRopeSite &site : sites)
      if (site.kind == FusedPositions::PerToken &&
          (computedInGraph(site.cosCache) || computedInGraph(site.sinCache)))
        return NodeOp(site.nodes.front())
                   .emitError("cannot fix the fused "
                              "sites: ")
               << fusedOpName(site.op) << " " << nodeLabel(site.nodes.front())
               << " reads caches computed in the graph from positions that "
                  "could not be followed (whether it has the bug too is not "
                  "known)";
  Fixer fixer(graph, options);
  for (const FusedRopeSite &site : sites)
    if (site.bug && failed(fixer.fix(site)))
      return failure();
  if (failed(fixer.finish()))
    return failure();
  // The fix must leave every site in place and none a bug.
  std::vector<FusedRopeSite> after = findFusedRopeSites(graph, options.arch);
  int64_t before = 0, now = 0;
  for (const FusedRopeSite &site : sites)
    before += site.rotations();
  for (const FusedRopeSite &site : after) {
    now += site.rotations();
    if (site.bug)
      return NodeOp(site.nodes.front())
                 .emitError(
                     "internal error: fused site still a bug after the fix: ")
             << site.reason;
  }
  if (now != before)
    return graph.emitError("internal error: the fixed graph rotates ")
           << now << " tensors with fused ops instead of " << before;
  return std::move(fixer.result);
}

FailureOr<Value> mrope::fusedPositionsInput(onnx::GraphOp graph,
                                            ArrayRef<FusedRopeSite> sites) {
  Value found;
  for (const FusedRopeSite &site : sites) {
    bool mrope = site.kind == FusedPositions::MRope ||
                 site.kind == FusedPositions::MRopeInterleaved;
    Value source = site.source;
    auto arg = dyn_cast_or_null<BlockArgument>(source);
    if (site.bug || !mrope || !arg || arg.getOwner() != &graph.getBodyBlock())
      continue;
    if (!isPositions3Input(graph, source))
      return graph.emitError("--positions compute: input '")
             << graph.getInputName(arg.getArgNumber())
             << "' that fused RoPE sites read is not int64 [3, batch, seq]";
    if (found && found != source)
      return graph.emitError("--positions compute: the fused M-RoPE sites "
                             "read their positions from different inputs");
    found = source;
  }
  return found;
}

FailureOr<Value>
mrope::computeFusedPositions(onnx::GraphOp graph, Value input, Arch arch,
                             bool announce, std::vector<std::string> &changes) {
  if (!isPositions3Input(graph, input))
    return graph.emitError("--positions compute: the fused RoPE sites do not "
                           "read one int64 [3, batch, seq] positions input");
  if (failed(fix::checkModelForFix(graph)))
    return failure();
  graph.getContext()->getOrLoadDialect<rope::RopeDialect>();
  auto arg = cast<BlockArgument>(input);
  std::string name = graph.getInputName(arg.getArgNumber()).str();
  // The same computation as unfused sites get (FixPositions.cpp).
  FixOptions options;
  options.arch = arch;
  options.computePositions = true;
  FixResult result;
  fix::DecoderPositions positions(graph, options, result, input);
  FailureOr<Value> computed = positions.get();
  if (failed(computed))
    return failure();
  // One named, typed handle on the computed positions: what the fused
  // nodes read, what the proof gives its probe rows to, and, recorded in
  // value_info, what a later analysis of the written model reads as [3,
  // batch, seq] positions whatever shape inference makes of the
  // get_rope_index nodes (an Identity costs nothing at run time).
  OpBuilder b(graph.getContext());
  b.setInsertionPointAfterValue(*computed);
  RankedTensorType type = positions.type();
  auto handle =
      NodeOp::create(b, graph.getLoc(), TypeRange{type}, "Identity",
                     ValueRange{*computed}, {}, "mrope_fix/positions/computed");
  std::string handleName = "mrope_fix/position_ids";
  handle.setOutputsAttr(b.getStrArrayAttr({handleName}));
  SmallVector<Attribute> infos;
  if (ArrayAttr old = graph.getValueInfoAttr())
    infos.append(old.begin(), old.end());
  SmallVector<StringRef> dims(positions.params.begin(), positions.params.end());
  infos.push_back(onnx::ValueInfoAttr::get(
      graph.getContext(), handleName, type,
      onnx::getDimParamsAttr(graph.getContext(), dims), StringAttr()));
  graph.setValueInfoAttr(b.getArrayAttr(infos));
  input.replaceAllUsesWith(handle.getResult(0));
  if (failed(graph.eraseArgument(arg.getArgNumber())))
    return graph.emitError("could not remove input '") << name << "'";
  changes.insert(changes.end(), result.changes.begin(), result.changes.end());
  if (announce)
    changes.push_back("removed input '" + name +
                      "' (the graph computes its positions now)");
  return handle.getResult(0);
}
