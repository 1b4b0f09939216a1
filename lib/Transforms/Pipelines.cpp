//===- Pipelines.cpp - the fix as one pass pipeline -----------------------===//
#include "mrope/Transforms/Pipelines.h"

#include "mrope/Conversion/Passes.h"
#include "mrope/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void mrope::buildFixPipeline(OpPassManager &pm,
                             const FixPipelineOptions &options,
                             FixPipelineResult *result) {
  // Every site the analysis can express becomes rope.apply; the rest stay
  // ONNX nodes with a remark (rope-fix falls back to their tables).
  pm.addPass(createRopeRaise());
  RopeFixOptions fix;
  fix.arch = options.arch;
  fix.sections.assign(options.sections.begin(), options.sections.end());
  fix.positions = options.positions;
  pm.addPass(createRopeFixPass(fix, result));
  ConvertRopeToOnnxOptions lower;
  lower.prefix = "mrope_fix";
  lower.emit = options.emit;
  pm.addPass(createConvertRopeToOnnx(lower));
}

void mrope::registerFixPipeline() {
  PassPipelineRegistration<FixPipelineOptions>(
      "mrope-fix-pipeline",
      "Fix the Qwen2-VL positions bug in an imported ONNX model: rope-raise, "
      "rope-fix, convert-rope-to-onnx",
      [](OpPassManager &pm, const FixPipelineOptions &options) {
        buildFixPipeline(pm, options);
      });
}
