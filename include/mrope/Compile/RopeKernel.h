//===- RopeKernel.h - the kernel one rope.apply describes -------*- C++ -*-===//
//
// The one path from a rotation to a compiled kernel: a `rope.apply` (raised
// from a model by rope-raise, or a template built from flags) says what is
// rotated; RopeKernel reads that and adds only how the kernel is packaged
// (C name, storage order, block size). The CPU and GPU compilers take a
// RopeKernel and nothing else.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_COMPILE_ROPEKERNEL_H
#define MROPE_COMPILE_ROPEKERNEL_H

#include "mrope/Dialect/Rope/IR/RopeAttrs.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

#include "llvm/ADT/SmallVector.h"

#include <string>

namespace mrope {

/// How a kernel is packaged; nothing here changes what it computes.
struct KernelOptions {
  std::string name = "mrope_rope"; ///< the C function (a C identifier)
  /// Storage of q and k: "bhsd" ([B, H, S, D], after the head transpose, as
  /// Hugging Face applies RoPE) or "bshd" ([B, S, H * D], before it: ONNX
  /// Runtime, GenAI, vLLM). CPU only.
  std::string tensorLayout = "bhsd";
  /// Tokens per cos/sin block of the CPU kernel; 0: from the L2 size. (The
  /// GPU's tokens per thread block are GpuTarget's.)
  int64_t tokensPerBlock = 0;
};

/// A fused rotation of q (and k) in place, as one rope.apply says it.
struct RopeKernel {
  KernelOptions options;
  rope::SemanticsAttr semantics;
  /// The op's frequency table, exact bits; empty: recomputed from theta.
  llvm::SmallVector<float> invFreq;
  mlir::Type elementType; ///< f32, f16 or bf16 storage (math in f32)
  int64_t headDim = 0;
  int64_t qHeads = 0;  ///< 0: any number, read at run time
  int64_t kvHeads = 0; ///< 0: any number; -1: no second tensor (q only)

  /// Reads `apply` (on tensors or memrefs). Fails, saying why in `error`,
  /// when the op says something the kernel ABI cannot take: more than two
  /// rotated tensors, an element type other than f32/f16/bf16, a head dim
  /// not known statically, a frequency table that is not a constant.
  static mlir::FailureOr<RopeKernel>
  fromApply(rope::ApplyOp apply, KernelOptions options, std::string &error);

  int64_t numTensors() const { return kvHeads < 0 ? 1 : 2; }
  int64_t numAxes() const { return semantics.getNumAxes(); }
  bool tokenMajor() const { return options.tensorLayout == "bshd"; }
  /// "f32", "f16" or "bf16".
  std::string dtype() const;
  /// Checks the packaging options; the message names the flag.
  mlir::LogicalResult verify(std::string &error) const;
};

/// What a kernel built from flags rotates (the flags' defaults).
struct TemplateRotation {
  rope::SemanticsAttr semantics;
  mlir::Type elementType;
  int64_t headDim = 128;
  int64_t qHeads = 0;  ///< 0: dynamic
  int64_t kvHeads = 0; ///< 0: dynamic; -1: q only
};

/// `func.func @rope_template(q, [k,] positions)` on tensors holding the one
/// `rope.apply` a raised model would have for `rotation` (heads and batch x
/// seq dynamic unless given), so that flag-driven compiles take the same
/// path as compiles of a model's site. Verified: a bad combination (rotary
/// dim above the head dim, ...) gives null and the verifier's message.
mlir::OwningOpRef<mlir::ModuleOp>
buildTemplateApply(mlir::MLIRContext &ctx, const TemplateRotation &rotation,
                   std::string &error);

/// The one rope.apply of a module built by buildTemplateApply.
rope::ApplyOp getTemplateApply(mlir::ModuleOp module);

/// The kernel as MLIR before lowering: `func.func @<funcName>(q, [k,]
/// positions)` rotating its memrefs in place with one rope.apply (reading
/// `kernel.invFreq` from a constant global when there is one). `strided`:
/// fully dynamic strides (the CPU wrapper views token slices), else
/// identity layouts (the GPU's contiguous tensors).
mlir::OwningOpRef<mlir::ModuleOp>
buildRopeKernelModule(mlir::MLIRContext &ctx, const RopeKernel &kernel,
                      llvm::StringRef funcName, bool strided);

} // namespace mrope

#endif // MROPE_COMPILE_ROPEKERNEL_H
