//===- Pipelines.h - the fix as one pass pipeline ---------------*- C++ -*-===//
//
// `mrope-fix-pipeline`: rope-raise -> rope-fix -> convert-rope-to-onnx, what
// `mrope-fix -o` runs on an imported model (runFix, mrope/Fix/RunFix.h,
// then re-analyses the result as a separate check). Registered by
// registerAllPasses.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_TRANSFORMS_PIPELINES_H
#define MROPE_TRANSFORMS_PIPELINES_H

#include "mrope/Transforms/FixModes.h"
#include "mrope/Transforms/FixSites.h"
#include "mrope/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <memory>
#include <string>

namespace mrope {

struct FixPipelineOptions : mlir::PassPipelineOptions<FixPipelineOptions> {
  Option<Arch> arch{
      *this, "arch", llvm::cl::desc("What the model is"),
      llvm::cl::init(Arch::Auto),
      llvm::cl::values(clEnumValN(Arch::Auto, "auto", ""),
                       clEnumValN(Arch::Qwen2VL, "qwen2-vl", ""),
                       clEnumValN(Arch::Qwen25VL, "qwen2.5-vl", ""),
                       clEnumValN(Arch::Qwen3VL, "qwen3-vl", ""),
                       clEnumValN(Arch::Qwen35, "qwen3.5", ""),
                       clEnumValN(Arch::Qwen25Omni, "qwen2.5-omni", ""),
                       clEnumValN(Arch::Qwen3Omni, "qwen3-omni", ""),
                       clEnumValN(Arch::Glm4v, "glm4v", ""),
                       clEnumValN(Arch::Text, "text", ""))};
  ListOption<int64_t> sections{
      *this, "sections",
      llvm::cl::desc("M-RoPE sections for 1D sites (default: the "
                     "architecture's, scaled)")};
  Option<PositionsMode> positions{
      *this, "positions",
      llvm::cl::desc("input ([3, batch, seq] graph input) or compute "
                     "(rope.mrope_index from the token ids and grids)"),
      llvm::cl::init(PositionsMode::Input),
      llvm::cl::values(clEnumValN(PositionsMode::Input, "input", ""),
                       clEnumValN(PositionsMode::Compute, "compute", ""))};
  Option<EmitMode> emit{
      *this, "emit",
      llvm::cl::desc("what rope.apply becomes: plain, ort or onnx23"),
      llvm::cl::init(EmitMode::Plain),
      llvm::cl::values(clEnumValN(EmitMode::Plain, "plain", ""),
                       clEnumValN(EmitMode::Ort, "ort", ""),
                       clEnumValN(EmitMode::Onnx23, "onnx23", ""))};
};

/// What rope-fix did in a pipeline, typed: the same changes and notes its
/// remarks say, one FixResult per graph, for callers that build the
/// pipeline (runFix, the HTML report) instead of reading remarks.
struct FixPipelineResult {
  std::vector<FixResult> graphs;
};

/// Adds rope-raise, rope-fix and convert-rope-to-onnx (new names prefixed
/// `mrope_fix`) to `pm` (on the module). When `result` is given, rope-fix
/// appends what it did there (it must outlive the pass manager's run).
void buildFixPipeline(mlir::OpPassManager &pm,
                      const FixPipelineOptions &options,
                      FixPipelineResult *result = nullptr);

/// rope-fix with its options, appending to `result` (null: remarks only).
std::unique_ptr<mlir::Pass> createRopeFixPass(const RopeFixOptions &options,
                                              FixPipelineResult *result);

/// Registers `mrope-fix-pipeline`.
void registerFixPipeline();

} // namespace mrope

#endif // MROPE_TRANSFORMS_PIPELINES_H
