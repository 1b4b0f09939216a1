//===- OpsetSignatures.cpp - what an ONNX op looks like per opset ---------===//
//
// From the ONNX operator changelog (Operators.md / Changelog.md), opsets 13
// to 26. Entries of one op are in increasing `since` order.
//
//===----------------------------------------------------------------------===//
#include "mrope/Target/Onnx/OpsetSignatures.h"

#include "Libonnx.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"

#include <algorithm>

using namespace mrope::onnx;
using llvm::StringRef;

namespace {

constexpr int kVariadic = -1;

// Attributes that became inputs (or appeared) at some opset.
const MovedAttribute kAxesInput13[] = {
    {"axes", 1, 13, "input 1 since opset 13"}};
const MovedAttribute kSplitInput13[] = {
    {"split", 1, 13, "input 1 since opset 13"},
    {"num_outputs", 18, 0, "an attribute only since opset 18"}};
const MovedAttribute kReduceAxes18[] = {
    {"axes", 1, 18, "input 1 since opset 18"},
    {"noop_with_empty_axes", 18, 0, "an attribute only since opset 18"}};
const MovedAttribute kReduceSum13[] = {
    {"axes", 1, 13, "input 1 since opset 13"}};
const MovedAttribute kSliceInputs[] = {
    {"starts", 1, 10, "input 1 since opset 10"},
    {"ends", 1, 10, "input 2 since opset 10"},
    {"axes", 1, 10, "input 3 since opset 10"}};
const MovedAttribute kReshape[] = {
    {"shape", 1, 5, "input 1 since opset 5"},
    {"allowzero", 14, 0, "an attribute only since opset 14"}};
const MovedAttribute kCast[] = {
    {"saturate", 19, 0, "an attribute only since opset 19"},
    {"round_mode", 25, 0, "an attribute only since opset 25"}};
const MovedAttribute kShape[] = {
    {"start", 15, 0, "an attribute only since opset 15"},
    {"end", 15, 0, "an attribute only since opset 15"}};
const MovedAttribute kPad[] = {{"pads", 1, 11, "input 1 since opset 11"}};
const MovedAttribute kClip[] = {{"min", 1, 11, "input 1 since opset 11"},
                                {"max", 1, 11, "input 2 since opset 11"}};
const StringRef kTo[] = {"to"};
const StringRef kAxis[] = {"axis"};
const StringRef kEquation[] = {"equation"};

#define SIG(op, since, lo, hi, req, moved) {op, since, lo, hi, req, moved}

const OpSignature kSignatures[] = {
    // Axes and sizes: attributes before opset 13 (Reduce*: 18).
    SIG("Unsqueeze", 13, 2, 2, {}, kAxesInput13),
    SIG("Squeeze", 13, 1, 2, {}, kAxesInput13),
    SIG("Split", 13, 1, 2, {}, kSplitInput13),
    SIG("ReduceSum", 13, 1, 2, {}, kReduceSum13),
    SIG("ReduceMean", 13, 1, 1, {}, kReduceAxes18),
    SIG("ReduceMean", 18, 1, 2, {}, kReduceAxes18),
    SIG("ReduceMax", 13, 1, 1, {}, kReduceAxes18),
    SIG("ReduceMax", 18, 1, 2, {}, kReduceAxes18),
    SIG("ReduceMin", 13, 1, 1, {}, kReduceAxes18),
    SIG("ReduceMin", 18, 1, 2, {}, kReduceAxes18),
    SIG("ReduceProd", 13, 1, 1, {}, kReduceAxes18),
    SIG("ReduceProd", 18, 1, 2, {}, kReduceAxes18),
    SIG("ReduceL1", 13, 1, 1, {}, kReduceAxes18),
    SIG("ReduceL1", 18, 1, 2, {}, kReduceAxes18),
    SIG("ReduceL2", 13, 1, 1, {}, kReduceAxes18),
    SIG("ReduceL2", 18, 1, 2, {}, kReduceAxes18),
    SIG("ReduceLogSum", 13, 1, 1, {}, kReduceAxes18),
    SIG("ReduceLogSum", 18, 1, 2, {}, kReduceAxes18),
    SIG("ReduceLogSumExp", 13, 1, 1, {}, kReduceAxes18),
    SIG("ReduceLogSumExp", 18, 1, 2, {}, kReduceAxes18),
    SIG("ReduceSumSquare", 13, 1, 1, {}, kReduceAxes18),
    SIG("ReduceSumSquare", 18, 1, 2, {}, kReduceAxes18),
    SIG("Slice", 13, 3, 5, {}, kSliceInputs),
    SIG("Reshape", 13, 2, 2, {}, kReshape),
    SIG("Pad", 13, 2, 3, {}, kPad),
    SIG("Pad", 18, 2, 4, {}, kPad),
    SIG("Clip", 13, 1, 3, {}, kClip),
    // Fixed arity.
    SIG("Expand", 13, 2, 2, {}, {}),
    SIG("Tile", 13, 2, 2, {}, {}),
    SIG("Gather", 13, 2, 2, {}, {}),
    SIG("GatherElements", 13, 2, 2, {}, {}),
    SIG("GatherND", 13, 2, 2, {}, {}),
    SIG("Concat", 13, 1, kVariadic, kAxis, {}),
    SIG("Range", 13, 3, 3, {}, {}),
    SIG("Cast", 13, 1, 1, kTo, kCast),
    SIG("Einsum", 13, 1, kVariadic, kEquation, {}),
    SIG("MatMul", 13, 2, 2, {}, {}),
    SIG("Mul", 13, 2, 2, {}, {}),
    SIG("Add", 13, 2, 2, {}, {}),
    SIG("Sub", 13, 2, 2, {}, {}),
    SIG("Div", 13, 2, 2, {}, {}),
    SIG("Pow", 13, 2, 2, {}, {}),
    SIG("Neg", 13, 1, 1, {}, {}),
    SIG("Cos", 13, 1, 1, {}, {}),
    SIG("Sin", 13, 1, 1, {}, {}),
    SIG("Identity", 13, 1, 1, {}, {}),
    SIG("Transpose", 13, 1, 1, {}, {}),
    SIG("Flatten", 13, 1, 1, {}, {}),
    SIG("Shape", 13, 1, 1, {}, kShape),
    SIG("ConstantOfShape", 13, 1, 1, {}, {}),
    SIG("Where", 13, 3, 3, {}, {}),
    SIG("Constant", 13, 0, 0, {}, {}),
    SIG("CumSum", 13, 2, 2, {}, {}),
    SIG("ScatterND", 13, 3, 3, {}, {}),
    // Fused RoPE: new at opset 23.
    SIG("RotaryEmbedding", 23, 3, 4, {}, {}),
};

#undef SIG

bool allowedAt(const MovedAttribute &m, int64_t opset) {
  return opset >= m.since && (m.until == 0 || opset < m.until);
}

} // namespace

const OpSignature *mrope::onnx::lookupOpSignature(StringRef opType,
                                                  int64_t opset) {
  const OpSignature *found = nullptr;
  for (const OpSignature &s : kSignatures)
    if (s.opType == opType && s.since <= opset)
      found = &s;
  return found;
}

int64_t mrope::onnx::opFirstOpset(StringRef opType) {
  for (const OpSignature &s : kSignatures)
    if (s.opType == opType)
      return s.since;
  return 0;
}

std::string mrope::onnx::opsetSignatureProblem(
    StringRef opType, int64_t opset, llvm::ArrayRef<std::string> inputs,
    llvm::function_ref<bool(StringRef)> hasAttribute) {
  const OpSignature *sig = lookupOpSignature(opType, opset);
  if (!sig) {
    int64_t first = opFirstOpset(opType);
    // Only ops new after 13 are refused; older ones are simply not listed
    // before 13 (the importer reads opset 13 and newer).
    if (first > 13)
      return (opType + " does not exist at opset " + llvm::Twine(opset) +
              " (it is new in opset " + llvm::Twine(first) + ")")
          .str();
    return "";
  }
  for (const MovedAttribute &m : sig->moved)
    if (!allowedAt(m, opset) && hasAttribute(m.name))
      return ("attribute '" + m.name + "' contradicts the model's opset " +
              llvm::Twine(opset) + " (" + m.name + " is " + m.elsewhere + ")")
          .str();
  for (StringRef name : sig->required)
    if (!hasAttribute(name))
      return ("has no '" + name + "' attribute, which " + opType +
              " needs at opset " + llvm::Twine(opset))
          .str();
  // Trailing omitted inputs do not count.
  size_t given = inputs.size();
  while (given > 0 && inputs[given - 1].empty())
    --given;
  auto arity = [&] {
    if (sig->maxInputs == kVariadic)
      return (llvm::Twine(sig->minInputs) + " or more").str();
    if (sig->minInputs == sig->maxInputs)
      return std::to_string(sig->minInputs);
    return (llvm::Twine(sig->minInputs) + " to " + llvm::Twine(sig->maxInputs))
        .str();
  };
  // The first moved attribute explains a missing input, for the message.
  std::string hint;
  for (const MovedAttribute &m : sig->moved)
    if (!allowedAt(m, opset) && m.elsewhere.starts_with("input")) {
      hint = (" (" + m.name + " is " + m.elsewhere + ")").str();
      break;
    }
  for (int i = 0, e = std::min<int>(sig->minInputs, inputs.size()); i < e; ++i)
    if (inputs[i].empty())
      return ("input " + llvm::Twine(i) + " is omitted, but " + opType +
              " at opset " + llvm::Twine(opset) + " needs it" + hint)
          .str();
  if ((int)given < sig->minInputs ||
      (sig->maxInputs != kVariadic && (int)given > sig->maxInputs))
    return (llvm::Twine(given) + " input(s), but " + opType + " at opset " +
            llvm::Twine(opset) + " takes " + arity() + hint)
        .str();
  return "";
}

bool mrope::onnx::isInputAtOpset(StringRef opType, StringRef name,
                                 int64_t opset) {
  const OpSignature *sig = lookupOpSignature(opType, opset);
  if (!sig)
    return false;
  return llvm::any_of(sig->moved, [&](const MovedAttribute &m) {
    return m.name == name && !allowedAt(m, opset) &&
           m.elsewhere.starts_with("input");
  });
}

int64_t mrope::onnx::libonnxCheckedOpset() { return detail::libonnxMaxOpset(); }
