//===- RaisedSite.cpp - the rope.apply rope-raise made of a site ----------===//
#include "mrope/Compile/RaisedSite.h"

#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/RopeSites.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Fix/RunFix.h"
#include "mrope/Transforms/Passes.h"
#include "mrope/Transforms/RopeRaise.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

#include <algorithm>
#include <map>

using namespace mlir;
using namespace mrope;

static SmallVector<rope::ApplyOp> appliesOfSite(ModuleOp module, int64_t site) {
  SmallVector<rope::ApplyOp> ops;
  module.walk([&](rope::ApplyOp op) {
    if (raisedSiteIndex(op) == site)
      ops.push_back(op);
  });
  return ops;
}

FailureOr<SmallVector<rope::ApplyOp>>
mrope::raiseSite(ModuleOp module, int64_t site, std::string &error) {
  bool raised = false;
  module.walk(
      [&](rope::ApplyOp op) { raised |= raisedSiteIndex(op).has_value(); });
  if (raised) {
    // Already through rope-raise (an .mlir file from mrope-opt).
    SmallVector<rope::ApplyOp> ops = appliesOfSite(module, site);
    if (ops.empty())
      error = "no rope.apply has " + kRaisedSiteAttr.str() + " = " +
              std::to_string(site);
    return ops.empty() ? FailureOr<SmallVector<rope::ApplyOp>>(failure())
                       : FailureOr<SmallVector<rope::ApplyOp>>(ops);
  }

  onnx::GraphOp graph = onnx::getMainGraph(module);
  if (!graph) {
    error = "no onnx.graph @main";
    return failure();
  }
  // The sites as rope-raise numbers them, to name the one asked for.
  std::vector<RopeSite> sites = findRopeSites(graph, Arch::Auto);
  if (site < 0 || site >= static_cast<int64_t>(sites.size())) {
    error = "--site " + std::to_string(site) + " but the model has " +
            std::to_string(sites.size()) + " RoPE site(s)";
    return failure();
  }
  std::string label = nodeLabel(sites[site].cosNode);

  // Which sites rope-raise leaves alone, and why, typed by site index
  // (runWatchingRaise): no remark text is matched.
  std::map<int64_t, std::string> notRaised;
  std::string diagnostics;
  PassManager pm(module.getContext());
  pm.addPass(createRopeRaise());
  LogicalResult ran = success();
  {
    ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
      diagnostics += (diagnostics.empty() ? "" : "; ") + d.str();
      return success();
    });
    ran = runWatchingRaise(pm, module, notRaised);
  }
  if (failed(ran)) {
    error = "rope-raise failed: " + diagnostics;
    return failure();
  }
  SmallVector<rope::ApplyOp> ops = appliesOfSite(module, site);
  if (!ops.empty())
    return ops;
  // One line: the remark names the node and says why.
  std::string why = notRaised.count(site) ? notRaised[site] : "";
  std::replace(why.begin(), why.end(), '\n', ' ');
  error = "site " + std::to_string(site) + " was not raised to rope.apply (" +
          (why.empty()
               ? "rope-raise left " + label + " as it was and gave no reason"
               : why) +
          ")";
  return failure();
}

FailureOr<double> mrope::fusedNormEps(ArrayRef<rope::ApplyOp> ops,
                                      std::string &error) {
  std::optional<double> eps;
  for (rope::ApplyOp op : ops) {
    auto norms = op->getAttrOfType<ArrayAttr>(kRaisedNormsAttr);
    auto writes = op->getAttrOfType<ArrayAttr>(kRaisedCacheWritesAttr);
    if (op->getNumResults() != 2) {
      error = "the fused kernel rotates q and k together; a rope.apply of "
              "one tensor has no k to write to a cache";
      return failure();
    }
    const char *names[] = {"q", "k"};
    for (unsigned i = 0; i < 2; ++i) {
      const char *name = names[i];
      auto norm = norms && i < norms.size() ? dyn_cast<DictionaryAttr>(norms[i])
                                            : DictionaryAttr();
      auto value =
          norm ? dyn_cast_or_null<FloatAttr>(norm.get("eps")) : FloatAttr();
      if (!value) {
        error = std::string("--fuse norm needs an RMSNorm over the head dim "
                            "before ") +
                name + "; rope-raise found none";
        return failure();
      }
      if (eps && *eps != value.getValueAsDouble()) {
        error = "--fuse norm needs one RMSNorm epsilon; the site's norms use "
                "several";
        return failure();
      }
      eps = value.getValueAsDouble();
    }
    auto write = writes && writes.size() == 2
                     ? dyn_cast<DictionaryAttr>(writes[1])
                     : DictionaryAttr();
    if (!write || write.empty()) {
      error = "--fuse cache needs k appended to a KV cache after the "
              "rotation; rope-raise found no such Concat";
      return failure();
    }
  }
  if (!eps) {
    error = "the site has no rope.apply";
    return failure();
  }
  return *eps;
}
