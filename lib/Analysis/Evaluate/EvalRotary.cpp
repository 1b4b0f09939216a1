//===- EvalRotary.cpp - the evaluator's fused rotary ops
//--------------------===//
//
// com.microsoft.RotaryEmbedding / MRotaryEmbedding and RotaryEmbedding-23.
//
//===----------------------------------------------------------------------===//
#include "EvalNode.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mrope::eval;
using namespace mrope::eval::detail;
using Kind = Tensor::Kind;
using mrope::onnx::NodeOp;

namespace {

/// The fused rotary ops: com.microsoft.RotaryEmbedding (x, position_ids
/// [B, S] or a [1] offset, cos, sin), com.microsoft.MRotaryEmbedding (x,
/// position_ids [3, B, S], cos, sin; frequency i reads row axis(i) of the
/// positions) and RotaryEmbedding-23 (x, cos, sin, position_ids?; without
/// positions the caches are per token, [B, S, F]). x is [B, S, hidden]
/// (heads of `num_heads`, or of 2 * the cache width when 0) or
/// [B, N, S, H]; the first `rotary_embedding_dim` channels of each head
/// (all by default) are rotated, as rotate-half or GPT-J pairs
/// (`interleaved`): out1 = x1 * cos - x2 * sin, out2 = x2 * cos + x1 *
/// sin, in float32 as ONNX Runtime computes them. Fails with a reason.
std::optional<Tensor> rotaryEmbedding(NodeOp op, bool mrope, bool onnx23,
                                      const Tensor &x, const Tensor *pos,
                                      const Tensor &cos, const Tensor &sin,
                                      std::string &why) {
  int64_t rank = x.shape.size();
  int64_t numHeads = op.getIntAttr("num_heads").value_or(0);
  int64_t rotaryDim = op.getIntAttr("rotary_embedding_dim").value_or(0);
  bool gptj = op.getIntAttr("interleaved").value_or(0) != 0;
  if (op.getIntAttr("is_packed_batching").value_or(0) ||
      op.getFloatAttr("scale").value_or(1.0f) != 1.0f) {
    why = "packed batching and scale are not evaluated";
    return std::nullopt;
  }
  if ((rank != 3 && rank != 4) || cos.shape != sin.shape || !x.isFloat() ||
      !cos.isFloat() || !sin.isFloat() || cos.shape.empty()) {
    why = "x is not [B, S, hidden] or [B, N, S, H] floats, or the caches "
          "differ";
    return std::nullopt;
  }
  int64_t batch = x.shape[0], seq = rank == 3 ? x.shape[1] : x.shape[2];
  int64_t width = cos.shape.back(), heads, head;
  if (rank == 4) {
    heads = x.shape[1];
    head = x.shape[3];
  } else {
    head = numHeads > 0 ? x.shape[2] / numHeads : 2 * width;
    heads = head > 0 ? x.shape[2] / head : 0;
  }
  if (rotaryDim == 0)
    rotaryDim = head;
  int64_t half = rotaryDim / 2;
  if (head <= 0 || (rank == 3 && heads * head != x.shape[2]) || rotaryDim % 2 ||
      rotaryDim > head || half > width) {
    why = "heads, head size and rotary dim do not fit x and the caches";
    return std::nullopt;
  }
  // Per-token caches (RotaryEmbedding-23 without position_ids): [B, S, F].
  bool perToken = onnx23 && !pos;
  if (perToken ? cos.shape.size() != 3 || cos.shape[0] != batch ||
                     cos.shape[1] != seq
               : cos.shape.size() != 2) {
    why = "the caches are not [max_position, F] (or [B, S, F] without "
          "position_ids)";
    return std::nullopt;
  }
  SmallVector<int64_t> sections;
  bool interleaved = false;
  if (mrope) {
    if (auto s = op.getIntsAttr("mrope_section"))
      sections = *s;
    interleaved = op.getIntAttr("mrope_layout").value_or(0) == 1;
    int64_t sum = 0;
    for (int64_t v : sections)
      sum += v;
    if (sum != half || !pos || pos->shape.size() != 3 ||
        pos->shape[0] != (int64_t)sections.size() || pos->shape[1] != batch ||
        pos->shape[2] != seq) {
      why = "mrope_section does not sum to rotary_dim / 2, or the positions "
            "are not [sections, B, S]";
      return std::nullopt;
    }
  } else if (pos && !(pos->numElements() == 1 ||
                      (pos->shape.size() == 2 && pos->shape[0] == batch &&
                       pos->shape[1] == seq))) {
    why = "position_ids are not [B, S] or a [1] offset";
    return std::nullopt;
  }
  int64_t rows = perToken ? 0 : cos.shape[0];
  Tensor out = x;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s)
      for (int64_t i = 0; i < half; ++i) {
        int64_t at;
        if (perToken) {
          at = (b * seq + s) * width + i;
        } else {
          int64_t axis = mrope ? mropeAxisOf(sections, interleaved, i) : 0;
          int64_t p = !mrope && pos->numElements() == 1
                          ? pos->asInt(0) + s
                          : pos->asInt((axis * batch + b) * seq + s);
          if (p < 0 || p >= rows) {
            why = "position " + std::to_string(p) + " is outside the caches' " +
                  std::to_string(rows) + " rows";
            return std::nullopt;
          }
          at = p * width + i;
        }
        float c = cos.f[at], sn = sin.f[at];
        for (int64_t n = 0; n < heads; ++n) {
          int64_t base = rank == 3 ? (b * seq + s) * heads * head + n * head
                                   : ((b * heads + n) * seq + s) * head;
          int64_t i1 = base + (gptj ? 2 * i : i),
                  i2 = base + (gptj ? 2 * i + 1 : i + half);
          float x1 = x.f[i1], x2 = x.f[i2];
          out.f[i1] = x1 * c - x2 * sn;
          out.f[i2] = x2 * c + x1 * sn;
        }
      }
  return out;
}

} // namespace

// Fused rotary ops: the rotation of x by its caches at its positions.
const Tensor *NodeEval::evalRotary() {
  bool onnx23 = !msRotary;
  unsigned posAt = onnx23 ? 3 : 1, cosAt = onnx23 ? 1 : 2;
  const Tensor *x = arg(0, needData);
  if (!x)
    return nullptr;
  if (!needData || !x->hasData)
    return one(like(*x, x->shape, false));
  const Tensor *cos = arg(cosAt, true);
  const Tensor *sin = cos ? arg(cosAt + 1, true) : nullptr;
  const Tensor *pos = nullptr;
  if (sin && input(posAt))
    pos = arg(posAt, true);
  if (!sin || (input(posAt) && !pos))
    return nullptr;
  if (!onnx23 && !pos) {
    fail(op, "position_ids are missing");
    return nullptr;
  }
  std::string why;
  std::optional<Tensor> out = rotaryEmbedding(op, name == "MRotaryEmbedding",
                                              onnx23, *x, pos, *cos, *sin, why);
  if (!out) {
    fail(op, why);
    return nullptr;
  }
  return one(std::move(*out));
}
