//===- GpuPipeline.cpp - rope -> gpu kernel -> NVVM -> PTX ----------------===//
//
// mrope-gpu-pipeline: bufferize (optional), convert-rope-to-gpu, outline the
// kernels, lower them to NVVM and serialize them with gpu-module-to-binary
// (PTX by default: LLVM's NVPTX backend alone, no CUDA toolkit needed).
// The host side keeps gpu.launch_func on memrefs: Debian ships no
// libmlir_cuda_runtime, so the kernels are run by tools/mrope-cuda-launch
// (CUDA driver API), not by mlir-runner.
//
// The PTX-version trap (docs/toolchain.md): the upstream
// gpu-lower-to-nvvm-pipeline asks for +ptx60, which the NVPTX backend rejects
// for sm_90; this pipeline defaults to +ptx80 (CUDA 12.0+ drivers), valid for
// sm_80 and sm_90.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/Pipelines.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace {
/// Does nothing; its dependent "dialects" register the LLVM IR translations
/// gpu-module-to-binary needs (gpu, nvvm, llvm, builtin), which a tool that
/// only calls registerAllDialects/registerAllExtensions (mrope-opt) lacks:
/// without them serialization fails with "missing
/// LLVMTranslationDialectInterface registration ... gpu.module".
struct RegisterGpuTranslationsPass
    : PassWrapper<RegisterGpuTranslationsPass, OperationPass<>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RegisterGpuTranslationsPass)
  StringRef getArgument() const override {
    return "mrope-register-gpu-translations";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registerAllGPUToLLVMIRTranslations(registry);
  }
  void runOnOperation() override {}
};

} // namespace

void mrope::buildGpuPipeline(OpPassManager &pm,
                             const GpuPipelineOptions &options) {
  pm.addPass(std::make_unique<RegisterGpuTranslationsPass>());
  std::string text;
  llvm::raw_string_ostream os(text);
  if (options.bufferize)
    os << "one-shot-bufferize{bufferize-function-boundaries "
          "function-boundary-type-conversion=identity-layout-map},";
  os << llvm::formatv("convert-rope-to-gpu{{tokens-per-block={0} "
                      "freqs-per-thread={1} heads-per-iteration={2}},",
                      options.tokensPerBlock.getValue(),
                      options.freqsPerThread.getValue(),
                      options.headsPerIteration.getValue());
  // Sinking before outlining keeps constants inside the kernel instead of
  // turning them into kernel parameters; symbol-dce drops the host copies of
  // the tables outlining cloned into the gpu.module.
  os << "gpu-launch-sink-index-computations,gpu-kernel-outlining,symbol-dce,";
  os << llvm::formatv("nvvm-attach-target{{chip={0} features={1} O={2}},",
                      options.chip.getValue(), options.features.getValue(),
                      options.optLevel.getValue());
  os << "gpu.module(convert-scf-to-cf,convert-gpu-to-nvvm,canonicalize,cse,"
        "reconcile-unrealized-casts)";
  if (options.serialize)
    os << ",gpu-module-to-binary{format=" << options.format.getValue() << "}";
  std::string error;
  llvm::raw_string_ostream errorStream(error);
  if (failed(parsePassPipeline(text, pm, errorStream)))
    llvm::report_fatal_error(llvm::Twine("mrope-gpu-pipeline: ") + error);
}
