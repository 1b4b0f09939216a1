//===- FusedRopeSites.cpp - RoPE done by one fused ONNX op ----------------===//
#include "mrope/Analysis/FusedRopeSites.h"
#include "mrope/Analysis/Evaluate.h"
#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/ValueMeaning.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mrope;
using onnx::NodeOp;

StringRef mrope::fusedOpName(FusedOp op) {
  switch (op) {
  case FusedOp::MsRotary:
    return "com.microsoft.RotaryEmbedding";
  case FusedOp::MsMRotary:
    return "com.microsoft.MRotaryEmbedding";
  case FusedOp::OnnxRotary:
    return "RotaryEmbedding";
  case FusedOp::GroupQueryAttention:
    return "com.microsoft.GroupQueryAttention";
  }
  llvm_unreachable("unknown fused op");
}

StringRef mrope::fusedPositionsName(FusedPositions kind) {
  switch (kind) {
  case FusedPositions::OneD:
    return "1d";
  case FusedPositions::MRope:
    return "mrope";
  case FusedPositions::MRopeInterleaved:
    return "mrope-interleaved";
  case FusedPositions::MRopeDegenerate:
    return "mrope-degenerate";
  case FusedPositions::PerToken:
    return "per-token";
  }
  llvm_unreachable("unknown positions kind");
}

namespace {

/// The node defining `v`, when it is an onnx.node.
NodeOp producer(Value v) { return v ? v.getDefiningOp<NodeOp>() : NodeOp(); }

bool isAbsent(Value v) { return !v || v.getDefiningOp<onnx::NoneOp>(); }

/// Operand `i` of `node`, null when missing or absent.
Value operandOr(NodeOp node, unsigned i) {
  if (i >= node.getInputs().size())
    return {};
  Value v = node.getInputs()[i];
  return isAbsent(v) ? Value() : v;
}

/// `v` seen through ops that keep its values: Cast, Identity, Reshape,
/// Unsqueeze, Squeeze, Flatten (all on their data operand).
Value throughViews(Value v) {
  while (NodeOp node = producer(v)) {
    if (!(node.isOnnx("Cast") || node.isOnnx("Identity") ||
          node.isOnnx("Reshape") || node.isOnnx("Unsqueeze") ||
          node.isOnnx("Squeeze") || node.isOnnx("Flatten")) ||
        node.getInputs().empty())
      break;
    v = node.getInputs()[0];
  }
  return v;
}

/// How messages name where positions come from.
std::string describeSource(Value v) {
  if (!v)
    return "?";
  if (isa<BlockArgument>(v))
    return "input '" + onnxValueName(v) + "'";
  if (NodeOp node = producer(v))
    return node.getOpType().str() + " node " + nodeLabel(node);
  if (v.getDefiningOp<onnx::InitializerOp>())
    return "initializer '" + onnxValueName(v) + "'";
  return "?";
}

SmallVector<int64_t> staticShape(Value v) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
  if (!type)
    return {};
  SmallVector<int64_t> shape;
  for (int64_t d : type.getShape())
    shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return shape;
}

/// When `rows` ([3, B, S] positions) are built in the graph as copies of one
/// 1D tensor (Expand/Tile of a leading-1 view, or a Concat of one value),
/// that tensor (seen through views).
Value degenerateRowsSource(Value rows) {
  Value v = rows;
  while (NodeOp node = producer(v)) {
    if (!(node.isOnnx("Cast") || node.isOnnx("Identity")))
      break;
    v = node.getInputs()[0];
  }
  NodeOp node = producer(v);
  if (!node)
    return {};
  if ((node.isOnnx("Expand") || node.isOnnx("Tile")) &&
      !node.getInputs().empty()) {
    Value data = node.getInputs()[0];
    SmallVector<int64_t> shape = staticShape(data);
    // The copied tensor has no row axis of its own (rank 2, or a leading 1,
    // or an Unsqueeze when shapes are unknown).
    NodeOp view = producer(data);
    if ((!shape.empty() && (shape.size() < 3 || shape.front() == 1)) ||
        (shape.empty() && view && view.isOnnx("Unsqueeze")))
      return throughViews(data);
    return {};
  }
  if (node.isOnnx("Concat") && node.getInputs().size() >= 2) {
    Value first = throughViews(node.getInputs()[0]);
    for (Value in : node.getInputs().drop_front())
      if (throughViews(in) != first)
        return {};
    return first;
  }
  return {};
}

/// Per-token caches ([B, S, F], opset-23 RotaryEmbedding without
/// position_ids): the [A, B, S] positions and the axis of each channel
/// (`rows`) of the Gather(positions, rows, axis = 0) they were built from
/// (rope.cos_sin's lowering, or the fused fix's gather of a cache). Walks
/// back a few nodes along data operands.
struct RowGather {
  Value positions;
  SmallVector<int64_t> rows;
};
std::optional<RowGather> findRowGather(Value cache,
                                       const meaning::ValueMeanings &meanings) {
  SmallVector<std::pair<Value, int>> work{{cache, 0}};
  llvm::SmallPtrSet<Operation *, 16> seen;
  while (!work.empty()) {
    auto [v, depth] = work.pop_back_val();
    NodeOp node = producer(v);
    if (!node || depth > 10 || !seen.insert(node).second)
      continue;
    if (node.isOnnx("Gather") && node.getIntAttr("axis").value_or(0) == 0 &&
        node.getInputs().size() == 2) {
      Value data = node.getInputs()[0];
      auto type = dyn_cast<RankedTensorType>(data.getType());
      std::optional<SmallVector<int64_t>> rows =
          onnx::getConstantInts(node.getInputs()[1]);
      // (Dims of a Shape are no positions: a Reshape of the caches to a
      // computed target gathers them.)
      if (type && isa<IntegerType>(type.getElementType()) && rows &&
          !data.getDefiningOp<onnx::InitializerOp>() &&
          meanings.lookup(data).kind != meaning::Kind::Shape)
        return RowGather{data, *rows};
    }
    for (Value in : node.getInputs())
      if (!isAbsent(in) && !in.getDefiningOp<onnx::InitializerOp>())
        work.push_back({in, depth + 1});
  }
  return std::nullopt;
}

/// Merged per-token caches [B * S, F]: a row Gather of [A, B, S] positions
/// with one row per frequency (what findRowGather finds, narrowed so that
/// the Gather of a Shape that sizes position-indexed caches is not one).
std::optional<RowGather> mergedRows(Value cache,
                                    const meaning::ValueMeanings &meanings) {
  std::optional<RowGather> gather = findRowGather(cache, meanings);
  auto type = gather ? dyn_cast<RankedTensorType>(gather->positions.getType())
                     : RankedTensorType();
  SmallVector<int64_t> shape = staticShape(cache);
  if (!type || type.getRank() != 3 || shape.size() != 2 ||
      shape[1] != static_cast<int64_t>(gather->rows.size()))
    return std::nullopt;
  return gather;
}

/// One row taken from a tensor along axis 0: Gather(x, j) of a one-element
/// constant index, or its other spelling Squeeze(Slice(x, [j], [j + 1],
/// [0]), [0]). (x, j), with value identities on the edges and the index
/// looked through; nullopt otherwise.
std::optional<std::pair<Value, int64_t>> rowTaken(Value v) {
  using meaning::stripTransparent;
  // Constant operand k of `n` (absent: nullopt).
  auto ints = [](NodeOp n, unsigned k) -> std::optional<SmallVector<int64_t>> {
    if (n.getInputs().size() <= k || isAbsent(n.getInputs()[k]))
      return std::nullopt;
    return onnx::getConstantInts(stripTransparent(n.getInputs()[k]));
  };
  NodeOp node = producer(stripTransparent(v));
  if (node && node.isOnnx("Gather") &&
      node.getIntAttr("axis").value_or(0) == 0 &&
      node.getInputs().size() == 2) {
    std::optional<SmallVector<int64_t>> index = ints(node, 1);
    if (!index || index->size() != 1)
      return std::nullopt;
    return std::make_pair(stripTransparent(node.getInputs()[0]), (*index)[0]);
  }
  if (!node || !node.isOnnx("Squeeze") || node.getInputs().empty())
    return std::nullopt;
  std::optional<SmallVector<int64_t>> axes =
      node.getInputs().size() > 1 ? ints(node, 1) : node.getIntsAttr("axes");
  NodeOp slice = producer(stripTransparent(node.getInputs()[0]));
  if (!axes || *axes != SmallVector<int64_t>{0} || !slice ||
      !slice.isOnnx("Slice") || slice.getInputs().size() < 4)
    return std::nullopt;
  std::optional<SmallVector<int64_t>> starts = ints(slice, 1),
                                      ends = ints(slice, 2),
                                      sliceAxes = ints(slice, 3);
  std::optional<SmallVector<int64_t>> steps =
      slice.getInputs().size() > 4 && !isAbsent(slice.getInputs()[4])
          ? ints(slice, 4)
          : SmallVector<int64_t>{1};
  if (!starts || !ends || !sliceAxes || !steps || starts->size() != 1 ||
      ends->size() != 1 || *sliceAxes != SmallVector<int64_t>{0} ||
      *steps != SmallVector<int64_t>{1} || (*starts)[0] < 0 ||
      (*ends)[0] != (*starts)[0] + 1)
    return std::nullopt;
  return std::make_pair(stripTransparent(slice.getInputs()[0]), (*starts)[0]);
}

/// A row Gather (axis 0) of a constant [M, F] cache: the cache's width F,
/// the rank of the gathered tensor and the indices; nullopt otherwise.
struct GatheredCache {
  int64_t width, rank;
  Value indices;
};
std::optional<GatheredCache> gatheredCache(Value whole) {
  NodeOp gather = producer(whole);
  if (!gather || !gather.isOnnx("Gather") ||
      gather.getIntAttr("axis").value_or(0) != 0 ||
      gather.getInputs().size() != 2)
    return std::nullopt;
  Value table = throughViews(gather.getInputs()[0]);
  auto type = dyn_cast<RankedTensorType>(table.getType());
  bool constant = table.getDefiningOp<onnx::InitializerOp>() ||
                  (producer(table) && producer(table).isOnnx("Constant"));
  int64_t indexRank = match::rankOf(gather.getInputs()[1]);
  if (!constant || !type || type.getRank() != 2 || type.isDynamicDim(1) ||
      indexRank < 0)
    return std::nullopt;
  return GatheredCache{type.getDimSize(1), indexRank + 1,
                       gather.getInputs()[1]};
}

/// Integers held by `v`: a constant seen through value identities, or what
/// the evaluator computes from constants and static shapes (a bound written
/// as Shape arithmetic).
std::optional<SmallVector<int64_t>> intsOf(Value v, eval::Evaluator &ev) {
  if (isAbsent(v))
    return std::nullopt;
  if (auto ints = onnx::getConstantInts(meaning::stripTransparent(v)))
    return ints;
  const eval::Tensor *t = ev.evaluate(v);
  if (!t || t->isFloat() || t->numElements() > 16)
    return std::nullopt;
  return SmallVector<int64_t>(t->i.begin(), t->i.end());
}

/// What channels `v` holds: [begin, end) of the last axis of `whole`, a row
/// Gather of a constant cache. Whatever cut them out, a Split along that
/// axis or a Slice of it with step 1 (negative bounds and bounds past the
/// end read as ONNX reads them), they are the same channels.
struct ChannelRange {
  Value whole;
  int64_t begin = 0, end = 0;
};
std::optional<ChannelRange> channelRange(Value v, eval::Evaluator &ev) {
  v = meaning::stripTransparent(v);
  NodeOp sel = producer(v);
  if (!sel || sel.getInputs().empty() ||
      !(sel.isOnnx("Split") || sel.isOnnx("Slice")))
    return std::nullopt;
  ChannelRange range;
  range.whole = meaning::stripTransparent(sel.getInputs()[0]);
  std::optional<GatheredCache> cache = gatheredCache(range.whole);
  if (!cache)
    return std::nullopt;
  int64_t width = cache->width, rank = cache->rank;
  auto isLastAxis = [&](int64_t axis) {
    return axis == rank - 1 || axis == -1;
  };
  auto operandInts = [&](unsigned i) -> std::optional<SmallVector<int64_t>> {
    if (i >= sel.getInputs().size())
      return std::nullopt;
    return intsOf(sel.getInputs()[i], ev);
  };
  if (sel.isOnnx("Split")) {
    if (!isLastAxis(sel.getIntAttr("axis").value_or(0)))
      return std::nullopt;
    // Sizes: the `split` operand (opset 13+) or attribute, else equal parts.
    int64_t parts = sel->getNumResults();
    std::optional<SmallVector<int64_t>> sizes =
        sel.getInputs().size() > 1 ? operandInts(1) : sel.getIntsAttr("split");
    if (!sizes) {
      if (sel.getInputs().size() > 1 || width % parts)
        return std::nullopt;
      sizes = SmallVector<int64_t>(parts, width / parts);
    }
    int64_t k = cast<OpResult>(v).getResultNumber(), sum = 0;
    if (static_cast<int64_t>(sizes->size()) != parts)
      return std::nullopt;
    for (auto [i, n] : llvm::enumerate(*sizes)) {
      if (static_cast<int64_t>(i) == k)
        range.begin = sum;
      sum += n;
      if (static_cast<int64_t>(i) == k)
        range.end = sum;
    }
    if (sum != width)
      return std::nullopt;
    return range;
  }
  // Slice: bounds as operands (opset 10+) or attributes.
  bool attrs = sel.getInputs().size() == 1;
  std::optional<SmallVector<int64_t>> starts =
      attrs ? sel.getIntsAttr("starts") : operandInts(1);
  std::optional<SmallVector<int64_t>> ends =
      attrs ? sel.getIntsAttr("ends") : operandInts(2);
  std::optional<SmallVector<int64_t>> axes =
      attrs ? sel.getIntsAttr("axes") : operandInts(3);
  bool noAxes =
      attrs ? !axes
            : sel.getInputs().size() < 4 || isAbsent(sel.getInputs()[3]);
  if (noAxes)
    axes = SmallVector<int64_t>{0};
  std::optional<SmallVector<int64_t>> steps = SmallVector<int64_t>{1};
  if (!attrs && sel.getInputs().size() > 4 && !isAbsent(sel.getInputs()[4]))
    steps = operandInts(4);
  if (!starts || !ends || !axes || !steps || starts->size() != 1 ||
      ends->size() != 1 || axes->size() != 1 || !isLastAxis((*axes)[0]) ||
      *steps != SmallVector<int64_t>{1})
    return std::nullopt;
  auto clampBound = [&](int64_t b) {
    if (b < 0)
      b = b < -width ? 0 : b + width;
    return std::min(b, width);
  };
  range.begin = clampBound((*starts)[0]);
  range.end = clampBound((*ends)[0]);
  if (range.end <= range.begin)
    return std::nullopt;
  return range;
}

/// Hugging Face's section merge of gathered caches: Concat over j of row j
/// of chunk j, the chunks consecutive channel ranges (channelRange: a Split
/// or Slices) that cover a Gather(cache, positions [3, B, S]) along its last
/// axis. The rows come out contiguous.
std::optional<RowGather> findSplitMerge(Value cache) {
  NodeOp concat = producer(throughViews(cache));
  if (!concat || !concat.isOnnx("Concat") || concat.getInputs().size() < 2)
    return std::nullopt;
  eval::Evaluator ev(onnx::getOpsetVersion(concat).value_or(17));
  Value whole;
  int64_t next = 0;
  RowGather found;
  for (auto [j, in] : llvm::enumerate(concat.getInputs())) {
    // (Identity and same-type Casts on the edges change nothing; a row is
    // a Gather or a Slice + Squeeze.)
    std::optional<std::pair<Value, int64_t>> row = rowTaken(in);
    if (!row || row->second != (int64_t)j)
      return std::nullopt;
    std::optional<ChannelRange> chunk = channelRange(row->first, ev);
    if (!chunk || (whole && chunk->whole != whole) || chunk->begin != next)
      return std::nullopt;
    whole = chunk->whole;
    next = chunk->end;
    found.rows.append(chunk->end - chunk->begin, static_cast<int64_t>(j));
  }
  std::optional<GatheredCache> gathered = gatheredCache(whole);
  if (!gathered || next != gathered->width)
    return std::nullopt;
  found.positions = gathered->indices;
  return found;
}

/// Sections and order of per-channel axes `rows`: contiguous when the axes
/// rise 0, 1, 2 in runs; Qwen3-VL interleaved when they follow its pattern.
std::optional<std::pair<SmallVector<int64_t>, bool>>
sectionsOfRows(ArrayRef<int64_t> rows) {
  if (rows.empty())
    return std::nullopt;
  int64_t axes = *llvm::max_element(rows) + 1;
  SmallVector<int64_t> counts(axes, 0);
  for (int64_t r : rows) {
    if (r < 0)
      return std::nullopt;
    ++counts[r];
  }
  if (llvm::is_sorted(rows))
    return std::make_pair(counts, false);
  if (axes != 3)
    return std::nullopt;
  for (auto [i, r] : llvm::enumerate(rows)) {
    int64_t want = 0;
    int64_t f = static_cast<int64_t>(i);
    if (f % 3 == 1 && f < 3 * counts[1])
      want = 1;
    else if (f % 3 == 2 && f < 3 * counts[2])
      want = 2;
    if (r != want)
      return std::nullopt;
  }
  return std::make_pair(counts, true);
}

/// The constant [M, F] cache per-token caches were gathered from (or
/// `cache` itself when it is one).
Value constantTable(Value cache) {
  SmallVector<std::pair<Value, int>> work{{cache, 0}};
  while (!work.empty()) {
    auto [v, depth] = work.pop_back_val();
    Value seen = throughViews(v);
    if (seen.getDefiningOp<onnx::InitializerOp>() ||
        (producer(seen) && producer(seen).isOnnx("Constant"))) {
      auto type = dyn_cast<RankedTensorType>(seen.getType());
      if (type && type.getRank() == 2 && isa<FloatType>(type.getElementType()))
        return seen;
      continue;
    }
    NodeOp node = producer(seen);
    if (!node || depth > 10)
      continue;
    for (Value in : node.getInputs())
      if (!isAbsent(in))
        work.push_back({in, depth + 1});
  }
  return {};
}

/// Frequencies and the fitted theta of constant [M, F] caches (M >= 2):
/// inv_freq[i] = atan2(sin[1, i], cos[1, i]), theta from the last one
/// (inv_freq[i] = theta^(-2i/R)), where the fit is best conditioned.
void fitCaches(FusedRopeSite &site) {
  Value cosTable = constantTable(site.cosCache);
  Value sinTable = constantTable(site.sinCache);
  if (!cosTable || !sinTable)
    return;
  std::optional<DenseElementsAttr> cos = onnx::getConstantValue(cosTable);
  std::optional<DenseElementsAttr> sin = onnx::getConstantValue(sinTable);
  if (!cos || !sin)
    return;
  auto type = cast<ShapedType>(cos->getType());
  if (type.getRank() != 2 || type.getDimSize(0) < 2 ||
      !type.getElementType().isF32())
    return;
  int64_t f = type.getDimSize(1);
  auto c = cos->getValues<float>(), s = sin->getValues<float>();
  for (int64_t i = 0; i < f; ++i)
    site.invFreq.push_back(static_cast<float>(std::atan2(
        static_cast<double>(s[f + i]), static_cast<double>(c[f + i]))));
  int64_t rotary = site.rotaryDim ? site.rotaryDim : 2 * f;
  if (f >= 2 && site.invFreq.back() > 0)
    site.theta = std::pow(static_cast<double>(site.invFreq.back()),
                          -static_cast<double>(rotary) / (2.0 * (f - 1)));
}

/// Head size of a [B, N, S, H] or [B, S, N*H] input, 0 when unknown.
int64_t headSize(Value x, std::optional<int64_t> numHeads) {
  SmallVector<int64_t> shape = staticShape(x);
  if (shape.size() == 4 && shape[3] > 0)
    return shape[3];
  if (shape.size() == 3 && shape[2] > 0 && numHeads && *numHeads > 0)
    return shape[2] / *numHeads;
  return 0;
}

/// The caches' shape as their meaning gives it, where their type does not:
/// one dim per axis of the lattice, the channel axis as long as its
/// channels, unit axes 1, the rest dynamic. Shape inference gives up on
/// the same values spelled otherwise (an Identity on a Slice bound leaves
/// the sliced caches unranked); their meaning does not change.
void completeCacheShape(FusedRopeSite &site, const meaning::Meaning &cache) {
  using namespace meaning;
  if (cache.axes.empty() ||
      (!site.cacheShape.empty() && site.cacheShape.size() != cache.axes.size()))
    return;
  SmallVector<int64_t> shape(cache.axes.size(), -1);
  for (auto [i, axis] : llvm::enumerate(cache.axes)) {
    if (axis.role == AxisRole::Chan)
      shape[i] = static_cast<int64_t>(axis.chans.size());
    else if (axis.role == AxisRole::Bcast && axis.unit)
      shape[i] = 1;
    // A dim the type knows wins; one it contradicts leaves the type's
    // (the fix refuses what does not fit, it never trusts a guess).
    if (!site.cacheShape.empty() && site.cacheShape[i] >= 0)
      shape[i] = site.cacheShape[i];
  }
  site.cacheShape = shape;
}

/// `v` seen through Reshapes that give back their data's shape, where the
/// lattice does not know it (a target computed from the data's Shape):
/// each target is evaluated (Evaluate.h) for the data bound to two shapes
/// of the rank its meaning says, with different sizes on every axis it does
/// not fix (channels, unit axes), and must resolve to that shape both times.
/// A target that needs anything else is not evaluated: never a guess.
Value throughShapeKeepingReshapes(Value v,
                                  const meaning::ValueMeanings &meanings) {
  using namespace meaning;
  for (v = stripTransparent(v);; v = stripTransparent(v)) {
    NodeOp reshape = producer(v);
    if (!reshape || !reshape.isOnnx("Reshape") ||
        reshape.getInputs().size() < 2)
      return v;
    Value data = reshape.getInputs()[0];
    const Meaning &dm = meanings.lookup(data);
    if (!dm.isTable() || dm.axes.empty())
      return v;
    bool allowZero = reshape.getIntAttr("allowzero").value_or(0) != 0;
    for (int64_t base : {2, 5}) {
      SmallVector<int64_t> shape;
      for (auto [i, axis] : llvm::enumerate(dm.axes))
        shape.push_back(axis.role == AxisRole::Chan
                            ? static_cast<int64_t>(axis.chans.size())
                        : axis.role == AxisRole::Bcast && axis.unit
                            ? 1
                            : base + static_cast<int64_t>(i));
      eval::Evaluator ev(onnx::getOpsetVersion(reshape).value_or(17));
      eval::Tensor bound;
      bound.shape = shape;
      bound.hasData = false;
      ev.bind(data, bound);
      const eval::Tensor *target = ev.evaluate(reshape.getInputs()[1]);
      if (!target || target->isFloat() || target->shape.size() != 1)
        return v;
      // ONNX's reading: 0 copies the data's dim (unless allowzero), -1 is
      // what the element count leaves.
      SmallVector<int64_t> out(target->i.begin(), target->i.end());
      int64_t total = 1, known = 1, open = -1;
      for (int64_t d : shape)
        total *= d;
      for (auto [k, d] : llvm::enumerate(out)) {
        if (d == 0 && !allowZero && k < shape.size())
          d = shape[k];
        if (d == -1 && open < 0)
          open = static_cast<int64_t>(k);
        else if (d > 0)
          known *= d;
        else
          return v;
      }
      if (open >= 0 && known > 0 && total % known == 0)
        out[open] = total / known;
      if (out != shape)
        return v;
    }
    v = data;
  }
}

/// The meanings of a fused node and of its cos cache with its caches seen
/// through Reshapes that keep their shape (throughShapeKeepingReshapes);
/// nullopt when there are none.
std::optional<std::pair<meaning::Meaning, meaning::Meaning>>
meaningThroughReshapes(const FusedRopeSite &site, NodeOp node,
                       const meaning::ValueMeanings &meanings) {
  unsigned cosAt = site.op == FusedOp::OnnxRotary            ? 1
                   : site.op == FusedOp::GroupQueryAttention ? 7
                                                             : 2;
  if (!site.cosCache || !site.sinCache || node.getInputs().size() <= cosAt + 1)
    return std::nullopt;
  Value cos = throughShapeKeepingReshapes(site.cosCache, meanings);
  Value sin = throughShapeKeepingReshapes(site.sinCache, meanings);
  if (cos == meaning::stripTransparent(site.cosCache) &&
      sin == meaning::stripTransparent(site.sinCache))
    return std::nullopt;
  SmallVector<const meaning::Meaning *> operands;
  for (Value in : node.getInputs())
    operands.push_back(&meanings.lookup(in));
  operands[cosAt] = &meanings.lookup(cos);
  operands[cosAt + 1] = &meanings.lookup(sin);
  return std::make_pair(meaning::transferNode(node, 0, operands),
                        meanings.lookup(cos));
}

/// What the value-meaning lattice says `node` rotates by, when its caches
/// are computed in the graph (cos of an angle table): kind, sections,
/// positions source and frequencies come from the lattice. Constant or input
/// caches keep what readNode read.
void applyMeaning(FusedRopeSite &site, NodeOp node,
                  const meaning::ValueMeanings &meanings) {
  using namespace meaning;
  Meaning m = meanings.lookup(node->getResult(0));
  Meaning cosMeaning = meanings.lookup(site.cosCache);
  if (m.kind != Kind::Rotated)
    if (std::optional<std::pair<Meaning, Meaning>> seen =
            meaningThroughReshapes(site, node, meanings)) {
      m = seen->first;
      cosMeaning = seen->second;
    }
  if (m.kind != Kind::Rotated || cosMeaning.kind != Kind::Cos)
    return;
  site.fromLattice = true;
  site.perTokenCaches = m.perToken;
  site.table = m.table;
  for (const Channel &c : m.channels())
    site.channelFreqs.push_back(c.freq);
  site.invFreq.clear();
  for (double f : m.invFreq)
    site.invFreq.push_back(static_cast<float>(f));
  // Fused ops take caches of rotary_dim / 2 channels: where neither the
  // attribute nor the caches' type said the width, the lattice's channels
  // do (the head size of the rotated tensor is only a guess: partial rotary,
  // or a type shape inference left wrong).
  bool widthKnown = node.getIntAttr("rotary_embedding_dim").value_or(0) > 0 ||
                    (site.cacheShape.size() >= 2 && site.cacheShape.back() > 0);
  if (!widthKnown && !m.channels().empty())
    site.rotaryDim = 2 * static_cast<int64_t>(m.channels().size());
  completeCacheShape(site, cosMeaning);
  site.theta = fitTheta(m.invFreq, site.rotaryDim);
  site.source = m.src;
  site.sourceLabel.clear();
  ArrayRef<Channel> chans = m.channels();
  SmallVector<int64_t> slots;
  for (const Channel &c : chans)
    slots.push_back(c.slot);
  auto notClassified = [&](StringRef why) {
    site.kind = FusedPositions::PerToken;
    site.sections.clear();
    site.sourceLabel = why.str() + " (" + describeValue(m.src) + ")";
  };
  if (llvm::all_of(slots, [](int64_t s) { return s < 0; })) {
    site.kind = FusedPositions::OneD;
    site.sections = {static_cast<int64_t>(chans.size())};
    return;
  }
  auto split = sectionsOfSlots(slots);
  if (!split || split->first.size() != 3)
    return notClassified("channels that take position rows in no M-RoPE "
                         "section order");
  site.sections = split->first;
  if (!m.src3D) {
    site.kind = FusedPositions::MRopeDegenerate;
    site.rowsBuiltAt = m.copiedAt;
    return;
  }
  if (!llvm::all_of(chans, [](const Channel &c) { return c.row == c.slot; }))
    return notClassified("position rows that do not follow the sections");
  site.kind =
      split->second ? FusedPositions::MRopeInterleaved : FusedPositions::MRope;
}

/// Reads one fused node; nullopt when it is not a RoPE node.
std::optional<FusedRopeSite> readNode(NodeOp node,
                                      const meaning::ValueMeanings &meanings) {
  FusedRopeSite site;
  StringRef type = node.getOpType(), domain = node.getDomain();
  Value x;
  if (domain == "com.microsoft" && type == "RotaryEmbedding") {
    site.op = FusedOp::MsRotary;
    x = operandOr(node, 0);
    site.positions = operandOr(node, 1);
    site.cosCache = operandOr(node, 2);
    site.sinCache = operandOr(node, 3);
  } else if (domain == "com.microsoft" && type == "MRotaryEmbedding") {
    site.op = FusedOp::MsMRotary;
    x = operandOr(node, 0);
    site.positions = operandOr(node, 1);
    site.cosCache = operandOr(node, 2);
    site.sinCache = operandOr(node, 3);
  } else if (node.isOnnx("RotaryEmbedding")) {
    site.op = FusedOp::OnnxRotary;
    x = operandOr(node, 0);
    site.cosCache = operandOr(node, 1);
    site.sinCache = operandOr(node, 2);
    site.positions = operandOr(node, 3);
  } else if (domain == "com.microsoft" && type == "GroupQueryAttention") {
    if (node.getIntAttr("do_rotary").value_or(0) == 0)
      return std::nullopt;
    site.op = FusedOp::GroupQueryAttention;
    x = operandOr(node, 0);
    site.cosCache = operandOr(node, 7);
    site.sinCache = operandOr(node, 8);
    site.positions = operandOr(node, 9);
  } else {
    return std::nullopt;
  }
  site.nodes.push_back(node);
  site.gptj = node.getIntAttr(site.op == FusedOp::GroupQueryAttention
                                  ? "rotary_interleaved"
                                  : "interleaved")
                  .value_or(0) != 0;
  site.cacheShape = staticShape(site.cosCache);

  // Rotated channels: the attribute, else the cache width, else the head.
  int64_t rotary = node.getIntAttr("rotary_embedding_dim").value_or(0);
  if (!rotary && site.cacheShape.size() >= 2 && site.cacheShape.back() > 0)
    rotary = 2 * site.cacheShape.back();
  if (!rotary)
    rotary = headSize(x, node.getIntAttr("num_heads"));
  site.rotaryDim = rotary;
  int64_t numFreqs = rotary / 2;

  // com.microsoft.RotaryEmbedding over merged per-token caches
  // (convert-rope-to-onnx{emit=ort}): its position_ids only index the
  // caches' rows b * S + s; the caches say which positions rotate.
  std::optional<RowGather> merged = site.op == FusedOp::MsRotary
                                        ? mergedRows(site.cosCache, meanings)
                                        : std::nullopt;
  if (site.op == FusedOp::MsMRotary) {
    site.sections.assign(
        node.getIntsAttr("mrope_section").value_or(SmallVector<int64_t>{}));
    site.kind = node.getIntAttr("mrope_layout").value_or(0) == 1
                    ? FusedPositions::MRopeInterleaved
                    : FusedPositions::MRope;
    // Rows copied from one tensor: spelled as the matcher knows them, or
    // whatever the spelling, as the lattice reads them (an Unsqueeze
    // written as a Reshape to a computed shape leaves the copied tensor
    // unranked).
    meaning::Meaning pm;
    if (site.positions)
      pm = meanings.lookup(site.positions);
    if (Value one = degenerateRowsSource(site.positions)) {
      site.kind = FusedPositions::MRopeDegenerate;
      site.source = one;
    } else if (pm.kind == meaning::Kind::Positions && pm.copiedAt &&
               !pm.src3D && pm.src) {
      site.kind = FusedPositions::MRopeDegenerate;
      site.source = pm.src;
    } else {
      site.source = throughViews(site.positions);
    }
  } else if (!merged &&
             (site.positions || site.op == FusedOp::GroupQueryAttention ||
              site.op == FusedOp::MsRotary)) {
    site.kind = FusedPositions::OneD;
    site.sections = {numFreqs};
    site.source = throughViews(site.positions);
    if (!site.positions)
      site.sourceLabel = "GroupQueryAttention's seqlens_k (implicit: past "
                         "length + token index)";
  } else if (std::optional<RowGather> gather =
                 merged ? merged
                 : findRowGather(site.cosCache, meanings)
                     ? findRowGather(site.cosCache, meanings)
                     : findSplitMerge(site.cosCache)) {
    // Opset-23 RotaryEmbedding with per-token caches, or
    // com.microsoft.RotaryEmbedding over merged ones.
    site.positions = gather->positions;
    // The caches hold rotary_dim / 2 channels, one row index each: the
    // width where the types did not say it.
    if (!site.rotaryDim)
      site.rotaryDim = 2 * static_cast<int64_t>(gather->rows.size());
    auto split = sectionsOfRows(gather->rows);
    if (split && split->first.size() == 1) {
      site.kind = FusedPositions::OneD;
    } else if (split && split->first.size() == 3) {
      site.kind = split->second ? FusedPositions::MRopeInterleaved
                                : FusedPositions::MRope;
    } else {
      site.kind = FusedPositions::PerToken;
    }
    if (split)
      site.sections = split->first;
    if (site.kind != FusedPositions::OneD &&
        site.kind != FusedPositions::PerToken)
      if (Value one = degenerateRowsSource(gather->positions)) {
        site.kind = FusedPositions::MRopeDegenerate;
        site.source = one;
      }
    if (!site.source)
      site.source = throughViews(gather->positions);
  } else {
    site.kind = FusedPositions::PerToken;
    site.sourceLabel = "per-token caches " + onnxValueName(site.cosCache) +
                       " / " + onnxValueName(site.sinCache);
  }
  fitCaches(site);
  applyMeaning(site, node, meanings);
  return site;
}

void classify(FusedRopeSite &site, Arch arch) {
  std::string from = site.positionsName();
  std::string op = fusedOpName(site.op).str();
  switch (site.kind) {
  case FusedPositions::OneD:
    if (site.perTokenCaches)
      op += " (through per-token caches built in the graph)";
    if (isQwenVL(arch)) {
      site.bug = true;
      site.reason = "a " + archName(arch).str() +
                    " model rotates by 1D positions from " + from + " in " +
                    op + ": images and video need 3D M-RoPE positions";
    } else {
      site.reason = "1D positions from " + from + " in " + op +
                    ": right for a text model";
    }
    return;
  case FusedPositions::MRopeDegenerate:
    site.bug = true;
    site.reason = site.perTokenCaches
                      ? "the per-token caches of " + op +
                            " are built from 3 position rows copied from "
                            "one 1D tensor (" +
                            from + ")"
                      : "the 3 position rows of " + op +
                            " are built in the graph from one 1D tensor (" +
                            from + ")";
    return;
  case FusedPositions::MRope:
  case FusedPositions::MRopeInterleaved:
    site.reason =
        "3D positions [3, batch, seq] from " + from +
        (site.perTokenCaches ? ", gathered per token into the caches of " + op
                             : " in " + op);
    return;
  case FusedPositions::PerToken:
    site.reason = "per-token caches whose positions could not be followed (" +
                  from + "); not classified";
    return;
  }
}

/// Sites are compared by the values they read, seen through Identity and
/// same-type Casts (which change no value).
bool sameSite(const FusedRopeSite &a, const FusedRopeSite &b) {
  using meaning::stripTransparent;
  // Caches computed from one angle table and read per token: one site,
  // whichever copy of the cache subgraph each node reads.
  if (a.fromLattice && b.fromLattice && a.perTokenCaches && b.perTokenCaches)
    return a.op == b.op && a.table == b.table && a.kind == b.kind &&
           a.sections == b.sections && a.gptj == b.gptj &&
           a.rotaryDim == b.rotaryDim && a.source == b.source;
  return a.op == b.op &&
         stripTransparent(a.positions) == stripTransparent(b.positions) &&
         stripTransparent(a.cosCache) == stripTransparent(b.cosCache) &&
         stripTransparent(a.sinCache) == stripTransparent(b.sinCache) &&
         a.gptj == b.gptj && a.rotaryDim == b.rotaryDim &&
         a.sections == b.sections && a.kind == b.kind;
}

} // namespace

int64_t FusedRopeSite::rotations() const {
  int64_t perNode = op == FusedOp::GroupQueryAttention ? 2 : 1;
  return perNode * static_cast<int64_t>(nodes.size());
}

std::string FusedRopeSite::positionsName() const {
  if (!sourceLabel.empty())
    return sourceLabel;
  return describeSource(source);
}

std::vector<FusedRopeSite> mrope::findFusedRopeSites(onnx::GraphOp graph,
                                                     Arch arch) {
  std::vector<FusedRopeSite> sites;
  // The dataflow analysis only runs on graphs with a fused op.
  bool anyFused = false;
  graph.walk([&](NodeOp node) {
    StringRef type = node.getOpType();
    anyFused |= (node.getDomain() == "com.microsoft" &&
                 (type == "RotaryEmbedding" || type == "MRotaryEmbedding" ||
                  type == "GroupQueryAttention")) ||
                node.isOnnx("RotaryEmbedding");
  });
  if (!anyFused)
    return sites;
  meaning::ValueMeanings meanings(graph);
  llvm::DenseSet<Value> fromGrid = meaning::valuesFromGridData(graph);
  graph.walk([&](NodeOp node) {
    std::optional<FusedRopeSite> read = readNode(node, meanings);
    if (!read)
      return;
    for (FusedRopeSite &site : sites)
      if (sameSite(site, *read)) {
        site.nodes.push_back(node);
        return;
      }
    sites.push_back(std::move(*read));
  });
  for (FusedRopeSite &site : sites) {
    if (site.sourceLabel.empty() && site.source &&
        !isa<BlockArgument>(site.source) && fromGrid.contains(site.source))
      site.sourceLabel = "get_rope_index computed in the graph from the "
                         "image/video grids (" +
                         describeSource(site.source) + ")";
    classify(site, arch);
  }
  return sites;
}

llvm::json::Array mrope::renderFusedSitesJson(ArrayRef<FusedRopeSite> sites) {
  llvm::json::Array list;
  for (const FusedRopeSite &site : sites) {
    llvm::json::Array nodes;
    for (NodeOp node : site.nodes)
      nodes.push_back(nodeLabel(node));
    list.push_back(llvm::json::Object{
        {"positions", fusedPositionsName(site.kind)},
        {"layout", site.gptj ? "gptj" : "neox"},
        {"sections", llvm::json::Array(site.sections)},
        {"interleaved", site.kind == FusedPositions::MRopeInterleaved},
        {"theta", site.theta},
        {"rotary_dim", site.rotaryDim},
        {"rotations", site.rotations()},
        {"positions_source", site.positionsName()},
        {"nodes", std::move(nodes)},
        {"bug", site.bug},
        {"reason", site.reason},
        {"fused_op", fusedOpName(site.op)},
        {"caches",
         llvm::json::Object{
             {"cos", onnxValueName(meaning::stripTransparent(site.cosCache))},
             {"sin", onnxValueName(meaning::stripTransparent(site.sinCache))},
             {"shape", llvm::json::Array(site.cacheShape)}}},
    });
  }
  return list;
}
