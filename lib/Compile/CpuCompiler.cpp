//===- CpuCompiler.cpp - rope kernels -> shared library with a C ABI ------===//
#include "mrope/Compile/CpuCompiler.h"

#include "mrope/Conversion/Pipelines.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/bit.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <numeric>

using namespace mlir;
using namespace mrope;

OwningOpRef<ModuleOp> mrope::buildKernelModule(MLIRContext &ctx,
                                               const RopeKernel &kernel) {
  // Fully dynamic strides: the C wrapper hands each thread a token slice.
  OwningOpRef<ModuleOp> module = buildRopeKernelModule(
      ctx, kernel, kernel.options.name + "_kernel", /*strided=*/true);
  for (auto func : module->getOps<func::FuncOp>())
    func->setAttr("llvm.emit_c_interface", UnitAttr::get(&ctx));
  return module;
}

/// A target machine for `cpu` ("native": the host CPU and its features).
static llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(StringRef cpu) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder)
    return builder.takeError();
  if (cpu != "native") {
    builder->setCPU(cpu.str());
    builder->setFeatures("");
  }
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  builder->setRelocationModel(llvm::Reloc::PIC_);
  return builder->createTargetMachine();
}

/// The host's per-core L2 size from sysfs, 0 when unknown.
static int64_t hostL2Bytes() {
  for (int i = 0; i < 8; ++i) {
    std::string dir =
        "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    auto level = llvm::MemoryBuffer::getFileAsStream(dir + "level");
    auto size = llvm::MemoryBuffer::getFileAsStream(dir + "size");
    if (!level || !size)
      continue;
    if ((*level)->getBuffer().trim() != "2")
      continue;
    StringRef text = (*size)->getBuffer().trim();
    int64_t scale = text.consume_back("K")   ? 1024
                    : text.consume_back("M") ? 1024 * 1024
                                             : 1;
    int64_t value = 0;
    if (!text.getAsInteger(10, value))
      return value * scale;
  }
  return 0;
}

FailureOr<CpuTarget> mrope::describeCpu(StringRef cpu, std::string &error) {
  auto machine = createTargetMachine(cpu);
  if (!machine) {
    error = "cannot create a target machine for --cpu " + cpu.str() + ": " +
            llvm::toString(machine.takeError());
    return failure();
  }
  const llvm::MCSubtargetInfo *sti = (*machine)->getMCSubtargetInfo();
  CpuTarget target;
  target.cpu = cpu == "native" ? llvm::sys::getHostCPUName().str() : cpu.str();
  if (cpu != "native" && !sti->isCPUStringValid(cpu)) {
    error = "--cpu '" + cpu.str() + "' is not a CPU LLVM knows for " +
            (*machine)->getTargetTriple().str();
    return failure();
  }
  auto has = [&](StringRef features) { return sti->checkFeatures(features); };
  if ((*machine)->getTargetTriple().isX86()) {
    target.vectorWidth = has("+avx512f") ? 16 : has("+avx") ? 8 : 4;
    target.nativeF16 = has("+f16c");
    target.nativeBF16 = has("+avx512bf16,+avx512vl");
    target.isaLevel = has("+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl") &&
                              has("+avx2,+bmi2,+fma,+f16c,+movbe")
                          ? "x86-64-v4"
                      : has("+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe")
                          ? "x86-64-v3"
                      : has("+sse4.2,+popcnt,+ssse3,+cx16") ? "x86-64-v2"
                                                            : "x86-64";
  } else if ((*machine)->getTargetTriple().isAArch64()) {
    target.vectorWidth = 4;
    target.nativeF16 = true;
  }
  int64_t hostL2 = cpu == "native" ? hostL2Bytes() : 0;
  target.l2Bytes = hostL2 ? hostL2 : 256 * 1024;
  return target;
}

int64_t CpuTarget::tokensPerBlock(const RopeKernel &kernel) const {
  if (kernel.options.tokensPerBlock > 0)
    return kernel.options.tokensPerBlock;
  // The two cos/sin tables of a block (8 bytes per rotary channel and
  // token) get a sixteenth of L2, so they stay in L1/L2 while the block's
  // rows stream past them: 32 tokens on a 512 KiB L2 at rotary dim 128.
  int64_t rotary = kernel.semantics.getRotaryDim();
  int64_t tokens = l2Bytes / 16 / std::max<int64_t>(1, 8 * rotary);
  return std::clamp<int64_t>(
      llvm::bit_floor(static_cast<uint64_t>(std::max<int64_t>(1, tokens))), 8,
      256);
}

LogicalResult mrope::lowerToLLVMDialect(ModuleOp module,
                                        const RopeKernel &kernel,
                                        const CpuTarget &target) {
  PassManager pm(module.getContext());
  CpuPipelineOptions options;
  options.bufferize = false;
  options.tokensPerBlock = target.tokensPerBlock(kernel);
  options.vectorWidth = target.vectorWidth;
  options.nativeF16 = target.nativeF16;
  buildCpuPipeline(pm, options);
  return pm.run(module);
}

FailureOr<std::string> mrope::emitMachineCode(ModuleOp module, StringRef cpu,
                                              bool object) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  module.getContext()->appendDialectRegistry(registry);

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return module.emitError("translation to LLVM IR failed"), failure();

  auto machine = createTargetMachine(cpu);
  if (!machine)
    return module.emitError("cannot create a target machine: ")
               << llvm::toString(machine.takeError()),
           failure();
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  if (llvm::Error err =
          makeOptimizingTransformer(3, 0, machine->get())(llvmModule.get()))
    return module.emitError("LLVM optimization failed: ")
               << llvm::toString(std::move(err)),
           failure();

  std::string out;
  llvm::raw_string_ostream os(out);
  if (!object) {
    llvmModule->print(os, nullptr);
    return out;
  }
  llvm::SmallString<0> buffer;
  llvm::raw_svector_ostream objStream(buffer);
  llvm::legacy::PassManager codegen;
  if ((*machine)->addPassesToEmitFile(codegen, objStream, nullptr,
                                      llvm::CodeGenFileType::ObjectFile))
    return module.emitError("the target cannot emit object files"), failure();
  codegen.run(*llvmModule);
  return std::string(buffer.str());
}

//===----------------------------------------------------------------------===//
// C header and wrapper
//===----------------------------------------------------------------------===//

static std::string cElementType(const RopeKernel &kernel) {
  return kernel.dtype() == "f32" ? "float" : "uint16_t";
}

static std::string describe(const RopeKernel &kernel) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << kernel.semantics;
  return text;
}

std::string mrope::fillTemplate(
    StringRef text,
    std::initializer_list<std::pair<StringRef, std::string>> values) {
  std::string out = text.str();
  for (auto &[key, value] : values) {
    std::string pattern = "@" + key.str() + "@";
    for (size_t at = out.find(pattern); at != std::string::npos;
         at = out.find(pattern, at + value.size()))
      out.replace(at, pattern.size(), value);
  }
  return out;
}

/// The parameters both entry points share, in the header's spelling.
static std::string cParams(const RopeKernel &kernel) {
  std::string t = cElementType(kernel);
  bool two = kernel.numTensors() == 2;
  return t + " *q, " + (two ? t + " *k, " : "") + "int64_t q_heads, " +
         (two ? "int64_t kv_heads, " : "") +
         "const int64_t *positions,\n    int64_t batch, int64_t seq";
}

std::string mrope::emitCHeader(const RopeKernel &kernel) {
  std::string upper = llvm::StringRef(kernel.options.name).upper();
  bool two = kernel.numTensors() == 2;
  auto heads = [](int64_t n, const char *name) {
    return n > 0 ? std::to_string(n) : std::string(name);
  };
  std::string storage = kernel.dtype() == "f32"
                            ? "float"
                            : kernel.dtype() + " bit patterns (uint16_t)";
  std::string shape =
      kernel.tokenMajor()
          ? "[batch, seq, heads * " + std::to_string(kernel.headDim) + "]"
          : "[batch, heads, seq, " + std::to_string(kernel.headDim) + "]";
  std::string who = std::string(" * q with ") +
                    heads(kernel.qHeads, "any number of") + " heads" +
                    (two ? std::string(", k with ") +
                               heads(kernel.kvHeads, "any number of") + " heads"
                         : std::string());
  return fillTemplate(
      R"(/* Generated by mrope-compile: in-place rotary position embedding.
 *
 *   @SEMANTICS@
 *
 * @TENSORS@ contiguous @SHAPE@ @STORAGE@,
@WHO@;
 * positions is contiguous [@AXES@, batch, seq] int64 (one row per position axis).
 * Channels are rotated in place.
 *
 * @NAME@: the tokens are split over at most num_threads threads (<= 0: one)
 * of a pool the library keeps between calls, and over no more threads than
 * give each one @UPPER@_MIN_BYTES_PER_THREAD bytes of q and k: waking a
 * worker costs more than a small call saves (@NAME@_threads says how many a
 * call uses). @NAME@_tokens: rotates tokens [first, first + count) of every
 * batch row on the calling thread, for callers with threads of their own.
 * All return 0 (@NAME@_threads: the count), or -1 on bad sizes.
 */
#ifndef @UPPER@_H
#define @UPPER@_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define @UPPER@_HEAD_DIM @HEAD_DIM@
#define @UPPER@_POSITION_AXES @AXES@
#define @UPPER@_MIN_BYTES_PER_THREAD @MIN_BYTES@

int @NAME@(@PARAMS@, int num_threads);
int @NAME@_threads(int64_t q_heads, int64_t kv_heads, int64_t batch,
    int64_t seq, int num_threads);
int @NAME@_tokens(@PARAMS@,
    int64_t first, int64_t count);

#ifdef __cplusplus
}
#endif

#endif
)",
      {{"SEMANTICS", describe(kernel)},
       {"TENSORS", two ? "q and k are" : "q is"},
       {"SHAPE", shape},
       {"STORAGE", storage},
       {"WHO", who},
       {"AXES", std::to_string(kernel.numAxes())},
       {"NAME", kernel.options.name},
       {"UPPER", upper},
       {"HEAD_DIM", std::to_string(kernel.headDim)},
       {"MIN_BYTES", std::to_string(kMinBytesPerThread)},
       {"PARAMS", cParams(kernel)}});
}

/// The persistent pool of the generated C wrappers (emitCThreadPool).
static const char *const kPoolTemplate =
    R"(#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

/* ---- persistent pool ---------------------------------------------------- */
#define POOL_MAX 255
static pthread_mutex_t pool_call = PTHREAD_MUTEX_INITIALIZER; /* one pooled call at a time */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER; /* guards sleeping */
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_t pool_thread[POOL_MAX];
static uint64_t pool_seen0[POOL_MAX];
static int pool_started, pool_sleeping;
static pid_t pool_pid;
/* generation << 16 | workers taking part: read together, so a worker never
   pairs one call's generation with another call's worker count. */
static uint64_t pool_word;
static int pool_pending, pool_quit;
static slice pool_work[POOL_MAX + 1];

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void *pool_worker(void *arg) {
  int index = (int)(intptr_t)arg;
  uint64_t seen = pool_seen0[index];
  for (;;) {
    int64_t until = now_ns() + 50000;
    unsigned spins = 0;
    while (__atomic_load_n(&pool_word, __ATOMIC_ACQUIRE) == seen &&
           !__atomic_load_n(&pool_quit, __ATOMIC_ACQUIRE)) {
      relax();
      if ((++spins & 63) == 0 && now_ns() > until) {
        pthread_mutex_lock(&pool_lock);
        ++pool_sleeping;
        while (__atomic_load_n(&pool_word, __ATOMIC_ACQUIRE) == seen &&
               !__atomic_load_n(&pool_quit, __ATOMIC_ACQUIRE))
          pthread_cond_wait(&pool_wake, &pool_lock);
        --pool_sleeping;
        pthread_mutex_unlock(&pool_lock);
      }
    }
    if (__atomic_load_n(&pool_quit, __ATOMIC_ACQUIRE)) return 0;
    seen = __atomic_load_n(&pool_word, __ATOMIC_ACQUIRE);
    if (index < (int)(seen & 0xffff)) {
      run_slice(&pool_work[index + 1]);
      __atomic_fetch_sub(&pool_pending, 1, __ATOMIC_ACQ_REL);
    }
  }
}

__attribute__((destructor)) static void pool_stop(void) {
  if (pool_pid != getpid()) return;
  pthread_mutex_lock(&pool_lock);
  __atomic_store_n(&pool_quit, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  for (int i = 0; i < pool_started; ++i) pthread_join(pool_thread[i], 0);
  pool_started = 0;
}

/* Runs work[0..n) with the caller as slice 0 and n - 1 pool workers. */
static void pool_run(slice *work, int n) {
  pthread_mutex_lock(&pool_call);
  if (pool_pid != getpid()) { pool_started = 0; pool_pid = getpid(); } /* after fork */
  while (pool_started < n - 1) {
    pool_seen0[pool_started] = __atomic_load_n(&pool_word, __ATOMIC_ACQUIRE);
    if (pthread_create(&pool_thread[pool_started], 0, pool_worker,
                       (void *)(intptr_t)pool_started) != 0) break;
    ++pool_started;
  }
  int workers = n - 1 < pool_started ? n - 1 : pool_started;
  for (int i = 0; i < n; ++i) pool_work[i] = work[i];
  __atomic_store_n(&pool_pending, workers, __ATOMIC_RELEASE);
  pthread_mutex_lock(&pool_lock);
  uint64_t generation = (__atomic_load_n(&pool_word, __ATOMIC_RELAXED) >> 16) + 1;
  __atomic_store_n(&pool_word, generation << 16 | (uint64_t)workers, __ATOMIC_RELEASE);
  if (pool_sleeping) pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  run_slice(&pool_work[0]);
  for (int i = workers + 1; i < n; ++i) run_slice(&pool_work[i]); /* no thread for them */
  unsigned spins = 0;
  while (__atomic_load_n(&pool_pending, __ATOMIC_ACQUIRE) != 0)
    if (++spins < 4096) relax(); else sched_yield();
  pthread_mutex_unlock(&pool_call);
}

/* Threads a call moving `bytes` of q and k over `seq` tokens uses: at most
   num_threads, one per token, and one per @MIN_BYTES@ bytes (a sleeping
   worker takes tens of microseconds to wake, so more threads on less work
   are slower than one). */
static int threads_for(double bytes, int64_t seq, int num_threads) {
  if (num_threads < 1) num_threads = 1;
  if (num_threads > POOL_MAX + 1) num_threads = POOL_MAX + 1;
  if (num_threads > seq) num_threads = seq > 0 ? (int)seq : 1;
  double by_size = bytes / @MIN_BYTES@.0;
  if (by_size < num_threads) num_threads = by_size < 1 ? 1 : (int)by_size;
  return num_threads;
}
)";

std::string mrope::emitCThreadPool(int64_t minBytesPerThread) {
  return fillTemplate(kPoolTemplate,
                      {{"MIN_BYTES", std::to_string(minBytesPerThread)}});
}

/// The C wrapper: memref descriptors for a token slice, argument checks, a
/// persistent pool of worker threads (they spin ~50 us after a call for the
/// next one, then sleep on a condition variable; the library's destructor
/// stops them, so dlclose is safe).
static const char *const kWrapperTemplate =
    R"(/* Generated by mrope-compile: C ABI and threads around the MLIR kernel. */
#include <stdint.h>

typedef @T@ elem_t;
typedef struct { elem_t *allocated, *aligned; int64_t offset, sizes[4], strides[4]; } md4;
typedef struct { int64_t *allocated, *aligned; int64_t offset, sizes[3], strides[3]; } md3;

void _mlir_ciface_@NAME@_kernel(md4 *q, @KARG@md3 *positions);

typedef struct { elem_t *q, *k; const int64_t *pos; int64_t hq, hk, batch, seq, s0, n; } slice;

/* Tokens [s0, s0 + n) of every batch row of a [B,H,S,D] or [B,S,H*D] tensor. */
static md4 view4(elem_t *base, int64_t b, int64_t h, int64_t s, int64_t s0, int64_t n) {
  const int64_t d = @HEAD_DIM@;
  md4 m = {base, base, 0, {b, h, n, d}, {0, 0, 0, 1}};
  if (@TOKEN_MAJOR@) {
    m.offset = s0 * h * d; m.strides[0] = s * h * d; m.strides[1] = d; m.strides[2] = h * d;
  } else {
    m.offset = s0 * d; m.strides[0] = h * s * d; m.strides[1] = s * d; m.strides[2] = d;
  }
  return m;
}

static void run_slice(const slice *w) {
  if (w->n <= 0 || w->batch <= 0) return;
  md4 q = view4(w->q, w->batch, w->hq, w->seq, w->s0, w->n);
  md4 k = view4(w->k, w->batch, w->hk, w->seq, w->s0, w->n);
  md3 p = {(int64_t *)w->pos, (int64_t *)w->pos, w->s0, {@AXES@, w->batch, w->n},
           {w->batch * w->seq, w->seq, 1}};
  (void)k;
  _mlir_ciface_@NAME@_kernel(&q, @KREF@&p);
}

static double qk_bytes(int64_t q_heads, int64_t kv_heads, int64_t batch, int64_t seq) {
  return (double)(q_heads + kv_heads) * (double)batch * (double)seq * @HEAD_DIM@ *
         (double)sizeof(elem_t);
}

static int check(int64_t q_heads, int64_t kv_heads, int64_t batch, int64_t seq) {
  if (batch < 0 || seq < 0 || q_heads < 0 || kv_heads < 0) return -1;
  if (@Q_HEADS@ > 0 && q_heads != @Q_HEADS@) return -1;
  if (@KV_HEADS@ > 0 && kv_heads != @KV_HEADS@) return -1;
  return 0;
}

@POOL@
/* ---- entry points ------------------------------------------------------- */
int @NAME@_threads(int64_t q_heads, int64_t kv_heads, int64_t batch,
                   int64_t seq, int num_threads) {
@NO_KV@  if (check(q_heads, kv_heads, batch, seq)) return -1;
  return threads_for(qk_bytes(q_heads, kv_heads, batch, seq), seq, num_threads);
}

int @NAME@(@PARAMS@, int num_threads) {
@NO_K@  if (check(q_heads, kv_heads, batch, seq)) return -1;
  num_threads = threads_for(qk_bytes(q_heads, kv_heads, batch, seq), seq, num_threads);
  /* Whole blocks of @BLOCK@ tokens per thread where there are enough. */
  int64_t chunk = (seq + num_threads - 1) / num_threads;
  if (chunk > @BLOCK@) chunk = (chunk + @BLOCK@ - 1) / @BLOCK@ * @BLOCK@;
  slice work[POOL_MAX + 1];
  int n = 0;
  for (int64_t s0 = 0; s0 < seq || n == 0; s0 += chunk) {
    int64_t left = seq - s0;
    slice w = {q, k, positions, q_heads, kv_heads, batch, seq, s0, left < chunk ? left : chunk};
    work[n++] = w;
    if (seq == 0) break;
  }
  if (n == 1) run_slice(&work[0]);
  else pool_run(work, n);
  return 0;
}

int @NAME@_tokens(@PARAMS@,
    int64_t first, int64_t count) {
@NO_K@  if (check(q_heads, kv_heads, batch, seq)) return -1;
  if (first < 0 || count < 0 || first > seq || count > seq - first) return -1;
  slice w = {q, k, positions, q_heads, kv_heads, batch, seq, first, count};
  run_slice(&w);
  return 0;
}
)";

std::string mrope::emitCWrapper(const RopeKernel &kernel,
                                const CpuTarget &target) {
  bool two = kernel.numTensors() == 2;
  return fillTemplate(
      kWrapperTemplate,
      {{"T", cElementType(kernel)},
       {"NAME", kernel.options.name},
       {"KARG", two ? "md4 *k, " : ""},
       {"KREF", two ? "&k, " : ""},
       {"HEAD_DIM", std::to_string(kernel.headDim)},
       {"TOKEN_MAJOR", kernel.tokenMajor() ? "1" : "0"},
       {"AXES", std::to_string(kernel.numAxes())},
       {"Q_HEADS", std::to_string(kernel.qHeads)},
       {"KV_HEADS", std::to_string(two ? kernel.kvHeads : 0)},
       {"BLOCK", std::to_string(target.tokensPerBlock(kernel))},
       {"PARAMS", cParams(kernel)},
       {"MIN_BYTES", std::to_string(kMinBytesPerThread)},
       {"NO_K", two ? "" : "  elem_t *k = 0;\n  int64_t kv_heads = 0;\n"},
       {"NO_KV", two ? "" : "  kv_heads = 0;\n"},
       {"POOL", emitCThreadPool(kMinBytesPerThread)}});
}

//===----------------------------------------------------------------------===//
// Shared library
//===----------------------------------------------------------------------===//

static LogicalResult writeFile(StringRef path, StringRef contents,
                               std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot write " + path.str() + ": " + ec.message();
    return failure();
  }
  os << contents;
  return success();
}

LogicalResult mrope::compileSharedLibrary(MLIRContext &ctx,
                                          const RopeKernel &kernel,
                                          StringRef outPath, StringRef cpu,
                                          std::string &error) {
  if (failed(kernel.verify(error)))
    return failure();
  FailureOr<CpuTarget> target = describeCpu(cpu, error);
  if (failed(target))
    return failure();
  OwningOpRef<ModuleOp> module = buildKernelModule(ctx, kernel);
  return lowerAndLinkSharedLibrary(
      *module, [&] { return lowerToLLVMDialect(*module, kernel, *target); },
      "lowering the kernel failed: ", cpu, emitCWrapper(kernel, *target),
      emitCHeader(kernel), outPath, error);
}

LogicalResult mrope::lowerAndLinkSharedLibrary(
    ModuleOp module, function_ref<LogicalResult()> lower, StringRef what,
    StringRef cpu, StringRef wrapper, StringRef header, StringRef outPath,
    std::string &error) {
  std::string diagnostics;
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return success();
  });
  if (failed(lower())) {
    error = what.str() + diagnostics;
    return failure();
  }
  FailureOr<std::string> object = emitMachineCode(module, cpu, true);
  if (failed(object)) {
    error = "code generation failed: " + diagnostics;
    return failure();
  }
  return linkSharedLibrary(*object, wrapper, header, outPath, error);
}

LogicalResult mrope::linkSharedLibrary(StringRef object, StringRef wrapper,
                                       StringRef header, StringRef outPath,
                                       std::string &error) {
  llvm::SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("mrope-compile", dir)) {
    error = "cannot create a temporary folder: " + ec.message();
    return failure();
  }
  llvm::scope_exit cleanup([&] { llvm::sys::fs::remove_directories(dir); });
  std::string objPath = (dir + "/kernel.o").str();
  std::string wrapperPath = (dir + "/wrapper.c").str();
  std::string soTmp = (dir + "/out.so").str();
  if (failed(writeFile(objPath, object, error)) ||
      failed(writeFile(wrapperPath, wrapper, error)))
    return failure();

  const char *ccEnv = std::getenv("CC");
  std::string ccName = ccEnv && *ccEnv ? ccEnv : "cc";
  auto cc = llvm::sys::findProgramByName(ccName);
  if (!cc) {
    error = "no C compiler '" + ccName +
            "' found to link the shared library (set CC)";
    return failure();
  }
  SmallVector<StringRef> argv = {*cc,       "-O2",      "-fPIC",
                                 "-shared", "-pthread", wrapperPath,
                                 objPath,   "-o",       soTmp};
  std::string ccError;
  std::string logPath = (dir + "/cc.log").str();
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  int rc = llvm::sys::ExecuteAndWait(*cc, argv, std::nullopt, redirects, 0, 0,
                                     &ccError);
  if (rc != 0) {
    auto log = llvm::MemoryBuffer::getFile(logPath);
    error = "linking with " + *cc + " failed" +
            (ccError.empty() ? "" : ": " + ccError) +
            (log ? "\n" + (*log)->getBuffer().str() : "");
    return failure();
  }

  // Header next to the library; both appear only when both are complete.
  llvm::SmallString<128> headerPath(outPath);
  llvm::sys::path::replace_extension(headerPath, "h");
  std::string headerTmp = (dir + "/out.h").str();
  if (failed(writeFile(headerTmp, header, error)))
    return failure();
  for (auto [from, to] :
       {std::pair<std::string, std::string>{soTmp, outPath.str()},
        {headerTmp, headerPath.str().str()}}) {
    if (std::error_code ec = llvm::sys::fs::rename(from, to)) {
      // Across file systems rename fails: copy, then it is complete.
      if ((ec = llvm::sys::fs::copy_file(from, to + ".tmp")) ||
          (ec = llvm::sys::fs::rename(to + ".tmp", to))) {
        error = "cannot write " + to + ": " + ec.message();
        return failure();
      }
    }
  }
  return success();
}
