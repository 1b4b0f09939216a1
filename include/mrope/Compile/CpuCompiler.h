//===- CpuCompiler.h - rope kernels -> shared library with a C ABI -*- C++ -*-===//
//
// What `mrope-compile --target cpu` and `mrope-bench` share: build the kernel
// module for a rotation described by flags, lower it with
// mrope-cpu-pipeline, emit an object with LLVM for the host CPU and link it
// with a small generated C wrapper (threads over tokens, plain pointers)
// into a shared library, plus a header describing its one function.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_COMPILE_CPUCOMPILER_H
#define MROPE_COMPILE_CPUCOMPILER_H

#include "mrope/Dialect/Rope/IR/RopeAttrs.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace mrope {

/// One fused rotation of q (and k) by positions, as the kernel flags say.
struct KernelSpec {
  std::string name = "mrope_rope";
  std::vector<int64_t> sections = {16, 24, 24};
  int64_t headDim = 128;
  int64_t rotaryDim = 0; ///< 0: 2 * sum(sections)
  double theta = 1.0e6;
  rope::PairLayout layout = rope::PairLayout::neox;
  rope::SectionOrder order = rope::SectionOrder::contiguous;
  rope::FreqIndex freqs = rope::FreqIndex::global;
  int64_t qHeads = 0;  ///< 0: any number, read at run time
  int64_t kvHeads = 0; ///< 0: any number; -1: no second tensor (q only)
  std::string dtype = "f32"; ///< f32, f16 or bf16 storage (math in f32)
  /// Storage of q and k: "bhsd" ([B, H, S, D], after the head transpose, as
  /// Hugging Face applies RoPE) or "bshd" ([B, S, H * D], before it: ONNX
  /// Runtime, GenAI, vLLM). CPU only.
  std::string tensorLayout = "bhsd";
  /// Tokens per cos/sin block; 0: chosen from the target's L2 size.
  int64_t tokensPerBlock = 0;
  /// The f32 frequency table, e.g. a model's own inv_freq (exact bits);
  /// empty: recomputed from theta.
  std::vector<float> invFreq;

  rope::SemanticsAttr semantics(mlir::MLIRContext *ctx) const;
  int64_t numTensors() const { return kvHeads < 0 ? 1 : 2; }
  bool tokenMajor() const { return tensorLayout == "bshd"; }
  /// Checks the spec; the message says what is wrong in flag terms.
  mlir::LogicalResult verify(std::string &error) const;
};

/// `func.func @<funcName>(q, [k,] positions)` rotating its memrefs in place
/// with one rope.apply (reading `spec.invFreq` from a constant global when
/// given). `strided`: fully dynamic strides, else identity layouts.
mlir::OwningOpRef<mlir::ModuleOp>
buildRopeKernelModule(mlir::MLIRContext &ctx, const KernelSpec &spec,
                      llvm::StringRef funcName, bool strided);

/// The element type a spec's dtype names (f32, f16, bf16).
mlir::Type elementType(mlir::Builder &b, llvm::StringRef dtype);

/// The CPU kernel as MLIR: `func.func @<name>_kernel` on strided memrefs
/// (llvm.emit_c_interface), rotating in place with one rope.apply.
mlir::OwningOpRef<mlir::ModuleOp> buildKernelModule(mlir::MLIRContext &ctx,
                                                    const KernelSpec &spec);

/// What the loop tiling needs to know about the CPU a kernel is built for.
struct CpuTarget {
  std::string cpu;          ///< LLVM CPU name ("native" resolved)
  std::string isaLevel;     ///< x86-64, x86-64-v2/v3/v4, or "" (not x86)
  int64_t vectorWidth = 4;  ///< f32 lanes of its vector registers
  bool nativeF16 = false;   ///< f16 <-> f32 conversions in hardware (F16C)
  int64_t l2Bytes = 0;      ///< per-core L2 (host: sysfs; else 256 KiB)
  /// Tokens per cos/sin block for `spec` (its own choice when set).
  int64_t tokensPerBlock(const KernelSpec &spec) const;
};

/// Resolves `cpu` ("native" or an LLVM CPU name such as x86-64,
/// x86-64-v3, znver3, skylake-avx512) with LLVM's own feature tables.
mlir::FailureOr<CpuTarget> describeCpu(llvm::StringRef cpu,
                                       std::string &error);

/// Runs mrope-cpu-pipeline (no bufferization: the module is on memrefs),
/// tiled for `target`.
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module,
                                       const KernelSpec &spec,
                                       const CpuTarget &target);

/// LLVM IR text of a module in the LLVM dialect, optimized at -O3 for `cpu`
/// ("native" or an LLVM CPU name), or an object file when `object` is set.
mlir::FailureOr<std::string> emitMachineCode(mlir::ModuleOp module,
                                             llvm::StringRef cpu, bool object);

/// The C header and the C wrapper source describing/implementing
/// `int <name>(T *q, T *k, int64_t q_heads, int64_t kv_heads,
///             const int64_t *positions, int64_t batch, int64_t seq,
///             int num_threads)` (a persistent thread pool splits the tokens)
/// and `<name>_tokens(..., int64_t first, int64_t count)` for callers that
/// bring their own threads.
std::string emitCHeader(const KernelSpec &spec);
std::string emitCWrapper(const KernelSpec &spec, const CpuTarget &target);

/// Writes `<outPath>` (.so) and the header next to it (same stem, .h),
/// both via temporary files renamed on success. Needs a C compiler
/// ($CC or cc) for the small wrapper.
mlir::LogicalResult compileSharedLibrary(mlir::MLIRContext &ctx,
                                         const KernelSpec &spec,
                                         llvm::StringRef outPath,
                                         llvm::StringRef cpu,
                                         std::string &error);

} // namespace mrope

#endif // MROPE_COMPILE_CPUCOMPILER_H
