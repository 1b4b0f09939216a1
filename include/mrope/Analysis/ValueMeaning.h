//===- ValueMeaning.h - what an ONNX value means for RoPE -------*- C++ -*-===//
//
// A forward dataflow analysis over the onnx dialect, on MLIR's sparse
// dataflow framework: every value gets a *meaning* that says what it holds
// in RoPE terms, whatever the exporter's spelling:
//
//   positions(src)   int or float positions: row r of a [3, B, S] input, a
//                    [B, S] input, the index of a Range (arange), or an
//                    integer [3, B, S] tensor the graph computes from an
//                    integer [N, 3] input's data (get_rope_index from the
//                    image/video grids) that no transfer function reads;
//   iota(src)        a Range(0, N) in any shape: element = its row-major
//                    linear index (Range(0, B*S) reshaped [B, S] is the flat
//                    token index b*S + s);
//   inv-freq         a 1D float constant: one frequency per channel;
//   angle/cos/sin    position x inv_freq per channel, and cos/sin of that;
//   rotated          what a fused RoPE op (com.microsoft.RotaryEmbedding,
//                    MRotaryEmbedding, RotaryEmbedding-23,
//                    GroupQueryAttention do_rotary) reads per token;
//   const, shape     small constants, shape arithmetic;
//   unknown          anything else, with the reason.
//
// Each axis of a tensor gets a role: a position row axis (which source row
// each index is), batch, seq, flat token (B*S), a channel axis (which
// frequency and which position row each channel takes), a cache row axis
// (the position value a cache is indexed by) or broadcast (values do not
// depend on it). An op without a transfer function yields unknown, never a
// guess. The transfer functions live in ValueMeaningTransfer.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_VALUEMEANING_H
#define MROPE_ANALYSIS_VALUEMEANING_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "mlir/Analysis/DataFlow/SparseAnalysis.h"
#include "mlir/Analysis/DataFlowFramework.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"

#include <memory>
#include <optional>
#include <string>

namespace mrope::meaning {

/// What the index along one axis of a tensor stands for.
enum class AxisRole : uint8_t {
  Bcast,    ///< values do not depend on this index (size 1 or broadcast)
  Row,      ///< position row: index i is source row `rows[i]`
  Batch,    ///< batch index b
  Seq,      ///< sequence index s
  Token,    ///< flat token index b * S + s
  Chan,     ///< frequency channel `chans[i]`
  CacheRow, ///< a cache row: the position value the row is computed for
  Other,
};

/// One frequency channel of an angle table.
struct Channel {
  /// Index into the meaning's inv_freq, -1 when unknown.
  int32_t freq = -1;
  /// The index this channel was taken from along a 3-row axis (Gather of
  /// chunk j at row j): its M-RoPE section slot; -1 when never selected.
  int8_t slot = -1;
  /// The source row of its positions (for 3D sources), -1 when not known
  /// per channel (a 1D source, or the row is still an axis).
  int8_t row = -1;
  bool operator==(const Channel &o) const {
    return freq == o.freq && slot == o.slot && row == o.row;
  }
};

/// One index of a position row axis.
struct RowRef {
  /// Its index along the 3-row axis it was built as (the M-RoPE slot).
  int8_t slot = -1;
  /// The source row it holds; -1 for a copy of a 1D tensor.
  int8_t row = -1;
  bool operator==(const RowRef &o) const {
    return slot == o.slot && row == o.row;
  }
};

struct Axis {
  AxisRole role = AxisRole::Other;
  llvm::SmallVector<RowRef> rows;   ///< Row: slot and source row per index
  llvm::SmallVector<Channel> chans; ///< Chan: channel per index
  /// Bcast: the axis is known to be 1 long (an Unsqueeze's, or a Reshape's
  /// 1), not only constant along; an Expand to another length clears it.
  /// Where shape inference gave up, this is what says a MatMul's inner
  /// dim is 1.
  bool unit = false;
  static Axis of(AxisRole role) {
    Axis a;
    a.role = role;
    return a;
  }
  static Axis unitAxis() {
    Axis a = of(AxisRole::Bcast);
    a.unit = true;
    return a;
  }
  bool operator==(const Axis &o) const {
    return role == o.role && rows == o.rows && chans == o.chans &&
           unit == o.unit;
  }
};

enum class Kind : uint8_t {
  Uninit,    ///< not computed yet (bottom)
  Unknown,   ///< not a meaning the analysis knows (top)
  Const,     ///< a small constant (`constant`)
  Shape,     ///< shape arithmetic: dims of some tensor
  Iota,      ///< Range(0, N) in any shape: element = linear index
  Positions, ///< positions from `src`
  InvFreq,   ///< a 1D float constant used as frequencies
  Angle,     ///< positions x inv_freq
  Cos,
  Sin,
  Rotated, ///< the per-token angles a fused RoPE op rotates by
};

/// One lattice value. Meanings are compared structurally; two different
/// meanings join to Unknown (the analysis runs on a DAG: a join only
/// happens where the solver revisits an op).
struct Meaning {
  Kind kind = Kind::Uninit;
  /// One entry per axis (empty when the rank is not known or not needed).
  llvm::SmallVector<Axis, 4> axes;
  /// Where the positions come from: a graph input ([B, S] or [3, B, S]) or
  /// the Range of an arange.
  mlir::Value src;
  /// `src` is [3, B, S]: its rows are different positions.
  bool src3D = false;
  /// The source row when the tensor holds one row and no axis or channel
  /// says which (Gather of row r of a 3D source); -1 otherwise.
  int8_t row = -1;
  /// The slot selected along a 3-row axis when there is no channel axis.
  int8_t slot = -1;
  /// Where three rows were built in the graph as copies of one tensor (an
  /// Expand/Tile/Concat to [3, ...]); null when never.
  mlir::Value copiedAt;
  /// Frequencies (InvFreq, Angle, Cos, Sin, Rotated).
  llvm::SmallVector<double> invFreq;
  /// Const: the values.
  mlir::DenseElementsAttr constant;
  /// Shape: the elements of a 1D shape tensor that are known (-1 where not),
  /// empty when none is.
  llvm::SmallVector<int64_t> shapeDims;
  /// Cos/Sin/Rotated: the angle table the values were computed from (the
  /// input of the Cos and Sin, seen through Identity and same-type Casts):
  /// what tells one computed table from another.
  mlir::Value table;
  /// Rotated: the caches were computed in the graph per token and read
  /// through the flat token index (a Range over B*S).
  bool perToken = false;
  /// Unknown: why (not compared).
  std::string why;

  static Meaning unknown(llvm::StringRef why) {
    Meaning m;
    m.kind = Kind::Unknown;
    m.why = why.str();
    return m;
  }
  bool isUninit() const { return kind == Kind::Uninit; }
  bool isUnknown() const { return kind == Kind::Unknown; }
  bool isTable() const {
    return kind == Kind::Angle || kind == Kind::Cos || kind == Kind::Sin;
  }
  /// Index of the first axis with `role`, -1 when none.
  int64_t axisOf(AxisRole role) const;
  /// The channel axis' channels (empty when none).
  llvm::ArrayRef<Channel> channels() const;

  bool operator==(const Meaning &o) const;
  static Meaning join(const Meaning &a, const Meaning &b);
  void print(llvm::raw_ostream &os) const;
};

/// The lattice element of a value.
class MeaningLattice : public mlir::dataflow::Lattice<Meaning> {
public:
  using Lattice::Lattice;
};

/// The transfer function of one onnx.node (ValueMeaningTransfer.cpp):
/// the meaning of result `index` from the operands' meanings.
Meaning transferNode(onnx::NodeOp node, unsigned index,
                     llvm::ArrayRef<const Meaning *> operands);
/// The meaning of an onnx.initializer or a graph input.
Meaning meaningOfLeaf(mlir::Value v);

/// Values computed from the data of an integer [N, 3] graph input (an
/// image/video grid; a Shape or Size reads no data, so it does not carry
/// it), found in graph order in every onnx.graph under `top`.
llvm::DenseSet<mlir::Value> valuesFromGridData(mlir::Operation *top);

/// The meaning of `v`, an integer [3, B, S] tensor computed in the graph
/// from grid data whose own transfer function gave `transferred`: three
/// position rows with `v` as their source where `transferred` is Unknown
/// (get_rope_index spelled as ONNX nodes), `transferred` otherwise (a copy
/// of one positions tensor into three rows stays a copy: an integer [B, 3]
/// positions input has a grid's type too). nullopt when `v` is not such a
/// tensor.
std::optional<Meaning>
positionsFromGrids(mlir::Value v, const Meaning &transferred,
                   const llvm::DenseSet<mlir::Value> &fromGrid);

class ValueMeaningAnalysis
    : public mlir::dataflow::SparseForwardDataFlowAnalysis<MeaningLattice> {
public:
  using SparseForwardDataFlowAnalysis::SparseForwardDataFlowAnalysis;
  /// Finds the values computed from grid data, then runs the framework's.
  mlir::LogicalResult initialize(mlir::Operation *top) override;
  mlir::LogicalResult
  visitOperation(mlir::Operation *op,
                 llvm::ArrayRef<const MeaningLattice *> operands,
                 llvm::ArrayRef<MeaningLattice *> results) override;
  void setToEntryState(MeaningLattice *lattice) override;

private:
  /// valuesFromGridData of the analysed op.
  llvm::DenseSet<mlir::Value> fromGrid;
};

/// Runs the analysis (with the dead code and constant propagation analyses
/// the framework needs) on `top` and answers per value.
class ValueMeanings {
public:
  explicit ValueMeanings(mlir::Operation *top);
  ~ValueMeanings();
  bool ok() const { return succeeded(status); }
  /// The meaning of `v` (Unknown when the solver did not reach it).
  const Meaning &lookup(mlir::Value v) const;

private:
  std::unique_ptr<mlir::DataFlowSolver> solver;
  mlir::LogicalResult status = mlir::failure();
  Meaning notReached;
};

/// The axis an Unsqueeze of one axis inserts into its input, or a Reshape
/// that only inserts one unit axis, however its target spells the input's
/// dims: a constant, Slices of Shape(x) (match::insertedAxis) or
/// Gather(Shape(x), j) pieces (what the lattice reads, TransferShape.cpp).
/// Negative axes count from the back, as written. nullopt when neither.
std::optional<int64_t> insertedAxisOf(mlir::Value v);

/// How reports name a value: "input 'x'", "Range node r", ...
std::string describeValue(mlir::Value v);

/// `v` seen through Identity and Cast to the same type: the value whose
/// contents `v` repeats (what sites are compared by).
mlir::Value stripTransparent(mlir::Value v);

/// Sections (counts per slot) and whether the slot order is Qwen3-VL's
/// interleaved one, of per-channel slots; nullopt when neither.
std::optional<std::pair<llvm::SmallVector<int64_t>, bool>>
sectionsOfSlots(llvm::ArrayRef<int64_t> slots);

/// theta of inv_freq[i] = theta^(-2i/R) fitted to the last frequency
/// (0 when there are fewer than two or it is not positive).
double fitTheta(llvm::ArrayRef<double> invFreq, int64_t rotaryDim);

} // namespace mrope::meaning

#endif // MROPE_ANALYSIS_VALUEMEANING_H
