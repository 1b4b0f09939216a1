//===- RopeSites.cpp - find and classify RoPE in ONNX graphs --------------===//
#include "mrope/Analysis/RopeSites.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <map>
#include <numeric>

using namespace mlir;
using namespace mrope;
using onnx::NodeOp;

std::optional<Arch> mrope::parseArch(StringRef name) {
  return llvm::StringSwitch<std::optional<Arch>>(name)
      .Case("auto", Arch::Auto)
      .Case("qwen2-vl", Arch::Qwen2VL)
      .Case("qwen2.5-vl", Arch::Qwen25VL)
      .Case("qwen3-vl", Arch::Qwen3VL)
      .Case("text", Arch::Text)
      .Default(std::nullopt);
}

StringRef mrope::archName(Arch arch) {
  switch (arch) {
  case Arch::Auto:
    return "auto";
  case Arch::Qwen2VL:
    return "qwen2-vl";
  case Arch::Qwen25VL:
    return "qwen2.5-vl";
  case Arch::Qwen3VL:
    return "qwen3-vl";
  case Arch::Text:
    return "text";
  }
  llvm_unreachable("unknown arch");
}

bool mrope::isQwenVL(Arch arch) {
  return arch == Arch::Qwen2VL || arch == Arch::Qwen25VL ||
         arch == Arch::Qwen3VL;
}

std::string mrope::nodeLabel(onnx::NodeOp node) {
  if (!node.getNodeName().empty())
    return node.getNodeName().str();
  if (node.getNumResults() && !node.getOutputName(0).empty())
    return "output '" + node.getOutputName(0) + "'";
  return "an unnamed " + node.getOpType().str() + " node";
}

std::string RopeSite::positionsName() const {
  if (auto arg = dyn_cast<BlockArgument>(positions)) {
    if (auto graph = dyn_cast<onnx::GraphOp>(arg.getOwner()->getParentOp()))
      return ("input '" + graph.getInputName(arg.getArgNumber()) + "'").str();
    return "a subgraph input";
  }
  if (auto node = positions.getDefiningOp<NodeOp>())
    return "Range " + nodeLabel(node);
  return "an unknown value";
}

namespace {

Type elementTypeOf(Value v) {
  if (auto shaped = dyn_cast<ShapedType>(v.getType()))
    return shaped.getElementType();
  return {};
}

/// Float contents of a small constant, whatever its float width.
std::optional<SmallVector<float>> floatConstant(Value v) {
  std::optional<DenseElementsAttr> attr = onnx::getConstantValue(v, 1 << 16);
  if (!attr || !isa<FloatType>(attr->getElementType()))
    return std::nullopt;
  SmallVector<float> values;
  for (APFloat f : attr->getValues<APFloat>()) {
    bool lost = false;
    f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
    values.push_back(f.convertToFloat());
  }
  return values;
}

bool scalarConstantValue(Value v);

/// Sections from a Gather that picks the position row of every channel (the
/// form convert-rope-to-onnx writes): rows of the first F channels, in the
/// rotate-half layout.
std::optional<std::pair<SmallVector<int64_t>, bool>>
matchChannelRows(ArrayRef<NodeOp> gathers, int64_t numFreqs) {
  for (NodeOp gather : gathers) {
    auto rows = onnx::getConstantInts(gather.getInputs()[1]);
    if (!rows || static_cast<int64_t>(rows->size()) != 2 * numFreqs)
      continue;
    ArrayRef<int64_t> first = ArrayRef<int64_t>(*rows).take_front(numFreqs);
    if (first != ArrayRef<int64_t>(*rows).drop_front(numFreqs))
      continue;
    int64_t numAxes = *llvm::max_element(first) + 1;
    if (numAxes < 2 || *llvm::min_element(first) < 0)
      continue;
    SmallVector<int64_t> sections(numAxes, 0);
    for (int64_t r : first)
      ++sections[r];
    bool contiguous = llvm::is_sorted(first);
    return std::make_pair(sections, !contiguous);
  }
  return std::nullopt;
}

bool scalarConstantValue(Value v) {
  auto values = floatConstant(v);
  return values && values->size() == 1;
}

bool isConstant(Value v) {
  if (v.getDefiningOp<onnx::InitializerOp>())
    return true;
  NodeOp node = v.getDefiningOp<NodeOp>();
  return node && node.isOnnx("Constant");
}

std::optional<int64_t> scalarInt(Value v) {
  auto ints = onnx::getConstantInts(v);
  if (!ints || ints->size() != 1)
    return std::nullopt;
  return ints->front();
}

/// Inputs of `node` that carry data into its result (not shapes, axes or
/// constant indices).
SmallVector<Value> dataInputs(NodeOp node) {
  StringRef t = node.getOpType();
  auto in = node.getInputs();
  auto only = [&](std::initializer_list<unsigned> idx) {
    SmallVector<Value> out;
    for (unsigned i : idx)
      if (i < in.size() && !isa<NoneType>(in[i].getType()))
        out.push_back(in[i]);
    return out;
  };
  if (llvm::is_contained({"Reshape", "Expand", "Tile", "Unsqueeze", "Squeeze",
                          "Slice", "Pad", "Flatten", "Transpose", "Cast"},
                         t))
    return only({0});
  if (t == "ScatterND" || t == "ScatterElements")
    return only({0, 2});
  if (t == "Where")
    return only({1, 2});
  if (t == "Gather" || t == "GatherElements" || t == "GatherND")
    return isConstant(in[1]) ? only({0}) : only({0, 1});
  return SmallVector<Value>(in.begin(), in.end());
}

/// Everything the value of an angle (or a table index) depends on.
struct Closure {
  llvm::SetVector<Operation *> nodes;
  SmallVector<Value> intInputs, floatInputs;
  SmallVector<NodeOp> ranges;
  SmallVector<SmallVector<float>> floatConsts;
  SmallVector<NodeOp> slices;
  /// Gathers along axis 0 by constant indices (our own M-RoPE lowering picks
  /// the position row of every channel this way).
  SmallVector<NodeOp> rowGathers;
  llvm::DenseSet<Value> seen;

  /// The positions the closure depends on: an integer graph input wins
  /// over a Range (a Range may only index a table); null when neither.
  Value positionsLeaf() const {
    if (!intInputs.empty())
      return intInputs.front();
    return ranges.empty() ? Value() : ranges.front()->getResult(0);
  }

  void walk(Value v) {
    if (!v || !seen.insert(v).second)
      return;
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      Type elem = elementTypeOf(arg);
      if (elem && isa<IntegerType>(elem))
        intInputs.push_back(arg);
      else if (elem && isa<FloatType>(elem))
        floatInputs.push_back(arg);
      return;
    }
    if (std::optional<SmallVector<float>> c = floatConstant(v)) {
      floatConsts.push_back(*c);
      return;
    }
    NodeOp node = v.getDefiningOp<NodeOp>();
    if (!node || node.isOnnx("Constant"))
      return;
    StringRef t = node.getOpType();
    // Shapes say how big, not which positions.
    if (t == "Shape" || t == "Size" || t == "ConstantOfShape")
      return;
    nodes.insert(node);
    if (t == "Range") {
      ranges.push_back(node);
      return;
    }
    if (t == "Slice")
      slices.push_back(node);
    if (t == "Gather" && node.getIntAttr("axis").value_or(0) == 0 &&
        isConstant(node.getInputs()[1]))
      rowGathers.push_back(node);
    for (Value in : dataInputs(node))
      walk(in);
  }
};

/// The frequency table among the constants an angle depends on: the largest
/// positive, non-increasing float vector starting at 1.
std::optional<SmallVector<float>> pickInvFreq(const Closure &c) {
  std::optional<SmallVector<float>> best;
  for (SmallVector<float> values : c.floatConsts) {
    // A per-channel table [inv, inv] (rotate-half layout; twice again when
    // h and w share the frequencies): one half is the frequency table.
    for (size_t half = values.size() / 2;
         values.size() % 2 == 0 && half >= 2 &&
         ArrayRef<float>(values).take_front(half) ==
             ArrayRef<float>(values).drop_front(half);
         half = values.size() / 2)
      values.resize(half);
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
  double theta = std::exp(-n * num / den);
  // Report the 5 significant digits the f32 table pins down.
  return std::stod(llvm::formatv("{0:e4}", theta).str());
}

/// Nodes that pass a table through unchanged up to scaling and dtype.
Value followTableChain(Value v, SmallVectorImpl<Operation *> &chain) {
  while (v.hasOneUse()) {
    NodeOp user = dyn_cast<NodeOp>(*v.getUsers().begin());
    if (!user)
      break;
    bool pass = user.isOnnx("Cast") ||
                ((user.isOnnx("Mul") || user.isOnnx("Div")) &&
                 user.getInputs()[0] == v && scalarConstantValue(user.getInputs()[1]));
    if (!pass && user.isOnnx("Mul") && user.getInputs()[1] == v)
      pass = scalarConstantValue(user.getInputs()[0]);
    if (!pass)
      break;
    chain.push_back(user);
    v = user.getResults()[0];
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
std::optional<Merge> matchSectionMerge(Value table) {
  for (Operation *user : table.getUsers()) {
    NodeOp split = dyn_cast<NodeOp>(user);
    if (!split || !split.isOnnx("Split") || split.getInputs()[0] != table)
      continue;
    std::optional<SmallVector<int64_t>> sizes = split.getIntsAttr("split");
    if (!sizes && split.getInputs().size() > 1)
      sizes = onnx::getConstantInts(split.getInputs()[1]);
    int64_t axis = split.getIntAttr("axis").value_or(0);
    if (!sizes || sizes->size() % 2 || sizes->size() < 4 || axis != -1)
      continue;
    size_t numAxes = sizes->size() / 2;
    ArrayRef<int64_t> half(*sizes);
    if (half.take_front(numAxes) != half.drop_front(numAxes))
      continue;
    Merge merge;
    merge.sections.assign(half.begin(), half.begin() + numAxes);
    merge.nodes.push_back(split);
    NodeOp concat;
    bool ok = true;
    for (auto [j, chunk] : llvm::enumerate(split.getResults())) {
      NodeOp gather = chunk.hasOneUse()
                          ? dyn_cast<NodeOp>(*chunk.getUsers().begin())
                          : NodeOp();
      if (!gather || !gather.isOnnx("Gather") ||
          gather.getIntAttr("axis").value_or(0) != 0 ||
          scalarInt(gather.getInputs()[1]) !=
              static_cast<int64_t>(j % numAxes) ||
          !gather.getResults()[0].hasOneUse()) {
        ok = false;
        break;
      }
      NodeOp next = dyn_cast<NodeOp>(*gather.getResults()[0].getUsers().begin());
      if (!next || !next.isOnnx("Concat") || (concat && next != concat) ||
          next.getInputs()[j] != gather.getResults()[0]) {
        ok = false;
        break;
      }
      concat = next;
      merge.nodes.push_back(gather);
    }
    if (!ok || !concat || concat.getInputs().size() != sizes->size())
      continue;
    merge.nodes.push_back(concat);
    merge.merged = concat.getResults()[0];
    return merge;
  }
  return std::nullopt;
}

/// Qwen3-VL's interleave: freqs[..., a:A*s_a:A] taken from row a, spelled as
/// Slices with step A on the last axis. Sections from their bounds.
std::optional<SmallVector<int64_t>> matchInterleave(const Closure &c,
                                                    int64_t numFreqs) {
  constexpr int64_t kAxes = 3;
  std::map<int64_t, int64_t> countByStart;
  for (NodeOp slice : c.slices) {
    auto in = slice.getInputs();
    if (in.size() < 5)
      continue;
    auto starts = onnx::getConstantInts(in[1]);
    auto ends = onnx::getConstantInts(in[2]);
    auto steps = onnx::getConstantInts(in[4]);
    if (!starts || !ends || !steps || starts->size() != 1 ||
        steps->front() != kAxes)
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

int64_t rankOf(Value v) {
  auto shaped = dyn_cast<ShapedType>(v.getType());
  return shaped && shaped.hasRank() ? shaped.getRank() : -1;
}

int64_t dimOf(Value v, int64_t i) {
  auto shaped = dyn_cast<ShapedType>(v.getType());
  if (!shaped || !shaped.hasRank() || i >= shaped.getRank())
    return ShapedType::kDynamic;
  return shaped.getDimSize(i);
}

/// Follows a table to the Muls that apply it (through Unsqueeze, Cast,
/// Reshape, Expand, Slice of the table): a rotation is such a Mul whose
/// result is added to (or subtracted from) another product.
void findRotations(Value table, RopeSite &site) {
  SmallVector<Value> work{table};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    for (Operation *user : v.getUsers()) {
      NodeOp node = dyn_cast<NodeOp>(user);
      if (!node)
        continue;
      if (llvm::is_contained({"Unsqueeze", "Squeeze", "Cast", "Reshape",
                              "Expand", "Slice", "Transpose", "Split"},
                             node.getOpType())) {
        if (node.getInputs()[0] == v)
          for (Value r : node.getResults())
            work.push_back(r);
        continue;
      }
      // GPT-J's repeat_interleave rebuilds the table from its columns.
      if (node.isOnnx("Concat")) {
        work.push_back(node.getResults()[0]);
        continue;
      }
      if (!node.isOnnx("Mul"))
        continue;
      Value product = node.getResults()[0];
      for (Operation *sumUser : product.getUsers()) {
        NodeOp sum = dyn_cast<NodeOp>(sumUser);
        if (!sum || !(sum.isOnnx("Add") || sum.isOnnx("Sub")))
          continue;
        site.rotations.push_back(node);
        // The table broadcast against [tokens, heads, dim] (vision) has
        // rank 3; against [batch, heads, seq, dim] rank 4.
        if (rankOf(v) == 3)
          site.vision = true;
        // The other product holds rotate(x): rotate-half is a Concat of
        // (-x2, x1); GPT-J pairs are re-interleaved by a Reshape/Flatten.
        Value other = sum.getInputs()[0] == product ? sum.getInputs()[1]
                                                    : sum.getInputs()[0];
        if (NodeOp mul = other.getDefiningOp<NodeOp>()) {
          for (Value operand : mul.getInputs()) {
            NodeOp rot = operand.getDefiningOp<NodeOp>();
            if (rot && (rot.isOnnx("Reshape") || rot.isOnnx("Flatten")))
              if (NodeOp inner = rot.getInputs()[0].getDefiningOp<NodeOp>())
                if (inner.isOnnx("Concat") || inner.isOnnx("Unsqueeze"))
                  site.layout = "gptj";
          }
        }
        break;
      }
    }
  }
}

void addNames(RopeSite &site, ArrayRef<Operation *> ops) {
  for (Operation *op : ops)
    if (auto node = dyn_cast<NodeOp>(op))
      if (std::string label = nodeLabel(node);
          !llvm::is_contained(site.nodes, label))
        site.nodes.push_back(label);
}

/// The first value on the way from `leaf` to the angle that stacks rows:
/// an Expand, Tile or Concat output inside the angle's closure.
Value findBuiltRows(Value leaf, const Closure &c) {
  SmallVector<Value> work{leaf};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    for (Operation *user : v.getUsers()) {
      if (!c.nodes.contains(user))
        continue;
      NodeOp node = cast<NodeOp>(user);
      if (node.isOnnx("Expand") || node.isOnnx("Tile") ||
          node.isOnnx("Concat"))
        return node.getResults()[0];
      for (Value r : node.getResults())
        work.push_back(r);
    }
  }
  return {};
}

void classify(RopeSite &site, Arch arch) {
  std::string source = site.positionsName();
  if (site.kind == "mrope-degenerate") {
    site.bug = true;
    site.reason = "the " + std::to_string(site.sections.size()) +
                  " position rows of this M-RoPE are built in the graph from "
                  "one 1D tensor (" +
                  source +
                  "): text, image and video tokens all get 1D positions";
  } else if (site.kind == "1d" && site.vision) {
    if (isQwenVL(arch)) {
      site.bug = true;
      site.reason = "the vision tower rotates patches by a flattened 1D index "
                    "from " + source +
                    "; Qwen VL vision RoPE needs (h, w) positions per patch";
    } else {
      site.reason = "1D positions from " + source + " over [tokens, heads, dim]";
    }
  } else if (site.kind == "1d") {
    if (isQwenVL(arch)) {
      site.bug = true;
      site.reason = ("a " + archName(arch) +
                     " model rotates by 1D positions from " + source +
                     "; its multimodal RoPE needs 3D positions [3, batch, seq]")
                        .str();
    } else {
      site.reason = "1D positions from " + source +
                    (arch == Arch::Auto
                         ? ": right for a text model (declare --arch "
                           "qwen2-vl to check it as a Qwen VL model)"
                         : ": right for a text model");
    }
  } else if (site.kind == "2d") {
    site.reason = site.computedPositions
                      ? "2D (h, w) positions computed in the graph from " +
                            source + " (vision tower)"
                      : "2D (h, w) positions from " + source + " (vision tower)";
  } else if (site.computedPositions) {
    site.reason = "3D positions computed in the graph (get_rope_index) from " +
                  source + " and the image/video grids";
  } else {
    site.reason = "3D positions [3, batch, seq] from " + source;
  }
}

/// A site whose tables are computed on the fly: Cos/Sin of an angle.
std::optional<RopeSite> matchComputedSite(NodeOp cos, Arch arch) {
  Value angle = cos.getInputs()[0];
  NodeOp sin;
  for (Operation *user : angle.getUsers())
    if (auto node = dyn_cast<NodeOp>(user); node && node.isOnnx("Sin"))
      sin = node;
  if (!sin)
    return std::nullopt;

  Closure c;
  c.walk(angle);
  // Tables built from activations or constants only are not positional.
  if (!c.floatInputs.empty() || !c.positionsLeaf())
    return std::nullopt;
  std::optional<SmallVector<float>> invFreq = pickInvFreq(c);
  if (!invFreq)
    return std::nullopt;

  RopeSite site;
  site.cosNode = cos;
  site.sinNode = sin;
  site.invFreq = *invFreq;
  site.theta = thetaOf(*invFreq);
  int64_t numFreqs = invFreq->size();
  site.positions = c.positionsLeaf();

  SmallVector<Operation *> chain;
  Value cosTable = followTableChain(cos.getResults()[0], chain);
  std::optional<Merge> merge = matchSectionMerge(cosTable);
  std::optional<SmallVector<int64_t>> interleave =
      merge ? std::nullopt : matchInterleave(c, numFreqs);
  auto channelRows = (merge || interleave)
                         ? std::nullopt
                         : matchChannelRows(c.rowGathers, numFreqs);

  bool fromInput = isa<BlockArgument>(site.positions);
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
  if ((merge || interleave || channelRows) && grids) {
    site.computedPositions = true;
    if (ids)
      site.positions = ids;
  }
  if (merge || interleave || channelRows) {
    site.sections = merge        ? merge->sections
                    : interleave ? *interleave
                                 : channelRows->first;
    site.interleaved = interleave || (channelRows && channelRows->second);
    site.rotaryDim = 2 * numFreqs;
    int64_t rows = site.sections.size();
    if (site.computedPositions ||
        (fromInput && rankOf(site.positions) == 3 &&
         dimOf(site.positions, 0) == rows)) {
      site.kind = site.interleaved ? "mrope-interleaved" : "mrope";
    } else {
      site.kind = "mrope-degenerate";
      site.builtRows = findBuiltRows(site.positions, c);
    }
    if (merge) {
      addNames(site, merge->nodes);
      cosTable = merge->merged;
    }
  } else if ((fromInput && rankOf(site.positions) == 2 &&
              dimOf(site.positions, 1) == 2) ||
             grids) {
    // (h, w) per patch, given, or computed from [N, 3] grids in the graph.
    site.computedPositions = static_cast<bool>(grids);
    if (grids)
      site.positions = grids;
    // Vision tower: (h, w) per patch, each axis with its own copy of the
    // frequencies.
    site.kind = "2d";
    site.sections = {numFreqs, numFreqs};
    site.perSectionFreqs = true;
    site.rotaryDim = 4 * numFreqs;
  } else {
    site.kind = "1d";
    site.sections = {numFreqs};
    site.rotaryDim = 2 * numFreqs;
  }
  findRotations(cosTable, site);
  if (site.rotations.empty())
    return std::nullopt; // sin/cos that rotate nothing (absolute embeddings)
  addNames(site, c.nodes.getArrayRef());
  addNames(site, {cos, sin});
  addNames(site, chain);
  classify(site, arch);
  return site;
}

/// A site whose tables are constant caches gathered by position: a cos cache
/// and a sin cache gathered with the same indices, or one sin|cos cache
/// (GPT-J) split in two after the Gather.
std::optional<RopeSite> matchCachedSite(NodeOp gather, Arch arch) {
  auto in = gather.getInputs();
  if (in.size() != 2 || isConstant(in[1]) ||
      gather.getIntAttr("axis").value_or(0) != 0)
    return std::nullopt;
  std::optional<DenseElementsAttr> table = onnx::getConstantValue(in[0], 1 << 22);
  if (!table || !isa<FloatType>(table->getElementType()) ||
      table->getType().getRank() != 2 || table->getType().getDimSize(0) < 2)
    return std::nullopt;
  std::optional<SmallVector<float>> values = floatConstant(in[0]);
  int64_t width = table->getType().getDimSize(1);
  if (!values || width % 2)
    return std::nullopt;
  ArrayRef<float> row0 = ArrayRef<float>(*values).take_front(width);
  ArrayRef<float> row1 = ArrayRef<float>(*values).slice(width, width);
  auto all = [](ArrayRef<float> v, float x) {
    return llvm::all_of(v, [&](float f) { return f == x; });
  };

  RopeSite site;
  SmallVector<float> cosRow, sinRow;
  Value cosTable;
  if (all(row0, 1.0f)) {
    // cos(0) = 1: a cos cache; its sin cache is gathered by the same indices.
    for (Operation *user : in[1].getUsers()) {
      auto node = dyn_cast<NodeOp>(user);
      if (!node || node == gather || !node.isOnnx("Gather"))
        continue;
      auto sinValues = floatConstant(node.getInputs()[0]);
      if (sinValues && sinValues->size() == values->size() &&
          all(ArrayRef<float>(*sinValues).take_front(width), 0.0f)) {
        site.sinNode = node;
        sinRow.assign(sinValues->begin() + width, sinValues->begin() + 2 * width);
        break;
      }
    }
    if (!site.sinNode)
      return std::nullopt;
    site.cosNode = gather;
    cosRow.assign(row1.begin(), row1.end());
    cosTable = gather.getResults()[0];
  } else if (all(row0.take_front(width / 2), 0.0f) &&
             all(row0.drop_front(width / 2), 1.0f)) {
    // sin | cos in one cache, split after the Gather.
    Value gathered = gather.getResults()[0];
    NodeOp split = gathered.hasOneUse()
                       ? dyn_cast<NodeOp>(*gathered.getUsers().begin())
                       : NodeOp();
    if (!split || !split.isOnnx("Split") || split.getNumResults() != 2)
      return std::nullopt;
    site.cosNode = gather;
    site.sinNode = split;
    ArrayRef<float> half = row1;
    sinRow.assign(half.begin(), half.begin() + width / 2);
    cosRow.assign(half.begin() + width / 2, half.end());
    cosTable = split.getResults()[1];
    width /= 2;
  } else {
    return std::nullopt;
  }

  Closure c;
  c.walk(in[1]);
  site.positions = c.positionsLeaf();
  if (!site.positions)
    return std::nullopt;
  findRotations(cosTable, site);
  if (site.rotations.empty())
    return std::nullopt;
  // Row 1 holds cos/sin of inv_freq itself. A sin|cos cache stores one
  // column per frequency; a cos cache one per channel (pairs by layout).
  bool perChannel = site.sinNode.isOnnx("Gather");
  int64_t numFreqs = perChannel ? width / 2 : width;
  for (int64_t i = 0; i < numFreqs; ++i) {
    int64_t ch = !perChannel ? i : site.layout == "gptj" ? 2 * i : i;
    site.invFreq.push_back(
        static_cast<float>(std::atan2(sinRow[ch], cosRow[ch])));
  }
  site.theta = thetaOf(site.invFreq);
  site.kind = "1d";
  site.sections = {numFreqs};
  site.rotaryDim = 2 * numFreqs;
  addNames(site, c.nodes.getArrayRef());
  addNames(site, {site.cosNode, site.sinNode});
  classify(site, arch);
  return site;
}

} // namespace

std::vector<RopeSite> mrope::findRopeSites(onnx::GraphOp graph, Arch arch) {
  std::vector<RopeSite> sites;
  for (Operation &op : graph.getBodyBlock()) {
    auto node = dyn_cast<NodeOp>(op);
    if (!node)
      continue;
    std::optional<RopeSite> site;
    if (node.isOnnx("Cos"))
      site = matchComputedSite(node, arch);
    else if (node.isOnnx("Gather"))
      site = matchCachedSite(node, arch);
    if (site)
      sites.push_back(std::move(*site));
  }
  return sites;
}

//===----------------------------------------------------------------------===//
// Reports
//===----------------------------------------------------------------------===//

std::string mrope::renderReportJson(ArrayRef<RopeSite> sites, StringRef model,
                                    Arch arch) {
  llvm::json::Array list;
  int64_t rotations = 0, bugs = 0;
  for (const RopeSite &site : sites) {
    rotations += site.rotations.size();
    bugs += site.bug;
    llvm::json::Array nodes;
    for (const std::string &n : site.nodes)
      nodes.push_back(n);
    list.push_back(llvm::json::Object{
        {"positions", site.kind},
        {"layout", site.layout},
        {"sections", llvm::json::Array(site.sections)},
        {"interleaved", site.interleaved},
        {"theta", site.theta},
        {"rotary_dim", site.rotaryDim},
        {"rotations", static_cast<int64_t>(site.rotations.size())},
        {"positions_source", site.positionsName()},
        {"nodes", std::move(nodes)},
        {"bug", site.bug},
        {"reason", site.reason},
    });
  }
  llvm::json::Object report{
      {"model", model},
      {"arch", archName(arch)},
      {"sites", std::move(list)},
      {"summary", llvm::json::Object{{"sites", static_cast<int64_t>(sites.size())},
                                     {"rotations", rotations},
                                     {"bugs", bugs}}},
  };
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(report))) << "\n";
  return text;
}

std::string mrope::renderReportText(ArrayRef<RopeSite> sites, StringRef model,
                                    Arch arch) {
  std::string text;
  llvm::raw_string_ostream os(text);
  int64_t bugs = 0, rotations = 0;
  for (const RopeSite &site : sites) {
    bugs += site.bug;
    rotations += site.rotations.size();
  }
  os << model << ": " << sites.size() << " RoPE site"
     << (sites.size() == 1 ? "" : "s") << ", " << rotations << " rotation"
     << (rotations == 1 ? "" : "s") << ", " << bugs << " bug"
     << (bugs == 1 ? "" : "s") << " (arch " << archName(arch) << ")\n";
  for (auto [i, constSite] : llvm::enumerate(sites)) {
    RopeSite site = constSite;
    os << "  site " << i << ": " << site.kind << " [";
    llvm::interleaveComma(site.sections, os);
    os << "] " << site.layout << ", rotary_dim " << site.rotaryDim
       << ", theta " << site.theta << ", " << site.rotations.size()
       << " rotations, tables by " << nodeLabel(site.cosNode) << " / "
       << nodeLabel(site.sinNode) << "\n"
       << "    " << (site.bug ? "BUG: " : "ok: ") << site.reason << "\n";
  }
  if (bugs)
    os << "verdict: " << bugs << (bugs == 1 ? " site needs" : " sites need")
       << " true multimodal positions (mrope-fix -o FIXED.onnx rewrites "
       << (bugs == 1 ? "it" : "them") << ")\n";
  else
    os << "verdict: no RoPE position bug found\n";
  return text;
}
