//===- ProveFix.cpp - prove a fix on probe positions before writing it ----===//
#include "mrope/Fix/ProveFix.h"

#include "ProveProbe.h"

#include "mrope/Analysis/Evaluate.h"
#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mrope;
using namespace mrope::prove;
using namespace mrope::prove::detail;
using eval::Evaluator;
using eval::Tensor;

namespace {

/// The window reorder of Qwen2.5-VL's tower gathers the rows computed from
/// the positions by a graph input the probe does not give (window_index),
/// in the original (RopeSite::reorders) and in the fixed graph (where the
/// fix applies it to the new positions rows). Bound to the identity
/// permutation of the rows it gathers, every token keeps its place, so the
/// tables compare token for token; that the reorder moves whole rows only,
/// and that the fix keeps it, is rope-raise's check (TokenReorder.h). Call
/// after the positions are seeded.
bool bindReorderIndices(Evaluator &ev, onnx::GraphOp graph,
                        const RopeSite &site, std::string &why) {
  for (auto gather : graph.getBodyBlock().getOps<onnx::NodeOp>()) {
    if (!gather.isOnnx("Gather") || gather->getNumOperands() != 2)
      continue;
    Value index = gather->getOperand(1);
    auto arg = dyn_cast<BlockArgument>(index);
    if (!arg || index == site.positions ||
        !dependsOn(gather->getOperand(0), site.positions))
      continue;
    const Tensor *rows = ev.evaluate(gather->getOperand(0));
    if (!rows || rows->shape.empty()) {
      why = "the rows its reorder " + nodeLabel(gather) +
            " gathers cannot be evaluated: " + ev.why();
      return false;
    }
    SmallVector<int64_t> identity(rows->shape[0]);
    for (auto [k, v] : llvm::enumerate(identity))
      v = k;
    ev.bind(index, Tensor::ints({rows->shape[0]}, identity));
  }
  return true;
}

/// `ev` ready to evaluate `site`'s tables on the probe: the graph inputs'
/// shapes for `tokens`, the positions seeded with `rows`, and a window
/// reorder's index bound.
bool seedProbe(Evaluator &ev, onnx::GraphOp graph, const RopeSite &site,
               int64_t tokens, ArrayRef<ArrayRef<int64_t>> rows,
               std::string &why) {
  bindProbeInputShapes(ev, graph, tokens, site.positions);
  return seedPositions(ev, site.positions, rows, why) &&
         bindReorderIndices(ev, graph, site, why);
}

/// The operand of the Mul `mul` that is not computed from `x`.
Value tableOperand(Operation *mul, Value x) {
  if (!mul || mul->getNumOperands() != 2)
    return Value();
  Value a = mul->getOperand(0), b = mul->getOperand(1);
  bool da = dependsOn(a, x), db = dependsOn(b, x);
  if (da == db)
    return Value();
  return da ? b : a;
}

/// The rotated value a rotation's tables act on, named for matching the
/// original with the fixed graph: the fix's own view nodes (transposes,
/// slices, named mrope_*) are looked through.
std::string rotationKey(const Rotation &r) {
  return rotatedKey(r.source ? r.source : r.x);
}

/// One product of a rotation's sum: a Mul, with the sign the sum gives it.
struct Product {
  Operation *mul;
  int sign;
};

/// The products `v` sums through Add, Sub, Neg, Identity and Cast; false
/// when it reaches anything else or more than `limit` products.
bool productsOf(Value v, int sign, SmallVectorImpl<Product> &out,
                size_t limit = 2, int depth = 0) {
  auto node = v.getDefiningOp<onnx::NodeOp>();
  if (!node || depth > 16 || out.size() > limit)
    return false;
  if (node.isOnnx("Mul") && node->getNumOperands() == 2) {
    out.push_back({node.getOperation(), sign});
    return out.size() <= limit;
  }
  if ((node.isOnnx("Neg") || node.isOnnx("Identity") || node.isOnnx("Cast")) &&
      node->getNumOperands() == 1)
    return productsOf(node->getOperand(0), node.isOnnx("Neg") ? -sign : sign,
                      out, limit, depth + 1);
  if ((node.isOnnx("Add") || node.isOnnx("Sub")) && node->getNumOperands() == 2)
    return productsOf(node->getOperand(0), sign, out, limit, depth + 1) &&
           productsOf(node->getOperand(1), node.isOnnx("Sub") ? -sign : sign,
                      out, limit, depth + 1);
  return false;
}

/// The cos and sin table operands of `r`, one per piece, in output channel
/// order: the sum x * c +/- rot * s (Add, or Sub and Neg in any spelling)
/// is one piece; a Concat of such sums on the last axis (x1 * c1 - x2 * s1,
/// x2 * c2 + x1 * s2) has one per sum. A product's table is its operand not
/// computed from the rotated tensor; it is the cos table when computed
/// from the site's cos table, the sin table when from its sin table.
bool tableOperands(const RopeSite &site, const Rotation &r,
                   SmallVectorImpl<Value> &cosT, SmallVectorImpl<Value> &sinT,
                   std::string &why) {
  Operation *combine = onnx::NodeOp(r.combine).getOperation();
  // The tensor the pieces' operands are channels of: x1, x2 and rot are
  // Slices/Splits of it. Value identities (Identity, same-type Cast) are
  // peeled too: one on the edge into x * cos leaves rot reading x itself.
  Value x = r.source ? r.source : r.x;
  while (auto node = x.getDefiningOp<onnx::NodeOp>()) {
    if (!(node.isOnnx("Slice") || node.isOnnx("Split") ||
          match::isValueIdentity(node)) ||
        node->getNumOperands() == 0)
      break;
    x = node->getOperand(0);
  }
  SmallVector<Value> sums;
  if (onnx::NodeOp(r.combine).isOnnx("Concat"))
    sums.append(combine->operand_begin(), combine->operand_end());
  else
    sums.push_back(combine->getResult(0));
  for (Value sum : sums) {
    SmallVector<Product> products;
    Value c, s;
    if (productsOf(sum, 1, products) && products.size() == 2)
      for (Product p : products) {
        Value t = tableOperand(p.mul, x);
        bool isCos = t && dependsOn(t, site.cosTable),
             isSin = t && site.sinTable && dependsOn(t, site.sinTable);
        if (isCos && !isSin && !c)
          c = t;
        else if (isSin && !isCos && !s)
          s = t;
      }
    if (!c || !s) {
      why = "its cos/sin tables are not operands of the Muls";
      return false;
    }
    cosT.push_back(c);
    sinT.push_back(s);
  }
  return true;
}

/// The cos and sin tables reaching `r`, per frequency.
bool rotationTables(Evaluator &ev, const RopeSite &site, const Rotation &r,
                    rope::PairLayout layout, int64_t freqs, int64_t tokens,
                    ProbeTables &out, std::string &why) {
  std::string label = "rotation " + nodeLabel(r.combine);
  SmallVector<Value> cosT, sinT;
  if (!tableOperands(site, r, cosT, sinT, why)) {
    why = label + ": " + why;
    return false;
  }
  out.tokens = tokens;
  out.freqs = freqs;
  for (auto [pieces, dst, name] : {std::tuple(&cosT, &out.cos, "cos"),
                                   std::tuple(&sinT, &out.sin, "sin")}) {
    // The pieces' tables side by side: [tokens, width] per output channel.
    std::vector<float> table;
    int64_t width = 0;
    for (Value piece : *pieces) {
      const Tensor *t = ev.evaluate(piece);
      if (!t) {
        why =
            label + ": its " + name + " table cannot be evaluated: " + ev.why();
        return false;
      }
      if (!t->isFloat() || t->shape.empty()) {
        why = label + ": its " + name + " table is not a float tensor";
        return false;
      }
      int64_t w = t->shape.back(), rows = w ? t->numElements() / w : 0;
      // The probe is one sequence, but a table broadcast to the batch of
      // another input (whose batch dim the probe could not tell) repeats
      // it: accept copies of the first sequence's table, nothing else.
      bool copies = rows > tokens && rows % tokens == 0;
      for (int64_t k = tokens * w; copies && k < rows * w; ++k)
        copies = t->f[k] == t->f[k % (tokens * w)];
      if (rows != tokens && !copies) {
        std::string shape;
        llvm::raw_string_ostream os(shape);
        llvm::interleave(t->shape, os, "x");
        why = label + ": its " + name + " table is [" + shape + "], not [" +
              std::to_string(tokens) + " tokens, channels]";
        return false;
      }
      std::vector<float> joined(tokens * (width + w));
      for (int64_t tok = 0; tok < tokens; ++tok) {
        std::copy_n(table.begin() + tok * width, width,
                    joined.begin() + tok * (width + w));
        std::copy_n(t->f.begin() + tok * w, w,
                    joined.begin() + tok * (width + w) + width);
      }
      table = std::move(joined);
      width += w;
    }
    if (width != freqs && width != 2 * freqs) {
      why = label + ": its " + name + " table is [" + std::to_string(tokens) +
            "x" + std::to_string(width) + "], not [" + std::to_string(tokens) +
            " tokens, " + std::to_string(freqs) + " or " +
            std::to_string(2 * freqs) + " channels]";
      return false;
    }
    dst->assign(tokens * freqs, 0.f);
    for (int64_t tok = 0; tok < tokens; ++tok)
      for (int64_t c = 0; c < width; ++c) {
        float v = table[tok * width + c];
        int64_t f = width == freqs                     ? c
                    : layout == rope::PairLayout::gptj ? c / 2
                    : c < freqs                        ? c
                                                       : c - freqs;
        bool second =
            width != freqs &&
            (layout == rope::PairLayout::gptj ? c % 2 == 1 : c >= freqs);
        float &slot = (*dst)[tok * freqs + f];
        if (!second) {
          slot = v;
        } else if (std::fabs(slot - v) > kTolerance) {
          why = label + ": its " + name + " table gives the two channels of " +
                "frequency " + std::to_string(f) + " different values";
          return false;
        }
      }
  }
  return true;
}

} // namespace

bool mrope::prove::evaluateOriginal(onnx::GraphOp graph,
                                    ArrayRef<RopeSite> sites, Original &out,
                                    std::string &why) {
  int64_t opset = opsetOf(graph);
  for (auto [index, site] : llvm::enumerate(sites)) {
    std::string label =
        "site " + std::to_string(index) + " (" + nodeLabel(site.cosNode) + ")";
    if (site.hasComputedPositions() || !site.positions) {
      why = label + ": its positions are computed in the graph from token "
                    "ids or grids; the probe cannot give them";
      return false;
    }
    OriginalSite o;
    o.index = index;
    o.kind = site.kind;
    o.vision = site.vision;
    o.bug = site.bug;
    o.semantics = site.semantics;
    o.invFreq = site.invFreq;
    o.tokens = probeTokens(site.positions);
    out.sites.push_back(o);
    Probe probe(o.tokens);
    Evaluator ev(opset);
    ArrayRef<int64_t> text(probe.text);
    SmallVector<int64_t> segments;
    if (site.source == PositionSource::Segments) {
      for (int64_t k = 0, half = probe.tokens / 2; k < probe.tokens; ++k) {
        segments.push_back(k < half ? 1 : 2);
        out.sites.back().textRow.push_back(k < half ? k : k - half);
      }
      text = segments;
    }
    if (!seedProbe(ev, graph, site, probe.tokens, {text}, why)) {
      why = label + ": " + why;
      return false;
    }
    for (const Rotation &r : site.rotations) {
      ProbeTables tables;
      if (!rotationTables(ev, site, r, site.getLayout(),
                          site.semantics.getNumFreqs(), probe.tokens, tables,
                          why)) {
        why = label + ": " + why;
        return false;
      }
      std::string key = rotationKey(r);
      out.text[key] = std::move(tables);
      out.siteOf[key] = out.sites.size() - 1;
    }
  }
  return true;
}

bool mrope::prove::proveFixed(onnx::GraphOp graph, ArrayRef<RopeSite> after,
                              const Original &original,
                              ArrayRef<int64_t> requestedSections,
                              std::vector<std::string> &proved,
                              std::string &why) {
  int64_t opset = opsetOf(graph);
  for (auto [index, site] : llvm::enumerate(after)) {
    std::string label = "site " + std::to_string(index) + " of the fixed graph";
    if (site.rotations.empty() || !site.positions) {
      why = label + ": has no rotations or positions to probe";
      return false;
    }
    if (site.hasComputedPositions()) {
      why = label + ": its positions are computed in the graph; the probe "
                    "cannot give them";
      return false;
    }
    std::string firstKey = rotationKey(site.rotations.front());
    auto it = original.siteOf.find(firstKey);
    if (it == original.siteOf.end()) {
      why = label + ": rotates " + firstKey +
            ", which no rotation of the original graph rotates";
      return false;
    }
    const OriginalSite &orig = original.sites[it->second];
    rope::SemanticsAttr claim = site.semantics, before = orig.semantics;
    // What the fix may change: sections (and their order) of a 1D site,
    // the positions of any site; never the rotary dim, the pair layout or
    // the frequency table.
    if (claim.getRotaryDim() != before.getRotaryDim() ||
        claim.getLayout() != before.getLayout()) {
      why = label + ": rotary dim or pair layout differ from the original's";
      return false;
    }
    bool visionFix =
        orig.kind == PositionKind::OneD && site.kind == PositionKind::TwoD;
    if (!visionFix && site.invFreq != ArrayRef<float>(orig.invFreq)) {
      why = label + ": its frequency table is not the original's, bit for bit";
      return false;
    }
    if (visionFix) {
      // The vision fix gives each of h and w every other entry of the
      // original table (docs/mrope-fix.md).
      for (auto [j, f] : llvm::enumerate(site.invFreq))
        if (2 * j >= orig.invFreq.size() || f != orig.invFreq[2 * j]) {
          why = label + ": its per-axis frequencies are not every other "
                        "entry of the original table";
          return false;
        }
    }
    if (orig.kind != PositionKind::OneD &&
        (claim.getSections() != before.getSections() ||
         claim.getOrder() != before.getOrder())) {
      why = label + ": its sections " + sectionsText(claim.getSections()) +
            " differ from the original's " + sectionsText(before.getSections());
      return false;
    }
    if (orig.kind == PositionKind::OneD && !visionFix &&
        !requestedSections.empty() && site.kind != PositionKind::OneD &&
        claim.getSections() != requestedSections) {
      why = label + ": its sections " + sectionsText(claim.getSections()) +
            " are not the requested " + sectionsText(requestedSections);
      return false;
    }
    int64_t freqs = claim.getNumFreqs();
    float maxDiff = 0;
    Probe probe(orig.tokens);

    // (a) Text positions: the original's tables (not for a vision tower
    // fixed from a flat index to (h, w): there is no text case).
    if (!visionFix) {
      Evaluator ev(opset);
      ArrayRef<int64_t> text(probe.text);
      if (!orig.textRow.empty())
        text = orig.textRow;
      if (!seedProbe(ev, graph, site, probe.tokens, {text}, why)) {
        why = label + ": " + why;
        return false;
      }
      for (const Rotation &r : site.rotations) {
        std::string key = rotationKey(r);
        auto want = original.text.find(key);
        if (want == original.text.end()) {
          why = label + ": rotates " + key +
                ", which no rotation of the original graph rotates";
          return false;
        }
        ProbeTables got;
        if (!rotationTables(ev, site, r, claim.getLayout(), freqs, probe.tokens,
                            got, why)) {
          why = label + ": " + why;
          return false;
        }
        for (auto [g, w, name] :
             {std::tuple(&got.cos, &want->second.cos, "cos"),
              std::tuple(&got.sin, &want->second.sin, "sin")}) {
          if (g->size() != w->size()) {
            why = label + ": the " + name + " table of " + key +
                  " has another width than the original's";
            return false;
          }
          std::string d = compare(*g, *w, freqs, maxDiff);
          if (!d.empty()) {
            why = label + ": on text positions the " + name + " table of " +
                  key + " is not the original's: " + d;
            return false;
          }
        }
      }
    }

    // (b) Multimodal positions: cos/sin of the claimed semantics with the
    // original's frequencies.
    ArrayRef<int64_t> rowT(probe.text), rowH(probe.rowH), rowW(probe.rowW);
    int64_t tokens = probe.tokens;
    SmallVector<ArrayRef<int64_t>> rows;
    if (site.kind == PositionKind::TwoD)
      rows = {rowH, rowH, rowW}; // [N, 2] pairs take rows 1 and 2
    else
      rows = {rowT, rowH, rowW};
    SmallVector<ArrayRef<int64_t>> axisRows =
        site.kind == PositionKind::TwoD
            ? SmallVector<ArrayRef<int64_t>>{rowH, rowW}
            : rows;
    std::vector<float> wantCos(tokens * freqs), wantSin(tokens * freqs);
    for (int64_t i = 0; i < freqs; ++i) {
      int64_t axis = claim.axisOfFreq(i), ti = claim.tableIndexOfFreq(i);
      if (axis >= (int64_t)axisRows.size() ||
          ti >= (int64_t)site.invFreq.size()) {
        why = label + ": its semantics index past its positions or "
                      "frequency table";
        return false;
      }
      for (int64_t t = 0; t < tokens; ++t) {
        float angle = (float)axisRows[axis][t] * site.invFreq[ti];
        wantCos[t * freqs + i] = std::cos(angle);
        wantSin[t * freqs + i] = std::sin(angle);
      }
    }
    Evaluator ev(opset);
    if (!seedProbe(ev, graph, site, probe.tokens, rows, why)) {
      why = label + ": " + why;
      return false;
    }
    for (const Rotation &r : site.rotations) {
      ProbeTables got;
      if (!rotationTables(ev, site, r, claim.getLayout(), freqs, probe.tokens,
                          got, why)) {
        why = label + ": " + why;
        return false;
      }
      for (auto [g, w, name] : {std::tuple(&got.cos, &wantCos, "cos"),
                                std::tuple(&got.sin, &wantSin, "sin")}) {
        std::string d = compare(*g, *w, freqs, maxDiff);
        if (!d.empty()) {
          why = label + ": on multimodal positions the " + name + " table of " +
                rotationKey(r) + " is not cos/sin of " +
                sectionsText(claim.getSections()) + ": " + d;
          return false;
        }
      }
    }
    std::string line;
    llvm::raw_string_ostream os(line);
    os << "site " << index << ": " << site.rotations.size()
       << " rotation(s): tables "
       << (visionFix ? "" : "equal the original's on text positions and ")
       << "equal cos/sin of " << sectionsText(claim.getSections())
       << (claim.getOrder() == rope::SectionOrder::interleaved ? " interleaved"
                                                               : "")
       << " on multimodal positions (max |diff| "
       << llvm::format("%.1e", maxDiff) << ")";
    proved.push_back(line);
  }
  return true;
}

bool mrope::prove::evaluateOriginalRows(onnx::GraphOp graph,
                                        ArrayRef<RopeSite> sites,
                                        FusedOriginal &out, std::string &why) {
  int64_t opset = opsetOf(graph);
  for (auto [index, site] : llvm::enumerate(sites)) {
    if (!site.bug)
      continue;
    std::string label =
        "site " + std::to_string(index) + " (" + nodeLabel(site.cosNode) + ")";
    if (site.hasComputedPositions() || !site.positions) {
      why = label + ": its positions are computed in the graph from token "
                    "ids or grids; the probe cannot give them";
      return false;
    }
    out.tokens = probeTokens(site.positions);
    Probe probe(out.tokens);
    for (auto [row, tables] :
         {std::pair(&probe.text, &out.rowT), std::pair(&probe.rowH, &out.rowH),
          std::pair(&probe.rowW, &out.rowW)}) {
      Evaluator ev(opset);
      ArrayRef<int64_t> r(*row);
      if (!seedProbe(ev, graph, site, probe.tokens, {r}, why)) {
        why = label + ": " + why;
        return false;
      }
      for (const Rotation &rot : site.rotations) {
        ProbeTables t;
        if (!rotationTables(ev, site, rot, site.getLayout(),
                            site.semantics.getNumFreqs(), probe.tokens, t,
                            why)) {
          why = label + ": " + why;
          return false;
        }
        std::string key = rotationKey(rot);
        (*tables)[key] = std::move(t);
        Value v = rot.source ? rot.source : rot.x;
        if (auto view = v.getDefiningOp<onnx::NodeOp>();
            view && (view.isOnnx("Transpose") || view.isOnnx("Reshape")) &&
            view->getNumOperands())
          out.alias[rotatedKey(view->getOperand(0))] = key;
      }
    }
  }
  return true;
}

bool mrope::prove::canProveEmitted(ArrayRef<RopeSite> sites) {
  return llvm::none_of(sites,
                       [](const RopeSite &s) { return s.bug && s.vision; });
}
