//===- RopeSites.cpp - find RoPE sites in ONNX graphs ---------------------===//
//
// Site matching: a Cos/Sin pair of a positional angle, or constant caches
// gathered by position; the frequency table, the section merge and the
// rotations the tables feed. Types and constants come from OnnxMatchers.h,
// the backward walk from PositionWalk.h; the verdict from RopeClassify.h.
//
//===----------------------------------------------------------------------===//
#include "mrope/Analysis/RopeSites.h"

#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/PositionWalk.h"
#include "mrope/Analysis/RopeClassify.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Debug.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <map>

#define DEBUG_TYPE "rope-sites"

using namespace mlir;
using namespace mrope;
using namespace mrope::match;
using onnx::NodeOp;

namespace {

/// Says why a candidate is not a site: to LLVM's debug stream
/// (-debug-only=rope-sites, in builds where LLVM_DEBUG is compiled in) and
/// to the --explain stream.
class Explain {
public:
  explicit Explain(llvm::raw_ostream *os) : os(os) {}
  /// Always returns nullopt, so matchers can `return reject(...)`.
  std::nullopt_t reject(NodeOp node, const llvm::Twine &why) const {
    std::string line =
        (node.getOpType() + " " + nodeLabel(node) + ": not a RoPE site: " + why)
            .str();
    LLVM_DEBUG(llvm::dbgs() << "[" DEBUG_TYPE "] " << line << "\n");
    if (os)
      *os << line << "\n";
    return std::nullopt;
  }
  void note(NodeOp node, const llvm::Twine &what) const {
    std::string line =
        (node.getOpType() + " " + nodeLabel(node) + ": " + what).str();
    LLVM_DEBUG(llvm::dbgs() << "[" DEBUG_TYPE "] " << line << "\n");
    if (os)
      *os << line << "\n";
  }

private:
  llvm::raw_ostream *os;
};

/// Sections from a Gather that picks the position row of every channel (the
/// form convert-rope-to-onnx writes): rows of the first F channels, in the
/// rotate-half layout. Returns the sections and whether they interleave.
std::optional<std::pair<SmallVector<int64_t>, bool>>
matchChannelRows(ArrayRef<NodeOp> gathers, int64_t numFreqs) {
  for (NodeOp gather : gathers) {
    std::optional<SmallVector<int64_t>> rows = NodeBinder(gather).constInts(1);
    if (!rows || static_cast<int64_t>(rows->size()) != 2 * numFreqs)
      continue;
    // Rotate-half: channels i and i + F hold frequency i; GPT-J pairs (what
    // convert-rope-to-onnx writes for layout gptj): channels 2i and 2i + 1.
    ArrayRef<int64_t> all(*rows);
    SmallVector<int64_t> first(all.take_front(numFreqs));
    if (ArrayRef<int64_t>(first) != all.drop_front(numFreqs)) {
      first.clear();
      for (int64_t i = 0; i < numFreqs && all[2 * i] == all[2 * i + 1]; ++i)
        first.push_back(all[2 * i]);
      if (static_cast<int64_t>(first.size()) != numFreqs)
        continue;
    }
    int64_t numAxes = *llvm::max_element(first) + 1;
    if (numAxes < 2 || numAxes > 16 || *llvm::min_element(first) < 0)
      continue;
    SmallVector<int64_t> sections(numAxes, 0);
    for (int64_t r : first)
      ++sections[r];
    return std::make_pair(sections, !llvm::is_sorted(first));
  }
  return std::nullopt;
}

/// Qwen3-VL's interleave: freqs[..., a:A*s_a:A] taken from row a, spelled as
/// Slices with step A on the last axis. Sections from their bounds.
std::optional<SmallVector<int64_t>> matchInterleave(const PositionWalk &c,
                                                    int64_t numFreqs) {
  constexpr int64_t kAxes = 3;
  std::map<int64_t, int64_t> countByStart;
  for (NodeOp slice : c.slices) {
    NodeBinder s(slice);
    auto starts = s.constInts(1), ends = s.constInts(2), steps = s.constInts(4);
    if (!starts || !ends || !steps || starts->size() != 1 ||
        ends->size() != 1 || steps->size() != 1 || steps->front() != kAxes)
      continue;
    int64_t start = starts->front();
    int64_t end = std::min(ends->front(), numFreqs);
    if (start <= 0 || start >= kAxes || end <= start)
      continue;
    countByStart[start] = (end - start + kAxes - 1) / kAxes;
  }
  if (countByStart.size() != kAxes - 1)
    return std::nullopt;
  int64_t rest = numFreqs - countByStart[1] - countByStart[2];
  if (rest <= 0)
    return std::nullopt;
  return SmallVector<int64_t>{rest, countByStart[1], countByStart[2]};
}

/// The frequency table among the constants an angle depends on: the largest
/// positive, non-increasing float vector starting at 1.
std::optional<SmallVector<float>> pickInvFreq(const PositionWalk &c) {
  std::optional<SmallVector<float>> best;
  for (SmallVector<float> values : c.floatConsts) {
    // Repeats of one table: [inv, inv] per channel (rotate-half; twice again
    // when h and w share the frequencies), or HF's inv_freq broadcast to
    // [3, B, F, 1] and folded into one constant by the exporter. The
    // shortest period is the frequency table.
    for (size_t period = 2; period < values.size(); ++period) {
      if (values.size() % period != 0)
        continue;
      bool repeats = true;
      for (size_t i = period; repeats && i < values.size(); ++i)
        repeats = values[i] == values[i - period];
      if (repeats) {
        values.resize(period);
        break;
      }
    }
    // A per-channel table in GPT-J pair order [f0, f0, f1, f1, ...] (what
    // convert-rope-to-onnx writes for layout gptj): every other entry.
    bool pairs = values.size() >= 4 && values.size() % 2 == 0;
    for (size_t i = 0; pairs && i < values.size(); i += 2)
      pairs = values[i] == values[i + 1];
    if (pairs) {
      for (size_t i = 0; i < values.size() / 2; ++i)
        values[i] = values[2 * i];
      values.resize(values.size() / 2);
    }
    if (values.size() < 2 || values.front() != 1.0f)
      continue;
    bool ok = llvm::all_of(values, [](float f) { return f > 0.0f; });
    for (size_t i = 1; ok && i < values.size(); ++i)
      ok = values[i] <= values[i - 1];
    if (ok && (!best || values.size() > best->size()))
      best = values;
  }
  return best;
}

double thetaOf(ArrayRef<float> invFreq) {
  // inv[i] = theta^(-i/n) for a table of n frequencies (global, or per axis
  // in the vision tower): least squares on log(inv[i]) over all i, since a
  // single f32 entry carries too few digits.
  double n = invFreq.size(), num = 0.0, den = 0.0;
  for (auto [i, f] : llvm::enumerate(invFreq)) {
    num += static_cast<double>(i) * std::log(static_cast<double>(f));
    den += static_cast<double>(i) * static_cast<double>(i);
  }
  if (den == 0.0 || num == 0.0)
    return 0.0;
  double theta = std::exp(-n * num / den);
  if (!std::isfinite(theta))
    return 0.0;
  // Report the 5 significant digits the f32 table pins down.
  return std::stod(llvm::formatv("{0:e4}", theta).str());
}

/// Nodes that pass a table through unchanged up to scaling and dtype.
Value followTableChain(Value v, SmallVectorImpl<Operation *> &chain) {
  while (v.hasOneUse()) {
    NodeBinder user(dyn_cast<NodeOp>(*v.getUsers().begin()));
    bool pass = user.is("Cast") ||
                (user.isAnyOf("Mul", "Div") && user.input(0) == v &&
                 user.input(1) && isScalarFloat(user.input(1))) ||
                (user.is("Mul") && user.input(1) == v && user.input(0) &&
                 isScalarFloat(user.input(0)));
    if (!pass || !user.result())
      break;
    chain.push_back(user.getNode());
    v = user.result();
  }
  return v;
}

struct Merge {
  SmallVector<int64_t> sections;
  Value merged;
  SmallVector<Operation *> nodes;
};

/// Hugging Face's M-RoPE merge of [A, B, S, R] tables: split the last axis
/// into [s0..sA-1, s0..sA-1], take chunk j from row j % A, concatenate.
/// A per-frequency table (one column per frequency, e.g. GPT-J's sin|cos
/// halves) is split once, [s0..sA-1]. Exporters keep one merge per layer
/// (apply_multimodal_rotary_pos_emb runs in every layer): all of them, with
/// the sections of the first.
SmallVector<Merge> matchSectionMerges(Value table, bool perFrequency = false) {
  SmallVector<Merge> merges;
  for (Operation *user : table.getUsers()) {
    NodeBinder split(dyn_cast<NodeOp>(user));
    if (!split.is("Split") || split.input(0) != table)
      continue;
    std::optional<SmallVector<int64_t>> sizes = split.intsAttr("split");
    if (!sizes && split.input(1))
      sizes = split.constInts(1);
    if (!sizes || split.intAttr("axis", 0) != -1 ||
        split.getNode().getNumResults() != sizes->size())
      continue;
    if (perFrequency ? sizes->size() < 2
                     : (sizes->size() % 2 || sizes->size() < 4))
      continue;
    size_t numAxes = perFrequency ? sizes->size() : sizes->size() / 2;
    ArrayRef<int64_t> half(*sizes);
    if (!perFrequency && half.take_front(numAxes) != half.drop_front(numAxes))
      continue;
    Merge merge;
    merge.sections.assign(half.begin(), half.begin() + numAxes);
    merge.nodes.push_back(split.getNode());
    NodeOp concat;
    bool ok = true;
    for (auto [j, chunk] : llvm::enumerate(split.getNode().getResults())) {
      NodeBinder gather = split.soleUser(j);
      if (!gather.is("Gather") || gather.intAttr("axis", 0) != 0 ||
          !gather.input(1) ||
          scalarIntOf(gather.input(1)) != static_cast<int64_t>(j % numAxes)) {
        ok = false;
        break;
      }
      NodeBinder next = gather.soleUser();
      if (!next.is("Concat") || (concat && next.getNode() != concat) ||
          next.input(j) != gather.result()) {
        ok = false;
        break;
      }
      concat = next.getNode();
      merge.nodes.push_back(gather.getNode());
    }
    if (!ok || !concat || concat.getInputs().size() != sizes->size())
      continue;
    merge.nodes.push_back(concat);
    merge.merged = concat.getResults()[0];
    if (merges.empty() || merges.front().sections == merge.sections)
      merges.push_back(std::move(merge));
  }
  return merges;
}

/// How the sin product's rotated operand spells rotate(x): a Reshape or
/// Flatten of stacked halves is GPT-J's pair interleave; anything else
/// (Concat(-x2, x1)) rotate-half.
rope::PairLayout rotateLayout(Value sinProduct) {
  NodeBinder mul(sinProduct);
  for (unsigned i = 0; i < mul.numInputs(); ++i) {
    NodeBinder rot(mul.input(i));
    if (rot.isAnyOf("Reshape", "Flatten"))
      if (NodeBinder inner(rot.input(0)); inner.isAnyOf("Concat", "Unsqueeze"))
        return rope::PairLayout::gptj;
  }
  return rope::PairLayout::neox;
}

/// Partial rotary: `x` as a constant Slice of the last axis of a wider
/// tensor.
void rotatedRange(Rotation &r) {
  r.source = r.x;
  r.rotaryBegin = 0;
  int64_t dim = dimOf(r.x, -1);
  r.rotaryEnd = ShapedType::isDynamic(dim) ? -1 : dim;
  NodeBinder slice(r.x);
  if (!slice.is("Slice") || !slice.input(0))
    return;
  auto starts = slice.constInts(1), ends = slice.constInts(2);
  std::optional<SmallVector<int64_t>> axes =
      slice.input(3) ? slice.constInts(3) : SmallVector<int64_t>{-1};
  std::optional<SmallVector<int64_t>> steps =
      slice.input(4) ? slice.constInts(4) : SmallVector<int64_t>{1};
  Value src = slice.input(0);
  int64_t rank = rankOf(src), width = dimOf(src, -1);
  if (!starts || !ends || !axes || !steps || starts->size() != 1 ||
      ends->size() != 1 || axes->size() != 1 || steps->size() != 1 ||
      steps->front() != 1 || rank < 1 || ShapedType::isDynamic(width) ||
      !(axes->front() == -1 || axes->front() == rank - 1))
    return;
  auto clampIndex = [&](int64_t i) {
    if (i < 0)
      i += width;
    return std::clamp<int64_t>(i, 0, width);
  };
  int64_t begin = clampIndex(starts->front()), end = clampIndex(ends->front());
  if (end <= begin)
    return;
  r.source = src;
  r.rotaryBegin = begin;
  r.rotaryEnd = end;
}

/// Follows a table to the Muls that apply it (through Unsqueeze, Cast,
/// Reshape, Expand, Slice of the table): a rotation is such a Mul whose
/// result is added to (or subtracted from) another product.
void findRotations(Value table, RopeSite &site, const Explain &explain) {
  SmallVector<Value> work{table};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    for (Operation *user : v.getUsers()) {
      NodeBinder node(dyn_cast<NodeOp>(user));
      if (node.isAnyOf("Unsqueeze", "Squeeze", "Cast", "Reshape", "Expand",
                       "Slice", "Transpose", "Split")) {
        if (node.input(0) == v)
          for (Value r : node.getNode().getResults())
            work.push_back(r);
        continue;
      }
      // GPT-J's repeat_interleave rebuilds the table from its columns.
      if (node.is("Concat")) {
        work.push_back(node.result());
        continue;
      }
      if (!node.is("Mul") || node.numInputs() != 2)
        continue;
      Value product = node.result();
      Value x = node.input(0) == v ? node.input(1) : node.input(0);
      bool found = false;
      for (Operation *sumUser : product.getUsers()) {
        NodeBinder sum(dyn_cast<NodeOp>(sumUser));
        if (!sum.isAnyOf("Add", "Sub") || sum.numInputs() != 2 || !x)
          continue;
        Rotation r;
        r.cosMul = node.getNode();
        r.combine = sum.getNode();
        r.x = x;
        // The other product holds rotate(x).
        Value other = sum.input(0) == product ? sum.input(1) : sum.input(0);
        r.layout = rotateLayout(other);
        rotatedRange(r);
        site.rotations.push_back(r);
        // The table broadcast against [tokens, heads, dim] (vision) has
        // rank 3; against [batch, heads, seq, dim] rank 4.
        if (rankOf(v) == 3)
          site.vision = true;
        found = true;
        break;
      }
      if (!found)
        explain.note(node.getNode(),
                     "multiplies by the table of " + nodeLabel(site.cosNode) +
                         " but its product is not added to another: not a "
                         "rotation");
    }
  }
}

void addNodes(RopeSite &site, ArrayRef<Operation *> ops) {
  for (Operation *op : ops)
    if (op && isa<NodeOp>(op) && !llvm::is_contained(site.nodes, op))
      site.nodes.push_back(op);
}

/// The first value on the way from `leaf` to the angle that stacks rows:
/// an Expand, Tile or Concat output inside the angle's closure.
Value findBuiltRows(Value leaf, const PositionWalk &c) {
  SmallVector<Value> work{leaf};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    for (Operation *user : v.getUsers()) {
      if (!c.nodes.contains(user))
        continue;
      NodeBinder node(cast<NodeOp>(user));
      if (node.isAnyOf("Expand", "Tile", "Concat"))
        return node.result();
      for (Value r : node.getNode().getResults())
        work.push_back(r);
    }
  }
  return {};
}

/// Sections, rotary dim, theta, layout, order and frequency indexing as one
/// attribute; null when the recovered parameters are inconsistent (what the
/// verifier says goes to `why`).
rope::SemanticsAttr makeSemantics(MLIRContext *ctx, ArrayRef<int64_t> sections,
                                  int64_t rotaryDim, double theta,
                                  rope::PairLayout layout,
                                  rope::SectionOrder order,
                                  rope::FreqIndex freqs, std::string &why) {
  ScopedDiagnosticHandler quiet(ctx, [&](Diagnostic &d) {
    why = d.str();
    return success();
  });
  return rope::SemanticsAttr::getChecked(
      [&] { return mlir::emitError(UnknownLoc::get(ctx)); }, ctx, sections,
      rotaryDim, APFloat(theta), layout, order, freqs);
}

/// The site-wide layout: GPT-J pairs when any rotation spells them.
rope::PairLayout siteLayout(const RopeSite &site) {
  return llvm::any_of(site.rotations,
                      [](const Rotation &r) {
                        return r.layout == rope::PairLayout::gptj;
                      })
             ? rope::PairLayout::gptj
             : rope::PairLayout::neox;
}

/// Whether `idx` holds (h, w) pairs [N, 2]: so typed, or (where shape
/// inference left it unranked) a stack of two columns on the last axis,
/// torch.stack([h, w], -1), seen through Tile/Expand/Cast/Identity and row
/// Gathers (a window reorder).
bool isPairIndex(Value idx) {
  if (rankOf(idx) == 2 && dimOf(idx, -1) == 2)
    return true;
  for (int hops = 0; idx && hops < 16; ++hops) {
    NodeBinder node(idx);
    if (node.isAnyOf("Tile", "Expand", "Cast", "Identity", "Gather")) {
      idx = node.input(0);
      continue;
    }
    if (!node.is("Concat") || node.numInputs() != 2)
      return false;
    int64_t axis = node.intAttr("axis", 0);
    for (unsigned i = 0; i < 2; ++i) {
      NodeBinder column(node.input(i));
      std::optional<SmallVector<int64_t>> axes =
          column.is("Unsqueeze") ? column.constInts(1) : std::nullopt;
      if (!axes || axes->size() != 1 || (*axes)[0] != axis ||
          !(axis == -1 || axis == 1))
        return false;
    }
    return true;
  }
  return false;
}

/// The stock Qwen2-VL/2.5-VL vision tower's lookup: rows of a frequency
/// table computed from a Range (outer(arange(max_grid), inv_freq)) gathered
/// by integer (h, w) pairs [N, 2], then flattened: every patch gets the
/// frequencies of its h and of its w.
NodeOp matchAxisTableGather(const PositionWalk &c) {
  for (Operation *op : c.nodes) {
    NodeBinder g(cast<NodeOp>(op));
    if (!g.is("Gather") || g.intAttr("axis", 0) != 0)
      continue;
    Value table = g.input(0), idx = g.input(1);
    if (!table || !idx || isConstant(idx) || !isIntTensor(idx) ||
        !isFloatTensor(table) || !isPairIndex(idx))
      continue;
    PositionWalk t;
    t.walk(table);
    if (t.ranges.empty() || t.floatConsts.empty() || !t.floatInputs.empty())
      continue;
    return g.getNode();
  }
  return {};
}

/// The [N, 3] integer grid input (grid_thw) `v` is computed from, through
/// any node (Range bounds and shapes included); null when none.
Value gridInputOf(Value v) {
  SmallVector<Value> work{v};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value cur = work.pop_back_val();
    if (!cur || !seen.insert(cur).second || seen.size() > 4096)
      continue;
    if (isa<BlockArgument>(cur)) {
      if (isIntTensor(cur) && rankOf(cur) == 2 && dimOf(cur, 1) == 3)
        return cur;
      continue;
    }
    if (Operation *def = cur.getDefiningOp())
      for (Value operand : def->getOperands())
        work.push_back(operand);
  }
  return {};
}

/// A site whose tables are computed on the fly: Cos/Sin of an angle.
std::optional<RopeSite> matchComputedSite(NodeOp cosOp, Arch arch,
                                          const Explain &explain) {
  NodeBinder cos(cosOp);
  Value angle = cos.input(0);
  if (!angle || !cos.result())
    return explain.reject(cosOp, "no input angle");
  NodeOp sin;
  for (Operation *user : angle.getUsers())
    if (NodeBinder node(dyn_cast<NodeOp>(user));
        node.is("Sin") && node.result())
      sin = node.getNode();
  if (!sin)
    return explain.reject(cosOp, "no Sin of the same angle");

  PositionWalk c;
  c.walk(angle);
  // Tables built from activations or constants only are not positional.
  if (!c.floatInputs.empty())
    return explain.reject(
        cosOp, "the angle depends on a float graph input (activations, not "
               "positions)");
  if (!c.positionsLeaf())
    return explain.reject(cosOp, "the angle depends on no integer graph input "
                                 "and no Range (constant angles)");
  std::optional<SmallVector<float>> invFreq = pickInvFreq(c);
  if (!invFreq)
    return explain.reject(cosOp,
                          "no frequency table among the angle's constants (a "
                          "positive, non-increasing float vector starting "
                          "at 1)");

  RopeSite site;
  site.cosNode = cosOp;
  site.sinNode = sin;
  site.cosTable = cos.result();
  site.sinTable = sin.getResults()[0];
  site.invFreq = *invFreq;
  double theta = thetaOf(*invFreq);
  int64_t numFreqs = invFreq->size();
  site.positions = c.positionsLeaf();
  site.source = isa<BlockArgument>(site.positions) ? PositionSource::GraphInput
                                                   : PositionSource::Range;

  SmallVector<Operation *> chain;
  Value cosTable = followTableChain(cos.result(), chain);
  SmallVector<Merge> merges = matchSectionMerges(cosTable);
  const Merge *merge = merges.empty() ? nullptr : &merges.front();
  std::optional<SmallVector<int64_t>> interleave =
      merge ? std::nullopt : matchInterleave(c, numFreqs);
  auto channelRows = (merge || interleave)
                         ? std::nullopt
                         : matchChannelRows(c.rowGathers, numFreqs);

  bool fromInput = site.source == PositionSource::GraphInput;
  // Positions computed from token ids and [N, 3] grids: get_rope_index in
  // the graph.
  Value grids, ids;
  for (Value in : c.intInputs) {
    if (rankOf(in) == 2 && dimOf(in, 1) == 3) {
      grids = in;
      continue;
    }
    // The token ids, by name when the graph says which input they are.
    auto arg = cast<BlockArgument>(in);
    auto graph = dyn_cast<onnx::GraphOp>(arg.getOwner()->getParentOp());
    bool named = graph && graph.getInputName(arg.getArgNumber()) == "input_ids";
    if (rankOf(in) == 2 && (!ids || named))
      ids = in;
  }
  SmallVector<int64_t> sections;
  int64_t rotaryDim = 2 * numFreqs;
  auto order = rope::SectionOrder::contiguous;
  auto freqs = rope::FreqIndex::global;
  if (merge || interleave || channelRows) {
    if (grids) {
      site.source = PositionSource::GetRopeIndex;
      if (ids)
        site.positions = ids;
    }
    sections = merge        ? merge->sections
               : interleave ? *interleave
                            : channelRows->first;
    if (interleave || (channelRows && channelRows->second))
      order = rope::SectionOrder::interleaved;
    int64_t rows = sections.size();
    if (site.hasComputedPositions() ||
        (fromInput && rankOf(site.positions) == 3 &&
         dimOf(site.positions, 0) == rows)) {
      site.kind = order == rope::SectionOrder::interleaved
                      ? PositionKind::MRopeInterleaved
                      : PositionKind::MRope;
    } else {
      site.kind = PositionKind::MRopeDegenerate;
      site.builtRows = findBuiltRows(site.positions, c);
    }
  } else if (NodeOp axisGather = matchAxisTableGather(c);
             axisGather ||
             (fromInput && rankOf(site.positions) == 2 &&
              dimOf(site.positions, 1) == 2) ||
             grids) {
    // (h, w) per patch, given, or computed from [N, 3] grids in the graph,
    // or rows of a per-axis table gathered by (h, w) wherever they come
    // from. Vision tower: each axis with its own copy of the frequencies.
    if (axisGather) {
      Value hw = axisGather.getInputs()[1];
      if (isa<BlockArgument>(hw)) {
        site.source = PositionSource::GraphInput;
        site.positions = hw;
      } else if (Value grid = gridInputOf(hw)) {
        site.source = PositionSource::Grid;
        site.positions = grid;
      } else {
        PositionWalk hwWalk;
        hwWalk.walk(hw);
        if (Value leaf = hwWalk.positionsLeaf())
          site.positions = leaf;
      }
    } else if (grids) {
      site.source = PositionSource::Grid;
      site.positions = grids;
    }
    site.kind = PositionKind::TwoD;
    sections = {numFreqs, numFreqs};
    freqs = rope::FreqIndex::per_section;
    rotaryDim = 4 * numFreqs;
  } else {
    site.kind = PositionKind::OneD;
    sections = {numFreqs};
  }
  if (merges.empty())
    findRotations(cosTable, site, explain);
  for (const Merge &m : merges) {
    addNodes(site, m.nodes);
    findRotations(m.merged, site, explain);
  }
  if (site.rotations.empty())
    return explain.reject(cosOp, "its tables rotate nothing (no Mul by the "
                                 "table feeds an Add or Sub): absolute "
                                 "embeddings, not RoPE");
  std::string why;
  site.semantics = makeSemantics(cosOp.getContext(), sections, rotaryDim, theta,
                                 siteLayout(site), order, freqs, why);
  if (!site.semantics)
    return explain.reject(cosOp, "inconsistent semantics: " + why);
  addNodes(site, c.nodes.getArrayRef());
  addNodes(site, {cosOp, sin});
  addNodes(site, chain);
  classify(site, arch);
  return site;
}

/// A site whose tables are constant caches gathered by position: a cos cache
/// and a sin cache gathered with the same indices, or one sin|cos cache
/// (GPT-J) split in two after the Gather.
std::optional<RopeSite> matchCachedSite(NodeOp gatherOp, Arch arch,
                                        const Explain &explain) {
  NodeBinder gather(gatherOp);
  Value cache = gather.input(0), index = gather.input(1);
  if (!cache || !index || isConstant(index) || gather.intAttr("axis", 0) != 0 ||
      !gather.result())
    return std::nullopt; // not a lookup by position: not worth a line
  cache = peelCacheView(cache);
  std::optional<DenseElementsAttr> table = constantOf(cache, 1 << 22);
  if (!table)
    return std::nullopt;
  if (!isa<FloatType>(table->getElementType()) ||
      table->getType().getRank() != 2 || table->getType().getDimSize(0) < 2)
    return explain.reject(gatherOp, "gathers from a constant that is not a "
                                    "float [positions, dim] table");
  std::optional<SmallVector<float>> values = floatsOf(cache, 1 << 22);
  int64_t width = table->getType().getDimSize(1);
  if (!values || width % 2 || width == 0)
    return explain.reject(gatherOp, "its table has an odd width");
  ArrayRef<float> row0 = ArrayRef<float>(*values).take_front(width);
  ArrayRef<float> row1 = ArrayRef<float>(*values).slice(width, width);
  auto all = [](ArrayRef<float> v, float x) {
    return llvm::all_of(v, [&](float f) { return f == x; });
  };

  RopeSite site;
  SmallVector<float> cosRow, sinRow;
  Value cosTable;
  bool perChannel = true;
  if (all(row0, 1.0f)) {
    // cos(0) = 1: a cos cache; its sin cache is gathered by the same indices.
    for (Operation *user : index.getUsers()) {
      NodeBinder other(dyn_cast<NodeOp>(user));
      if (!other.is("Gather") || other.getNode() == gatherOp ||
          other.input(1) != index || !other.input(0) || !other.result())
        continue;
      auto sinValues = floatsOf(peelCacheView(other.input(0)), 1 << 22);
      if (sinValues && sinValues->size() == values->size() &&
          all(ArrayRef<float>(*sinValues).take_front(width), 0.0f)) {
        site.sinNode = other.getNode();
        sinRow.assign(sinValues->begin() + width,
                      sinValues->begin() + 2 * width);
        break;
      }
    }
    if (!site.sinNode)
      return explain.reject(gatherOp, "a cos cache (row 0 all ones) without a "
                                      "sin cache gathered by the same indices");
    site.cosNode = gatherOp;
    cosRow.assign(row1.begin(), row1.end());
    cosTable = gather.result();
    site.sinTable = site.sinNode.getResults()[0];
  } else if (all(row0.take_front(width / 2), 0.0f) &&
             all(row0.drop_front(width / 2), 1.0f)) {
    // sin | cos in one cache, split after the Gather.
    NodeBinder split = gather.soleUser();
    if (!split.is("Split") || split.getNode().getNumResults() != 2)
      return explain.reject(gatherOp, "a sin|cos cache not split in two "
                                      "after the Gather");
    site.cosNode = gatherOp;
    site.sinNode = split.getNode();
    sinRow.assign(row1.begin(), row1.begin() + width / 2);
    cosRow.assign(row1.begin() + width / 2, row1.end());
    cosTable = split.result(1);
    site.sinTable = split.result(0);
    width /= 2;
    perChannel = false;
  } else {
    return explain.reject(gatherOp, "row 0 of the gathered table is neither "
                                    "cos(0) = 1 nor sin(0)|cos(0) = 0|1");
  }

  site.cosTable = cosTable;
  PositionWalk c;
  c.walk(index);
  site.positions = c.positionsLeaf();
  if (!site.positions)
    return explain.reject(gatherOp, "its indices depend on no integer graph "
                                    "input and no Range");
  site.source = isa<BlockArgument>(site.positions) ? PositionSource::GraphInput
                                                   : PositionSource::Range;
  // Caches gathered by [A, B, S] rows, then HF's section merge.
  SmallVector<Operation *> chain;
  SmallVector<Merge> merges =
      matchSectionMerges(followTableChain(cosTable, chain), !perChannel);
  const Merge *merge = merges.empty() ? nullptr : &merges.front();
  SmallVector<int64_t> sections;
  if (merge) {
    sections = merge->sections;
    addNodes(site, chain);
    int64_t rows = sections.size();
    if (site.source == PositionSource::GraphInput &&
        rankOf(site.positions) == 3 && dimOf(site.positions, 0) == rows) {
      site.kind = PositionKind::MRope;
    } else {
      site.kind = PositionKind::MRopeDegenerate;
      site.builtRows = findBuiltRows(site.positions, c);
    }
  }
  if (merges.empty())
    findRotations(cosTable, site, explain);
  for (const Merge &m : merges) {
    addNodes(site, m.nodes);
    findRotations(m.merged, site, explain);
  }
  if (site.rotations.empty())
    return explain.reject(gatherOp, "its tables rotate nothing (no Mul by the "
                                    "table feeds an Add or Sub)");
  rope::PairLayout layout = siteLayout(site);
  // Row 1 holds cos/sin of inv_freq itself. A sin|cos cache stores one
  // column per frequency; a cos cache one per channel (pairs by layout).
  int64_t numFreqs = perChannel ? width / 2 : width;
  for (int64_t i = 0; i < numFreqs; ++i) {
    int64_t ch = !perChannel ? i : layout == rope::PairLayout::gptj ? 2 * i : i;
    site.invFreq.push_back(
        static_cast<float>(std::atan2(sinRow[ch], cosRow[ch])));
  }
  if (!merge) {
    site.kind = PositionKind::OneD;
    sections = {numFreqs};
  }
  std::string why;
  site.semantics = makeSemantics(
      gatherOp.getContext(), sections, 2 * numFreqs, thetaOf(site.invFreq),
      layout, rope::SectionOrder::contiguous, rope::FreqIndex::global, why);
  if (!site.semantics)
    return explain.reject(gatherOp, "inconsistent semantics: " + why);
  // atan2 of the cached f32 values recovers inv_freq to a few ulps only; when
  // theta^(-2i/R) in f32 (how the caches are built) agrees, take its exact
  // bits, so the fix and a re-analysis see the model's own table.
  SmallVector<float> exact = site.semantics.computeInvFreq();
  if (exact.size() == site.invFreq.size() &&
      llvm::all_of(llvm::zip(exact, site.invFreq), [](auto pair) {
        auto [e, r] = pair;
        return std::abs(e - r) <= 1e-5f * std::max(std::abs(e), 1e-3f);
      }))
    site.invFreq = exact;
  addNodes(site, c.nodes.getArrayRef());
  addNodes(site, {site.cosNode, site.sinNode});
  classify(site, arch);
  return site;
}

/// Rotations without a site: an Add of two products, one of them by a
/// rotate-half Concat(-x2, x1), that no site claimed. Says so for --explain
/// (the table is a constant or an activation, not a table of positions).
void explainUnclaimedRotations(onnx::GraphOp graph, ArrayRef<RopeSite> sites,
                               const Explain &explain) {
  llvm::DenseSet<Operation *> claimed;
  for (const RopeSite &site : sites)
    for (const Rotation &r : site.rotations)
      claimed.insert(r.combine);
  auto isRotateHalf = [](Value v) {
    NodeBinder concat(v);
    if (!concat.is("Concat"))
      return false;
    for (unsigned i = 0; i < concat.numInputs(); ++i)
      if (NodeBinder(concat.input(i)).is("Neg"))
        return true;
    return false;
  };
  graph.walk([&](NodeOp op) {
    NodeBinder add(op);
    if (!add.isAnyOf("Add", "Sub") || add.numInputs() != 2 ||
        claimed.contains(op))
      return;
    NodeBinder lhs(add.input(0)), rhs(add.input(1));
    if (!lhs.is("Mul") || !rhs.is("Mul"))
      return;
    for (NodeBinder mul : {lhs, rhs})
      if (isRotateHalf(mul.input(0)) || isRotateHalf(mul.input(1))) {
        explain.reject(op, "adds x * c and rotate_half(x) * s, but no Cos of "
                           "a positional angle or cache gathered by "
                           "position feeds c (a constant or activation "
                           "table)");
        return;
      }
  });
}

} // namespace

std::vector<RopeSite> mrope::findRopeSites(onnx::GraphOp graph,
                                           const FindOptions &options) {
  Explain explain(options.explain);
  // Sites carry #rope.semantics, whichever pass or tool asks.
  graph.getContext()->getOrLoadDialect<rope::RopeDialect>();
  std::vector<RopeSite> sites;
  // The table producers of sites found so far (a sin cache's Gather is not
  // a candidate of its own).
  llvm::DenseSet<Operation *> claimed;
  for (Operation &op : graph.getBodyBlock()) {
    NodeBinder node(dyn_cast<NodeOp>(op));
    if (claimed.contains(&op))
      continue;
    std::optional<RopeSite> site;
    if (node.is("Cos"))
      site = matchComputedSite(node.getNode(), options.arch, explain);
    else if (node.is("Gather"))
      site = matchCachedSite(node.getNode(), options.arch, explain);
    if (site) {
      claimed.insert(site->cosNode);
      claimed.insert(site->sinNode);
      sites.push_back(std::move(*site));
    }
  }
  // Fused-op sites (com.microsoft.RotaryEmbedding, MRotaryEmbedding,
  // RotaryEmbedding-23, GroupQueryAttention do_rotary) join the list here.
  if (options.explain)
    explainUnclaimedRotations(graph, sites, explain);
  return sites;
}
