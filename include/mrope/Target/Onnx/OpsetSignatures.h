//===- OpsetSignatures.h - what an ONNX op looks like per opset -*- C++ -*-===//
//
// The ops the RoPE analysis reads changed signature between opsets: `axes`
// of Squeeze/Unsqueeze/ReduceSum and `split` of Split became inputs at
// opset 13, the other Reduce* ops' `axes` at opset 18, and so on. libonnx
// 1.12 checks models up to opset 17 only, so a model that declares opset 23
// but spells ReduceMean with an `axes` attribute would reach the fix
// unchecked (and ONNX Runtime refuses it). This table is the one place
// these signatures live: the importer's validation refuses a node that
// contradicts the model's declared opset, and the evaluator reads `axes`
// from where the opset puts them.
//
// Only default-domain ops and opsets mrope reads (13 and newer) are listed;
// an op the table does not know is not checked here.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_TARGET_ONNX_OPSETSIGNATURES_H
#define MROPE_TARGET_ONNX_OPSETSIGNATURES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace mrope::onnx {

/// An attribute that some opsets take as an input instead (or that only
/// exists from some opset on).
struct MovedAttribute {
  llvm::StringRef name;
  /// The attribute is allowed for opsets in [since, until) (until 0: no end).
  int64_t since, until;
  /// Where it lives outside that range, in words ("input 2 since opset 18").
  llvm::StringRef elsewhere;
};

/// One op's signature from opset `since` until the next entry of the same op.
struct OpSignature {
  llvm::StringRef opType;
  int64_t since;
  /// Positional inputs: the first `minInputs` must be given (non-empty);
  /// at most `maxInputs` (-1: variadic).
  int minInputs, maxInputs;
  /// Attributes that must be present.
  llvm::ArrayRef<llvm::StringRef> required;
  /// Attributes whose existence depends on the opset.
  llvm::ArrayRef<MovedAttribute> moved;
};

/// The signature of default-domain `opType` at opset `opset`, or null when
/// the table does not know the op at that opset.
const OpSignature *lookupOpSignature(llvm::StringRef opType, int64_t opset);

/// The first opset the table knows `opType` at; 0 when it does not know
/// the op at all.
int64_t opFirstOpset(llvm::StringRef opType);

/// Why a default-domain node contradicts opset `opset`, as the tail of a
/// message ("attribute 'axes' is not allowed at opset 23: ..."), or "" when
/// it fits (or the table does not know the op). `inputs` are the node's
/// input names in order ("" for an omitted optional input); `hasAttribute`
/// answers for the node's attributes.
std::string
opsetSignatureProblem(llvm::StringRef opType, int64_t opset,
                      llvm::ArrayRef<std::string> inputs,
                      llvm::function_ref<bool(llvm::StringRef)> hasAttribute);

/// Whether `opType`'s `name` (axes, split) is an input at `opset`; false
/// when it is an attribute there or the table does not know it.
bool isInputAtOpset(llvm::StringRef opType, llvm::StringRef name,
                    int64_t opset);

/// The newest default-domain opset libonnx 1.12's checker and shape
/// inference know (17): above it, only this table checks a model.
int64_t libonnxCheckedOpset();

} // namespace mrope::onnx

#endif // MROPE_TARGET_ONNX_OPSETSIGNATURES_H
