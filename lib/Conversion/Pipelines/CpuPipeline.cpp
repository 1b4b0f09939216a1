//===- CpuPipeline.cpp - rope on tensors -> LLVM dialect ------------------===//
//
// mrope-cpu-pipeline, and the registration of both pipelines.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/Passes.h"
#include "mrope/Conversion/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mrope::buildCpuPipeline(OpPassManager &pm,
                             const CpuPipelineOptions &options) {
  // 3D position ids on tensors become loops over new buffers first.
  pm.addPass(mrope::createConvertRopeIndexToLoops());
  if (options.bufferize) {
    // A tensor.empty that only feeds an insert_slice (a fused loop's KV-cache
    // slot) becomes a view of its destination: the loop writes in place.
    pm.addPass(bufferization::createEmptyTensorEliminationPass());
    bufferization::OneShotBufferizePassOptions bufferize;
    bufferize.bufferizeFunctionBoundaries = true;
    bufferize.functionBoundaryTypeConversion =
        bufferization::LayoutMapOption::IdentityLayoutMap;
    pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  }
  // A token loop tiled as scf.forall runs as scf.for (the C wrapper owns
  // the threads).
  pm.addPass(createForallToForLoopPass());
  // rope.apply first: an RMSNorm fused beside it (linalg ops writing its
  // input) becomes part of its row loop, so each row is read once. Linalg
  // ops it does not absorb become plain loops after it.
  mrope::ConvertRopeToLoopsOptions loops;
  loops.tokensPerBlock = options.tokensPerBlock;
  loops.vectorWidth = options.vectorWidth;
  loops.nativeF16 = options.nativeF16;
  pm.addPass(mrope::createConvertRopeToLoops(loops));
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  // A rope.apply inside a loop (a fused token loop) gets its cos/sin stack
  // tables in the loop body; hoisted out, the stack does not grow by them
  // every iteration (S = 8192 overflowed an 8 MiB stack otherwise).
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferLoopHoistingPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // The sequence docs/toolchain.md records as working with MLIR 22
  // (convert-to-llvm alone leaves vector transfers behind).
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  // Tiled IR has subviews with dynamic offsets; expand-strided-metadata
  // computes them with affine.apply, so lower-affine must follow it, and the
  // arith it produces must still be converted.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mrope::registerConversionPipelines() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "mrope-cpu-pipeline",
      "Lower rope ops (on tensors or memrefs) to the LLVM dialect: "
      "bufferize, fused vector loops, then the standard conversions",
      buildCpuPipeline);
  PassPipelineRegistration<GpuPipelineOptions>(
      "mrope-gpu-pipeline",
      "Lower rope ops to an NVVM kernel serialized to PTX: bufferize, "
      "convert-rope-to-gpu, outlining, convert-gpu-to-nvvm, "
      "gpu-module-to-binary",
      buildGpuPipeline);
}
