//===- RaiseChecks.cpp - which RoPE sites rope-raise can raise ------------===//
#include "RaiseChecks.h"

#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/PositionProbe.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/ValueMeaning.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseSet.h"

#include <cmath>

using namespace mlir;
using namespace mrope;
using namespace mrope::raise;
using match::NodeBinder;
using onnx::NodeOp;

namespace {

bool isSplatOne(Value v) {
  std::optional<DenseElementsAttr> c = match::constantOf(v, 1);
  return c && c->isSplat() && isa<FloatType>(c->getElementType()) &&
         c->getSplatValue<APFloat>().convertToDouble() == 1.0;
}

/// Walks data inputs back from `from` until every path reaches `stop`,
/// through Concats (every input) and the nodes `through` returns the input
/// to follow for (null: the walk cannot pass that node). Returns the binder
/// of the value the walk stopped at (null when every path reached `stop`;
/// a binder without a node for a graph input or an initializer).
std::optional<NodeBinder>
walkBackTo(Value from, Value stop,
           llvm::function_ref<Value(const NodeBinder &)> through) {
  SmallVector<Value> work{from};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value cur = work.pop_back_val();
    if (cur == stop || !seen.insert(cur).second)
      continue;
    NodeBinder node(cur);
    if (node.is("Concat")) {
      for (unsigned i = 0; i < node.numInputs(); ++i)
        work.push_back(node.input(i));
      continue;
    }
    Value next = node ? through(node) : Value();
    if (!next)
      return node;
    work.push_back(next);
  }
  return std::nullopt;
}

/// Whether `v` holds `table`'s values moved only by views and broadcasts
/// (Unsqueeze, Squeeze, Reshape, Flatten, Expand, Tile, value identities,
/// float Casts), identity scalings (Mul by 1), the section merge the
/// analysis proved (`mergeNodes`: Split/Slice/Gather/Squeeze/Concat that
/// move channels and rows only) and GPT-J's repeat_interleave (Concat of the
/// table's columns). This rules out anything that changes the values on the
/// way (attention scaling other than 1, an Add, a Slice of tokens). On
/// failure `why` names the node.
bool carriesTable(Value v, Value table, ArrayRef<Operation *> mergeNodes,
                  std::string &why) {
  std::optional<NodeBinder> stuck =
      walkBackTo(v, table, [&](const NodeBinder &node) -> Value {
        if (llvm::is_contained(mergeNodes, node.getNode().getOperation()))
          return node.input(0);
        if (node.isAnyOf("Unsqueeze", "Squeeze", "Reshape", "Flatten", "Expand",
                         "Tile", "Identity", "Split") ||
            (node.is("Cast") && match::isFloatTensor(node.input(0))) ||
            (node.is("Gather") && node.intAttr("axis", 0) == 0 &&
             match::scalarIntOf(node.input(1))))
          return node.input(0);
        if (node.is("Mul") && node.numInputs() == 2 &&
            (isSplatOne(node.input(0)) || isSplatOne(node.input(1))))
          return isSplatOne(node.input(0)) ? node.input(1) : node.input(0);
        return {};
      });
  if (!stuck)
    return true;
  why = *stuck ? "the table reaches the rotation through " +
                     stuck->getNode().getOpType().str() + " node " +
                     nodeLabel(stuck->getNode()) +
                     ", which rope.apply does not express"
               : "the table reaching a rotation is not computed from the "
                 "site's Cos/Sin";
  return false;
}

/// One piece of rotate(x) as a Concat input: whether it is negated, and
/// whether it is known to start at x's first channel (a Slice starting at
/// 0, or the first result of a Split).
struct Piece {
  bool negated = false, atStart = false;
};
Piece pieceOf(Value v) {
  Piece piece;
  for (NodeBinder node(v);
       node.isAnyOf("Neg", "Unsqueeze", "Squeeze", "Identity");
       node = NodeBinder(v)) {
    piece.negated |= node.is("Neg");
    v = node.input(0);
  }
  NodeBinder node(v);
  if (node.is("Slice")) {
    std::optional<SmallVector<int64_t>> starts = node.constInts(1);
    piece.atStart = starts && *starts == SmallVector<int64_t>{0};
  } else if (node.is("Split")) {
    piece.atStart = cast<OpResult>(v).getResultNumber() == 0;
  }
  return piece;
}

/// Whether `rot` is rotate(x) in the direction rope.apply rotates: x's
/// channels rearranged (Slice, Split, Gather, Unsqueeze/Squeeze/Reshape/
/// Flatten, Concat), and the Concat that puts the halves (neox) or the pair
/// members (GPT-J) together takes first a negated piece that does not start
/// at channel 0 (x2, or the odd channels) and then an unnegated one that
/// does (x1, or the even channels): Concat(-x2, x1), stack(-x_odd, x_even).
/// Concat(x2, -x1) rotates the other way and is refused.
bool rotates(Value rot, Value x, std::string &why) {
  std::optional<NodeBinder> stuck =
      walkBackTo(rot, x, [&](const NodeBinder &node) -> Value {
        return node.isAnyOf("Neg", "Slice", "Split", "Gather", "Unsqueeze",
                            "Squeeze", "Reshape", "Flatten", "Identity")
                   ? node.input(0)
                   : Value();
      });
  if (stuck) {
    why = "the rotated operand of the sin product is not rotate(x) of the "
          "cos product's x";
    return false;
  }
  NodeBinder concat(rot);
  while (concat.isAnyOf("Reshape", "Flatten", "Identity"))
    concat = NodeBinder(concat.input(0));
  Piece first = concat.is("Concat") && concat.numInputs() == 2
                    ? pieceOf(concat.input(0))
                    : Piece();
  Piece second = concat.is("Concat") && concat.numInputs() == 2
                     ? pieceOf(concat.input(1))
                     : Piece();
  if (!first.negated || first.atStart || second.negated || !second.atStart) {
    why = "the rotated operand of the sin product is not Concat(-x2, x1) or "
          "its pairwise form (another direction or spelling)";
    return false;
  }
  return true;
}

/// Whether `v` is an Unsqueeze (under Casts and Identities), or a Reshape
/// that inserts one axis (meaning::insertedAxisOf), inserting axis 1 into a
/// rank-`rank` table: axis 1 or, counted from the back as torch writes
/// `unsqueeze(-2)` for [S, R], -rank.
bool unsqueezesAxisOne(Value v, int64_t rank) {
  std::optional<int64_t> axis = meaning::insertedAxisOf(v);
  return axis && (*axis == 1 || *axis == -rank);
}

/// Whether the tables reaching a rotation hold, channel by channel, the
/// frequencies rope.apply gives those channels in the site's layout:
/// rotate-half channel k frequency k % (R/2), GPT-J pairs k / 2. How the
/// graph moved the channels there (a Concat(f, f) table sliced to its first
/// half and repeated pairwise, as GLM-4V does, or not moved at all) does
/// not matter.
bool fitsLayout(const RopeSite &site, const Rotation &r,
                const CarriedTable &table, const char *name, std::string &why) {
  int64_t rotary = site.getRotaryDim(), half = rotary / 2;
  bool pairs = site.getLayout() == rope::PairLayout::gptj;
  if (static_cast<int64_t>(table.freqs.size()) != rotary) {
    why = "the " + std::string(name) + " table at rotation " +
          nodeLabel(r.combine) + " has " + std::to_string(table.freqs.size()) +
          " channels, not rotary_dim " + std::to_string(rotary);
    return false;
  }
  for (auto [k, f] : llvm::enumerate(table.freqs)) {
    int64_t want = pairs ? k / 2 : k % half;
    if (f == want)
      continue;
    why = "the " + std::string(name) + " table at rotation " +
          nodeLabel(r.combine) + " holds frequency " + std::to_string(f) +
          " at channel " + std::to_string(k) + ", where " +
          (pairs ? "GPT-J pairs take" : "rotate-half takes") + " frequency " +
          std::to_string(want);
    return false;
  }
  return true;
}

/// Checks one rotation and says how rope.apply takes it.
FailureOr<RaisedRotation> checkRotation(RopeSite &site, Rotation r,
                                        std::string &why) {
  int64_t rotary = site.getRotaryDim();
  // The analysis read x * cos + rotate(x) * sin off the algebra (any
  // spelling: Add of Concat(-x2, x1), Sub of Concat(x2, -x1), a sign
  // vector, GPT-J pairs) or could not: then nothing here can prove it.
  Value cosTable = r.cosFactor;
  std::optional<CarriedTable> cosMeaning;
  if (r.proven && r.sinMul && r.cosFactor && r.sinFactor) {
    // By meaning where the tables' channels can be read: each channel's
    // frequency, whatever moved it there. Otherwise the structural walk.
    cosMeaning = carriedTable(cosTable, site, /*sin=*/false);
    std::optional<CarriedTable> sinMeaning =
        cosMeaning ? carriedTable(r.sinFactor, site, /*sin=*/true)
                   : std::nullopt;
    if (cosMeaning && sinMeaning) {
      if (!fitsLayout(site, r, *cosMeaning, "cos", why) ||
          !fitsLayout(site, r, *sinMeaning, "sin", why))
        return failure();
    } else if (!carriesTable(cosTable, site.cosTable, site.mergeNodes, why) ||
               !carriesTable(r.sinFactor, site.sinTable, site.mergeNodes,
                             why)) {
      return failure();
    }
  } else {
    // What the algebra could not read (untyped operands it cannot size):
    // the structural check, x * cos + Concat(-x2, x1) * sin with an Add.
    NodeBinder combine(r.combine);
    Value cosProduct = r.cosMul.getResults()[0];
    bool otherWay = StringRef(r.unproven).starts_with("it rotates the other");
    if (otherWay || !combine.is("Add") || combine.numInputs() != 2 ||
        (combine.input(0) != cosProduct && combine.input(1) != cosProduct)) {
      why = "rotation " + nodeLabel(r.combine) +
            " is not provably x * cos + rotate(x) * sin: " +
            (r.unproven.empty() ? std::string("its algebra is not read")
                                : r.unproven);
      return failure();
    }
    Value sinProduct =
        combine.input(0) == cosProduct ? combine.input(1) : combine.input(0);
    cosTable = r.cosMul.getInputs()[0] == r.x ? r.cosMul.getInputs()[1]
                                              : r.cosMul.getInputs()[0];
    if (!carriesTable(cosTable, site.cosTable, site.mergeNodes, why))
      return failure();
    NodeBinder sinMul(sinProduct);
    if (!sinMul.is("Mul") || sinMul.numInputs() != 2) {
      why = "rotation " + nodeLabel(r.combine) +
            " does not add a product with the sin table";
      return failure();
    }
    std::string sinWhy;
    int tableSide = -1;
    for (int i = 0; i < 2 && tableSide < 0; ++i)
      if (carriesTable(sinMul.input(i), site.sinTable, site.mergeNodes, sinWhy))
        tableSide = i;
    if (tableSide < 0) {
      why = sinWhy;
      return failure();
    }
    if (!rotates(sinMul.input(1 - tableSide), r.x, why))
      return failure();
  }

  // Where the table broadcasts (its axis of extent 1) says where the heads
  // of x are: [B, 1, S, R] over [B, H, S, R], [B, S, 1, R] over
  // [B, S, H, R] (GPT-J), [S, 1, R] over the vision tower's [S, H, R].
  RankedTensorType tableType = match::rankedTypeOf(cosTable);
  // A table shape inference left open (GPT-J's flatten of a stack): the
  // type its channel walk proves.
  if (!tableType && cosMeaning)
    tableType = cosMeaning->type;
  // A vision tower's table that shape inference left unranked: [S, R] with
  // the heads axis inserted by Unsqueeze(axes = [1]).
  if (!tableType && (site.kind == PositionKind::TwoD || site.vision) &&
      unsqueezesAxisOne(cosTable, 2) && match::isFloatTensor(cosTable))
    tableType = RankedTensorType::get({ShapedType::kDynamic, 1, rotary},
                                      match::elementTypeOf(cosTable));
  // An M-RoPE decoder's (3 position rows: never a vision tower) unranked
  // table: [B, S, R] with the heads axis inserted at 1.
  int64_t dyn = ShapedType::kDynamic;
  if (!tableType && site.semantics.getNumAxes() == 3 &&
      unsqueezesAxisOne(cosTable, 3) && match::isFloatTensor(cosTable))
    tableType = RankedTensorType::get({dyn, 1, dyn, rotary},
                                      match::elementTypeOf(cosTable));
  auto unit = [&](int64_t i) { return tableType.getDimSize(i) == 1; };
  RaisedRotation raised;
  raised.rotation = r;
  if (tableType && tableType.getRank() == 4 && unit(1))
    raised.layout = HeadLayout::BHSD;
  else if (tableType && tableType.getRank() == 4 && unit(2))
    raised.layout = HeadLayout::BSHD;
  else if (tableType && tableType.getRank() == 3 && unit(1))
    raised.layout = HeadLayout::SHD;
  else {
    why = "the table at rotation " + nodeLabel(r.combine) +
          " broadcasts over no heads axis ([B, 1, S, R], [B, S, 1, R] or "
          "[S, 1, R])";
    return failure();
  }
  int64_t rank = tableType.getRank(),
          tableWidth = tableType.getDimSize(rank - 1);
  if (!ShapedType::isDynamic(tableWidth) && tableWidth != rotary) {
    why = "the table at rotation " + nodeLabel(r.combine) + " has " +
          std::to_string(tableWidth) + " channels, not rotary_dim " +
          std::to_string(rotary);
    return failure();
  }
  Type elem = match::elementTypeOf(r.x);
  if (!elem || !isa<FloatType>(elem) || elem != tableType.getElementType()) {
    why = "rotation " + nodeLabel(r.combine) +
          " rotates a tensor whose element type is not the table's";
    return failure();
  }
  SmallVector<int64_t> shape(rank, ShapedType::kDynamic);
  if (RankedTensorType xType = match::rankedTypeOf(r.x)) {
    if (xType.getRank() != rank) {
      why = "rotation " + nodeLabel(r.combine) + " rotates a rank-" +
            std::to_string(xType.getRank()) + " tensor with a rank-" +
            std::to_string(rank) + " table";
      return failure();
    }
    shape.assign(xType.getShape().begin(), xType.getShape().end());
  }
  if (!ShapedType::isDynamic(shape.back()) && shape.back() != rotary) {
    why = "rotation " + nodeLabel(r.combine) + " rotates " +
          std::to_string(shape.back()) + " channels with " +
          std::to_string(rotary) + "-channel tables";
    return failure();
  }
  shape.back() = rotary;
  raised.graphType = RankedTensorType::get(shape, elem);
  SmallVector<int64_t> bhsd =
      raised.layout == HeadLayout::BHSD ? shape
      : raised.layout == HeadLayout::BSHD
          ? SmallVector<int64_t>{shape[0], shape[2], shape[1], shape[3]}
          : SmallVector<int64_t>{1, shape[1], shape[0], shape[2]};
  raised.type = RankedTensorType::get(bhsd, elem);
  return raised;
}

/// Whether `v` is available before `op` in the same block.
bool definedBefore(Value v, Operation *op) {
  if (auto arg = dyn_cast<BlockArgument>(v))
    return arg.getOwner() == op->getBlock();
  Operation *def = v.getDefiningOp();
  return def->getBlock() == op->getBlock() && def->isBeforeInBlock(op);
}

/// Whether the site's tables are rows of constant caches gathered by
/// position (rather than Cos/Sin of angles the graph computes).
bool isCacheSite(RopeSite &site) { return !site.cosNode.isOnnx("Cos"); }

/// Whether `v` is a float Range with whole-number start and step: positions
/// rope.apply takes exactly as int64 (below 2^24, where f32 is exact).
bool isIntegralRange(Value v) {
  NodeBinder range(v);
  if (!range.is("Range") || !match::isFloatTensor(v))
    return false;
  for (unsigned i : {0u, 2u}) {
    std::optional<SmallVector<float>> c =
        range.input(i) ? match::floatsOf(range.input(i)) : std::nullopt;
    if (!c || c->size() != 1 || std::trunc(c->front()) != c->front())
      return false;
  }
  return true;
}

/// Gathers of float rows by a computed index among the site's nodes, but
/// for the window reorders the analysis found: the vision tower's lookup of
/// its per-axis table by (h, w), and anything else that moves angles by
/// data.
SmallVector<NodeOp> angleLookups(RopeSite &site) {
  SmallVector<NodeOp> lookups;
  for (Operation *op : site.nodes) {
    NodeBinder g(dyn_cast<NodeOp>(op));
    Value idx = g.input(1);
    if (g.is("Gather") && idx && !match::isConstant(idx) &&
        !llvm::is_contained(site.reorders, g.getNode()) &&
        match::isIntTensor(idx) && match::isFloatTensor(g.input(0)))
      lookups.push_back(g.getNode());
  }
  return lookups;
}

/// A vision tower's (h, w) pairs [tokens, 2]: the integer index of the
/// per-axis frequency table's Gather, or the positions input itself when the
/// angles are computed from it directly.
Value pairIndexOf(RopeSite &site, std::string &why) {
  Value pairs;
  for (NodeOp lookup : angleLookups(site)) {
    NodeBinder g(lookup);
    Value idx = g.input(1);
    if (g.intAttr("axis", 0) == 0 &&
        (match::rankOf(idx) == -1 ||
         (match::rankOf(idx) == 2 && match::dimOf(idx, 1) == 2)))
      pairs = idx;
  }
  Value p = site.positions;
  if (!pairs && match::isIntTensor(p) && match::rankOf(p) == 2 &&
      match::dimOf(p, 1) == 2)
    pairs = p;
  if (!pairs)
    why = "its (h, w) positions are not an integer [tokens, 2] value";
  return pairs;
}

/// Positions the graph computes itself (get_rope_index from token ids and
/// grids): the integer rows the angle is formed from, found by walking back
/// from the angle to the Cast that turns them into floats (through the
/// Unsqueeze that adds the frequency axis).
Value computedRows(RopeSite &site) {
  int64_t numAxes = site.semantics.getNumAxes();
  SmallVector<Value> work{site.cosNode.getInputs()[0]};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    NodeBinder node(v);
    if (!node || !seen.insert(v).second ||
        !llvm::is_contained(site.nodes, node.getNode().getOperation()))
      continue;
    if (node.is("Cast") && match::isIntTensor(node.input(0))) {
      Value rows = node.input(0);
      // Hugging Face's position_ids[:, :, None, :]: unranked rows (the fix's
      // in-graph get_rope_index) are [A, B, S] by that Unsqueeze.
      std::optional<int64_t> axis = meaning::insertedAxisOf(rows);
      std::optional<SmallVector<int64_t>> axes;
      if (axis == 2) {
        axes = SmallVector<int64_t>{2};
        rows = NodeBinder(match::rootOf(rows)).input(0);
      }
      if ((match::rankOf(rows) == 3 && match::dimOf(rows, 0) == numAxes) ||
          (match::rankOf(rows) == -1 && axes))
        return rows;
    }
    // convert-rope-to-onnx's spelling (a fixed model's positions computed
    // in the graph): Gather on axis 0 of the [A, B, S] rows by the row of
    // every channel, then Transpose and Cast.
    if (node.is("Gather") && node.intAttr("axis", 0) == 0 &&
        node.constInts(1) && match::isIntTensor(node.input(0)) &&
        (match::rankOf(node.input(0)) == -1 ||
         (match::rankOf(node.input(0)) == 3 &&
          match::dimOf(node.input(0), 0) == numAxes)))
      return node.input(0);
    for (Value operand : node.getNode().getInputs())
      work.push_back(operand);
  }
  return {};
}

/// Whether the rows degenerate M-RoPE builds from `leaf`, which shape
/// inference left unranked (an Unsqueeze spelled as a Reshape of Shape dims
/// before their Expand), are `numAxes` rows [A, B, S] of it: by what they
/// mean (the lattice's row axis), or else by what they evaluate to on a
/// probe of the leaf (every row the input itself, shape [A, 1, tokens] at
/// batch 1), through shape arithmetic the lattice does not read (torch's
/// expand(3, B, -1) target is a Where over an Equal).
bool builtRowsAreRows(Value leaf, Value rows, int64_t numAxes) {
  auto graph = rows ? rows.getParentRegion()->getParentOfType<onnx::GraphOp>()
                    : onnx::GraphOp();
  if (!graph)
    return false;
  meaning::ValueMeanings meanings(graph);
  const meaning::Meaning &m = meanings.lookup(rows);
  if (m.kind == meaning::Kind::Positions && m.src == leaf &&
      m.axes.size() == 3 && m.axes[0].role == meaning::AxisRole::Row &&
      static_cast<int64_t>(m.axes[0].rows.size()) == numAxes &&
      m.axes[1].role == meaning::AxisRole::Batch &&
      m.axes[2].role == meaning::AxisRole::Seq)
    return true;
  SmallVector<int64_t> shape;
  return probeLeafMeaning(leaf, rows, &shape) != LeafMeaning::Unknown &&
         shape.size() == 3 && shape[0] == numAxes && shape[1] == 1 &&
         shape[2] > 1;
}

/// The positions rope.apply takes, or a reason: the rows the angles are
/// computed from (the built rows for degenerate M-RoPE), or, for caches,
/// the indices the caches are gathered by.
FailureOr<Value> positionsOf(RopeSite &site, std::string &why) {
  Value positions = site.kind == PositionKind::MRopeDegenerate ? site.builtRows
                                                               : site.positions;
  if (isCacheSite(site))
    positions = site.cosNode.getInputs()[1];
  else if (site.source == PositionSource::GetRopeIndex)
    positions = computedRows(site);
  // rope.apply takes signless integers; ONNX's unsigned ones stay as nodes.
  auto signless = [&](Value p) -> FailureOr<Value> {
    auto elem = dyn_cast_or_null<IntegerType>(match::elementTypeOf(p));
    if (elem && !elem.isSignless()) {
      why = "its positions are unsigned integers, which rope.apply does not "
            "take";
      return failure();
    }
    return p;
  };
  if (site.kind == PositionKind::TwoD) {
    positions = pairIndexOf(site, why);
    if (!positions)
      return failure();
    return signless(positions);
  }
  if (positions && match::isFloatTensor(positions) &&
      !isIntegralRange(positions)) {
    why = "its positions are floats, not a Range of whole numbers";
    return failure();
  }
  int64_t numAxes = site.semantics.getNumAxes();
  int64_t rank = match::rankOf(positions);
  if (rank == -1 && site.source == PositionSource::GetRopeIndex)
    rank = 3; // computedRows proved it
  // Degenerate rows shape inference left unranked (an Unsqueeze spelled as
  // a Reshape before their Concat): the ranks of the ops that stack them.
  if (rank == -1 && site.kind == PositionKind::MRopeDegenerate &&
      match::inferRank(positions) == 3)
    rank = 3;
  // Where the ops do not say it (an Expand of an untyped Reshape), what the
  // rows mean does.
  if (rank == -1 && site.kind == PositionKind::MRopeDegenerate &&
      match::isIntTensor(positions) &&
      builtRowsAreRows(site.positions, positions, numAxes))
    rank = 3;
  bool fits = numAxes == 1 ? (rank == 1 || rank == 2 ||
                              (rank == 3 && match::dimOf(positions, 0) == 1))
                           : rank == 3;
  if (!positions ||
      !(match::isIntTensor(positions) || isIntegralRange(positions)) || !fits) {
    why = "the positions are not integer " +
          std::string(numAxes == 1 ? "[B, S] or [S]" : "[3, B, S]") +
          " rows (" +
          (isCacheSite(site)                            ? "the cache indices"
           : site.kind == PositionKind::MRopeDegenerate ? "the built rows"
                                                        : "the positions") +
          " are typed otherwise)";
    return failure();
  }
  return signless(positions);
}

/// Whether every row p of the site's constant caches is what rope.apply
/// recomputes: cos/sin of the f32 angle f32(p) * inv_freq, to
/// kCacheTolerance (a few ulp of values in [-1, 1], what two libm cos/sin
/// may differ by; caches built in f64 or stored in f16 differ far more at
/// large p and are refused).
constexpr double kCacheTolerance = 1e-6;
bool cachesMatch(RopeSite &site, std::string &why) {
  rope::SemanticsAttr sem = site.semantics;
  int64_t numFreqs = sem.getNumFreqs();
  bool pairs = sem.getLayout() == rope::PairLayout::gptj;
  // (cache, column -> frequency, cos or sin) for each column block.
  struct Block {
    SmallVector<float> values;
    int64_t width = 0, first = 0, count = 0;
    bool perFrequency = false, isCos = true;
  };
  SmallVector<Block> blocks;
  auto load = [&](Value cache, Block &block) {
    cache = match::peelCacheView(cache);
    std::optional<SmallVector<float>> values = match::floatsOf(cache, 1 << 22);
    if (!values || match::rankOf(cache) != 2)
      return false;
    block.values = std::move(*values);
    block.width = match::dimOf(cache, 1);
    return true;
  };
  Value cosCache = site.cosNode.getInputs()[0];
  if (!site.sinNode.isOnnx("Gather")) {
    // One sin|cos cache: columns [0, F) sin, [F, 2F) cos, one per frequency.
    Block sin, cos;
    if (!load(cosCache, sin))
      return why = "its cache is not a readable constant", false;
    cos = sin;
    sin.first = 0;
    cos.first = numFreqs;
    sin.count = cos.count = numFreqs;
    sin.perFrequency = cos.perFrequency = true;
    sin.isCos = false;
    blocks = {sin, cos};
  } else {
    Block cos, sin;
    if (!load(cosCache, cos) || !load(site.sinNode.getInputs()[0], sin))
      return why = "its caches are not readable constants", false;
    cos.count = sin.count = cos.width;
    sin.isCos = false;
    blocks = {cos, sin};
  }
  for (Block &block : blocks) {
    if (block.width <= 0 || block.first + block.count > block.width ||
        (!block.perFrequency && block.count != 2 * numFreqs))
      return why = "its cache width does not match the rotary dim", false;
    int64_t rows = block.values.size() / block.width;
    for (int64_t c = 0; c < block.count; ++c) {
      int64_t freq = block.perFrequency ? c : pairs ? c / 2 : c % numFreqs;
      float inv = site.invFreq[sem.tableIndexOfFreq(freq)];
      for (int64_t p = 0; p < rows; ++p) {
        double angle = static_cast<float>(static_cast<float>(p) * inv);
        double want = block.isCos ? std::cos(angle) : std::sin(angle);
        float got = block.values[p * block.width + block.first + c];
        if (std::abs(got - want) > kCacheTolerance) {
          why = "row " + std::to_string(p) + " of its " +
                (block.isCos ? "cos" : "sin") +
                " cache is not the f32 angle's value (caches computed in "
                "another precision are not recomputed)";
          return false;
        }
      }
    }
  }
  return true;
}

} // namespace

bool raise::canShareOp(RankedTensorType a, RankedTensorType b) {
  auto same = [](int64_t x, int64_t y) {
    return ShapedType::isDynamic(x) || ShapedType::isDynamic(y) || x == y;
  };
  return a.getElementType() == b.getElementType() &&
         same(a.getDimSize(0), b.getDimSize(0)) &&
         same(a.getDimSize(2), b.getDimSize(2));
}

FailureOr<RaisePlan> raise::checkSite(RopeSite &site, std::string &why) {
  auto check = [&]() -> FailureOr<RaisePlan> {
    if (!site.semantics) {
      why = "the recovered semantics are inconsistent";
      return failure();
    }
    if (static_cast<int64_t>(site.invFreq.size()) !=
        site.semantics.getTableSize()) {
      why = "the frequency table does not match the semantics";
      return failure();
    }
    if (isCacheSite(site) && !cachesMatch(site, why))
      return failure();
    // Angles gathered by data after they are formed, beyond the vision
    // tower's own (h, w) lookup and one window reorder of whole rows (which
    // moves onto the positions): the positions alone do not say them.
    size_t expectedLookups = site.kind == PositionKind::TwoD ? 1 : 0;
    if (!isCacheSite(site) && (angleLookups(site).size() > expectedLookups ||
                               site.reorders.size() > 1)) {
      why = "its angles are gathered by data beyond the positions and one "
            "window reorder, which rope.apply's positions do not say";
      return failure();
    }
    RaisePlan plan;
    if (!site.reorders.empty()) {
      FailureOr<TokenReorder> reorder =
          tokenReorderOf(site.reorders.front(), why);
      if (failed(reorder))
        return failure();
      plan.reorder = *reorder;
    }
    FailureOr<Value> positions = positionsOf(site, why);
    if (failed(positions))
      return failure();
    plan.positions = *positions;
    plan.pairPositions = site.kind == PositionKind::TwoD;
    for (Rotation r : site.rotations) {
      FailureOr<RaisedRotation> raised = checkRotation(site, r, why);
      if (failed(raised))
        return failure();
      if (!definedBefore(plan.positions, r.combine) ||
          !definedBefore(r.x, r.combine)) {
        why = "rotation " + nodeLabel(r.combine) +
              " is not in the same graph body as its positions";
        return failure();
      }
      plan.rotations.push_back(*raised);
    }
    if (plan.rotations.empty()) {
      why = "it has no rotations";
      return failure();
    }
    return plan;
  };
  return check();
}

FailureOr<RaisePlan> raise::planSite(RopeSite &site, int64_t index) {
  std::string why;
  FailureOr<RaisePlan> plan = checkSite(site, why);
  if (failed(plan))
    mlir::emitRemark(site.cosNode.getLoc())
        << "rope-raise: site " << index << " (" << nodeLabel(site.cosNode)
        << ") left as is: " << why;
  return plan;
}
