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
  // Forwarded to convert-rope-to-loops (see its options).
  Option<int64_t> tokensPerBlock{
      *this, "tokens-per-block",
      llvm::cl::desc("tokens whose cos/sin are tabulated together"),
      llvm::cl::init(32)};
  Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes per vector operation (4, 8, 16)"),
      llvm::cl::init(8)};
  Option<bool> nativeF16{
      *this, "native-f16",
      llvm::cl::desc("the target converts f16 <-> f32 in hardware"),
      llvm::cl::init(false)};
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
  mrope::ConvertRopeToLoopsOptions loops;
  loops.tokensPerBlock = options.tokensPerBlock;
  loops.vectorWidth = options.vectorWidth;
  loops.nativeF16 = options.nativeF16;
  pm.addPass(mrope::createConvertRopeToLoops(loops));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // The sequence docs/toolchain.md records as working with MLIR 22
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
