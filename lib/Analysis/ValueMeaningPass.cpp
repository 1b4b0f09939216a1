//===- ValueMeaningPass.cpp - rope-print-meaning --------------------------===//
#include "mrope/Analysis/ValueMeaningPass.h"

#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/ValueMeaning.h"

#include "llvm/Support/raw_ostream.h"

namespace mrope {
#define GEN_PASS_DEF_ROPEPRINTMEANING
#include "mrope/Analysis/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;
using namespace mrope::meaning;

namespace {

struct RopePrintMeaningPass
    : mrope::impl::RopePrintMeaningBase<RopePrintMeaningPass> {
  void runOnOperation() override {
    raw_ostream &os = llvm::outs();
    WalkResult walked = getOperation().walk([&](onnx::GraphOp graph) {
      ValueMeanings meanings(graph);
      if (!meanings.ok()) {
        graph.emitError("the value-meaning analysis did not converge");
        return WalkResult::interrupt();
      }
      os << "graph @" << graph.getSymName() << "\n";
      for (BlockArgument arg : graph.getBodyBlock().getArguments()) {
        os << "meaning " << describeValue(arg) << ": ";
        meanings.lookup(arg).print(os);
        os << "\n";
      }
      graph.getBodyBlock().walk([&](onnx::NodeOp node) {
        for (auto [i, result] : llvm::enumerate(node->getResults())) {
          os << "meaning " << node.getOpType() << " node " << nodeLabel(node)
             << " #" << i << ": ";
          meanings.lookup(result).print(os);
          os << "\n";
        }
      });
      return WalkResult::advance();
    });
    if (walked.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
