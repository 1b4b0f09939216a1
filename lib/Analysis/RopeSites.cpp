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
#include "mrope/Analysis/PositionProbe.h"
#include "mrope/Analysis/PositionWalk.h"
#include "mrope/Analysis/RopeClassify.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/ValueMeaning.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Debug.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <limits>
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

/// Nodes that pass a table through unchanged up to scaling and dtype (seen
/// through value identities).
Value followTableChain(Value v, SmallVectorImpl<Operation *> &chain) {
  for (int hops = 0; hops < 16; ++hops) {
    auto users = usersThroughIdentities(v);
    if (users.size() != 1)
      break;
    NodeBinder user(users.front().first);
    unsigned at = users.front().second;
    bool pass = (user.is("Cast") && isFloatTensor(user.result())) ||
                (user.isAnyOf("Mul", "Div") && at == 0 && user.input(1) &&
                 isScalarFloat(user.input(1))) ||
                (user.is("Mul") && at == 1 && user.input(0) &&
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

/// Where each channel (last axis) of a value comes from in an [A, ..., C]
/// table: row `rows[i]` of axis 0 and channel `channels[i]`. While the value
/// still has the table's axis 0 (`rowAxis`), every entry has the same row:
/// -1 for all rows, j once a Slice [j, j+1) picked one.
struct TableChannels {
  SmallVector<int64_t> rows, channels;
  bool rowAxis = true;
  int64_t rank = -1; ///< -1 when not known
};

/// Normalizes `axis` for a value of rank `rank` (-1: unknown); -1 stands
/// for the last axis when the rank is not known, nullopt when ambiguous.
std::optional<int64_t> lastAxisOrRow(int64_t axis, int64_t rank) {
  if (axis == -1 || (rank > 0 && axis == rank - 1))
    return int64_t{-1};
  if (axis == 0 || (rank > 0 && axis == -rank))
    return int64_t{0};
  return std::nullopt;
}

/// The channel map of `v` in `table`, through what the section merge uses to
/// move channels: Split and Slice of the last axis, a row taken by Gather
/// of one index or by Slice [j, j+1) then Squeeze, Concat on the last axis,
/// value identities and float Casts. The nodes passed go to `nodes`.
std::optional<TableChannels> tableChannels(Value v, Value table, int64_t width,
                                           llvm::SetVector<Operation *> &nodes,
                                           int depth = 0) {
  if (!v || depth > 32)
    return std::nullopt;
  if (v == table) {
    if (ShapedType::isDynamic(width) || width <= 0 || width > 4096)
      return std::nullopt;
    TableChannels t;
    t.rank = rankOf(table);
    for (int64_t c = 0; c < width; ++c) {
      t.rows.push_back(-1);
      t.channels.push_back(c);
    }
    return t;
  }
  NodeBinder n(v);
  if (!n || !n.input(0))
    return std::nullopt;
  auto input = [&]() {
    return tableChannels(n.input(0), table, width, nodes, depth + 1);
  };
  std::optional<TableChannels> out;
  if (isValueIdentity(n.getNode()) ||
      (n.is("Cast") && isFloatTensor(n.input(0)) && isFloatTensor(v))) {
    out = input();
  } else if (n.is("Split")) {
    std::optional<TableChannels> in = input();
    if (!in || lastAxisOrRow(n.intAttr("axis", 0), in->rank) != -1)
      return std::nullopt;
    std::optional<SmallVector<int64_t>> sizes = n.intsAttr("split");
    if (!sizes && n.input(1))
      sizes = n.constInts(1);
    unsigned parts = n.getNode()->getNumResults();
    int64_t width = in->channels.size();
    if (!sizes && width % parts == 0)
      sizes = SmallVector<int64_t>(parts, width / parts);
    if (!sizes || sizes->size() != parts)
      return std::nullopt;
    unsigned k = cast<OpResult>(v).getResultNumber();
    int64_t begin = 0;
    for (unsigned i = 0; i < k; ++i)
      begin += (*sizes)[i];
    int64_t end = begin + (*sizes)[k];
    if (begin < 0 || end > width || end < begin)
      return std::nullopt;
    out = *in;
    out->rows.assign(in->rows.begin() + begin, in->rows.begin() + end);
    out->channels.assign(in->channels.begin() + begin,
                         in->channels.begin() + end);
  } else if (n.is("Slice")) {
    std::optional<TableChannels> in = input();
    auto starts = n.constInts(1), ends = n.constInts(2);
    std::optional<SmallVector<int64_t>> axes =
        n.input(3) ? n.constInts(3) : std::nullopt;
    std::optional<SmallVector<int64_t>> steps =
        n.input(4) ? n.constInts(4) : std::nullopt;
    if (!in || !starts || !ends || starts->size() != ends->size())
      return std::nullopt;
    if (!n.input(3)) // axes default to [0, len(starts))
      axes = llvm::to_vector(llvm::seq<int64_t>(0, starts->size()));
    if (!n.input(4))
      steps = SmallVector<int64_t>(starts->size(), 1);
    if (!axes || !steps || axes->size() != starts->size() ||
        steps->size() != starts->size())
      return std::nullopt;
    out = *in;
    for (size_t i = 0; i < starts->size(); ++i) {
      std::optional<int64_t> axis = lastAxisOrRow((*axes)[i], in->rank);
      int64_t step = (*steps)[i];
      if (!axis || step <= 0)
        return std::nullopt;
      if (*axis == 0) {
        // One row of axis 0, kept as an axis of extent 1.
        int64_t rows = dimOf(table, 0);
        int64_t b = (*starts)[i], e = (*ends)[i];
        if (b < 0 && !ShapedType::isDynamic(rows))
          b += rows;
        if (e < 0 && !ShapedType::isDynamic(rows))
          e += rows;
        if (!out->rowAxis || b < 0 || e != b + 1 || step != 1 ||
            (!ShapedType::isDynamic(rows) && e > rows) ||
            llvm::any_of(out->rows, [](int64_t r) { return r != -1; }))
          return std::nullopt;
        for (int64_t &r : out->rows)
          r = b;
        continue;
      }
      int64_t width = out->channels.size();
      auto clampIndex = [&](int64_t x) {
        return std::clamp<int64_t>(x < 0 ? x + width : x, 0, width);
      };
      int64_t b = clampIndex((*starts)[i]), e = clampIndex((*ends)[i]);
      TableChannels picked = *out;
      picked.rows.clear();
      picked.channels.clear();
      for (int64_t c = b; c < e; c += step) {
        picked.rows.push_back(out->rows[c]);
        picked.channels.push_back(out->channels[c]);
      }
      out = picked;
    }
  } else if (n.is("Squeeze")) {
    std::optional<TableChannels> in = input();
    std::optional<SmallVector<int64_t>> axes =
        n.input(1) ? n.constInts(1) : n.intsAttr("axes");
    if (!in || !axes || axes->size() != 1 || !in->rowAxis ||
        lastAxisOrRow(axes->front(), in->rank) != 0 ||
        llvm::any_of(in->rows, [](int64_t r) { return r < 0; }))
      return std::nullopt;
    out = *in;
    out->rowAxis = false;
    if (out->rank > 0)
      --out->rank;
  } else if (n.is("Gather")) {
    std::optional<TableChannels> in = input();
    std::optional<DenseElementsAttr> idx =
        n.input(1) ? constantOf(n.input(1), 1) : std::nullopt;
    std::optional<int64_t> row =
        n.input(1) ? scalarIntOf(n.input(1)) : std::nullopt;
    if (!in || !idx || !row || *row < 0 || !in->rowAxis ||
        lastAxisOrRow(n.intAttr("axis", 0), in->rank) != 0 ||
        llvm::any_of(in->rows, [](int64_t r) { return r != -1; }))
      return std::nullopt;
    out = *in;
    for (int64_t &r : out->rows)
      r = *row;
    // A scalar index drops the axis; a one-element index keeps it.
    if (idx->getType().getRank() == 0) {
      out->rowAxis = false;
      if (out->rank > 0)
        --out->rank;
    }
  } else if (n.is("Concat")) {
    for (unsigned i = 0; i < n.numInputs(); ++i) {
      std::optional<TableChannels> in =
          tableChannels(n.input(i), table, width, nodes, depth + 1);
      if (!in)
        return std::nullopt;
      if (!out) {
        out = *in;
        if (lastAxisOrRow(n.intAttr("axis", 0), in->rank) != -1)
          return std::nullopt;
        continue;
      }
      if (in->rowAxis != out->rowAxis ||
          (in->rowAxis && in->rows.front() != out->rows.front()))
        return std::nullopt;
      out->rows.append(in->rows);
      out->channels.append(in->channels);
    }
  }
  if (out)
    nodes.insert(n.getNode());
  return out;
}

/// A section merge of M-RoPE tables [A, ..., C], whatever the spelling: a
/// Concat on the last axis whose channel c comes, for every c in order, from
/// channel c of one row of the table, the rows in runs 0, 1, ..., A-1 (a
/// per-frequency table: once; per channel: twice, the halves alike, as
/// Hugging Face's split into [s..., s...] and chunk j from row j % A does).
/// Spelled with Split or Slices, a row by Gather or by Slice + Squeeze, with
/// value identities anywhere. Exporters keep one merge per layer: all of
/// them, with the sections of the first. `width` is the table's channel
/// count (what the frequency table or the cache says, where shape inference
/// left the table untyped).
SmallVector<Merge> matchSectionMerges(Value table, int64_t width,
                                      bool perFrequency = false) {
  SmallVector<Merge> merges;
  if (!ShapedType::isDynamic(dimOf(table, -1)))
    width = dimOf(table, -1);
  if (ShapedType::isDynamic(width) || width <= 0)
    return merges;
  // Candidate Concats: forward from the table through what moves channels.
  SmallVector<Value> work{table};
  llvm::DenseSet<Value> seen;
  SmallVector<NodeOp> concats;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second || seen.size() > 4096)
      continue;
    for (auto [user, at] : usersThroughIdentities(v)) {
      NodeBinder node(user);
      if (node.is("Concat") && !llvm::is_contained(concats, user))
        concats.push_back(user);
      if (node.isAnyOf("Split", "Slice", "Gather", "Squeeze", "Concat") ||
          (node.is("Cast") && at == 0))
        if (at == 0 || node.is("Concat"))
          for (Value r : user->getResults())
            work.push_back(r);
    }
  }
  for (NodeOp concat : concats) {
    llvm::SetVector<Operation *> nodes;
    std::optional<TableChannels> t =
        tableChannels(concat->getResult(0), table, width, nodes);
    if (!t || t->rowAxis || static_cast<int64_t>(t->channels.size()) != width)
      continue;
    bool inOrder = true;
    for (int64_t c = 0; c < width && inOrder; ++c)
      inOrder = t->channels[c] == c && t->rows[c] >= 0;
    if (!inOrder)
      continue;
    // Runs of rows.
    SmallVector<std::pair<int64_t, int64_t>> runs;
    for (int64_t r : t->rows) {
      if (runs.empty() || runs.back().first != r)
        runs.push_back({r, 0});
      ++runs.back().second;
    }
    size_t numAxes = perFrequency ? runs.size() : runs.size() / 2;
    if (numAxes < 2 || (!perFrequency && runs.size() % 2))
      continue;
    bool ok = true;
    for (size_t j = 0; j < runs.size() && ok; ++j)
      ok = runs[j].first == static_cast<int64_t>(j % numAxes) &&
           (j < numAxes || runs[j].second == runs[j - numAxes].second);
    if (!ok)
      continue;
    Merge merge;
    for (size_t j = 0; j < numAxes; ++j)
      merge.sections.push_back(runs[j].second);
    merge.nodes.assign(nodes.begin(), nodes.end());
    merge.merged = concat->getResult(0);
    if (merges.empty() || merges.front().sections == merge.sections)
      merges.push_back(std::move(merge));
  }
  return merges;
}

/// How the sin product's rotated operand spells rotate(x), by shape alone: a
/// Reshape or Flatten of stacked halves is GPT-J's pair interleave; anything
/// else rotate-half. Only for rotations the algebra below cannot read.
rope::PairLayout rotateLayout(Value sinProduct) {
  NodeBinder mul(rootOf(sinProduct));
  for (unsigned i = 0; i < mul.numInputs(); ++i) {
    NodeBinder rot(rootOf(mul.input(i)));
    if (rot.isAnyOf("Reshape", "Flatten"))
      if (NodeBinder inner(rootOf(rot.input(0)));
          inner.isAnyOf("Concat", "Unsqueeze"))
        return rope::PairLayout::gptj;
  }
  return rope::PairLayout::neox;
}

/// One channel of a signed channel vector: sign * base[channel].
struct SignedChannel {
  int sign;
  int64_t channel;
  bool operator==(const SignedChannel &o) const {
    return sign == o.sign && channel == o.channel;
  }
};

/// A value's last axis as signed channels of one base tensor; `cols` holds
/// more than one column while the value is a stack on a new last axis
/// (GPT-J's torch.stack((-x2, x1), -1) before it is flattened).
struct SignedChannels {
  SmallVector<SmallVector<SignedChannel>> cols;
  bool stacked = false;
  /// The base's width is the table's, assumed where shape inference left
  /// the base untyped: x * cos broadcasts x against the table's R channels,
  /// so x has R channels (or one, which no rotate-half of it can match:
  /// its halves would be empty).
  bool assumedWidth = false;
};

/// Whether a Reshape (or Flatten) of a rank-`rank` value merges exactly
/// its last two axes, as the shape operand says where shape inference left
/// the types open: a constant of rank - 1 entries ending in -1 (the others
/// copied by 0), or Concat(Slice(Shape(input), 0, -2), [-1]) as torch
/// writes flatten(-2).
bool mergesLastTwo(const NodeBinder &n, int64_t rank) {
  if (n.is("Flatten"))
    return rank == 3 && n.intAttr("axis", 1) == 1;
  if (!n.is("Reshape") || !n.input(1))
    return false;
  if (std::optional<SmallVector<int64_t>> shape = intsOf(n.input(1)))
    return rank > 1 && static_cast<int64_t>(shape->size()) == rank - 1 &&
           shape->back() == -1 &&
           llvm::all_of(ArrayRef<int64_t>(*shape).drop_back(),
                        [](int64_t d) { return d == 0; });
  NodeBinder concat(rootOf(n.input(1)));
  if (!concat.is("Concat") || concat.numInputs() != 2)
    return false;
  NodeBinder slice(rootOf(concat.input(0)));
  NodeBinder shape(slice.is("Slice") ? rootOf(slice.input(0)) : Value());
  std::optional<SmallVector<int64_t>> last = intsOf(concat.input(1));
  auto starts = slice.constInts(1), ends = slice.constInts(2);
  return shape.is("Shape") && rootOf(shape.input(0)) == rootOf(n.input(0)) &&
         starts && ends && *starts == SmallVector<int64_t>{0} &&
         (*ends == SmallVector<int64_t>{-2} ||
          (rank > 2 && *ends == SmallVector<int64_t>{rank - 2})) &&
         last && *last == SmallVector<int64_t>{-1};
}

/// `v` as signed channels of `base` (found on the way: the tensor every
/// path reaches once the channel moves are peeled off): value identities,
/// float Casts, Neg, Slice/Split of the last axis, Concat on the last axis,
/// Mul by a constant +-1 vector, Unsqueeze/Reshape/Flatten that keep the
/// last axis, and the stack + flatten of pairs.
///
/// With `known` (the table mode of carriedTable), the walk ends where
/// `known` gives a value's channels, never at another leaf, and also passes
/// what moves a table along the other axes only: Squeeze and Unsqueeze that
/// keep the last axis, Expand and Tile that keep its width.
using KnownChannels = llvm::function_ref<std::optional<SignedChannels>(Value)>;
std::optional<SmallVector<int64_t>> openShapeOf(Value v, int depth = 0);
std::optional<SignedChannels>
signedChannels(Value v, Value &base, int64_t widthHint, int64_t rankHint = -1,
               int depth = 0, KnownChannels known = nullptr) {
  if (!v || depth > 32)
    return std::nullopt;
  if (known)
    if (std::optional<SignedChannels> k = known(v))
      return k;
  NodeBinder n(v);
  auto recurse = [&](Value in) {
    return signedChannels(in, base, widthHint, rankHint, depth + 1, known);
  };
  auto leaf = [&]() -> std::optional<SignedChannels> {
    if (known)
      return std::nullopt;
    int64_t width = dimOf(v, -1);
    bool assumed = ShapedType::isDynamic(width);
    if (assumed)
      width = widthHint;
    if ((base && base != v) || width <= 0 || width > 4096)
      return std::nullopt;
    base = v;
    SignedChannels out;
    out.assumedWidth = assumed;
    out.cols.emplace_back();
    for (int64_t c = 0; c < width; ++c)
      out.cols.front().push_back({1, c});
    return out;
  };
  if (!n || !n.input(0))
    return leaf();
  // Untyped operands of a product with the table have the table's rank;
  // in the table mode, the rank the table's way proves (openShapeOf).
  int64_t inRank =
      inferRank(n.input(0)) >= 0 ? inferRank(n.input(0)) : rankHint;
  if (known && inferRank(n.input(0)) < 0)
    if (std::optional<SmallVector<int64_t>> shape = openShapeOf(n.input(0)))
      inRank = shape->size();
  if (isValueIdentity(n.getNode()) ||
      (n.is("Cast") && isFloatTensor(n.input(0)) && isFloatTensor(v)))
    return recurse(n.input(0));
  if (n.is("Neg")) {
    auto in = recurse(n.input(0));
    if (in)
      for (auto &col : in->cols)
        for (SignedChannel &c : col)
          c.sign = -c.sign;
    return in;
  }
  if (n.is("Mul") && n.numInputs() == 2) {
    for (unsigned i = 0; i < 2; ++i) {
      std::optional<SmallVector<float>> signs = floatsOf(n.input(1 - i), 4096);
      if (!signs || !llvm::all_of(*signs, [](float f) {
            return f == 1.0f || f == -1.0f;
          }))
        continue;
      // A sign per channel: [..., 1, C] broadcast over the last axis.
      RankedTensorType signType = rankedTypeOf(n.input(1 - i));
      if (signType && signType.getRank() > 0 &&
          signType.getNumElements() !=
              signType.getDimSize(signType.getRank() - 1))
        return std::nullopt;
      auto in = recurse(n.input(i));
      if (!in || in->stacked ||
          (signs->size() != 1 && signs->size() != in->cols.front().size()))
        return std::nullopt;
      for (auto [j, c] : llvm::enumerate(in->cols.front()))
        if ((*signs)[signs->size() == 1 ? 0 : j] < 0)
          c.sign = -c.sign;
      return in;
    }
    return leaf();
  }
  if (n.isAnyOf("Slice", "Split")) {
    auto in = recurse(n.input(0));
    if (!in || in->stacked)
      return std::nullopt;
    ArrayRef<SignedChannel> chans = in->cols.front();
    int64_t width = chans.size();
    int64_t begin = 0, end = width, step = 1;
    if (n.is("Split")) {
      if (lastAxisOrRow(n.intAttr("axis", 0), inRank) != -1)
        return std::nullopt;
      std::optional<SmallVector<int64_t>> sizes = n.intsAttr("split");
      if (!sizes && n.input(1))
        sizes = n.constInts(1);
      unsigned parts = n.getNode()->getNumResults();
      if (!sizes && width % parts == 0)
        sizes = SmallVector<int64_t>(parts, width / parts);
      if (!sizes || sizes->size() != parts)
        return std::nullopt;
      unsigned k = cast<OpResult>(v).getResultNumber();
      begin = 0;
      for (unsigned i = 0; i < k; ++i)
        begin += (*sizes)[i];
      end = begin + (*sizes)[k];
      int64_t total = 0;
      for (int64_t size : *sizes)
        total += size;
      // A Split of the untyped base itself says its width: the sum of
      // the sizes.
      if (in->assumedWidth && total != width && rootOf(n.input(0)) == base &&
          total > 0 && total <= 4096) {
        in->cols.front().clear();
        for (int64_t c = 0; c < total; ++c)
          in->cols.front().push_back({1, c});
        in->assumedWidth = false;
        chans = in->cols.front();
        width = total;
      }
      if (end > width || (in->assumedWidth && total != width))
        return std::nullopt;
    } else {
      // Bounds may be shape arithmetic on the sliced value itself
      // (x[..., : x.shape[-1] // 2]): its width is the channel count.
      ShapeHint hint{rootOf(n.input(0)), inRank, width};
      auto bound = [&](unsigned i) { return foldInts(n.input(i), hint); };
      auto starts = bound(1), ends = bound(2);
      std::optional<SmallVector<int64_t>> axes =
          n.input(3) ? bound(3) : SmallVector<int64_t>{0};
      std::optional<SmallVector<int64_t>> steps =
          n.input(4) ? bound(4) : SmallVector<int64_t>{1};
      if (!starts || !ends || !axes || !steps || starts->size() != 1 ||
          ends->size() != 1 || axes->size() != 1 || steps->size() != 1 ||
          lastAxisOrRow(axes->front(), inRank) != -1 || steps->front() <= 0)
        return std::nullopt;
      auto clampIndex = [&](int64_t x) {
        return std::clamp<int64_t>(x < 0 ? x + width : x, 0, width);
      };
      begin = clampIndex(starts->front());
      end = clampIndex(ends->front());
      step = steps->front();
    }
    SignedChannels out;
    out.assumedWidth = in->assumedWidth;
    out.cols.emplace_back();
    for (int64_t c = begin; c < end; c += step)
      out.cols.front().push_back(chans[c]);
    return out;
  }
  if (n.is("Concat")) {
    std::optional<SignedChannels> out;
    int64_t rank = inferRank(v) >= 0 ? inferRank(v) : rankHint;
    int64_t axis = n.intAttr("axis", 0);
    for (unsigned i = 0; i < n.numInputs(); ++i) {
      auto in = recurse(n.input(i));
      if (!in || (out && in->stacked != out->stacked))
        return std::nullopt;
      if (lastAxisOrRow(axis, rank) != -1)
        return std::nullopt;
      if (!out) {
        out = in;
        continue;
      }
      if (in->stacked) {
        // Another column of the stack: same length.
        if (in->cols.front().size() != out->cols.front().size())
          return std::nullopt;
        out->cols.append(in->cols);
      } else {
        out->cols.front().append(in->cols.front());
      }
    }
    return out;
  }
  if (n.is("Unsqueeze")) {
    std::optional<SmallVector<int64_t>> axes =
        n.input(1) ? n.constInts(1) : n.intsAttr("axes");
    if (!axes || axes->size() != 1)
      return std::nullopt;
    int64_t a = axes->front();
    auto in = recurse(n.input(0));
    if (!in || in->stacked)
      return std::nullopt;
    if (a == -1 || (inRank >= 0 && a == inRank)) {
      in->stacked = true; // a new last axis: one column of a stack
      return in;
    }
    if (a < -1 || (inRank >= 0 && a >= 0 && a < inRank))
      return in; // the last axis stays last
    return std::nullopt;
  }
  if (n.isAnyOf("Reshape", "Flatten")) {
    auto in = recurse(n.input(0));
    if (!in)
      return std::nullopt;
    int64_t outWidth = dimOf(v, -1);
    if (in->stacked) {
      // Flattening the stack: channel i * k + j is column j's channel i.
      size_t k = in->cols.size(), len = in->cols.front().size();
      if (ShapedType::isDynamic(outWidth) && mergesLastTwo(n, inRank))
        outWidth = k * len;
      if (ShapedType::isDynamic(outWidth) ||
          outWidth != static_cast<int64_t>(k * len))
        return std::nullopt;
      SmallVector<SignedChannel> flat;
      for (size_t i = 0; i < len; ++i)
        for (size_t j = 0; j < k; ++j)
          flat.push_back(in->cols[j][i]);
      SignedChannels out;
      out.cols.push_back(flat);
      return out;
    }
    // An Unsqueeze spelled as a Reshape (meaning::insertedAxisOf) that keeps
    // the last axis last.
    std::optional<int64_t> inserted = meaning::insertedAxisOf(v);
    // Reshape to [0, ..., 0, 1] (ONNX's 0 copies the input's dim): a new
    // last axis, x[..., None].
    std::optional<SmallVector<int64_t>> target =
        n.is("Reshape") && n.input(1) ? intsOf(n.input(1)) : std::nullopt;
    if (!inserted && target && inRank >= 0 && n.intAttr("allowzero", 0) == 0 &&
        static_cast<int64_t>(target->size()) == inRank + 1 &&
        target->back() == 1 &&
        llvm::all_of(ArrayRef<int64_t>(*target).drop_back(),
                     [](int64_t d) { return d == 0; }))
      inserted = inRank;
    if (inserted && !in->stacked &&
        (*inserted == -1 || (inRank >= 0 && *inserted == inRank))) {
      in->stacked = true; // a new last axis: one column of a stack
      return in;
    }
    if (ShapedType::isDynamic(outWidth) && inserted && !in->stacked)
      return in;
    if (ShapedType::isDynamic(outWidth) ||
        outWidth != static_cast<int64_t>(in->cols.front().size()))
      return std::nullopt;
    return in;
  }
  // Tile repeating the last axis r times is Concat(x, ..., x) of r copies
  // (the angle's Concat(f, f) spelled as Tile); other axes only in the
  // table mode, where they are broadcasts.
  if (n.is("Tile")) {
    std::optional<SmallVector<int64_t>> reps =
        n.input(1) ? n.constInts(1) : std::nullopt;
    bool fits = reps && !reps->empty() &&
                (inRank < 0 || static_cast<int64_t>(reps->size()) == inRank);
    bool othersOne = fits && llvm::all_of(ArrayRef<int64_t>(*reps).drop_back(),
                                          [](int64_t r) { return r == 1; });
    if (!fits || reps->back() < 1 || (!known && !othersOne) ||
        (!known && reps->back() == 1))
      return leaf();
    auto in = recurse(n.input(0));
    if (!in || in->stacked)
      return std::nullopt;
    SignedChannels out = *in;
    for (int64_t r = 1; r < reps->back(); ++r)
      out.cols.front().append(in->cols.front());
    return out;
  }
  if (known && n.isAnyOf("Squeeze", "Expand")) {
    auto in = recurse(n.input(0));
    if (!in || in->stacked)
      return std::nullopt;
    int64_t width = in->cols.front().size();
    if (n.is("Squeeze")) {
      // Axes that are not the last (a [.., 1] table squeezed to a scalar
      // would drop its channels).
      std::optional<SmallVector<int64_t>> axes =
          n.input(1) ? n.constInts(1) : n.intsAttr("axes");
      if (!axes || inRank < 0 ||
          llvm::any_of(
              *axes, [&](int64_t a) { return a == -1 || a == inRank - 1; }))
        return std::nullopt;
      return in;
    }
    // Expand to a last dim of 1 or the width: the channels stay as they
    // are.
    std::optional<SmallVector<int64_t>> target =
        n.input(1) ? n.constInts(1) : std::nullopt;
    if (!target || target->empty())
      return std::nullopt;
    int64_t last = target->back();
    return last == 1 || last == width ? in : std::nullopt;
  }
  return leaf();
}

/// The channels of the site table (`sin`: the sin table) that `v` carries
/// along its last axis, or nullopt (see RopeSites.h).
std::optional<SignedChannels> carriedChannels(Value v, const RopeSite &site,
                                              bool sin) {
  Value table = sin ? site.sinTable : site.cosTable;
  int64_t width = dimOf(table, -1);
  if (ShapedType::isDynamic(width))
    width = site.getRotaryDim();
  if (!table || width <= 0 || width > 4096)
    return std::nullopt;
  auto known = [&](Value u) -> std::optional<SignedChannels> {
    SignedChannels out;
    out.cols.emplace_back();
    if (u == table) {
      for (int64_t c = 0; c < width; ++c)
        out.cols.front().push_back({1, c});
      return out;
    }
    // The output of a proven section merge: channel c of the merge is
    // channel c of the row that owns its frequency.
    Operation *def = u.getDefiningOp();
    if (!def || !llvm::is_contained(site.mergeNodes, def) ||
        !NodeBinder(u).is("Concat"))
      return std::nullopt;
    // The merge reads the table past the casts and scalings that follow
    // it (followTableChain); only casts and scalings by 1 keep the values.
    SmallVector<Operation *> chain;
    Value chained = followTableChain(table, chain);
    auto isOne = [](Value x) {
      std::optional<SmallVector<float>> c = x ? floatsOf(x) : std::nullopt;
      return c && c->size() == 1 && c->front() == 1.0f;
    };
    for (Operation *op : chain) {
      NodeBinder step(dyn_cast<NodeOp>(op));
      if (!step.is("Cast") && !isOne(step.input(1)) &&
          !(step.is("Mul") && isOne(step.input(0))))
        return std::nullopt;
    }
    llvm::SetVector<Operation *> nodes;
    std::optional<TableChannels> merged =
        tableChannels(u, chained, width, nodes);
    if (!merged)
      return std::nullopt;
    for (int64_t c : merged->channels)
      out.cols.front().push_back({1, c});
    return out;
  };
  Value base;
  std::optional<SignedChannels> out =
      signedChannels(v, base, width, inferRank(table), 0, known);
  if (!out || out->stacked || out->cols.size() != 1 ||
      llvm::any_of(out->cols.front(),
                   [](SignedChannel c) { return c.sign != 1; }))
    return std::nullopt;
  return out;
}

/// Which of rotate-half (neox) or GPT-J pairs `rc` is of `xc`, channel for
/// channel and sign for sign.
std::optional<rope::PairLayout> rotationLayout(ArrayRef<SignedChannel> xc,
                                               ArrayRef<SignedChannel> rc) {
  size_t n = xc.size();
  if (n == 0 || n % 2 || rc.size() != n ||
      llvm::any_of(xc, [](SignedChannel c) { return c.sign != 1; }))
    return std::nullopt;
  auto matches = [&](auto partner) {
    for (size_t i = 0; i < n; ++i) {
      auto [j, sign] = partner(i);
      if (!(rc[i] == SignedChannel{sign, xc[j].channel}))
        return false;
    }
    return true;
  };
  size_t half = n / 2;
  if (matches([&](size_t i) {
        return i < half ? std::make_pair(i + half, -1)
                        : std::make_pair(i - half, 1);
      }))
    return rope::PairLayout::neox;
  if (matches([&](size_t i) {
        return i % 2 == 0 ? std::make_pair(i + 1, -1)
                          : std::make_pair(i - 1, 1);
      }))
    return rope::PairLayout::gptj;
  return std::nullopt;
}

/// A product of a sum, with its sign in the sum.
struct SignedProduct {
  int sign;
  NodeOp mul;
};

/// The products `v` adds up through Add, Sub, Neg and value identities; false
/// when it reaches anything else or more than `limit` products.
bool productsOf(Value v, int sign, SmallVectorImpl<SignedProduct> &out,
                size_t limit = 2, int depth = 0) {
  NodeBinder n(rootOf(v));
  if (!n || depth > 16 || out.size() > limit)
    return false;
  if (n.is("Mul") && n.numInputs() == 2) {
    out.push_back({sign, n.getNode()});
    return out.size() <= limit;
  }
  if (n.is("Neg"))
    return productsOf(n.input(0), -sign, out, limit, depth + 1);
  if (n.isAnyOf("Add", "Sub") && n.numInputs() == 2)
    return productsOf(n.input(0), sign, out, limit, depth + 1) &&
           productsOf(n.input(1), n.is("Sub") ? -sign : sign, out, limit,
                      depth + 1);
  return false;
}

/// `v` as channels [begin, end) of the last axis of `whole`: a Slice or a
/// Split of it (under value identities), or all of it (end -1 when its
/// width is not known).
struct TableSlice {
  Value whole;
  int64_t begin = 0, end = -1;
};
TableSlice tableSliceOf(Value v, int64_t width) {
  v = rootOf(v);
  NodeBinder n(v);
  Value in = n.input(0);
  if (in && !ShapedType::isDynamic(dimOf(in, -1)))
    width = dimOf(in, -1);
  int64_t rank = inferRank(in);
  if (n.is("Split") && in && lastAxisOrRow(n.intAttr("axis", 0), rank) == -1) {
    std::optional<SmallVector<int64_t>> sizes = n.intsAttr("split");
    if (!sizes && n.input(1))
      sizes = n.constInts(1);
    unsigned k = cast<OpResult>(v).getResultNumber();
    if (sizes && sizes->size() == n.getNode()->getNumResults()) {
      int64_t begin = 0;
      for (unsigned i = 0; i < k; ++i)
        begin += (*sizes)[i];
      return {in, begin, begin + (*sizes)[k]};
    }
  }
  if (n.is("Slice") && in) {
    auto starts = n.constInts(1), ends = n.constInts(2);
    std::optional<SmallVector<int64_t>> axes =
        n.input(3) ? n.constInts(3) : SmallVector<int64_t>{0};
    std::optional<SmallVector<int64_t>> steps =
        n.input(4) ? n.constInts(4) : SmallVector<int64_t>{1};
    if (starts && ends && axes && steps && starts->size() == 1 &&
        ends->size() == 1 && axes->size() == 1 &&
        *steps == SmallVector<int64_t>{1} &&
        lastAxisOrRow(axes->front(), rank) == -1) {
      auto clampIndex = [&](int64_t x) {
        return std::clamp<int64_t>(x < 0 ? x + width : x, 0, width);
      };
      return {in, clampIndex(starts->front()), clampIndex(ends->front())};
    }
  }
  int64_t w = dimOf(v, -1);
  return {v, 0, ShapedType::isDynamic(w) ? -1 : w};
}

/// One `x * cos + sign * rot * sin` of a rotation (or of one piece of it).
struct RotationPiece {
  NodeOp cosMul, sinMul;
  Value x, rot, cosFactor, sinFactor;
  int sinSign = 1;
};

/// The two-product sum `sum` as a rotation piece: one product by a value
/// carrying the cos table (with a + sign), the other by one carrying the sin
/// table.
std::optional<RotationPiece>
rotationPiece(Value sum, const llvm::SetVector<Value> &cosCarriers,
              const llvm::SetVector<Value> &sinCarriers) {
  SmallVector<SignedProduct> products;
  if (!productsOf(sum, 1, products) || products.size() != 2)
    return std::nullopt;
  for (int c = 0; c < 2; ++c) {
    RotationPiece p;
    SignedProduct cosP = products[c], sinP = products[1 - c];
    if (cosP.sign != 1)
      continue;
    for (unsigned i = 0; i < 2; ++i)
      if (cosCarriers.contains(cosP.mul.getInputs()[i])) {
        p.cosFactor = cosP.mul.getInputs()[i];
        p.x = cosP.mul.getInputs()[1 - i];
      }
    for (unsigned i = 0; i < 2; ++i)
      if (sinCarriers.contains(sinP.mul.getInputs()[i])) {
        p.sinFactor = sinP.mul.getInputs()[i];
        p.rot = sinP.mul.getInputs()[1 - i];
      }
    if (!p.cosFactor || !p.sinFactor)
      continue;
    p.cosMul = cosP.mul;
    p.sinMul = sinP.mul;
    p.sinSign = sinP.sign;
    return p;
  }
  return std::nullopt;
}

/// The last dim of `v` where shape inference left it unknown, from how it
/// is made: through value identities, Neg and Transposes that keep the last
/// axis last, to a Reshape whose shape ends in a positive constant (a
/// constant shape, or a Concat of one-element pieces, as torch writes
/// `x.view(b, s, h, 128)`). ShapedType::kDynamic when not known.
int64_t lastDimOf(Value v) {
  for (int hops = 0; v && hops < 16; ++hops) {
    if (int64_t d = dimOf(v, -1); !ShapedType::isDynamic(d))
      return d;
    NodeBinder n(v);
    if (n.isAnyOf("Identity", "Cast", "Neg") && n.input(0)) {
      v = n.input(0);
      continue;
    }
    if (n.is("Transpose") && n.input(0)) {
      std::optional<SmallVector<int64_t>> perm = n.intsAttr("perm");
      if (!perm || perm->empty() ||
          perm->back() != static_cast<int64_t>(perm->size()) - 1)
        return ShapedType::kDynamic;
      v = n.input(0);
      continue;
    }
    if (!n.is("Reshape") || !n.input(1) || n.intAttr("allowzero", 0) != 0)
      return ShapedType::kDynamic;
    Value shape = n.input(1);
    std::optional<SmallVector<int64_t>> c = intsOf(shape);
    NodeBinder concat(shape);
    if (!c && concat.is("Concat") && concat.numInputs() > 0) {
      Value last = concat.input(concat.numInputs() - 1);
      if (rankOf(last) == 1 && dimOf(last, 0) == 1)
        c = intsOf(last);
    }
    return c && !c->empty() && c->back() > 0 ? c->back() : ShapedType::kDynamic;
  }
  return ShapedType::kDynamic;
}

/// Whether `v` is the last channels of a tensor up to its end: a Slice of
/// the last axis with step 1 and an end past any width (torch's
/// `x[..., d:]` writes INT64_MAX), or the last result of a Split of the
/// last axis.
bool runsToEnd(Value v) {
  v = rootOf(v);
  NodeBinder n(v);
  if (!n.input(0))
    return false;
  int64_t rank = inferRank(n.input(0));
  if (n.is("Split"))
    return lastAxisOrRow(n.intAttr("axis", 0), rank) == -1 &&
           cast<OpResult>(v).getResultNumber() + 1 ==
               n.getNode()->getNumResults();
  if (!n.is("Slice") || !n.input(2) || !n.input(3))
    return false;
  std::optional<SmallVector<int64_t>> ends = n.constInts(2),
                                      axes = n.constInts(3);
  std::optional<SmallVector<int64_t>> steps =
      n.input(4) ? n.constInts(4) : SmallVector<int64_t>{1};
  return ends && axes && steps && ends->size() == 1 && axes->size() == 1 &&
         *steps == SmallVector<int64_t>{1} &&
         ends->front() >= std::numeric_limits<int32_t>::max() &&
         lastAxisOrRow(axes->front(), rank) == -1;
}

/// Proves `pieces` (concatenated on the last axis, or one piece) compute
/// x * cos + rotate(x) * sin: each piece takes the table channels of its own
/// output channels, and the rotated channels are rotate-half or GPT-J
/// pairs of the cos product's channels. On success fills the rotation's
/// layout, factors and x (null x when the pieces' x is no single value of
/// the graph).
bool proveRotation(ArrayRef<RotationPiece> pieces, int64_t width, Rotation &r) {
  Value base, cosWhole, sinWhole;
  SmallVector<SignedChannel> xs, rs;
  for (const RotationPiece &p : pieces) {
    int64_t rank = inferRank(p.cosFactor);
    std::optional<SignedChannels> xc = signedChannels(p.x, base, width, rank);
    std::optional<SignedChannels> rc = signedChannels(p.rot, base, width, rank);
    if (!xc || !rc || xc->stacked || rc->stacked ||
        xc->cols.front().size() != rc->cols.front().size()) {
      r.unproven = "its operands are not channels of one tensor moved by "
                   "Slice/Split/Concat/Neg/sign vectors";
      return false;
    }
    int64_t offset = xs.size(), size = xc->cols.front().size();
    TableSlice cs = tableSliceOf(p.cosFactor, width);
    TableSlice ss = tableSliceOf(p.sinFactor, width);
    r.unproven = "its pieces take table channels other than their own";
    if ((cosWhole && cs.whole != cosWhole) ||
        (sinWhole && ss.whole != sinWhole))
      return false;
    cosWhole = cs.whole;
    sinWhole = ss.whole;
    // Table channel of output channel offset + i is offset + i.
    if (pieces.size() > 1 && (cs.begin != offset || cs.end != offset + size ||
                              ss.begin != offset || ss.end != offset + size))
      return false;
    xs.append(xc->cols.front());
    for (SignedChannel c : rc->cols.front())
      rs.push_back({p.sinSign * c.sign, c.channel});
  }
  std::optional<rope::PairLayout> layout = rotationLayout(xs, rs);
  if (!layout) {
    SmallVector<SignedChannel> flipped(rs);
    for (SignedChannel &c : flipped)
      c.sign = -c.sign;
    r.unproven = rotationLayout(xs, flipped)
                     ? "it rotates the other way, x * cos - rotate(x) * sin "
                       "(rope.apply rotates by +angle)"
                     : "its rotated operand is not rotate-half or GPT-J "
                       "pairs of x";
    return false;
  }
  r.layout = *layout;
  r.cosFactor = cosWhole;
  r.sinFactor = sinWhole;
  r.cosMul = pieces.front().cosMul;
  r.sinMul = pieces.front().sinMul;
  r.rotated = pieces.front().rot;
  if (pieces.size() == 1) {
    r.x = pieces.front().x;
    return true;
  }
  // Pieces: x is their base when they cover all of it in order: its width
  // is known and theirs, or (unknown) the last piece runs to its end.
  // A last piece running to the end of its own input says nothing about
  // `base` unless that input is `base` itself.
  int64_t baseWidth = lastDimOf(base);
  NodeBinder lastPiece(rootOf(pieces.back().x));
  bool whole = ShapedType::isDynamic(baseWidth)
                   ? runsToEnd(pieces.back().x) && lastPiece.input(0) &&
                         rootOf(lastPiece.input(0)) == base
                   : baseWidth == static_cast<int64_t>(xs.size());
  for (size_t i = 0; whole && i < xs.size(); ++i)
    whole = xs[i].channel == static_cast<int64_t>(i);
  r.x = whole ? base : Value();
  if (!whole) {
    // Partial rotary in halves: the pieces slice the rotated slice of
    // `base` (q[..., :R] then its halves); x is that slice when it holds
    // exactly their channels in order and its width is certain (known, or
    // an explicit Slice end within `base`).
    NodeBinder first(rootOf(pieces.front().x));
    Value parent = first.isAnyOf("Slice", "Split") && first.input(0)
                       ? rootOf(first.input(0))
                       : Value();
    Value parentBase;
    std::optional<SignedChannels> pc =
        parent && parent != base
            ? signedChannels(parent, parentBase, width, inferRank(parent))
            : std::nullopt;
    NodeBinder slice(parent);
    std::optional<SmallVector<int64_t>> ends =
        slice.is("Slice") && slice.input(2) ? slice.constInts(2) : std::nullopt;
    bool sure = lastDimOf(parent) == static_cast<int64_t>(xs.size()) ||
                (ends && ends->size() == 1 && ends->front() > 0 &&
                 ends->front() < std::numeric_limits<int32_t>::max());
    bool same = pc && parentBase == base && !pc->stacked && sure &&
                pc->cols.front().size() == xs.size();
    for (size_t i = 0; same && i < xs.size(); ++i)
      same = pc->cols.front()[i] == SignedChannel{1, xs[i].channel};
    if (same) {
      whole = true;
      r.x = parent;
    }
  }
  r.unproven = whole ? "" : "its pieces rotate no single tensor of the graph";
  return static_cast<bool>(r.x);
}

/// Partial rotary: `x` as a constant Slice of the last axis of a wider
/// tensor.
void rotatedRange(Rotation &r) {
  r.source = r.x;
  r.rotaryBegin = 0;
  int64_t dim = dimOf(r.x, -1);
  r.rotaryEnd = ShapedType::isDynamic(dim) ? -1 : dim;
  NodeBinder slice(rootOf(r.x));
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

/// The values that carry `table` towards the rotations: views, broadcasts,
/// identities, Slice/Split, rows taken by a constant Gather, scalings, and
/// Concat (the section merge; GPT-J's repeat_interleave rebuilds the table
/// from its columns). rope-raise checks what it needs of the path itself
/// (carriesTable).
llvm::SetVector<Value> tableCarriers(Value table) {
  llvm::SetVector<Value> carriers;
  SmallVector<Value> work{table};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!v || !carriers.insert(v) || carriers.size() > 4096)
      continue;
    for (OpOperand &use : v.getUses()) {
      NodeBinder node(dyn_cast<NodeOp>(use.getOwner()));
      if (node.isAnyOf("Unsqueeze", "Squeeze", "Cast", "Reshape", "Expand",
                       "Tile", "Flatten", "Slice", "Transpose", "Split",
                       "Identity")) {
        if (use.getOperandNumber() == 0)
          for (Value r : node.getNode().getResults())
            work.push_back(r);
        continue;
      }
      bool row = node.is("Gather") && use.getOperandNumber() == 0 &&
                 node.input(1) && scalarIntOf(node.input(1));
      bool scaled = node.isAnyOf("Mul", "Div") && node.numInputs() == 2 &&
                    node.input(1 - use.getOperandNumber()) &&
                    isScalarFloat(node.input(1 - use.getOperandNumber())) &&
                    (node.is("Mul") || use.getOperandNumber() == 0);
      if (node.is("Concat") || row || scaled)
        work.push_back(node.result());
    }
  }
  return carriers;
}

/// Follows a table to the Muls that apply it: a rotation is such a Mul
/// whose product is added to (or, with the rotated product on the right,
/// subtracted from) another product, operands in either order and value
/// identities anywhere. The algebra (provenLayout) reads the layout off the
/// rotated operand; a rotation it cannot read keeps the layout its shape
/// suggests and is marked unproven (rope-raise leaves such sites alone).
void findRotations(Value table, int64_t tableWidth, RopeSite &site,
                   const Explain &explain) {
  llvm::SetVector<Value> cosCarriers = tableCarriers(table);
  llvm::SetVector<Value> sinCarriers;
  if (site.sinTable)
    sinCarriers = tableCarriers(site.sinTable);
  // The cos products of rotations found so far (a rotation spelled in
  // pieces has one per piece).
  llvm::DenseSet<Operation *> consumed;
  auto claimed = [&](Operation *op) {
    return consumed.contains(op) ||
           llvm::any_of(site.rotations, [&](const Rotation &r) {
             return r.cosMul == op || r.combine == op;
           });
  };
  for (Value v : cosCarriers) {
    for (OpOperand &use : v.getUses()) {
      NodeBinder node(dyn_cast<NodeOp>(use.getOwner()));
      if (!node.is("Mul") || node.numInputs() != 2 ||
          cosCarriers.contains(node.result()) || claimed(node.getNode()))
        continue;
      Value x = node.input(1 - use.getOperandNumber());
      if (!x)
        continue;
      // The sum the product is a term of: forward through value identities
      // and Neg to the first Add or Sub.
      NodeOp sumOp;
      Value cur = node.result();
      for (int hops = 0; hops < 8 && !sumOp; ++hops) {
        auto users = usersThroughIdentities(cur);
        NodeOp next;
        for (auto [user, at] : users)
          if (user.isOnnx("Add") || user.isOnnx("Sub"))
            sumOp = user;
          else if (user.isOnnx("Neg") && users.size() == 1)
            next = user;
        if (sumOp || !next)
          break;
        cur = next->getResult(0);
      }
      if (!sumOp) {
        explain.note(node.getNode(),
                     "multiplies by the table of " + nodeLabel(site.cosNode) +
                         " but its product is not added to another: not a "
                         "rotation");
        continue;
      }
      Rotation r;
      r.cosMul = node.getNode();
      r.combine = sumOp;
      r.x = x;
      r.cosFactor = v;
      SmallVector<SignedProduct> products;
      Value other;
      if (productsOf(sumOp->getResult(0), 1, products) && products.size() == 2)
        other = (products[0].mul == node.getNode() ? products[1] : products[0])
                    .mul->getResult(0);
      r.layout = other ? rotateLayout(other) : rope::PairLayout::neox;
      // Proof: the sum alone, or the sums concatenated on the last axis
      // (Concat(x1 * c1 - x2 * s1, x2 * c2 + x1 * s2)).
      SmallVector<RotationPiece> pieces;
      r.unproven = "it is not a sum of a product by the cos table and one "
                   "by the sin table";
      if (std::optional<RotationPiece> p =
              rotationPiece(sumOp->getResult(0), cosCarriers, sinCarriers)) {
        Rotation proof = r;
        bool ok = proveRotation({*p}, tableWidth, proof);
        r.unproven = proof.unproven;
        if (ok) {
          r = proof;
          r.proven = true;
        }
      }
      if (!r.proven) {
        auto users = usersThroughIdentities(sumOp->getResult(0));
        NodeBinder concat(users.size() == 1 ? users.front().first : NodeOp());
        bool all = concat.is("Concat") && !claimed(concat.getNode()) &&
                   lastAxisOrRow(concat.intAttr("axis", 0),
                                 rankOf(concat.result())) == -1;
        for (unsigned i = 0; all && i < concat.numInputs(); ++i) {
          std::optional<RotationPiece> p =
              rotationPiece(concat.input(i), cosCarriers, sinCarriers);
          all = static_cast<bool>(p);
          if (p)
            pieces.push_back(*p);
        }
        Rotation proof = r;
        if (all && proveRotation(pieces, tableWidth, proof)) {
          r = proof;
          r.combine = concat.getNode();
          r.proven = true;
        } else if (all && pieces.size() > 1) {
          r.unproven = proof.unproven;
          // The pieces of one rotation whose x is no single value: one
          // rotation, unproven.
          r.combine = concat.getNode();
        }
        if (all)
          for (const RotationPiece &p : pieces)
            consumed.insert(p.cosMul);
      }
      rotatedRange(r);
      site.rotations.push_back(r);
      // The table broadcast against [tokens, heads, dim] (vision) has
      // rank 3; against [batch, heads, seq, dim] rank 4.
      if (inferRank(v) == 3)
        site.vision = true;
    }
  }
}

void addNodes(RopeSite &site, ArrayRef<Operation *> ops) {
  for (Operation *op : ops)
    if (op && isa<NodeOp>(op) && !llvm::is_contained(site.nodes, op))
      site.nodes.push_back(op);
}

/// Records a cos merge's nodes and those of the sin table's merges (same
/// sections) as the site's merge nodes.
void addMergeNodes(RopeSite &site, ArrayRef<Operation *> cosMerge,
                   Value sinTable, int64_t width, bool perFrequency) {
  auto add = [&](ArrayRef<Operation *> ops) {
    for (Operation *op : ops)
      if (!llvm::is_contained(site.mergeNodes, op))
        site.mergeNodes.push_back(op);
  };
  add(cosMerge);
  if (!sinTable)
    return;
  SmallVector<Operation *> chain;
  for (const Merge &m : matchSectionMerges(followTableChain(sinTable, chain),
                                           width, perFrequency)) {
    add(m.nodes);
    addNodes(site, m.nodes);
  }
}

/// The value on the way from `leaf` to the angle that stacks `rows` rows:
/// following the integer positions only (not the float tables whose shape
/// they set, nor a batch broadcast on the way), the first Expand, Tile or
/// Concat inside the angle's closure whose integer result is [rows, B, S]
/// (mobile exporters expand cache_position [S] to [B, S], then to three
/// rows). Where no such value exists, the first Expand, Tile or Concat
/// reached at all, as before.
Value findFirstStack(Value leaf, const PositionWalk &c);
Value findBuiltRows(Value leaf, const PositionWalk &c, int64_t rows) {
  SmallVector<Value> work{leaf};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second || !isIntTensor(v))
      continue;
    for (Operation *user : v.getUsers()) {
      if (!c.nodes.contains(user))
        continue;
      NodeBinder node(cast<NodeOp>(user));
      // Only data edges: the shape operand of Expand/Tile/Reshape is not
      // where positions flow.
      if (node.isAnyOf("Expand", "Tile", "Reshape") && node.input(0) != v)
        continue;
      Value r = node.result();
      int64_t rank = r ? rankOf(r) : -1;
      if (r && node.isAnyOf("Expand", "Tile", "Concat") && isIntTensor(r) &&
          (rank == 3 || (rank == -1 && inferRank(r) == 3)) &&
          (rank == -1 || ShapedType::isDynamic(dimOf(r, 0)) ||
           dimOf(r, 0) == rows))
        return r;
      for (Value res : node.getNode().getResults())
        work.push_back(res);
    }
  }
  return findFirstStack(leaf, c);
}

Value findFirstStack(Value leaf, const PositionWalk &c) {
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
    // (A one-input Concat: torch.cat of one image's pairs.)
    if (node.isAnyOf("Tile", "Expand", "Cast", "Identity", "Gather") ||
        (node.is("Concat") && node.numInputs() == 1)) {
      idx = node.input(0);
      continue;
    }
    if (!node.is("Concat") || node.numInputs() != 2)
      return false;
    int64_t axis = node.intAttr("axis", 0);
    for (unsigned i = 0; i < 2; ++i) {
      // A column [N] made [N, 1] by Unsqueeze or a Reshape that inserts
      // the axis, or any value typed as a column [N, 1] (a Reshape to
      // [0, 1] of an unranked value).
      std::optional<int64_t> inserted = meaning::insertedAxisOf(node.input(i));
      bool column = rankOf(node.input(i)) == 2 && dimOf(node.input(i), -1) == 1;
      if (!(column || (inserted && (*inserted == -1 || *inserted == 1))) ||
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

/// Gathers on axis 0 of float rows regrouped by a Reshape, by a computed
/// 1D integer index, that are not a per-axis table lookup by (h, w) pairs:
/// they reorder the rows of angles already formed (Qwen2.5-VL's window
/// index over merge units). The first is the one whose rows no other
/// reorder reaches.
SmallVector<NodeOp> rowReorders(const PositionWalk &c) {
  SmallVector<NodeOp> reorders;
  for (Operation *op : c.nodes) {
    NodeBinder g(cast<NodeOp>(op));
    if (!g.is("Gather") || g.intAttr("axis", 0) != 0)
      continue;
    Value data = g.input(0), idx = g.input(1);
    if (data && idx && !isConstant(idx) && isIntTensor(idx) &&
        rankOf(idx) == 1 && isFloatTensor(data) &&
        NodeBinder(data).is("Reshape") && !isPairIndex(idx))
      reorders.push_back(g.getNode());
  }
  for (size_t i = 0; i < reorders.size(); ++i) {
    PositionWalk before;
    before.walk(reorders[i].getInputs()[0]);
    if (llvm::none_of(reorders, [&](NodeOp r) {
          return before.nodes.contains(r.getOperation());
        })) {
      std::swap(reorders[0], reorders[i]);
      break;
    }
  }
  return reorders;
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
/// The graph's value meanings, computed on first use: only an angle whose
/// closure reaches a float graph input needs them.
class LazyMeanings {
public:
  explicit LazyMeanings(onnx::GraphOp graph) : graph(graph) {}
  const meaning::ValueMeanings &get() {
    if (!meanings)
      meanings = std::make_unique<meaning::ValueMeanings>(graph);
    return *meanings;
  }

private:
  onnx::GraphOp graph;
  std::unique_ptr<meaning::ValueMeanings> meanings;
};

/// The float graph inputs of the closure `c` that are positions by what
/// they mean, whatever their element type: a value of the closure is an
/// angle (positions x inv_freq, by MatMul, broadcast Mul or Einsum) formed
/// from them (Qwen3-Omni's float32 get_rope_index). The rotated activation
/// is multiplied by cos/sin, never by frequencies, and is not in an angle's
/// closure. `copiedAt` gets where such an angle's three rows were copied
/// from one tensor (degenerate M-RoPE), null when never.
SmallVector<Value> floatPositionsOf(const PositionWalk &c, LazyMeanings &lazy,
                                    Value &copiedAt) {
  SmallVector<Value> out;
  const meaning::ValueMeanings &meanings = lazy.get();
  for (Operation *op : c.nodes)
    for (Value r : op->getResults()) {
      const meaning::Meaning &m = meanings.lookup(r);
      if (m.kind != meaning::Kind::Angle || !m.src ||
          !llvm::is_contained(c.floatInputs, m.src))
        continue;
      if (!llvm::is_contained(out, m.src))
        out.push_back(m.src);
      if (!copiedAt)
        copiedAt = m.copiedAt;
    }
  return out;
}

std::optional<RopeSite> matchComputedSite(NodeOp cosOp, Arch arch,
                                          LazyMeanings &meanings,
                                          const Explain &explain) {
  NodeBinder cos(cosOp);
  Value angle = cos.input(0);
  if (!angle || !cos.result())
    return explain.reject(cosOp, "no input angle");
  // The Sin of the same angle, through any value identities.
  NodeOp sin;
  for (auto [user, at] : usersThroughIdentities(rootOf(angle)))
    if (NodeBinder node(user); node.is("Sin") && node.result())
      sin = node.getNode();
  if (!sin)
    return explain.reject(cosOp, "no Sin of the same angle");

  // Rows of the angles reordered by data after they are formed (a window
  // index): the positions are what the rows are formed from, so everything
  // below reads the closure of the first reorder's rows, not its index.
  PositionWalk full, rows;
  full.walk(angle);
  SmallVector<NodeOp> reorders = rowReorders(full);
  if (!reorders.empty())
    rows.walk(reorders.front().getInputs()[0]);
  PositionWalk &c = reorders.empty() ? full : rows;
  // Float positions are positions by their role, not their type.
  Value floatCopiedAt;
  if (!c.floatInputs.empty())
    c.adoptFloatPositions(floatPositionsOf(c, meanings, floatCopiedAt));
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
  // Rotate-half or pair tables hold two channels per frequency.
  SmallVector<Merge> merges = matchSectionMerges(cosTable, 2 * numFreqs);
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
      // Float positions: the lattice says where their rows were copied
      // (findBuiltRows follows integer positions only).
      site.builtRows = isFloatTensor(site.positions) && floatCopiedAt
                           ? floatCopiedAt
                           : findBuiltRows(site.positions, c, rows);
      if (site.builtRows && probeLeafMeaning(site.positions, site.builtRows) ==
                                LeafMeaning::Segments)
        site.source = PositionSource::Segments;
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
    findRotations(cosTable, rotaryDim, site, explain);
  for (const Merge &m : merges) {
    addNodes(site, m.nodes);
    addMergeNodes(site, m.nodes, site.sinTable, 2 * numFreqs,
                  /*perFrequency=*/false);
    findRotations(m.merged, rotaryDim, site, explain);
  }
  if (site.rotations.empty())
    return explain.reject(cosOp, "its tables rotate nothing here (no Mul by "
                                 "the table feeds an Add or Sub): an absolute "
                                 "embedding, or caches a fused op reads");
  std::string why;
  site.semantics = makeSemantics(cosOp.getContext(), sections, rotaryDim, theta,
                                 siteLayout(site), order, freqs, why);
  if (!site.semantics)
    return explain.reject(cosOp, "inconsistent semantics: " + why);
  addNodes(site, full.nodes.getArrayRef());
  addNodes(site, {cosOp, sin});
  site.reorders = reorders;
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
    for (auto [user, at] : usersThroughIdentities(rootOf(index))) {
      NodeBinder other(user);
      if (!other.is("Gather") || other.getNode() == gatherOp || at != 1 ||
          !other.input(0) || !other.result() || other.intAttr("axis", 0) != 0)
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
    // The halves, by meaning: a Split in two or two Slices of the last
    // axis, through value identities.
    Value sinHalf, cosHalf;
    int64_t half = width / 2;
    for (auto [user, at] : usersThroughIdentities(gather.result())) {
      NodeBinder node(user);
      if (at != 0 || !node.isAnyOf("Split", "Slice"))
        continue;
      for (Value r : user->getResults()) {
        llvm::SetVector<Operation *> ignored;
        std::optional<TableChannels> t =
            tableChannels(r, gather.result(), width, ignored);
        if (!t && node.is("Split") && user->getNumResults() == 2 &&
            ShapedType::isDynamic(dimOf(gather.result(), -1))) {
          // Untyped gather: a Split in two halves as the exporter writes.
          (r == user->getResult(0) ? sinHalf : cosHalf) = r;
          continue;
        }
        if (!t || static_cast<int64_t>(t->channels.size()) != half)
          continue;
        bool isSin = true, isCos = true;
        for (int64_t c = 0; c < half; ++c) {
          isSin &= t->channels[c] == c;
          isCos &= t->channels[c] == half + c;
        }
        if (isSin && !sinHalf)
          sinHalf = r;
        if (isCos && !cosHalf)
          cosHalf = r;
      }
    }
    if (!sinHalf || !cosHalf)
      return explain.reject(gatherOp, "a sin|cos cache not split in two "
                                      "halves after the Gather");
    site.cosNode = gatherOp;
    site.sinNode = sinHalf.getDefiningOp<NodeOp>();
    sinRow.assign(row1.begin(), row1.begin() + width / 2);
    cosRow.assign(row1.begin() + width / 2, row1.end());
    cosTable = cosHalf;
    site.sinTable = sinHalf;
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
      matchSectionMerges(followTableChain(cosTable, chain), width, !perChannel);
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
      site.builtRows = findBuiltRows(site.positions, c, rows);
      if (site.builtRows && probeLeafMeaning(site.positions, site.builtRows) ==
                                LeafMeaning::Segments)
        site.source = PositionSource::Segments;
    }
  }
  // x has two channels per frequency (GPT-J's per-frequency halves are
  // spread over the pairs).
  int64_t tableWidth = perChannel ? width : 2 * width;
  if (merges.empty())
    findRotations(cosTable, tableWidth, site, explain);
  for (const Merge &m : merges) {
    addNodes(site, m.nodes);
    addMergeNodes(site, m.nodes, site.sinTable, width, !perChannel);
    findRotations(m.merged, tableWidth, site, explain);
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

/// The shape of a value on a table's way to a rotation (kDynamic where not
/// known), where shape inference left it open: through value identities,
/// float Casts, Mul by a scalar, Unsqueeze by constant axes, Slice/Split of
/// the last axis, Concat and the Reshape/Flatten that merges the last two
/// axes (GPT-J's flatten of a stack); at other values, the rank
/// inferRank says with every dim open. What matters here is where the unit
/// (heads) axis is.
std::optional<SmallVector<int64_t>> openShapeOf(Value v, int depth) {
  if (RankedTensorType t = rankedTypeOf(v))
    return SmallVector<int64_t>(t.getShape());
  NodeBinder n(v);
  auto open = [&]() -> std::optional<SmallVector<int64_t>> {
    int64_t rank = inferRank(v);
    if (rank < 0)
      return std::nullopt;
    return SmallVector<int64_t>(rank, ShapedType::kDynamic);
  };
  if (!n || !n.input(0) || depth > 32)
    return open();
  auto input = [&]() { return openShapeOf(n.input(0), depth + 1); };
  if (isValueIdentity(n.getNode()) || n.isAnyOf("Cast", "Cos", "Sin", "Neg") ||
      (n.is("Mul") && n.input(1) && isScalarFloat(n.input(1))))
    return input();
  if (n.is("Transpose")) {
    std::optional<SmallVector<int64_t>> in = input();
    std::optional<SmallVector<int64_t>> perm = n.intsAttr("perm");
    if (!in || !perm || perm->size() != in->size())
      return open();
    SmallVector<int64_t> out;
    for (int64_t p : *perm) {
      if (p < 0 || p >= static_cast<int64_t>(in->size()))
        return open();
      out.push_back((*in)[p]);
    }
    return out;
  }
  if (n.is("Gather")) {
    // A row by a scalar index drops its axis.
    std::optional<SmallVector<int64_t>> in = input();
    std::optional<DenseElementsAttr> idx =
        n.input(1) ? constantOf(n.input(1), 1) : std::nullopt;
    int64_t axis = n.intAttr("axis", 0);
    if (!in || !idx || idx->getType().getRank() != 0)
      return open();
    if (axis < 0)
      axis += in->size();
    if (axis < 0 || axis >= static_cast<int64_t>(in->size()))
      return open();
    in->erase(in->begin() + axis);
    return in;
  }
  if (n.is("MatMul") && n.input(1)) {
    // [..., M, K] x [..., K, N]: batch dims open, M and N kept.
    std::optional<SmallVector<int64_t>> a = input(),
                                        b = openShapeOf(n.input(1), depth + 1);
    if (!a || !b || a->size() < 2 || a->size() != b->size())
      return open();
    SmallVector<int64_t> out(a->size() - 2, ShapedType::kDynamic);
    out.push_back((*a)[a->size() - 2]);
    out.push_back(b->back());
    return out;
  }
  if (n.isAnyOf("Slice", "Split")) {
    std::optional<SmallVector<int64_t>> in = input();
    if (in && !in->empty())
      in->back() = ShapedType::kDynamic; // only the last axis is cut here
    return in;
  }
  if (n.is("Concat")) {
    std::optional<SmallVector<int64_t>> in = input();
    if (in && !in->empty()) {
      int64_t axis = n.intAttr("axis", 0);
      int64_t rank = in->size();
      if (axis < 0)
        axis += rank;
      if (axis >= 0 && axis < rank)
        (*in)[axis] = ShapedType::kDynamic;
    }
    return in;
  }
  if (n.is("Unsqueeze")) {
    std::optional<SmallVector<int64_t>> in = input();
    std::optional<SmallVector<int64_t>> axes =
        n.input(1) ? n.constInts(1) : n.intsAttr("axes");
    if (!in || !axes)
      return open();
    int64_t rank = in->size() + axes->size();
    SmallVector<int64_t> sorted;
    for (int64_t a : *axes)
      sorted.push_back(a < 0 ? a + rank : a);
    llvm::sort(sorted);
    for (int64_t a : sorted) {
      if (a < 0 || a > static_cast<int64_t>(in->size()))
        return open();
      in->insert(in->begin() + a, 1);
    }
    return in;
  }
  if (std::optional<int64_t> inserted = meaning::insertedAxisOf(v);
      inserted && n.is("Reshape")) {
    std::optional<SmallVector<int64_t>> in = input();
    if (!in)
      return open();
    int64_t a = *inserted < 0 ? *inserted + in->size() + 1 : *inserted;
    if (a < 0 || a > static_cast<int64_t>(in->size()))
      return open();
    in->insert(in->begin() + a, 1);
    return in;
  }
  if (n.isAnyOf("Reshape", "Flatten")) {
    std::optional<SmallVector<int64_t>> in = input();
    if (!in || in->size() < 2 ||
        !mergesLastTwo(n, static_cast<int64_t>(in->size())))
      return open();
    int64_t a = (*in)[in->size() - 2], b = in->back();
    in->pop_back();
    in->back() = ShapedType::isDynamic(a) || ShapedType::isDynamic(b)
                     ? ShapedType::kDynamic
                     : a * b;
    return in;
  }
  return open();
}

/// `v`'s type, or the type openShapeOf proves for it (null: not known).
RankedTensorType typeThroughFlatten(Value v) {
  if (RankedTensorType t = rankedTypeOf(v))
    return t;
  std::optional<SmallVector<int64_t>> shape = openShapeOf(v);
  Type elem = elementTypeOf(v);
  if (!shape || !elem)
    return nullptr;
  return RankedTensorType::get(*shape, elem);
}

} // namespace

std::optional<CarriedTable> mrope::carriedTable(Value v, const RopeSite &site,
                                                bool sin) {
  NodeOp cosNode = site.cosNode;
  if (!cosNode || !cosNode.isOnnx("Cos") || !site.semantics ||
      site.semantics.getFreqs() != rope::FreqIndex::global)
    return std::nullopt;
  // The angle's channels as channels of one value F wide: the frequency
  // table's channels in its order (the analysis picked it non-increasing
  // from 1, so channel i is inv_freq[i]).
  // Where shape inference left the angle untyped (an Identity on an
  // Unsqueeze's axes hides them from it), the base is taken F wide when the
  // angle then has the table's 2F channels (Concat(f, f)).
  Value angleBase;
  int64_t numFreqs = site.invFreq.size();
  std::optional<SignedChannels> angle =
      signedChannels(cosNode.getInputs()[0], angleBase, numFreqs);
  bool widthKnown =
      angle &&
      (dimOf(angleBase, -1) == numFreqs ||
       (angle->assumedWidth &&
        static_cast<int64_t>(angle->cols.front().size()) == 2 * numFreqs));
  if (!angle || angle->stacked || angle->cols.size() != 1 || !widthKnown ||
      llvm::any_of(angle->cols.front(),
                   [](SignedChannel c) { return c.sign != 1; }))
    return std::nullopt;
  std::optional<SignedChannels> carried = carriedChannels(v, site, sin);
  if (!carried)
    return std::nullopt;
  CarriedTable out;
  ArrayRef<SignedChannel> tableFreqs = angle->cols.front();
  for (SignedChannel c : carried->cols.front()) {
    if (c.channel < 0 || c.channel >= static_cast<int64_t>(tableFreqs.size()))
      return std::nullopt;
    out.freqs.push_back(tableFreqs[c.channel].channel);
  }
  out.type = typeThroughFlatten(v);
  return out;
}

std::vector<RopeSite> mrope::findRopeSites(onnx::GraphOp graph,
                                           const FindOptions &options) {
  Explain explain(options.explain);
  // Sites carry #rope.semantics, whichever pass or tool asks.
  graph.getContext()->getOrLoadDialect<rope::RopeDialect>();
  std::vector<RopeSite> sites;
  // The table producers of sites found so far (a sin cache's Gather is not
  // a candidate of its own).
  llvm::DenseSet<Operation *> claimed;
  LazyMeanings meanings(graph);
  for (Operation &op : graph.getBodyBlock()) {
    NodeBinder node(dyn_cast<NodeOp>(op));
    if (claimed.contains(&op))
      continue;
    std::optional<RopeSite> site;
    if (node.is("Cos"))
      site = matchComputedSite(node.getNode(), options.arch, meanings, explain);
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
