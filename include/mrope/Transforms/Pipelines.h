//===- Pipelines.h - the fix as one pass pipeline ---------------*- C++ -*-===//
//
// `mrope-fix-pipeline`: rope-raise -> rope-fix -> convert-rope-to-onnx, what
// `mrope-fix -o` runs on an imported model (the tool then re-analyses the
// result as a separate check). Registered by registerAllPasses.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_TRANSFORMS_PIPELINES_H
#define MROPE_TRANSFORMS_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mrope {

struct FixPipelineOptions : mlir::PassPipelineOptions<FixPipelineOptions> {
  Option<std::string> arch{
      *this, "arch",
      llvm::cl::desc("auto, qwen2-vl, qwen2.5-vl, qwen3-vl or text"),
      llvm::cl::init("auto")};
  ListOption<int64_t> sections{
      *this, "sections",
      llvm::cl::desc("M-RoPE sections for 1D sites (default: the "
                     "architecture's, scaled)")};
  Option<std::string> positions{
      *this, "positions",
      llvm::cl::desc("input ([3, batch, seq] graph input) or compute "
                     "(rope.mrope_index from the token ids and grids)"),
      llvm::cl::init("input")};
  Option<std::string> emit{
      *this, "emit",
      llvm::cl::desc("what rope.apply becomes: plain, ort or onnx23"),
      llvm::cl::init("plain")};
};

/// Adds rope-raise, rope-fix and convert-rope-to-onnx (new names prefixed
/// `mrope_fix`) to `pm` (on the module).
void buildFixPipeline(mlir::OpPassManager &pm,
                      const FixPipelineOptions &options);

/// Registers `mrope-fix-pipeline`.
void registerFixPipeline();

} // namespace mrope

#endif // MROPE_TRANSFORMS_PIPELINES_H
