//===- ProveProbe.h - probe positions and tables for the fix proofs -------===//
//
// What the unfused (ProveFix.cpp) and fused (ProveFused.cpp) proofs share:
// the probe (its positions), how graph inputs and positions are given to the
// evaluator, and how per-frequency tables are compared. Internal to lib/Fix.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_FIX_PROVEPROBE_H
#define MROPE_LIB_FIX_PROVEPROBE_H

#include "mrope/Analysis/Evaluate.h"
#include "mrope/Analysis/PositionProbe.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/ArrayRef.h"

#include <string>
#include <vector>

namespace mrope::prove::detail {

/// Equal semantics give equal float32 bits here (the same products, the
/// same cos/sin); the tolerance only absorbs an equivalent float order.
constexpr float kTolerance = 1e-6f;

/// The probe: one sequence of `n` tokens (8, or the model's static
/// sequence length). Text positions jump past the sequence length halfway,
/// so a table indexed by token instead of by position is caught; the
/// multimodal rows differ from each other and from the text row.
struct Probe {
  int64_t tokens;
  std::vector<int64_t> text, rowH, rowW;
  explicit Probe(int64_t n);
};

/// The probe's token count for positions of this type: its static
/// sequence dim when it has one, else 8.
int64_t probeTokens(mlir::Value positions);
int64_t opsetOf(onnx::GraphOp graph);
/// Graph inputs' shapes: mrope::bindProbeInputShapes (PositionProbe.h).
/// The probe positions in the shape `positions` has: [S] or [1, S] one
/// row, [A, 1, S] rows, [S, 2] (h, w) pairs. `rows` are the rows to give
/// (one for text, three for M-RoPE).
bool seedPositions(eval::Evaluator &ev, mlir::Value positions,
                   llvm::ArrayRef<llvm::ArrayRef<int64_t>> rows,
                   std::string &why);
/// Whether `v` is computed from the data of `x` (a bounded walk back; a
/// Shape reads no data, so the walk does not go through it).
bool dependsOn(mlir::Value v, mlir::Value x);
/// The first difference between two per-frequency tables, "" when equal
/// within the tolerance; `maxDiff` grows to the largest difference.
std::string compare(llvm::ArrayRef<float> got, llvm::ArrayRef<float> want,
                    int64_t freqs, float &maxDiff);
std::string sectionsText(llvm::ArrayRef<int64_t> sections);
/// The rotated tensor `v` names, for matching the original with the fixed
/// graph: the fix's own view nodes (transposes, reshapes, slices, named
/// mrope_*) are looked through.
std::string rotatedKey(mlir::Value v);

} // namespace mrope::prove::detail

#endif // MROPE_LIB_FIX_PROVEPROBE_H
