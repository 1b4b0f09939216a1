//===- EvalMatMul.cpp - the evaluator's MatMul and Einsum
//-------------------===//
//
// MatMul with batch broadcasting, and the Einsum equations exporters write
// for outer products and batched products.
//
//===----------------------------------------------------------------------===//
#include "EvalNode.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mrope::eval;
using namespace mrope::eval::detail;
using Kind = Tensor::Kind;

const Tensor *NodeEval::evalMatMul() {
  // Both as einsum over letters; MatMul: "...ik,...kj->...ij" with
  // batch dims broadcast (1D operands promoted as numpy does).
  SmallVector<const Tensor *> ops;
  for (unsigned k = 0; k < op->getNumOperands(); ++k) {
    const Tensor *p = arg(k, needData);
    if (!p)
      return nullptr;
    ops.push_back(p);
  }
  SmallVector<Tensor> expanded; // MatMul's operands, batch dims broadcast
  SmallVector<std::string> terms;
  std::string outTerm;
  SmallVector<SmallVector<int64_t>> shapes;
  for (const Tensor *p : ops)
    shapes.push_back(p->shape);
  if (name == "MatMul") {
    if (ops.size() != 2 || shapes[0].empty() || shapes[1].empty()) {
      fail(op, "needs two operands of rank 1 or more");
      return nullptr;
    }
    bool aVec = shapes[0].size() == 1, bVec = shapes[1].size() == 1;
    SmallVector<int64_t> a = shapes[0], b = shapes[1];
    if (aVec)
      a.insert(a.begin(), 1);
    if (bVec)
      b.push_back(1);
    auto batch = broadcast(ArrayRef<int64_t>(a).drop_back(2),
                           ArrayRef<int64_t>(b).drop_back(2));
    if (!batch || a.back() != b[b.size() - 2]) {
      fail(op, "operand shapes do not multiply");
      return nullptr;
    }
    // Broadcast the batch dims explicitly (copies; the tensors are small).
    std::string bl;
    for (size_t d = 0; d < batch->size(); ++d)
      bl += char('A' + d);
    SmallVector<int64_t> sa(*batch), sb(*batch);
    sa.append({a[a.size() - 2], a.back()});
    sb.append({b[b.size() - 2], b.back()});
    terms = {bl + "ik", bl + "kj"};
    outTerm = bl + (aVec ? "" : "i") + (bVec ? "" : "j");
    shapes = {sa, sb};
    // Reshape/broadcast the operand data to those shapes.
    SmallVector<SmallVector<int64_t>> orig = {a, b};
    if (needData && ops[0]->hasData && ops[1]->hasData) {
      for (int k = 0; k < 2; ++k) {
        Tensor r = *ops[k];
        r.shape = orig[k];
        expanded.push_back(
            gatherFlat(r, shapes[k], broadcastIndex(r.shape, shapes[k])));
      }
    }
    // Evaluate through the generic path below with these operands.
    ops.clear();
    if (!expanded.empty())
      ops = {&expanded[0], &expanded[1]};
  } else {
    std::optional<StringRef> eq = op.getStringAttr("equation");
    if (!eq) {
      fail(op, "has no equation");
      return nullptr;
    }
    std::string e;
    for (char ch : *eq)
      if (ch != ' ')
        e += ch;
    if (e.find('.') != std::string::npos) {
      fail(op, "equations with '...' are not evaluated");
      return nullptr;
    }
    size_t arrow = e.find("->");
    if (arrow == std::string::npos) {
      fail(op, "implicit-output equations are not evaluated");
      return nullptr;
    }
    outTerm = e.substr(arrow + 2);
    for (StringRef term : llvm::split(StringRef(e).take_front(arrow), ','))
      terms.push_back(term.str());
    if (terms.size() != shapes.size()) {
      fail(op, "equation and operands disagree");
      return nullptr;
    }
  }
  // Letter sizes.
  int64_t size[128];
  std::fill(std::begin(size), std::end(size), -1);
  for (auto [term, shape] : llvm::zip(terms, shapes)) {
    if (term.size() != shape.size()) {
      fail(op, "equation and operand ranks disagree");
      return nullptr;
    }
    for (auto [ch, d] : llvm::zip(term, shape)) {
      int64_t &s = size[(unsigned char)ch & 127];
      if (s != -1 && s != d) {
        fail(op, "a letter has two sizes");
        return nullptr;
      }
      s = d;
    }
  }
  SmallVector<int64_t> outShape;
  for (char ch : outTerm) {
    if (size[(unsigned char)ch & 127] < 0) {
      fail(op, "an output letter is not in any input");
      return nullptr;
    }
    outShape.push_back(size[(unsigned char)ch & 127]);
  }
  bool data = needData && !ops.empty() &&
              llvm::all_of(ops, [](const Tensor *p) { return p->hasData; });
  Tensor t;
  t.kind = Kind::F32;
  t.shape = outShape;
  t.hasData = data;
  if (!data)
    return one(std::move(t));
  if (!llvm::all_of(ops, [](const Tensor *p) { return p->isFloat(); })) {
    fail(op, "needs float operands");
    return nullptr;
  }
  std::string letters;
  for (const std::string &term : terms)
    for (char ch : term)
      if (letters.find(ch) == std::string::npos &&
          outTerm.find(ch) == std::string::npos)
        letters += ch;
  std::string all = outTerm + letters;
  SmallVector<int64_t> dims;
  int64_t total = 1;
  for (char ch : all) {
    dims.push_back(size[(unsigned char)ch & 127]);
    total *= dims.back();
  }
  if (total > maxElements * 16) {
    fail(op, "too much work to evaluate");
    return nullptr;
  }
  int64_t outN = t.numElements(), inner = total / std::max<int64_t>(outN, 1);
  t.f.assign(outN, 0.f);
  SmallVector<SmallVector<int64_t>> strideOf; // per operand, per `all` pos
  for (auto [term, shape] : llvm::zip(terms, shapes)) {
    SmallVector<int64_t> st = stridesOf(shape), per(all.size(), 0);
    for (size_t d = 0; d < term.size(); ++d)
      per[all.find(term[d])] += st[d];
    strideOf.push_back(per);
  }
  SmallVector<int64_t> pos(all.size(), 0);
  for (int64_t o = 0; o < outN; ++o) {
    float acc = 0.f;
    for (int64_t r = 0; r < inner; ++r) {
      float prod = 1.f;
      for (size_t k = 0; k < ops.size(); ++k) {
        int64_t src = 0;
        for (size_t d = 0; d < all.size(); ++d)
          src += pos[d] * strideOf[k][d];
        prod = k ? prod * ops[k]->f[src] : ops[k]->f[src];
      }
      acc = r ? acc + prod : prod;
      for (int64_t d = (int64_t)all.size() - 1; d >= (int64_t)outTerm.size();
           --d) {
        if (++pos[d] < dims[d])
          break;
        pos[d] = 0;
      }
    }
    t.f[o] = acc;
    for (int64_t d = (int64_t)outTerm.size() - 1; d >= 0; --d) {
      if (++pos[d] < dims[d])
        break;
      pos[d] = 0;
    }
  }
  return one(std::move(t));
}
