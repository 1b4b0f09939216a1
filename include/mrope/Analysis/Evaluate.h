//===- Evaluate.h - evaluate small ONNX subgraphs on concrete tensors -*- C++
//-*-===//
//
// A small interpreter of the onnx-dialect ops that build positions and
// cos/sin tables (Constant, initializers, Range, Cast, Unsqueeze, Squeeze,
// Reshape, Flatten, Expand, Tile, Transpose, Concat, Split, Slice, Gather,
// GatherElements, MatMul, Einsum, Mul, Div, Add, Sub, Pow, Neg, Cos, Sin,
// Where, Shape, ConstantOfShape, Reduce*, CumSum, ...) and the fused
// rotary ops (com.microsoft.RotaryEmbedding / MRotaryEmbedding,
// RotaryEmbedding-23), on small concrete tensors.
// mrope-fix uses it to prove a rewrite before writing it: the tables the
// fixed graph computes on probe positions must equal the original's (text
// positions) and the claimed semantics (multimodal positions).
//
// Demand driven: a value is evaluated only when a table needs it, and only
// as far as needed (a `Shape` needs its operand's shape, not its data; an
// initializer is read only when its data is needed). An op it does not know,
// a graph input the probe does not give, or a tensor above the size limit
// makes the evaluation fail with one reason naming the node: never a guess.
// Arithmetic is float32 for float tensors (as ONNX Runtime computes them),
// int64 for integer ones (narrower integers are widened; int division
// truncates), booleans as 0/1.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_EVALUATE_H
#define MROPE_ANALYSIS_EVALUATE_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mrope::eval {

namespace detail {
class NodeEval;
} // namespace detail

/// A concrete tensor, row-major. `hasData` false: only the shape is known.
struct Tensor {
  enum class Kind { F32, I64, Bool };
  Kind kind = Kind::F32;
  llvm::SmallVector<int64_t> shape;
  bool hasData = true;
  std::vector<float> f;   ///< F32 values
  std::vector<int64_t> i; ///< I64 and Bool values

  int64_t numElements() const;
  bool isFloat() const { return kind == Kind::F32; }
  /// Element `k` as a double / int64 whatever the kind.
  double asDouble(int64_t k) const { return isFloat() ? f[k] : (double)i[k]; }
  int64_t asInt(int64_t k) const { return isFloat() ? (int64_t)f[k] : i[k]; }

  static Tensor ints(llvm::ArrayRef<int64_t> shape,
                     llvm::ArrayRef<int64_t> values);
  static Tensor floats(llvm::ArrayRef<int64_t> shape,
                       llvm::ArrayRef<float> values);
};

class Evaluator {
public:
  /// `maxElements`: the largest tensor it computes or reads.
  explicit Evaluator(int64_t opset, int64_t maxElements = int64_t(1) << 22)
      : opset(opset), maxElements(maxElements) {}

  /// Gives `v` this value (a probe: positions, or any value to cut the
  /// graph at).
  void bind(mlir::Value v, Tensor t);
  /// Shapes of graph inputs the probe does not give values for, by name:
  /// their Shape can be read, their data cannot.
  void bindInputShape(llvm::StringRef name, llvm::ArrayRef<int64_t> shape);

  /// The value of `v` (with its data), or null with `why()` set.
  const Tensor *evaluate(mlir::Value v);
  /// Why the last evaluation failed (one line naming the node).
  const std::string &why() const { return reason; }

private:
  /// One node's evaluation, by op family (lib/Analysis/Evaluate/).
  friend class detail::NodeEval;

  const Tensor *get(mlir::Value v, bool needData);
  bool fail(mlir::Operation *op, const llvm::Twine &msg);

  int64_t opset, maxElements;
  /// Values computed so far; a shape-only entry is replaced by one with
  /// data when data is needed. Boxed: pointers handed out stay valid while
  /// the map grows.
  llvm::DenseMap<mlir::Value, std::unique_ptr<Tensor>> values;
  const Tensor *store(mlir::Value v, Tensor t);
  llvm::StringMap<llvm::SmallVector<int64_t>> inputShapes;
  std::string reason;
  int depth = 0;
};

/// The position axis of frequency `i` under M-RoPE `sections` (as
/// MRotaryEmbedding reads them): contiguous, or Qwen3-VL interleaved
/// (frequency i goes to axis i % 3 while i < 3 * sections[axis], else to
/// axis 0). -1 past the sections.
int64_t mropeAxisOf(llvm::ArrayRef<int64_t> sections, bool interleaved,
                    int64_t i);

/// "node 'name' (Op)" or "input 'name'" for messages.
std::string describeValue(mlir::Value v);

} // namespace mrope::eval

#endif // MROPE_ANALYSIS_EVALUATE_H
