//===- ProveFused.cpp - prove a fused RoPE fix on probe positions ---------===//
//
// See "Fused RoPE ops" in mrope/Fix/ProveFix.h.
//
//===----------------------------------------------------------------------===//
#include "mrope/Fix/ProveFix.h"

#include "ProveProbe.h"

#include "mrope/Analysis/Evaluate.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::prove;
using namespace mrope::prove::detail;
using eval::Evaluator;
using eval::Tensor;
using onnx::NodeOp;

namespace {

/// The fused ops whose rotation the evaluator runs.
bool evaluable(FusedOp op) {
  return op == FusedOp::MsRotary || op == FusedOp::MsMRotary ||
         op == FusedOp::OnnxRotary;
}

/// A node's key: the tensor it rotates (the fix keeps it; an emitted node
/// may read it through views of its own).
std::string nodeKey(NodeOp node) { return rotatedKey(node->getOperand(0)); }

/// The cos and sin `node` applies per token and frequency on the probe
/// positions already given to `ev`: x is 1 on the first channel of each
/// rotated pair and 0 elsewhere, so the pair comes out as (cos, sin).
bool nodeTables(Evaluator &ev, NodeOp node, int64_t tokens, ProbeTables &out,
                std::string &why) {
  std::string label = "fused node " + nodeLabel(node);
  Value x = node->getOperand(0);
  bool onnx23 = node.getDomain().empty();
  int64_t numHeads = node.getIntAttr("num_heads").value_or(0);
  // An x of unknown rank is probed as [B, S, hidden] where the op takes
  // that without num_heads, else as [B, N, S, H].
  auto type = dyn_cast<RankedTensorType>(x.getType());
  int64_t rank = type ? type.getRank() : onnx23 && numHeads == 0 ? 4 : 3;
  if (rank != 3 && rank != 4) {
    why = label + ": its input is not [B, S, hidden] or [B, N, S, H]";
    return false;
  }
  const Tensor *cache = ev.evaluate(node->getOperand(onnx23 ? 1 : 2));
  if (!cache || cache->shape.empty()) {
    why = label + ": its cos cache cannot be evaluated: " + ev.why();
    return false;
  }
  int64_t width = cache->shape.back();
  auto dim = [&](int64_t d, int64_t otherwise) {
    return !type || type.isDynamicDim(d) ? otherwise : type.getDimSize(d);
  };
  int64_t heads, head;
  SmallVector<int64_t> shape;
  if (rank == 3) {
    // Heads of num_heads, or of twice the cache width (as the ops read x).
    int64_t hidden = dim(2, (numHeads > 0 ? numHeads : 1) * 2 * width);
    head = numHeads > 0 ? hidden / numHeads : 2 * width;
    heads = head > 0 ? hidden / head : 0;
    shape = {1, tokens, hidden};
  } else {
    heads = dim(1, 1);
    head = dim(3, 2 * width);
    shape = {1, heads, tokens, head};
  }
  int64_t rotaryDim = node.getIntAttr("rotary_embedding_dim").value_or(0);
  if (rotaryDim == 0)
    rotaryDim = head;
  int64_t half = rotaryDim / 2;
  bool gptj = node.getIntAttr("interleaved").value_or(0) != 0;
  if (heads <= 0 || half <= 0) {
    why = label + ": its heads and rotary dim cannot be read";
    return false;
  }
  auto at = [&](int64_t s, int64_t n, int64_t c) {
    return rank == 3 ? (s * heads + n) * head + c : (n * tokens + s) * head + c;
  };
  std::vector<float> data(tokens * heads * head, 0.f);
  for (int64_t s = 0; s < tokens; ++s)
    for (int64_t n = 0; n < heads; ++n)
      for (int64_t i = 0; i < half; ++i)
        data[at(s, n, gptj ? 2 * i : i)] = 1.f;
  ev.bind(x, Tensor::floats(shape, data));
  const Tensor *y = ev.evaluate(node->getResult(0));
  if (!y) {
    why = label + ": cannot be evaluated: " + ev.why();
    return false;
  }
  if (!y->isFloat() || y->numElements() != (int64_t)data.size()) {
    why = label + ": its output is not x's shape";
    return false;
  }
  out.tokens = tokens;
  out.freqs = half;
  out.cos.assign(tokens * half, 0.f);
  out.sin.assign(tokens * half, 0.f);
  for (int64_t s = 0; s < tokens; ++s)
    for (int64_t i = 0; i < half; ++i) {
      out.cos[s * half + i] = y->f[at(s, 0, gptj ? 2 * i : i)];
      out.sin[s * half + i] = y->f[at(s, 0, gptj ? 2 * i + 1 : i + half)];
    }
  return true;
}

/// The [3, B, S] integer graph input the nodes of `site` read (past
/// their x); null when there is not exactly one.
Value positionsInput(onnx::GraphOp graph, const FusedRopeSite &site) {
  Value found;
  for (BlockArgument arg : graph.getBodyBlock().getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.getRank() != 3 || type.getDimSize(0) != 3 ||
        !type.getElementType().isInteger())
      continue;
    bool read = false;
    for (NodeOp node : site.nodes)
      for (unsigned k = 1; !read && k < node->getNumOperands(); ++k)
        read = dependsOn(node->getOperand(k), arg);
    if (!read)
      continue;
    if (found)
      return Value();
    found = arg;
  }
  return found;
}

/// A GroupQueryAttention site whose nodes take query and key apart (not
/// packed QKV): what the fix can rotate before the op.
bool separateQk(const FusedRopeSite &site) {
  return llvm::all_of(site.nodes, [](NodeOp node) {
    auto in = node.getInputs();
    return in.size() > 2 && !in[1].getDefiningOp<onnx::NoneOp>() &&
           !in[2].getDefiningOp<onnx::NoneOp>();
  });
}

/// GroupQueryAttention with do_rotary rotates query and key inside the op
/// as com.microsoft.RotaryEmbedding does (ONNX Runtime's contract; the fix
/// rests on it): over the op's caches, num_heads (query) and kv_num_heads
/// (key) heads, rotary_interleaved pairs, at the positions the op uses.
/// That rotation is evaluated on temporary RotaryEmbedding nodes fed the
/// probe rows, erased afterwards; the attention itself is not evaluated.
bool evaluateGqaOriginal(onnx::GraphOp graph, const FusedRopeSite &site,
                         int64_t opset, FusedOriginal &out,
                         const std::string &label, std::string &why) {
  NodeOp first = site.nodes.front();
  auto qType = dyn_cast<RankedTensorType>(first.getInputs()[0].getType());
  int64_t tokens = 8;
  if (qType && qType.getRank() == 3 && !qType.isDynamicDim(1) &&
      qType.getDimSize(1) > 0 && qType.getDimSize(1) <= 4096)
    tokens = qType.getDimSize(1);
  out.tokens = tokens;
  OpBuilder b(graph.getContext());
  onnx::OnnxBuilder emit(b, graph, first.getLoc(), "mrope_prove",
                         "mrope_prove");
  Value positions =
      emit.ints(std::vector<int64_t>(tokens, 0), {1, tokens}, "gqa_positions");
  SmallVector<NodeOp> temps;
  for (NodeOp node : site.nodes) {
    b.setInsertionPoint(node);
    for (auto [k, heads] : {std::pair(0u, node.getIntAttr("num_heads")),
                            std::pair(1u, node.getIntAttr("kv_num_heads"))}) {
      Value x = node.getInputs()[k];
      SmallVector<NamedAttribute> attrs{
          emit.intAttr("num_heads", heads.value_or(0)),
          emit.intAttr("interleaved", site.gptj ? 1 : 0)};
      if (site.rotaryDim > 0)
        attrs.push_back(emit.intAttr("rotary_embedding_dim", site.rotaryDim));
      temps.push_back(NodeOp::create(
          b, node.getLoc(), TypeRange{x.getType()}, "RotaryEmbedding",
          ValueRange{x, positions, site.cosCache, site.sinCache}, attrs,
          "mrope_prove/gqa_rotary", "com.microsoft"));
    }
  }
  Probe probe(tokens);
  bool ok = true;
  for (auto [row, tables] :
       {std::pair(&probe.text, &out.rowT), std::pair(&probe.rowH, &out.rowH),
        std::pair(&probe.rowW, &out.rowW)}) {
    Evaluator ev(opset);
    bindProbeInputShapes(ev, graph, tokens,
                         site.positions ? site.positions : positions);
    ArrayRef<int64_t> r(*row);
    ok = seedPositions(ev, positions, {r}, why);
    for (NodeOp temp : temps) {
      ProbeTables t;
      if (!ok || !(ok = nodeTables(ev, temp, tokens, t, why)))
        break;
      (*tables)[nodeKey(temp)] = std::move(t);
    }
    if (!ok)
      break;
  }
  for (NodeOp temp : temps)
    temp.erase();
  positions.getDefiningOp()->erase();
  if (!ok) {
    why = label + ": " + why;
    return false;
  }
  for (NodeOp node : site.nodes)
    out.gqaNodes.push_back(node.getNodeName().str());
  return true;
}

} // namespace

bool mrope::prove::canProveFused(ArrayRef<FusedRopeSite> sites,
                                 std::string &why) {
  for (const FusedRopeSite &site : sites)
    if (site.bug && !evaluable(site.op) &&
        !(site.op == FusedOp::GroupQueryAttention && separateQk(site))) {
      why = fusedOpName(site.op).str();
      return false;
    }
  return true;
}

bool mrope::prove::evaluateFusedOriginal(onnx::GraphOp graph,
                                         ArrayRef<FusedRopeSite> sites,
                                         FusedOriginal &out, std::string &why,
                                         bool correctToo) {
  int64_t opset = opsetOf(graph);
  for (auto [index, site] : llvm::enumerate(sites)) {
    bool mrope = site.kind == FusedPositions::MRope ||
                 site.kind == FusedPositions::MRopeInterleaved;
    if (!site.bug && !(correctToo && mrope && evaluable(site.op)))
      continue;
    std::string label = "fused site " + std::to_string(index) + " (" +
                        nodeLabel(site.nodes.front()) + ")";
    if (site.op == FusedOp::GroupQueryAttention) {
      if (!evaluateGqaOriginal(graph, site, opset, out, label, why))
        return false;
      continue;
    }
    // The positions the site rotates by: the 1D tensor the fix replaces
    // (the rows' source for degenerate M-RoPE and per-token caches).
    Value positions = site.source ? site.source : site.positions;
    if (!positions) {
      why = label + ": has no positions the probe can give";
      return false;
    }
    out.tokens = probeTokens(positions);
    Probe probe(out.tokens);
    for (auto [row, tables] :
         {std::pair(&probe.text, &out.rowT), std::pair(&probe.rowH, &out.rowH),
          std::pair(&probe.rowW, &out.rowW)}) {
      Evaluator ev(opset);
      bindProbeInputShapes(ev, graph, probe.tokens, positions);
      ArrayRef<int64_t> r(*row);
      if (!seedPositions(ev, positions, {r}, why)) {
        why = label + ": " + why;
        return false;
      }
      for (NodeOp node : site.nodes) {
        ProbeTables t;
        if (!nodeTables(ev, node, probe.tokens, t, why)) {
          why = label + ": " + why;
          return false;
        }
        (*tables)[nodeKey(node)] = std::move(t);
      }
    }
  }
  return true;
}

bool mrope::prove::proveFusedFixed(onnx::GraphOp graph,
                                   ArrayRef<FusedRopeSite> after,
                                   const FusedOriginal &original,
                                   ArrayRef<int64_t> requestedSections,
                                   std::vector<std::string> &proved,
                                   std::string &why, Value computed) {
  int64_t opset = opsetOf(graph);
  Probe probe(original.tokens);
  int64_t tokens = probe.tokens;
  llvm::StringSet<> seen;
  llvm::DenseSet<Operation *> provedNodes;
  for (auto [index, site] : llvm::enumerate(after)) {
    std::string label =
        "fused site " + std::to_string(index) + " of the fixed graph";
    // The original's key of what a node rotates.
    auto keyOf = [&](NodeOp node) -> std::string {
      std::string key = nodeKey(node);
      if (original.rowT.count(key))
        return key;
      auto alias = original.alias.find(key);
      return alias == original.alias.end() ? "" : alias->second;
    };
    SmallVector<NodeOp> nodes;
    for (NodeOp node : site.nodes)
      if (!keyOf(node).empty())
        nodes.push_back(node);
    if (nodes.empty())
      continue; // not a site the fix rewrote
    if (!evaluable(site.op)) {
      why = label + ": " + fusedOpName(site.op).str() + " cannot be evaluated";
      return false;
    }
    bool interleaved = site.kind == FusedPositions::MRopeInterleaved;
    if (site.kind != FusedPositions::MRope && !interleaved) {
      why = label + ": the analysis reads it as " +
            fusedPositionsName(site.kind).str() + ", not M-RoPE";
      return false;
    }
    if (!requestedSections.empty() &&
        ArrayRef<int64_t>(site.sections) != requestedSections) {
      why = label + ": its sections " + sectionsText(site.sections) +
            " are not the requested " + sectionsText(requestedSections);
      return false;
    }
    Value positions = computed ? computed : positionsInput(graph, site);
    if (!positions) {
      why = label + ": reads no single [3, batch, seq] positions input";
      return false;
    }
    if (computed && llvm::any_of(nodes, [&](NodeOp node) {
          return llvm::none_of(node->getOperands().drop_front(), [&](Value in) {
            return dependsOn(in, computed);
          });
        })) {
      why = label + ": a node does not read the positions the graph computes";
      return false;
    }
    // Which dim of the graph inputs is the batch: a positions input names
    // it; computed positions take it from the [B, S] token ids they are
    // computed from.
    Value shapes = positions;
    if (computed)
      for (BlockArgument arg : graph.getBodyBlock().getArguments()) {
        auto type = dyn_cast<RankedTensorType>(arg.getType());
        if (type && type.getRank() == 2 && type.getDimSize(1) != 3 &&
            type.getElementType().isInteger() && dependsOn(computed, arg)) {
          shapes = arg;
          break;
        }
      }
    ArrayRef<int64_t> rowT(probe.text), rowH(probe.rowH), rowW(probe.rowW);
    float maxDiff = 0;
    for (bool text : {true, false}) {
      Evaluator ev(opset);
      bindProbeInputShapes(ev, graph, tokens, shapes);
      SmallVector<ArrayRef<int64_t>> rows =
          text ? SmallVector<ArrayRef<int64_t>>{rowT, rowT, rowT}
               : SmallVector<ArrayRef<int64_t>>{rowT, rowH, rowW};
      if (!seedPositions(ev, positions, rows, why)) {
        why = label + ": " + why;
        return false;
      }
      for (NodeOp node : nodes) {
        std::string key = keyOf(node);
        ProbeTables got;
        if (!nodeTables(ev, node, tokens, got, why)) {
          why = label + ": " + why;
          return false;
        }
        // (a) the original's on text; (b) frequency i from the original
        // on row axis(i).
        const ProbeTables *byAxis[3] = {&original.rowT.find(key)->second,
                                        &original.rowH.find(key)->second,
                                        &original.rowW.find(key)->second};
        int64_t freqs = got.freqs;
        if (byAxis[0]->freqs != freqs) {
          why = label + ": " + nodeLabel(node) + " rotates " +
                std::to_string(2 * freqs) + " channels, the original " +
                std::to_string(2 * byAxis[0]->freqs);
          return false;
        }
        std::vector<float> wantCos(tokens * freqs), wantSin(tokens * freqs);
        for (int64_t i = 0; i < freqs; ++i) {
          int64_t axis =
              text ? 0 : eval::mropeAxisOf(site.sections, interleaved, i);
          if (axis < 0 || axis > 2) {
            why = label + ": its sections " + sectionsText(site.sections) +
                  " do not cover its " + std::to_string(freqs) + " frequencies";
            return false;
          }
          for (int64_t t = 0; t < tokens; ++t) {
            wantCos[t * freqs + i] = byAxis[axis]->cos[t * freqs + i];
            wantSin[t * freqs + i] = byAxis[axis]->sin[t * freqs + i];
          }
        }
        for (auto [g, w, name] : {std::tuple(&got.cos, &wantCos, "cos"),
                                  std::tuple(&got.sin, &wantSin, "sin")}) {
          std::string d = compare(*g, *w, freqs, maxDiff);
          if (d.empty())
            continue;
          why = label + ": on " +
                (text ? "text positions the " + std::string(name) + " of " +
                            key + " is not the original's: "
                      : "multimodal positions the " + std::string(name) +
                            " of " + key + " is not the original's per row " +
                            "of " + sectionsText(site.sections) +
                            (interleaved ? " interleaved" : "") + ": ") +
                d;
          return false;
        }
      }
    }
    for (NodeOp node : nodes) {
      seen.insert(keyOf(node));
      provedNodes.insert(node);
    }
    std::string line;
    llvm::raw_string_ostream os(line);
    os << "fused site " << index << ": " << nodes.size() << " "
       << fusedOpName(site.op)
       << " node(s): cos/sin equal the original's on text positions and "
          "the original's per row of "
       << sectionsText(site.sections) << (interleaved ? " interleaved" : "")
       << " on multimodal positions (max |diff| "
       << llvm::format("%.1e", maxDiff) << ")";
    proved.push_back(line);
  }
  // GroupQueryAttention: the rotation moved out of the op into the nodes
  // proven above; the op must no longer rotate.
  for (const std::string &name : original.gqaNodes) {
    NodeOp gqa;
    for (auto node : graph.getBodyBlock().getOps<NodeOp>())
      if (node.getNodeName() == name &&
          node.getOpType() == "GroupQueryAttention")
        gqa = node;
    auto proven = [&](Value v) {
      return v.getDefiningOp() && provedNodes.contains(v.getDefiningOp());
    };
    if (!gqa || gqa.getIntAttr("do_rotary").value_or(0) != 0 ||
        gqa.getInputs().size() < 2 || !proven(gqa.getInputs()[0]) ||
        !proven(gqa.getInputs()[1])) {
      why = "GroupQueryAttention '" + name +
            "' of the fixed graph still rotates, or its query and key are "
            "not the proven rotations";
      return false;
    }
  }
  if (!original.partial && seen.size() != original.rowT.size()) {
    why = "the fixed graph's fused nodes rotate " +
          std::to_string(seen.size()) + " of the " +
          std::to_string(original.rowT.size()) +
          " tensors the original's rotated";
    return false;
  }
  return true;
}

bool mrope::prove::perturbFusedFix(onnx::GraphOp graph, StringRef how,
                                   Value computed) {
  if (how == "scale") {
    // The first fused node's cos 1e-3 too large.
    for (auto node : graph.getBodyBlock().getOps<NodeOp>()) {
      bool onnx23 = node.isOnnx("RotaryEmbedding");
      if (!onnx23 && !(node.getDomain() == "com.microsoft" &&
                       (node.getOpType() == "RotaryEmbedding" ||
                        node.getOpType() == "MRotaryEmbedding")))
        continue;
      unsigned at = onnx23 ? 1 : 2;
      Value cos = node->getOperand(at);
      auto type = dyn_cast<RankedTensorType>(cos.getType());
      OpBuilder b(node);
      onnx::OnnxBuilder emit(b, graph, node.getLoc(), "mrope_perturb",
                             "mrope_perturb");
      Value factor = emit.constant(DenseElementsAttr::get(
          RankedTensorType::get({1}, b.getF32Type()), ArrayRef<float>{1.001f}));
      node->setOperand(at, emit.node("Mul", type ? Type(type) : cos.getType(),
                                     {cos, factor}));
      return true;
    }
    return false;
  }
  if (how != "shift" && how != "swap")
    return false;
  // The [3, B, S] positions the fix feeds its nodes: wrapped after the
  // point the proof gives the probe rows to.
  auto wrap = [&](Value pos, RankedTensorType type) {
    OpBuilder b(graph.getContext());
    if (auto arg = dyn_cast<BlockArgument>(pos))
      b.setInsertionPointToStart(arg.getOwner());
    else
      b.setInsertionPointAfterValue(pos);
    onnx::OnnxBuilder emit(b, graph, graph.getLoc(), "mrope_perturb",
                           "mrope_perturb");
    Value wrapped =
        how == "shift"
            ? emit.node("Add", type, {pos, emit.ints({1}, {1}, "one")})
            : emit.node("Gather", type,
                        {pos, emit.ints({0, 2, 1}, {3}, "rows")},
                        {b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
    pos.replaceAllUsesExcept(wrapped, wrapped.getDefiningOp());
  };
  if (computed) {
    auto type = dyn_cast<RankedTensorType>(computed.getType());
    if (!type || computed.use_empty())
      return false;
    wrap(computed, type);
    return true;
  }
  for (BlockArgument arg : graph.getBodyBlock().getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.getRank() != 3 || type.getDimSize(0) != 3 ||
        !type.getElementType().isInteger() || arg.use_empty())
      continue;
    wrap(arg, type);
    return true;
  }
  return false;
}
