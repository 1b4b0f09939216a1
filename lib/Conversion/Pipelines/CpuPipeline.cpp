//===- CpuPipeline.cpp - rope on tensors -> LLVM dialect ------------------===//
#include "mrope/Conversion/Passes.h"
#include "mrope/Conversion/RopeToGPU/RopeToGPU.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace {
struct CpuPipelineOptions : PassPipelineOptions<CpuPipelineOptions> {
  Option<bool> bufferize{*this, "bufferize",
                         llvm::cl::desc("Bufferize tensor functions first "
                                        "(function boundaries included)"),
                         llvm::cl::init(true)};
};

void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options) {
  // 3D position ids on tensors become loops over new buffers first.
  pm.addPass(mrope::createConvertRopeIndexToLoops());
  if (options.bufferize) {
    bufferization::OneShotBufferizePassOptions bufferize;
    bufferize.bufferizeFunctionBoundaries = true;
    bufferize.functionBoundaryTypeConversion =
        bufferization::LayoutMapOption::IdentityLayoutMap;
    pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  }
  pm.addPass(mrope::createConvertRopeToLoops());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // The sequence toolchain.md records as working with MLIR 22
  // (convert-to-llvm alone leaves vector transfers behind).
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}
} // namespace

void mrope::registerConversionPipelines() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "mrope-cpu-pipeline",
      "Lower rope ops (on tensors or memrefs) to the LLVM dialect: "
      "bufferize, fused vector loops, then the standard conversions",
      buildCpuPipeline);
  registerGpuPipeline(); // GpuPipeline.cpp
}
