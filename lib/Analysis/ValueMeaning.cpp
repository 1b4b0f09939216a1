//===- ValueMeaning.cpp - the meaning lattice and its solver --------------===//
#include "mrope/Analysis/ValueMeaning.h"

#include "mrope/Analysis/RopeReport.h"

#include "mlir/Analysis/DataFlow/ConstantPropagationAnalysis.h"
#include "mlir/Analysis/DataFlow/DeadCodeAnalysis.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dataflow;
using namespace mrope;
using namespace mrope::meaning;
using onnx::NodeOp;

//===----------------------------------------------------------------------===//
// The lattice value
//===----------------------------------------------------------------------===//

int64_t Meaning::axisOf(AxisRole role) const {
  for (auto [i, a] : llvm::enumerate(axes))
    if (a.role == role)
      return static_cast<int64_t>(i);
  return -1;
}

ArrayRef<Channel> Meaning::channels() const {
  int64_t c = axisOf(AxisRole::Chan);
  return c < 0 ? ArrayRef<Channel>() : ArrayRef<Channel>(axes[c].chans);
}

bool Meaning::operator==(const Meaning &o) const {
  if (kind != o.kind)
    return false;
  // Unknowns are one element whatever the reason.
  if (kind == Kind::Unknown || kind == Kind::Uninit)
    return true;
  return axes == o.axes && src == o.src && src3D == o.src3D && row == o.row &&
         slot == o.slot && copiedAt == o.copiedAt && invFreq == o.invFreq &&
         constant == o.constant && perToken == o.perToken &&
         shapeDims == o.shapeDims && table == o.table;
}

Meaning Meaning::join(const Meaning &a, const Meaning &b) {
  if (a.isUninit())
    return b;
  if (b.isUninit() || a == b)
    return a;
  if (a.isUnknown())
    return a;
  if (b.isUnknown())
    return b;
  return unknown("two meanings meet");
}

static void printAxis(const Axis &a, raw_ostream &os) {
  switch (a.role) {
  case AxisRole::Bcast:
    os << "bcast";
    return;
  case AxisRole::Row:
    os << "row{";
    // slot:row, "-" for a copy of a 1D tensor.
    llvm::interleaveComma(a.rows, os, [&](RowRef r) {
      os << int(r.slot) << ":";
      if (r.row < 0)
        os << "-";
      else
        os << int(r.row);
    });
    os << "}";
    return;
  case AxisRole::Batch:
    os << "batch";
    return;
  case AxisRole::Seq:
    os << "seq";
    return;
  case AxisRole::Token:
    os << "token";
    return;
  case AxisRole::CacheRow:
    os << "cache-row";
    return;
  case AxisRole::Other:
    os << "?";
    return;
  case AxisRole::Chan:
    break;
  }
  // Runs of channels with consecutive frequencies and the same slot/row:
  // "f0-3 s0 r0".
  os << "chan{";
  ArrayRef<Channel> c = a.chans;
  for (size_t i = 0; i < c.size();) {
    size_t j = i + 1;
    while (j < c.size() && c[j].slot == c[i].slot && c[j].row == c[i].row &&
           c[j].freq == c[j - 1].freq + 1 && c[i].freq >= 0)
      ++j;
    if (i)
      os << ", ";
    os << "f" << c[i].freq;
    if (j - i > 1)
      os << "-" << c[j - 1].freq;
    if (c[i].slot >= 0)
      os << " s" << int(c[i].slot);
    if (c[i].row >= 0)
      os << " r" << int(c[i].row);
    i = j;
  }
  os << "}";
}

void Meaning::print(raw_ostream &os) const {
  switch (kind) {
  case Kind::Uninit:
    os << "uninitialized";
    return;
  case Kind::Unknown:
    os << "unknown (" << why << ")";
    return;
  case Kind::Const:
    os << "const";
    if (constant && constant.getNumElements() <= 8) {
      os << " ";
      constant.print(os);
    }
    return;
  case Kind::Shape:
    os << "shape";
    if (!shapeDims.empty()) {
      os << " [";
      llvm::interleaveComma(shapeDims, os, [&](int64_t d) {
        if (d < 0)
          os << "?";
        else
          os << d;
      });
      os << "]";
    }
    return;
  case Kind::Iota:
    os << "iota";
    break;
  case Kind::Positions:
    os << "positions";
    break;
  case Kind::InvFreq:
    os << "inv-freq";
    break;
  case Kind::Angle:
    os << "angle";
    break;
  case Kind::Cos:
    os << "cos";
    break;
  case Kind::Sin:
    os << "sin";
    break;
  case Kind::Rotated:
    os << (perToken ? "rotated per-token" : "rotated");
    break;
  }
  if (src)
    os << " of " << describeValue(src)
       << (kind == Kind::Iota ? ""
           : src3D            ? " (3 rows)"
                              : " (1d)");
  if (row >= 0)
    os << " row " << int(row);
  if (slot >= 0)
    os << " slot " << int(slot);
  if (copiedAt)
    os << ", rows copied at " << describeValue(copiedAt);
  if (!invFreq.empty())
    os << ", " << invFreq.size() << " freqs";
  if (!axes.empty()) {
    os << " [";
    llvm::interleaveComma(axes, os, [&](const Axis &a) { printAxis(a, os); });
    os << "]";
  }
}

//===----------------------------------------------------------------------===//
// Leaves: graph inputs and initializers
//===----------------------------------------------------------------------===//

Meaning meaning::meaningOfLeaf(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (!isa<onnx::GraphOp>(arg.getOwner()->getParentOp()))
      return Meaning::unknown("subgraph input");
    // What a value means does not depend on its element type: Qwen3-Omni's
    // get_rope_index gives float32 positions. An integer or float [B, S]
    // input may hold positions (or token ids, a float mask: only what reads
    // it as positions, a product with frequencies, makes it so); [3, B, S]
    // holds three rows. Other float inputs are activations.
    bool isFloat = type && isa<FloatType>(type.getElementType());
    if (!type || !(type.getElementType().isInteger() || isFloat))
      return Meaning::unknown("graph input");
    if (isFloat && !(type.getRank() == 2 ||
                     (type.getRank() == 3 && type.getDimSize(0) == 3)))
      return Meaning::unknown("graph input");
    Meaning m;
    m.kind = Kind::Positions;
    m.src = v;
    if (type.getRank() == 2) {
      m.axes = {Axis::of(AxisRole::Batch), Axis::of(AxisRole::Seq)};
      return m;
    }
    if (type.getRank() == 3 && type.getDimSize(0) == 3) {
      Axis rows = Axis::of(AxisRole::Row);
      rows.rows = {{0, 0}, {1, 1}, {2, 2}};
      m.src3D = true;
      m.axes = {rows, Axis::of(AxisRole::Batch), Axis::of(AxisRole::Seq)};
      return m;
    }
    return Meaning::unknown("integer input neither [B, S] nor [3, B, S]");
  }
  // Weights are not read: RoPE constants (frequencies, indices, shapes,
  // small caches) are far below this size.
  constexpr int64_t kMaxElements = 1 << 14;
  if (type && type.hasStaticShape() && type.getNumElements() > kMaxElements)
    return Meaning::unknown("weight");
  // (A Constant whose tensor has a name is read too: the importer reads it
  // as elements.)
  std::optional<DenseElementsAttr> value =
      onnx::getConstantValue(v, kMaxElements);
  if (!value)
    return Meaning::unknown("large or opaque constant");
  Meaning m;
  auto shaped = cast<ShapedType>(value->getType());
  // A float constant with one axis that is not 1 long (a 1D vector, or one
  // already unsqueezed: torch folds inv_freq[None, :, None] into a [1, F, 1]
  // initializer) is read as frequencies along that axis; only a product
  // with positions makes it an angle. A splat of higher rank stays a
  // constant (a scaling).
  auto longAxes =
      llvm::count_if(shaped.getShape(), [](int64_t d) { return d != 1; });
  if (isa<FloatType>(shaped.getElementType()) &&
      (shaped.getRank() == 1 ||
       (longAxes == 1 && !value->isSplat() && shaped.hasStaticShape()))) {
    m.kind = Kind::InvFreq;
    Axis chan = Axis::of(AxisRole::Chan);
    for (auto [i, f] : llvm::enumerate(value->getValues<APFloat>())) {
      m.invFreq.push_back(f.convertToDouble());
      chan.chans.push_back(Channel{static_cast<int32_t>(i), -1, -1});
    }
    for (int64_t d : shaped.getShape())
      m.axes.push_back(d == 1 && shaped.getRank() > 1 ? Axis::unitAxis()
                                                      : chan);
    return m;
  }
  m.kind = Kind::Const;
  m.constant = *value;
  return m;
}

//===----------------------------------------------------------------------===//
// Positions computed from grids
//===----------------------------------------------------------------------===//

static bool isIntegerTensor(Value v, int64_t rank, int64_t dim, int64_t size) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.getElementType().isInteger() && type.getRank() == rank &&
         type.getDimSize(dim) == size;
}

llvm::DenseSet<Value> meaning::valuesFromGridData(Operation *top) {
  llvm::DenseSet<Value> fromGrid;
  top->walk([&](onnx::GraphOp graph) {
    bool any = false;
    for (BlockArgument arg : graph.getBodyBlock().getArguments())
      if (isIntegerTensor(arg, 2, 1, 3))
        any |= fromGrid.insert(arg).second;
    if (!any)
      return;
    // Nodes come in graph order: operands before their users.
    for (NodeOp node : graph.getBodyBlock().getOps<NodeOp>()) {
      if (node.isOnnx("Shape") || node.isOnnx("Size") ||
          llvm::none_of(node->getOperands(),
                        [&](Value in) { return fromGrid.contains(in); }))
        continue;
      fromGrid.insert(node->result_begin(), node->result_end());
    }
  });
  return fromGrid;
}

std::optional<Meaning>
meaning::positionsFromGrids(Value v, const Meaning &transferred,
                            const llvm::DenseSet<Value> &fromGrid) {
  if (!fromGrid.contains(v) || isa<BlockArgument>(v) ||
      !isIntegerTensor(v, 3, 0, 3))
    return std::nullopt;
  // What a transfer function reads keeps its meaning: three copies of a
  // [B, 3] positions input are the degenerate bug, not computed rows.
  if (!transferred.isUnknown())
    return transferred;
  Meaning m;
  m.kind = Kind::Positions;
  m.src = v;
  m.src3D = true;
  Axis rows = Axis::of(AxisRole::Row);
  rows.rows = {{0, 0}, {1, 1}, {2, 2}};
  m.axes = {rows, Axis::of(AxisRole::Batch), Axis::of(AxisRole::Seq)};
  return m;
}

//===----------------------------------------------------------------------===//
// The analysis
//===----------------------------------------------------------------------===//

LogicalResult ValueMeaningAnalysis::initialize(Operation *top) {
  fromGrid = valuesFromGridData(top);
  return SparseForwardDataFlowAnalysis::initialize(top);
}

LogicalResult
ValueMeaningAnalysis::visitOperation(Operation *op,
                                     ArrayRef<const MeaningLattice *> operands,
                                     ArrayRef<MeaningLattice *> results) {
  auto setAll = [&](const Meaning &m) {
    for (MeaningLattice *r : results)
      propagateIfChanged(r, r->join(m));
  };
  if (isa<onnx::InitializerOp>(op)) {
    setAll(meaningOfLeaf(op->getResult(0)));
    return success();
  }
  auto node = dyn_cast<NodeOp>(op);
  if (!node) {
    setAll(Meaning::unknown(op->getName().getStringRef()));
    return success();
  }
  // Wait until every operand has a meaning (the solver comes back when one
  // changes).
  SmallVector<const Meaning *> ins;
  for (const MeaningLattice *l : operands) {
    if (l->getValue().isUninit())
      return success();
    ins.push_back(&l->getValue());
  }
  for (auto [i, r] : llvm::enumerate(results)) {
    Meaning m = transferNode(node, static_cast<unsigned>(i), ins);
    if (std::optional<Meaning> computed =
            positionsFromGrids(node->getResult(i), m, fromGrid))
      m = std::move(*computed);
    propagateIfChanged(r, r->join(m));
  }
  return success();
}

void ValueMeaningAnalysis::setToEntryState(MeaningLattice *lattice) {
  Value v = lattice->getAnchor();
  propagateIfChanged(lattice, lattice->join(isa<BlockArgument>(v)
                                                ? meaningOfLeaf(v)
                                                : Meaning::unknown("entry")));
}

ValueMeanings::ValueMeanings(Operation *top)
    : solver(std::make_unique<DataFlowSolver>(
          DataFlowConfig().setInterprocedural(false))) {
  // The framework's liveness (DeadCodeAnalysis) decides which blocks are
  // visited; it reads constants from SparseConstantPropagation.
  solver->load<DeadCodeAnalysis>();
  solver->load<SparseConstantPropagation>();
  solver->load<ValueMeaningAnalysis>();
  status = solver->initializeAndRun(top);
  notReached = Meaning::unknown("not reached");
}

ValueMeanings::~ValueMeanings() = default;

const Meaning &ValueMeanings::lookup(Value v) const {
  const MeaningLattice *l =
      v ? solver->lookupState<MeaningLattice>(v) : nullptr;
  if (!l || l->getValue().isUninit())
    return notReached;
  return l->getValue();
}

//===----------------------------------------------------------------------===//
// Helpers for the clients
//===----------------------------------------------------------------------===//

std::string meaning::describeValue(Value v) {
  if (!v)
    return "?";
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (auto graph = dyn_cast<onnx::GraphOp>(arg.getOwner()->getParentOp()))
      return "input '" + graph.getInputName(arg.getArgNumber()).str() + "'";
    return "subgraph input";
  }
  if (auto init = v.getDefiningOp<onnx::InitializerOp>())
    return "initializer '" + init.getName().str() + "'";
  if (auto node = v.getDefiningOp<NodeOp>())
    return node.getOpType().str() + " node " + nodeLabel(node);
  return "?";
}

Value meaning::stripTransparent(Value v) {
  while (auto node = v ? v.getDefiningOp<NodeOp>() : NodeOp()) {
    if (node.getInputs().size() != 1 ||
        !(node.isOnnx("Identity") ||
          (node.isOnnx("Cast") &&
           node.getInputs()[0].getType() == v.getType())))
      break;
    v = node.getInputs()[0];
  }
  return v;
}

std::optional<std::pair<SmallVector<int64_t>, bool>>
meaning::sectionsOfSlots(ArrayRef<int64_t> slots) {
  if (slots.empty() || llvm::any_of(slots, [](int64_t s) { return s < 0; }))
    return std::nullopt;
  int64_t n = *llvm::max_element(slots) + 1;
  SmallVector<int64_t> counts(n, 0);
  for (int64_t s : slots)
    ++counts[s];
  if (llvm::is_sorted(slots))
    return std::make_pair(counts, false);
  if (n != 3)
    return std::nullopt;
  // Qwen3-VL: channel f takes row f % 3 while that row has channels left.
  for (auto [i, s] : llvm::enumerate(slots)) {
    int64_t f = static_cast<int64_t>(i), want = 0;
    if (f % 3 == 1 && f < 3 * counts[1])
      want = 1;
    else if (f % 3 == 2 && f < 3 * counts[2])
      want = 2;
    if (s != want)
      return std::nullopt;
  }
  return std::make_pair(counts, true);
}

double meaning::fitTheta(ArrayRef<double> invFreq, int64_t rotaryDim) {
  size_t f = invFreq.size();
  if (f < 2 || !(invFreq.back() > 0) || rotaryDim <= 0)
    return 0.0;
  double theta =
      std::pow(invFreq.back(), -static_cast<double>(rotaryDim) /
                                   (2.0 * static_cast<double>(f - 1)));
  // Frequencies stored in f32 put the fit a few ulps off the round base
  // they were computed from: take the integer base when it gives every
  // frequency back to f32 precision.
  double round = std::round(theta);
  if (round < 1)
    return theta;
  for (auto [i, v] : llvm::enumerate(invFreq)) {
    double want = std::pow(round, -2.0 * static_cast<double>(i) /
                                      static_cast<double>(rotaryDim));
    if (std::abs(want - v) > 1e-6 * std::abs(want))
      return theta;
  }
  return round;
}
