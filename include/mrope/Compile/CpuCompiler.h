//===- CpuCompiler.h - rope kernels -> shared library -----------*- C++ -*-===//
//
// What `mrope-compile --target cpu` and `mrope-bench` share: build the kernel
// module for the rotation one rope.apply describes (RopeKernel.h), lower it
// with mrope-cpu-pipeline, emit an object with LLVM for the host CPU and link
// it with a small generated C wrapper (threads over tokens, plain pointers)
// into a shared library, plus a header describing its one function.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_COMPILE_CPUCOMPILER_H
#define MROPE_COMPILE_CPUCOMPILER_H

#include "mrope/Compile/RopeKernel.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

#include <initializer_list>
#include <string>
#include <utility>

namespace mrope {

/// The CPU kernel as MLIR: `func.func @<name>_kernel` on strided memrefs
/// (llvm.emit_c_interface), rotating in place with one rope.apply.
mlir::OwningOpRef<mlir::ModuleOp> buildKernelModule(mlir::MLIRContext &ctx,
                                                    const RopeKernel &kernel);

/// What the loop tiling needs to know about the CPU a kernel is built for.
struct CpuTarget {
  std::string cpu;         ///< LLVM CPU name ("native" resolved)
  std::string isaLevel;    ///< x86-64, x86-64-v2/v3/v4, or "" (not x86)
  int64_t vectorWidth = 4; ///< f32 lanes of its vector registers
  bool nativeF16 = false;  ///< f16 <-> f32 conversions in hardware (F16C)
  bool nativeBF16 = false; ///< f32 -> bf16 vector rounding (AVX512_BF16)
  int64_t l2Bytes = 0;     ///< per-core L2 (host: sysfs; else 256 KiB)
  /// Tokens per cos/sin block for `kernel` (its own choice when set).
  int64_t tokensPerBlock(const RopeKernel &kernel) const;
};

/// Resolves `cpu` ("native" or an LLVM CPU name such as x86-64,
/// x86-64-v3, znver3, skylake-avx512) with LLVM's own feature tables.
mlir::FailureOr<CpuTarget> describeCpu(llvm::StringRef cpu, std::string &error);

/// Runs mrope-cpu-pipeline (no bufferization: the module is on memrefs),
/// tiled for `target`.
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module,
                                       const RopeKernel &kernel,
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
std::string emitCHeader(const RopeKernel &kernel);
std::string emitCWrapper(const RopeKernel &kernel, const CpuTarget &target);

/// C source of the persistent worker pool both generated wrappers use (the
/// plain and the fused one): `pool_run(slice *work, int n)` runs work[0] on
/// the caller and the rest on workers kept between calls (they spin ~50 us,
/// then sleep; a library destructor stops them), and
/// `threads_for(bytes, seq, num_threads)` gives each thread at least
/// `minBytesPerThread` bytes of q and k (kMinBytesPerThread for the plain
/// kernel). The source including it defines `slice` and
/// `run_slice(const slice *)` first.
std::string emitCThreadPool(int64_t minBytesPerThread);

/// Writes `<outPath>` (.so) and the header next to it (same stem, .h),
/// both via temporary files renamed on success. Needs a C compiler
/// ($CC or cc) for the small wrapper.
mlir::LogicalResult compileSharedLibrary(mlir::MLIRContext &ctx,
                                         const RopeKernel &kernel,
                                         llvm::StringRef outPath,
                                         llvm::StringRef cpu,
                                         std::string &error);

/// The least q and k bytes a pooled thread of a generated C wrapper gets.
/// Waking a sleeping worker costs tens of microseconds; 8 MiB takes a core
/// about that long even from cache, so an extra thread never loses
/// (Qwen2-VL-7B at S = 256, 4 MiB, ran 2x slower on two threads than on one
/// before this rule).
constexpr int64_t kMinBytesPerThread = 8 << 20;

/// Lowers `module` with `lower` (its diagnostics go into `error`, after
/// `what`), emits machine code for `cpu` and links it with `wrapper`
/// (linkSharedLibrary).
mlir::LogicalResult lowerAndLinkSharedLibrary(
    mlir::ModuleOp module, llvm::function_ref<mlir::LogicalResult()> lower,
    llvm::StringRef what, llvm::StringRef cpu, llvm::StringRef wrapper,
    llvm::StringRef header, llvm::StringRef outPath, std::string &error);

/// `text` (a C source or header template) with every @KEY@ replaced by its
/// value.
std::string fillTemplate(
    llvm::StringRef text,
    std::initializer_list<std::pair<llvm::StringRef, std::string>> values);

/// Links `object` (machine code of a kernel) with the C `wrapper` source
/// into `<outPath>` (.so) and writes `header` next to it (same stem, .h);
/// both appear only when both are complete.
mlir::LogicalResult linkSharedLibrary(llvm::StringRef object,
                                      llvm::StringRef wrapper,
                                      llvm::StringRef header,
                                      llvm::StringRef outPath,
                                      std::string &error);

} // namespace mrope

#endif // MROPE_COMPILE_CPUCOMPILER_H
