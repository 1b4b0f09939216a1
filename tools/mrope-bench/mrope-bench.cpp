//===- mrope-bench.cpp - time the fused M-RoPE CPU kernel against copies
//---===//
//
// Builds the fused M-RoPE kernel with mrope::compileSharedLibrary (or loads
// one with --library), runs it in place on Qwen2-VL-7B shaped q and k with
// multimodal positions, and times it against two copies of the same bytes:
// memcpy and a copy with non-temporal (streaming) stores. Also measures the
// kernel's max abs error against a float64 reference. See --help.
//
//===----------------------------------------------------------------------===//
#include "mrope/Compile/CpuCompiler.h"
#include "mrope/Compile/FusedKernel.h"
#include "mrope/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <time.h>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MROPE_BENCH_X86 1
#endif

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("mrope-bench options");

static cl::opt<int64_t> seq("seq", cl::desc("sequence length S (tokens)"),
                            cl::init(4096), cl::cat(category));
// "threads" is taken by an option inside libLLVM/libMLIR: registered as
// --num-threads, and main() rewrites --threads to it.
static cl::opt<int>
    threads("num-threads",
            cl::desc("threads for the kernel and both copies (also --threads)"),
            cl::init(1), cl::cat(category));
static cl::opt<int64_t> batch("batch", cl::desc("batch B"), cl::init(1),
                              cl::cat(category));
static cl::opt<int64_t> qHeads("q-heads", cl::desc("q heads (Qwen2-VL-7B: 28)"),
                               cl::init(28), cl::cat(category));
static cl::opt<int64_t> kvHeads("kv-heads",
                                cl::desc("k heads (Qwen2-VL-7B: 4)"),
                                cl::init(4), cl::cat(category));
static cl::opt<int64_t> headDim("head-dim", cl::desc("channels per head"),
                                cl::init(128), cl::cat(category));
static cl::list<int64_t>
    sectionsOpt("sections",
                cl::desc("frequencies per position axis (default 16,24,24)"),
                cl::CommaSeparated, cl::cat(category));
static cl::opt<double> theta("theta", cl::desc("frequency base (default 1e6)"),
                             cl::init(1.0e6), cl::cat(category));
static cl::opt<int>
    reps("reps", cl::desc("timed repetitions; the medians are reported"),
         cl::init(30), cl::cat(category));
static cl::opt<int> warmup("warmup", cl::desc("untimed rounds first"),
                           cl::init(3), cl::cat(category));
static cl::opt<unsigned> seed("seed", cl::desc("seed of the random q and k"),
                              cl::init(0), cl::cat(category));
static cl::opt<std::string> positionsKind(
    "positions",
    cl::desc("image: text prefix + one image block + text suffix, as "
             "get_rope_index lays them out (default); text: 0..S-1 on all "
             "three rows"),
    cl::init("image"), cl::cat(category));
static cl::opt<std::string>
    library("library",
            cl::desc("use this kernel library (built by mrope-compile with "
                     "the same flags) instead of compiling one"),
            cl::value_desc("path"), cl::init(""), cl::cat(category));
static cl::opt<std::string>
    kernelName("name",
               cl::desc("the kernel's C function name (default mrope_rope)"),
               cl::init("mrope_rope"), cl::cat(category));
static cl::opt<std::string> cpu("cpu",
                                cl::desc("LLVM CPU to compile for (native)"),
                                cl::init("native"), cl::cat(category));
static cl::opt<std::string> dumpPositions(
    "dump-positions",
    cl::desc("write the positions used, raw little-endian int64 [3,B,S]"),
    cl::value_desc("path"), cl::init(""), cl::cat(category));
static cl::opt<bool> json("json", cl::desc("print one JSON object"),
                          cl::init(false), cl::cat(category));
static cl::opt<std::string> tensorLayout(
    "layout",
    cl::desc("storage of q and k: bhsd ([B,H,S,D], default) or bshd "
             "([B,S,H*D])"),
    cl::init("bhsd"), cl::cat(category));
static cl::opt<int64_t> tokensPerBlock(
    "tokens-per-block",
    cl::desc("tokens per cos/sin block of the kernel (0: from the L2 size)"),
    cl::init(0), cl::cat(category));

static cl::opt<std::string>
    fuse("fuse",
         cl::desc("norm,cache: time the fused QK-norm + M-RoPE (Qwen3-VL "
                  "interleaved sections) + KV-cache write against our three "
                  "separate kernels (norm, rope, cache copy); --json prints "
                  "fused_ms, separate_ms, memcpy_ms, nt_copy_ms, max_abs_err, "
                  "kernel_threads"),
         cl::init(""), cl::cat(category));
static cl::opt<int64_t> cacheLen("cache-len",
                                 cl::desc("--fuse: KV-cache positions Smax"),
                                 cl::init(32768), cl::cat(category));
static cl::opt<std::string>
    fusedDtype("dtype",
               cl::desc("--fuse: storage of q, k and the cache, f32 or bf16 "
                        "(the norm and rotation compute in f32)"),
               cl::init("f32"), cl::cat(category));
static cl::opt<std::string> compareFused(
    "compare-fused",
    cl::desc("--fuse: also time this fused library (mrope-compile --fuse "
             "norm,cache --name bench_fused with the same shapes and dtype, "
             "e.g. from another build) in the same rounds: fused_b_ms, "
             "fused_b_vs_memcpy, fused_b_max_abs_err"),
    cl::value_desc("path"), cl::init(""), cl::cat(category));
static cl::opt<std::string> keepLibraries(
    "keep-libraries",
    cl::desc("--fuse: build the two kernel libraries in this folder and keep "
             "them (libfused.so, librope.so), so a profiler can name their "
             "code"),
    cl::value_desc("dir"), cl::init(""), cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "mrope-bench: error: " << message << "\n";
  return 1;
}

static double nowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/// Busy-waits past the time the thread pools of the previous step spin
/// before they sleep (~50 us: the kernels' pools and CopyPool), so that no
/// step is timed while another's workers still hold a core. The calling
/// thread keeps its core (and its caches) meanwhile.
static void settle() {
  double until = nowMs() + 0.1;
  while (nowMs() < until)
    ;
}

/// The time of one `step` in ms, started after settle().
template <typename Step> static double settledMs(Step &&step) {
  settle();
  double t0 = nowMs();
  step();
  return nowMs() - t0;
}

//===----------------------------------------------------------------------===//
// Buffers and positions
//===----------------------------------------------------------------------===//

namespace {
struct AlignedBuffer {
  float *data = nullptr;
  size_t count = 0;
  explicit AlignedBuffer(size_t n) : count(n) {
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    data = static_cast<float *>(std::aligned_alloc(64, bytes ? bytes : 64));
    if (!data) {
      llvm::errs() << "mrope-bench: out of memory\n";
      std::exit(1);
    }
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer &) = delete;
  AlignedBuffer &operator=(const AlignedBuffer &) = delete;
  size_t bytes() const { return count * sizeof(float); }
};

/// Token layout of one batch row: text prefix (ends with vision_start), one
/// image of t x gh x gw merged tokens, text suffix.
struct Layout {
  int64_t prefix = 0, t = 0, gh = 0, gw = 0, suffix = 0;
  std::string describe(int64_t maxPos) const {
    if (t == 0)
      return llvm::formatv("text only: 0..{0} on all rows", maxPos).str();
    return llvm::formatv("text {0} + image t={1} h={2} w={3} patches "
                         "(merge 2: {4}x{5} = {6} tokens) + text {7}; "
                         "get_rope_index layout, max position {8}",
                         prefix, t, 2 * gh, 2 * gw, gh, gw, t * gh * gw, suffix,
                         maxPos)
        .str();
  }
};
} // namespace

/// The layout for S tokens: a 20-token prompt prefix, a 4:3 image filling the
/// middle, and at least 20 tokens of question after it.
static Layout chooseLayout(int64_t S) {
  Layout l;
  if (positionsKind == "text" || S < 48) {
    l.prefix = S;
    return l;
  }
  l.prefix = 20;
  int64_t budget = S - 40;
  l.t = 1;
  l.gh = std::max<int64_t>(1, (int64_t)std::floor(std::sqrt(budget * 3.0 / 4)));
  l.gw = std::max<int64_t>(1, budget / l.gh);
  l.suffix = S - l.prefix - l.gh * l.gw;
  return l;
}

/// positions [3, B, S] as mrope.reference.rope_index (get_rope_index) gives
/// them for the layout: text 0..prefix-1; image token (ti,hi,wi) at
/// (ti,hi,wi) + prefix; suffix from (max so far) + 1. Returns the max.
static int64_t fillPositions(const Layout &l, int64_t B, int64_t S,
                             std::vector<int64_t> &pos) {
  pos.assign(3 * B * S, 0);
  int64_t maxPos = 0;
  for (int64_t b = 0; b < B; ++b) {
    auto at = [&](int64_t axis, int64_t s) -> int64_t & {
      return pos[(axis * B + b) * S + s];
    };
    int64_t s = 0;
    for (; s < l.prefix; ++s)
      for (int a = 0; a < 3; ++a)
        at(a, s) = s;
    int64_t next = l.prefix;
    for (int64_t ti = 0; ti < l.t; ++ti)
      for (int64_t hi = 0; hi < l.gh; ++hi)
        for (int64_t wi = 0; wi < l.gw; ++wi, ++s) {
          int64_t p[3] = {ti + l.prefix, hi + l.prefix, wi + l.prefix};
          for (int a = 0; a < 3; ++a) {
            at(a, s) = p[a];
            next = std::max(next, p[a] + 1);
          }
        }
    for (int64_t j = 0; s < S; ++s, ++j)
      for (int a = 0; a < 3; ++a)
        at(a, s) = next + j;
  }
  for (int64_t v : pos)
    maxPos = std::max(maxPos, v);
  return maxPos;
}

//===----------------------------------------------------------------------===//
// Copies, split over threads like the kernel wrapper splits tokens
//===----------------------------------------------------------------------===//

namespace {
struct CopyJob {
  const float *src[2];
  float *dst[2];
  size_t count[2];
  int index, parts;
  bool nonTemporal;
};
} // namespace

#ifdef MROPE_BENCH_X86
__attribute__((target("avx512f"))) static void
ntCopyAvx512(float *dst, const float *src, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 a = _mm512_loadu_ps(src + i), b = _mm512_loadu_ps(src + i + 16),
           c = _mm512_loadu_ps(src + i + 32), d = _mm512_loadu_ps(src + i + 48);
    _mm512_stream_ps(dst + i, a);
    _mm512_stream_ps(dst + i + 16, b);
    _mm512_stream_ps(dst + i + 32, c);
    _mm512_stream_ps(dst + i + 48, d);
  }
  for (; i + 16 <= n; i += 16)
    _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
  for (; i < n; ++i)
    dst[i] = src[i];
}

__attribute__((target("avx"))) static void
ntCopyAvx(float *dst, const float *src, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 a = _mm256_loadu_ps(src + i), b = _mm256_loadu_ps(src + i + 8),
           c = _mm256_loadu_ps(src + i + 16), d = _mm256_loadu_ps(src + i + 24);
    _mm256_stream_ps(dst + i, a);
    _mm256_stream_ps(dst + i + 8, b);
    _mm256_stream_ps(dst + i + 16, c);
    _mm256_stream_ps(dst + i + 24, d);
  }
  for (; i + 8 <= n; i += 8)
    _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
  for (; i < n; ++i)
    dst[i] = src[i];
}

static void ntCopySse(float *dst, const float *src, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
  for (; i < n; ++i)
    dst[i] = src[i];
}

static const char *ntCopyKind() {
  if (__builtin_cpu_supports("avx512f"))
    return "avx512 _mm512_stream_ps";
  if (__builtin_cpu_supports("avx"))
    return "avx _mm256_stream_ps";
  return "sse _mm_stream_ps";
}
#else
static const char *ntCopyKind() { return "__builtin_nontemporal_store"; }
#endif

/// Copies n floats with streaming stores; dst must be 64-byte aligned.
static void ntCopy(float *dst, const float *src, size_t n) {
#ifdef MROPE_BENCH_X86
  if (__builtin_cpu_supports("avx512f"))
    ntCopyAvx512(dst, src, n);
  else if (__builtin_cpu_supports("avx"))
    ntCopyAvx(dst, src, n);
  else
    ntCopySse(dst, src, n);
  _mm_sfence();
#else
  for (size_t i = 0; i < n; ++i)
    __builtin_nontemporal_store(src[i], dst + i);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static void *copyWorker(void *arg) {
  auto *job = static_cast<CopyJob *>(arg);
  for (int t = 0; t < 2; ++t) {
    // Split in 16-float (64-byte) units so every part starts aligned.
    size_t units = (job->count[t] + 15) / 16;
    size_t per = (units + job->parts - 1) / job->parts;
    size_t begin = std::min(job->count[t], per * 16 * job->index);
    size_t end = std::min(job->count[t], per * 16 * (job->index + 1));
    if (end <= begin)
      continue;
    if (job->nonTemporal)
      ntCopy(job->dst[t] + begin, job->src[t] + begin, end - begin);
    else
      std::memcpy(job->dst[t] + begin, job->src[t] + begin,
                  (end - begin) * sizeof(float));
  }
  return nullptr;
}

/// Worker threads kept for the whole run, like the kernel's own pool, so
/// the copies pay no thread creation either. Between jobs a worker spins
/// for 50 us, then sleeps (as the kernel's pool does): a worker spinning
/// while the kernel runs would take a core from it.
class CopyPool {
public:
  explicit CopyPool(int parts) : jobs(parts) {
    for (int i = 1; i < parts; ++i)
      threads.emplace_back([this, i] { work(i); });
  }
  ~CopyPool() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      quit.store(true);
    }
    wake.notify_all();
    for (std::thread &t : threads)
      t.join();
  }
  /// q and k src -> dst over all parts (the caller is part 0).
  void copy(const AlignedBuffer &qs, const AlignedBuffer &ks, AlignedBuffer &qd,
            AlignedBuffer &kd, bool nonTemporal) {
    int parts = static_cast<int>(jobs.size());
    for (int i = 0; i < parts; ++i)
      jobs[i] = CopyJob{{qs.data, ks.data},
                        {qd.data, kd.data},
                        {qs.count, ks.count},
                        i,
                        parts,
                        nonTemporal};
    pending.store(parts - 1);
    {
      std::lock_guard<std::mutex> lock(mutex);
      generation.fetch_add(1);
    }
    wake.notify_all();
    copyWorker(&jobs[0]);
    while (pending.load() != 0)
      std::this_thread::yield();
  }

private:
  void work(int index) {
    uint64_t seen = 0;
    while (true) {
      double until = nowMs() + 0.05;
      while (generation.load() == seen && !quit.load() && nowMs() < until)
        ;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock,
                  [&] { return generation.load() != seen || quit.load(); });
      }
      if (quit.load())
        return;
      seen = generation.load();
      copyWorker(&jobs[index]);
      pending.fetch_sub(1);
    }
  }
  std::vector<CopyJob> jobs;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<bool> quit{false};
};

//===----------------------------------------------------------------------===//
// float64 reference
//===----------------------------------------------------------------------===//

/// Max |got - want| over one tensor [B,H,S,D], want evaluated in float64 on
/// the f32 angle f32(p) * inv_freq[i] (rotate-half layout, contiguous
/// sections, global frequency index; channels past the rotary dim pass).
static double maxAbsErr(const float *orig, const float *got, int64_t B,
                        int64_t H, int64_t S, int64_t D, bool tokenMajor,
                        const std::vector<int64_t> &pos,
                        llvm::ArrayRef<float> invFreq,
                        llvm::ArrayRef<int64_t> sections) {
  int64_t F = invFreq.size();
  std::vector<int> row(F);
  for (int64_t i = 0, a = 0, left = sections[0]; i < F; ++i) {
    while (left == 0)
      left = sections[++a];
    row[i] = a;
    --left;
  }
  int64_t axes = sections.size();
  std::vector<double> c(F), s(F);
  double err = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < S; ++t) {
      for (int64_t i = 0; i < F; ++i) {
        float p = static_cast<float>(pos[(row[i] * B + b) * S + t]);
        float angle = p * invFreq[i];
        c[i] = std::cos(static_cast<double>(angle));
        s[i] = std::sin(static_cast<double>(angle));
      }
      (void)axes;
      for (int64_t h = 0; h < H; ++h) {
        size_t base =
            tokenMajor ? ((b * S + t) * H + h) * D : ((b * H + h) * S + t) * D;
        const float *x = orig + base;
        const float *y = got + base;
        for (int64_t i = 0; i < F; ++i) {
          double x1 = x[i], x2 = x[i + F];
          double y1 = x1 * c[i] - x2 * s[i];
          double y2 = x2 * c[i] + x1 * s[i];
          err = std::max({err, std::fabs(y[i] - y1), std::fabs(y[i + F] - y2)});
        }
        for (int64_t i = 2 * F; i < D; ++i)
          err = std::max(err, std::fabs(static_cast<double>(y[i]) - x[i]));
      }
    }
  return err;
}

static std::string cpuModelName() {
  auto buffer = llvm::MemoryBuffer::getFileAsStream("/proc/cpuinfo");
  if (buffer) {
    llvm::SmallVector<llvm::StringRef> lines;
    (*buffer)->getBuffer().split(lines, '\n');
    for (llvm::StringRef line : lines)
      if (line.starts_with("model name")) {
        auto [key, value] = line.split(':');
        return value.trim().str();
      }
  }
  return "unknown";
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static std::string jsonEscape(llvm::StringRef s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

using KernelFn = int (*)(float *, float *, int64_t, int64_t, const int64_t *,
                         int64_t, int64_t, int);

//===----------------------------------------------------------------------===//
// --fuse norm,cache
//===----------------------------------------------------------------------===//

/// bf16 bits of x, rounded to nearest even (x is finite here).
static uint16_t toBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

static float fromBf16(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

/// The separate norm: RMSNorm of every [D] row in place, rows [r0, r1).
/// Eight partial sums so the compiler vectorizes the reduction without
/// fast-math (the order differs from the fused kernel's: the comparison
/// tolerates that, see max_abs_err).
static void normRows(float *x, const float *w, int64_t r0, int64_t r1,
                     int64_t D, float eps) {
  for (int64_t r = r0; r < r1; ++r) {
    float *row = x + r * D;
    float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t d = 0; d + 8 <= D; d += 8)
      for (int j = 0; j < 8; ++j)
        part[j] += row[d + j] * row[d + j];
    float sum = 0;
    for (int j = 0; j < 8; ++j)
      sum += part[j];
    for (int64_t d = D / 8 * 8; d < D; ++d)
      sum += row[d] * row[d];
    float scale = 1.0f / std::sqrt(sum / static_cast<float>(D) + eps);
    for (int64_t d = 0; d < D; ++d)
      row[d] = row[d] * scale * w[d];
  }
}

/// normRows on bf16 storage: each row widened to f32, normalized there and
/// rounded back to bf16 (what a bf16 RMSNorm stores).
static void normRowsBf16(uint16_t *x, const float *w, int64_t r0, int64_t r1,
                         int64_t D, float eps) {
  std::vector<float> row(D);
  for (int64_t r = r0; r < r1; ++r) {
    uint16_t *bits = x + r * D;
    for (int64_t d = 0; d < D; ++d)
      row[d] = fromBf16(bits[d]);
    normRows(row.data(), w, 0, 1, D, eps);
    for (int64_t d = 0; d < D; ++d)
      bits[d] = toBf16(row[d]);
  }
}

/// Runs f(part) for part in [0, parts) on `parts` threads (started per
/// call: the separate chain pays that where the fused wrapper does too).
template <typename F> static void onThreads(int parts, F f) {
  std::vector<std::thread> pool;
  for (int i = 1; i < parts; ++i)
    pool.emplace_back([&, i] { f(i); });
  f(0);
  for (std::thread &t : pool)
    t.join();
}

/// The fused kernel's C signature; q, k and the cache are float or bf16
/// bits (uint16_t), passed as void pointers here.
using FusedFn = int (*)(void *, const void *, const float *, const float *,
                        void *, int64_t, int64_t, int64_t, int64_t,
                        const int64_t *, int64_t, int64_t, int);
using RopeFn = int (*)(void *, void *, int64_t, int64_t, const int64_t *,
                       int64_t, int64_t, int);

static int runFused(MLIRContext &ctx) {
  if (fuse != "norm,cache" && fuse != "cache,norm")
    return fail("--fuse takes norm,cache, got '" + fuse + "'");
  if (tensorLayout != "bhsd")
    return fail("--fuse takes --layout bhsd");
  if (fusedDtype != "f32" && fusedDtype != "bf16")
    return fail("--fuse takes --dtype f32 or bf16, got '" + fusedDtype + "'");
  const bool bf16 = fusedDtype == "bf16";
  const size_t elemBytes = bf16 ? 2 : 4;
  std::vector<int64_t> sections = {24, 20, 20};
  if (!sectionsOpt.empty())
    sections.assign(sectionsOpt.begin(), sectionsOpt.end());
  if (sections.size() != 3)
    return fail("--sections needs three values");
  double thetaValue = theta.getNumOccurrences() ? theta.getValue() : 5.0e6;
  const int64_t B = batch, S = seq, D = headDim, HQ = qHeads, HK = kvHeads;
  if (cacheLen < S)
    return fail("--cache-len must be >= --seq");
  const int64_t offset = cacheLen - S; // the last rows: a decode step's slot
  const float eps = 1e-6f;

  std::string error;
  mrope::TemplateRotation rotation;
  rotation.semantics = mrope::rope::SemanticsAttr::getChecked(
      [&] { return mlir::emitError(mlir::UnknownLoc::get(&ctx)); }, &ctx,
      llvm::ArrayRef<int64_t>(sections),
      2 * std::accumulate(sections.begin(), sections.end(), int64_t{0}),
      llvm::APFloat(thetaValue), mrope::rope::PairLayout::neox,
      mrope::rope::SectionOrder::interleaved, mrope::rope::FreqIndex::global);
  if (!rotation.semantics)
    return fail("--sections/--theta do not make a rotation");
  rotation.elementType = bf16 ? mlir::Type(mlir::BFloat16Type::get(&ctx))
                              : mlir::Type(mlir::Float32Type::get(&ctx));
  rotation.headDim = D;
  rotation.qHeads = HQ;
  rotation.kvHeads = HK;
  auto rotationModule = mrope::buildTemplateApply(ctx, rotation, error);
  if (!rotationModule)
    return fail(error);
  mrope::KernelOptions options;
  options.name = "bench_rope";
  options.tokensPerBlock = tokensPerBlock;
  auto spec = mrope::RopeKernel::fromApply(
      mrope::getTemplateApply(*rotationModule), options, error);
  if (failed(spec))
    return fail(error);
  mrope::FusedKernel fusedSpec{*spec, eps};
  fusedSpec.rope.options.name = "bench_fused";

  llvm::SmallString<128> tmpDir;
  if (!keepLibraries.empty()) {
    tmpDir = keepLibraries;
    if (std::error_code ec = llvm::sys::fs::create_directories(tmpDir))
      return fail("cannot create " + keepLibraries + ": " + ec.message());
  } else if (std::error_code ec =
                 llvm::sys::fs::createUniqueDirectory("mrope-bench", tmpDir)) {
    return fail("cannot create a temporary folder: " + ec.message());
  }
  auto dropTmp = [&] {
    if (keepLibraries.empty())
      llvm::sys::fs::remove_directories(tmpDir);
  };
  std::string ropePath = (tmpDir + "/librope.so").str();
  std::string fusedPath = (tmpDir + "/libfused.so").str();
  if (failed(mrope::compileSharedLibrary(ctx, *spec, ropePath, cpu, error)) ||
      failed(mrope::compileFusedSharedLibrary(ctx, fusedSpec, fusedPath, cpu,
                                              error))) {
    dropTmp();
    return fail(error);
  }
  void *ropeLib = dlopen(ropePath.c_str(), RTLD_NOW | RTLD_LOCAL);
  void *fusedLib = dlopen(fusedPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  dropTmp();
  if (!ropeLib || !fusedLib)
    return fail(llvm::Twine("cannot load a kernel: ") + dlerror());
  auto rope = reinterpret_cast<RopeFn>(dlsym(ropeLib, "bench_rope"));
  auto fused = reinterpret_cast<FusedFn>(dlsym(fusedLib, "bench_fused"));
  using ThreadsFn = int (*)(int64_t, int64_t, int64_t, int64_t, int);
  auto fusedThreads =
      reinterpret_cast<ThreadsFn>(dlsym(fusedLib, "bench_fused_threads"));
  if (!rope || !fused || !fusedThreads)
    return fail("a kernel symbol is missing");
  const int kernelThreads = fusedThreads(HQ, HK, B, S, threads);
  FusedFn fusedB = nullptr;
  void *fusedBLib = nullptr;
  if (!compareFused.empty()) {
    fusedBLib = dlopen(compareFused.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!fusedBLib)
      return fail(llvm::Twine("cannot load --compare-fused: ") + dlerror());
    fusedB = reinterpret_cast<FusedFn>(dlsym(fusedBLib, "bench_fused"));
    if (!fusedB)
      return fail("--compare-fused has no bench_fused (build it with --name "
                  "bench_fused)");
  }

  // Data: q and k in [-1, 1), weights in [0.5, 1.5), one cache. Cache pages
  // outside the slot are never touched (B = 64 x 32768 positions would be
  // 8 GiB resident otherwise). A buffer of n elements holds n * elemBytes
  // bytes (AlignedBuffer counts 4-byte words, which the copies move).
  size_t qCount = B * HQ * S * D, kCount = B * HK * S * D;
  auto words = [&](size_t n) { return (n * elemBytes + 3) / 4; };
  AlignedBuffer q0(words(qCount)), k0(words(kCount)), q(words(qCount)),
      k(words(kCount)), qd(words(qCount)), kd(words(kCount)), wq(D), wk(D),
      qSep(words(qCount)), slotSep(words(kCount));
  AlignedBuffer cache(words(static_cast<size_t>(B * HK) * cacheLen * D));
  auto get = [&](const AlignedBuffer &buf, size_t i) -> float {
    return bf16 ? fromBf16(reinterpret_cast<const uint16_t *>(buf.data)[i])
                : buf.data[i];
  };
  auto set = [&](AlignedBuffer &buf, size_t i, float v) {
    if (bf16)
      reinterpret_cast<uint16_t *>(buf.data)[i] = toBf16(v);
    else
      buf.data[i] = v;
  };
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (size_t i = 0; i < qCount; ++i)
    set(q0, i, uniform(rng));
  for (size_t i = 0; i < kCount; ++i)
    set(k0, i, uniform(rng));
  for (int64_t d = 0; d < D; ++d) {
    wq.data[d] = 1.0f + 0.5f * uniform(rng);
    wk.data[d] = 1.0f + 0.5f * uniform(rng);
  }
  Layout layout = chooseLayout(S);
  std::vector<int64_t> positions;
  fillPositions(layout, B, S, positions);
  std::memset(qd.data, 0, qd.bytes());
  std::memset(kd.data, 0, kd.bytes());

  // The separate chain: norm of q and k in place (rows split over the
  // threads), the rope kernel in place, then k's rows copied into the
  // cache slot.
  const size_t rowBytes = S * D * elemBytes;
  auto at = [&](AlignedBuffer &buf, size_t elem) {
    return reinterpret_cast<char *>(buf.data) + elem * elemBytes;
  };
  auto slotRow = [&](int64_t bh) {
    return at(cache, (bh * cacheLen + offset) * D);
  };
  auto norm = [&](AlignedBuffer &x, const AlignedBuffer &w, int64_t r0,
                  int64_t r1) {
    if (bf16)
      normRowsBf16(reinterpret_cast<uint16_t *>(x.data), w.data, r0, r1, D,
                   eps);
    else
      normRows(x.data, w.data, r0, r1, D, eps);
  };
  auto separate = [&] {
    int parts = static_cast<int>(std::min<int64_t>(threads, B * S));
    onThreads(parts, [&](int i) {
      auto span = [&](int64_t rows) {
        return std::pair<int64_t, int64_t>(rows * i / parts,
                                           rows * (i + 1) / parts);
      };
      auto [q0r, q1r] = span(B * HQ * S);
      norm(q, wq, q0r, q1r);
      auto [k0r, k1r] = span(B * HK * S);
      norm(k, wk, k0r, k1r);
    });
    rope(q.data, k.data, HQ, HK, positions.data(), B, S, threads);
    onThreads(parts, [&](int i) {
      for (int64_t bh = B * HK * i / parts; bh < B * HK * (i + 1) / parts; ++bh)
        std::memcpy(slotRow(bh), at(k, bh * S * D), rowBytes);
    });
  };
  auto runFusedWith = [&](FusedFn fn) {
    return fn(q.data, k.data, wq.data, wk.data, cache.data, cacheLen, offset,
              HQ, HK, positions.data(), B, S, threads);
  };

  // Accuracy: both chains from the same q0/k0; q and the slot compared.
  std::memcpy(q.data, q0.data, q.bytes());
  std::memcpy(k.data, k0.data, k.bytes());
  separate();
  std::memcpy(qSep.data, q.data, q.bytes());
  for (int64_t bh = 0; bh < B * HK; ++bh)
    std::memcpy(at(slotSep, bh * S * D), slotRow(bh), rowBytes);
  // The error of one fused library against the separate chain.
  auto fusedErr = [&](FusedFn fn, double &err) {
    std::memcpy(q.data, q0.data, q.bytes());
    std::memcpy(k.data, k0.data, k.bytes());
    if (runFusedWith(fn) != 0)
      return false;
    err = 0;
    for (size_t i = 0; i < qCount; ++i)
      err = std::max(err, (double)std::fabs(get(q, i) - get(qSep, i)));
    for (int64_t bh = 0; bh < B * HK; ++bh)
      for (int64_t i = 0; i < S * D; ++i) {
        size_t c = (bh * cacheLen + offset) * D + i;
        err = std::max(err, (double)std::fabs(get(cache, c) -
                                              get(slotSep, bh * S * D + i)));
      }
    return true;
  };
  double err = 0, errB = 0;
  if (!fusedErr(fused, err) || (fusedB && !fusedErr(fusedB, errB)))
    return fail("the fused kernel rejected the sizes");

  // Timing, interleaved per round. Both chains run in place on q (and k):
  // values stay bounded (a norm of a normed row is the row times w), and
  // the work does not depend on the values.
  // With --compare-fused a round is two half rounds, one per library, each
  // fused call after the same three steps (separate, memcpy, nt copy).
  std::vector<double> fusedMs, fusedBMs, sepMs, memcpyMs, ntMs;
  CopyPool pool(threads);
  for (int r = 0; r < warmup + reps; ++r) {
    for (FusedFn fn : {fused, fusedB}) {
      if (!fn)
        continue;
      double ms[4];
      ms[0] = settledMs([&] { runFusedWith(fn); });
      ms[1] = settledMs(separate);
      ms[2] =
          settledMs([&] { pool.copy(q0, k0, qd, kd, /*nonTemporal=*/false); });
      ms[3] =
          settledMs([&] { pool.copy(q0, k0, qd, kd, /*nonTemporal=*/true); });
      if (r < warmup)
        continue;
      (fn == fused ? fusedMs : fusedBMs).push_back(ms[0]);
      sepMs.push_back(ms[1]);
      memcpyMs.push_back(ms[2]);
      ntMs.push_back(ms[3]);
    }
  }
  double fMs = median(fusedMs), sMs = median(sepMs), mMs = median(memcpyMs),
         nMs = median(ntMs);
  std::string secText = llvm::join(
      llvm::map_range(sections, [](int64_t v) { return std::to_string(v); }),
      ",");
  if (json) {
    llvm::outs() << llvm::formatv(
        "{{\"fuse\": \"norm,cache\", \"dtype\": \"{11}\", \"seq\": {0}, "
        "\"batch\": {1}, "
        "\"threads\": {2}, \"q_heads\": {3}, \"kv_heads\": {4}, "
        "\"head_dim\": {5}, \"sections\": [{6}], \"order\": \"interleaved\", "
        "\"cache_len\": {7}, \"cache_offset\": {8}, \"reps\": {9}, "
        "\"qk_bytes\": {10}, ",
        S, B, threads.getValue(), HQ, HK, D, secText, cacheLen.getValue(),
        offset, reps.getValue(), (int64_t)((qCount + kCount) * elemBytes),
        fusedDtype.getValue());
    llvm::outs() << llvm::formatv(
        "\"fused_ms\": {0:f6}, \"separate_ms\": {1:f6}, \"memcpy_ms\": "
        "{2:f6}, \"nt_copy_ms\": {3:f6}, \"fused_vs_memcpy\": {4:f6}, "
        "\"separate_vs_fused\": {5:f4}, \"max_abs_err\": {6:e3}, "
        "\"kernel_threads\": {7}, ",
        fMs, sMs, mMs, nMs, mMs / fMs, sMs / fMs, err, kernelThreads);
    if (fusedB) {
      double bMs = median(fusedBMs);
      llvm::outs() << llvm::formatv(
          "\"fused_b_ms\": {0:f6}, \"fused_b_vs_memcpy\": {1:f6}, "
          "\"fused_b_max_abs_err\": {2:e3}, ",
          bMs, mMs / bMs, errB);
    }
    llvm::outs() << "\"cpu\": \"" << jsonEscape(cpuModelName())
                 << "\", \"llvm_cpu\": \""
                 << jsonEscape(llvm::sys::getHostCPUName().str()) << "\"}\n";
  } else {
    llvm::outs() << llvm::formatv(
        "fused norm+rope+cache {10} B={0} S={1} threads={2}: fused {3:f3} ms, "
        "separate {4:f3} ms ({5:f2}x), memcpy {6:f3} ms, nt copy {7:f3} ms "
        "(memcpy/fused {8:f3}); max abs err {9:e2}\n",
        B, S, threads.getValue(), fMs, sMs, sMs / fMs, mMs, nMs, mMs / fMs, err,
        fusedDtype.getValue());
  }
  dlclose(ropeLib);
  dlclose(fusedLib);
  if (fusedBLib)
    dlclose(fusedBLib);
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // --threads T / --threads=T / -threads ... -> --num-threads.
  std::vector<std::string> rewritten(argv, argv + argc);
  for (std::string &arg : rewritten) {
    llvm::StringRef a(arg);
    for (llvm::StringRef dash : {"--", "-"})
      if (a.consume_front(dash) &&
          (a == "threads" || a.starts_with("threads="))) {
        arg = "--num-" + a.str();
        break;
      }
  }
  std::vector<char *> args;
  for (std::string &arg : rewritten)
    args.push_back(arg.data());
  argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  argv = args.data();
  mlir::registerAllPasses();
  mrope::registerAllPasses();
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "mrope-bench: time the fused M-RoPE CPU kernel against copies of the "
      "same bytes.\n\n"
      "What it does, in one run:\n"
      "  1. Builds the kernel (mrope::compileSharedLibrary, the code path of\n"
      "     `mrope-compile --target cpu --dtype f32`, rotate-half layout,\n"
      "     contiguous sections, global frequency index) into a temporary\n"
      "     folder, or loads --library, and dlopens it.\n"
      "  2. Allocates 64-byte aligned f32 q [B,q-heads,S,D] and k\n"
      "     [B,kv-heads,S,D] filled with uniform(-1,1) values (--seed), and\n"
      "     M-RoPE positions [3,B,S] (--positions; default 'image': a\n"
      "     20-token text prefix, one 4:3 image of t=1 whose merged grid\n"
      "     fills the middle, and the remaining >= 20 tokens of text, with\n"
      "     the positions get_rope_index / mrope.reference.rope_index gives\n"
      "     that token sequence; see --dump-positions).\n"
      "  3. Runs the kernel once on a copy and reports max_abs_err: the max\n"
      "     |kernel - reference| over every element of q and k, the\n"
      "     reference rotating the f32 inputs in float64 with cos/sin in\n"
      "     float64 of the f32 angle f32(p) * inv_freq[i], inv_freq from\n"
      "     rope::SemanticsAttr::computeInvFreq() (what the kernel uses).\n"
      "  4. Times, after --warmup untimed rounds, --reps rounds of three\n"
      "     interleaved measurements (so noise hits all three alike), and\n"
      "     reports the medians:\n"
      "       kernel:  the kernel, in place on q and k, --threads threads\n"
      "                (tokens split over the persistent thread pool of its\n"
      "                C wrapper; --layout bhsd|bshd storage); each\n"
      "                round rotates the previous round's output, which is\n"
      "                fine: rotations keep magnitudes;\n"
      "       memcpy:  memcpy of the same bytes (q and k, src -> separate\n"
      "                dst buffers), split into --threads parts on threads\n"
      "                kept for the whole run (no thread creation timed);\n"
      "       nt_copy: the same copy with non-temporal (streaming) stores\n"
      "                (AVX-512/AVX/SSE stream_ps, then sfence).\n\n"
      "Bytes convention: bytes = 2 x (size of q + size of k): each element\n"
      "is read once and written once, by the in-place kernel and by both\n"
      "copies alike. GB/s = bytes / time / 1e9. So the ratios are ratios of\n"
      "times: ratio_vs_memcpy = memcpy_ms / kernel_ms and ratio_vs_nt_copy =\n"
      "nt_copy_ms / kernel_ms (1.0: as fast as that copy; > 1: faster).\n\n"
      "Output: a readable line, or with --json one JSON object with seq,\n"
      "batch, threads, q_heads, kv_heads, head_dim, sections, reps, bytes,\n"
      "kernel_ms, memcpy_ms, nt_copy_ms (medians), *_min_ms, kernel_gbps,\n"
      "memcpy_gbps, nt_copy_gbps, ratio_vs_memcpy, ratio_vs_nt_copy,\n"
      "max_abs_err, kernel_threads (how many of --threads the kernel's\n"
      "work-size rule used), positions (a description), nt_copy_kind, cpu\n"
      "(model name from /proc/cpuinfo), llvm_cpu (LLVM's host CPU name) and\n"
      "library (the kernel used; a temporary one is deleted on exit).\n\n"
      "Example (Qwen2-VL-7B prefill):\n"
      "  mrope-bench --seq 4096 --threads 2 --json\n");

  if (seq < 1 || batch < 1 || qHeads < 1 || kvHeads < 1 || headDim < 2)
    return fail("--seq, --batch, --q-heads, --kv-heads, --head-dim must be "
                "positive");
  if (threads < 1 || threads > 256)
    return fail("--threads must be in 1..256");
  if (reps < 1 || warmup < 0)
    return fail("--reps must be >= 1 and --warmup >= 0");
  if (positionsKind != "image" && positionsKind != "text")
    return fail("--positions must be image or text");

  std::vector<int64_t> sections = {16, 24, 24};
  if (!sectionsOpt.empty())
    sections.assign(sectionsOpt.begin(), sectionsOpt.end());
  if (sections.size() != 3)
    return fail("mrope-bench lays out 3D (t,h,w) positions: --sections needs "
                "three values");
  if (tensorLayout != "bhsd" && tensorLayout != "bshd")
    return fail("--layout must be bhsd or bshd");
  const bool tokenMajor = tensorLayout == "bshd";

  DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mrope::registerAllDialects(registry);
  MLIRContext ctx(registry);
  ctx.getOrLoadDialect("rope");
  if (!fuse.empty())
    return runFused(ctx);
  // The kernel of the template rope.apply these flags describe: the path
  // `mrope-compile --target cpu --dtype f32` takes.
  std::string error;
  mrope::TemplateRotation rotation;
  rotation.semantics = mrope::rope::SemanticsAttr::getChecked(
      [&] { return mlir::emitError(mlir::UnknownLoc::get(&ctx)); }, &ctx,
      llvm::ArrayRef<int64_t>(sections),
      2 * std::accumulate(sections.begin(), sections.end(), int64_t{0}),
      llvm::APFloat(theta.getValue()), mrope::rope::PairLayout::neox,
      mrope::rope::SectionOrder::contiguous, mrope::rope::FreqIndex::global);
  if (!rotation.semantics)
    return fail("--sections/--theta do not make a rotation");
  rotation.elementType = mlir::Float32Type::get(&ctx);
  rotation.headDim = headDim;
  rotation.qHeads = qHeads;
  rotation.kvHeads = kvHeads;
  auto rotationModule = mrope::buildTemplateApply(ctx, rotation, error);
  if (!rotationModule)
    return fail(error);
  mrope::KernelOptions options;
  options.name = kernelName;
  options.tensorLayout = tensorLayout;
  options.tokensPerBlock = tokensPerBlock;
  auto spec = mrope::RopeKernel::fromApply(
      mrope::getTemplateApply(*rotationModule), options, error);
  if (failed(spec) || failed(spec->verify(error)))
    return fail(error);
  llvm::SmallVector<float> invFreq(spec->semantics.computeInvFreq());

  // Kernel library: compile into a temporary folder unless given.
  llvm::SmallString<128> tmpDir;
  std::string libPath = library;
  if (libPath.empty()) {
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("mrope-bench", tmpDir))
      return fail("cannot create a temporary folder: " + ec.message());
    libPath = (tmpDir + "/lib" + spec->options.name + ".so").str();
    if (failed(mrope::compileSharedLibrary(ctx, *spec, libPath, cpu, error))) {
      llvm::sys::fs::remove_directories(tmpDir);
      return fail(error);
    }
  }
  void *handle = dlopen(libPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    if (!tmpDir.empty())
      llvm::sys::fs::remove_directories(tmpDir);
    return fail(llvm::Twine("cannot load ") + libPath + ": " + dlerror());
  }
  auto kernel =
      reinterpret_cast<KernelFn>(dlsym(handle, spec->options.name.c_str()));
  if (!kernel)
    return fail("no symbol " + spec->options.name + " in " + libPath);
  // How many threads the kernel uses of --threads (libraries built before
  // the work-size rule have no such symbol: -1).
  using ThreadsFn = int (*)(int64_t, int64_t, int64_t, int64_t, int);
  auto threadsFn = reinterpret_cast<ThreadsFn>(
      dlsym(handle, (spec->options.name + "_threads").c_str()));

  // Data.
  const int64_t B = batch, S = seq, D = headDim;
  size_t qCount = B * qHeads * S * D, kCount = B * kvHeads * S * D;
  AlignedBuffer q0(qCount), k0(kCount), q(qCount), k(kCount);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (size_t i = 0; i < qCount; ++i)
    q0.data[i] = uniform(rng);
  for (size_t i = 0; i < kCount; ++i)
    k0.data[i] = uniform(rng);
  Layout layout = chooseLayout(S);
  std::vector<int64_t> positions;
  int64_t maxPos = fillPositions(layout, B, S, positions);
  if (!dumpPositions.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(dumpPositions, ec);
    if (ec)
      return fail("cannot write " + dumpPositions + ": " + ec.message());
    os.write(reinterpret_cast<const char *>(positions.data()),
             positions.size() * sizeof(int64_t));
  }

  // Accuracy: one run on fresh copies.
  std::memcpy(q.data, q0.data, q.bytes());
  std::memcpy(k.data, k0.data, k.bytes());
  if (kernel(q.data, k.data, qHeads, kvHeads, positions.data(), B, S,
             threads) != 0)
    return fail("the kernel rejected the sizes");
  double err = std::max(maxAbsErr(q0.data, q.data, B, qHeads, S, D, tokenMajor,
                                  positions, invFreq, sections),
                        maxAbsErr(k0.data, k.data, B, kvHeads, S, D, tokenMajor,
                                  positions, invFreq, sections));

  // Timing: kernel in place on q/k; copies q0/k0 -> qd/kd.
  AlignedBuffer qd(qCount), kd(kCount);
  std::memset(qd.data, 0, qd.bytes()); // fault the pages in
  std::memset(kd.data, 0, kd.bytes());
  std::vector<double> kernelMs, memcpyMs, ntMs;
  int kernelThreads =
      threadsFn ? threadsFn(qHeads, kvHeads, batch, seq, threads) : -1;
  CopyPool pool(threads);
  for (int r = 0; r < warmup + reps; ++r) {
    double ms[3];
    ms[0] = settledMs([&] {
      kernel(q.data, k.data, qHeads, kvHeads, positions.data(), B, S, threads);
    });
    ms[1] =
        settledMs([&] { pool.copy(q0, k0, qd, kd, /*nonTemporal=*/false); });
    ms[2] = settledMs([&] { pool.copy(q0, k0, qd, kd, /*nonTemporal=*/true); });
    if (r < warmup)
      continue;
    kernelMs.push_back(ms[0]);
    memcpyMs.push_back(ms[1]);
    ntMs.push_back(ms[2]);
  }
  dlclose(handle);
  if (!tmpDir.empty())
    llvm::sys::fs::remove_directories(tmpDir);

  double bytes = 2.0 * (q.bytes() + k.bytes());
  double kMs = median(kernelMs), mMs = median(memcpyMs), nMs = median(ntMs);
  auto gbps = [&](double ms) { return bytes / (ms * 1e-3) / 1e9; };
  std::string posText = layout.describe(maxPos);
  FailureOr<mrope::CpuTarget> target = mrope::describeCpu(cpu, error);
  int64_t blockTokens = succeeded(target) ? target->tokensPerBlock(*spec) : 0;
  std::string cpuName = cpuModelName();
  std::string llvmCpu = llvm::sys::getHostCPUName().str();
  std::string secText = llvm::join(
      llvm::map_range(sections, [](int64_t v) { return std::to_string(v); }),
      ",");

  if (json) {
    llvm::outs() << llvm::formatv(
        "{{\"seq\": {0}, \"batch\": {1}, \"threads\": {2}, \"q_heads\": {3}, "
        "\"kv_heads\": {4}, \"head_dim\": {5}, \"sections\": [{6}], "
        "\"reps\": {7}, \"bytes\": {8}, ",
        S, B, threads.getValue(), qHeads.getValue(), kvHeads.getValue(), D,
        secText, reps.getValue(), (int64_t)bytes);
    llvm::outs() << llvm::formatv(
        "\"kernel_ms\": {0:f6}, \"memcpy_ms\": {1:f6}, \"nt_copy_ms\": "
        "{2:f6}, \"kernel_min_ms\": {3:f6}, \"memcpy_min_ms\": {4:f6}, "
        "\"nt_copy_min_ms\": {5:f6}, ",
        kMs, mMs, nMs, *std::min_element(kernelMs.begin(), kernelMs.end()),
        *std::min_element(memcpyMs.begin(), memcpyMs.end()),
        *std::min_element(ntMs.begin(), ntMs.end()));
    llvm::outs() << llvm::formatv(
        "\"kernel_gbps\": {0:f3}, \"memcpy_gbps\": {1:f3}, \"nt_copy_gbps\": "
        "{2:f3}, \"ratio_vs_memcpy\": {3:f4}, \"ratio_vs_nt_copy\": {4:f4}, ",
        gbps(kMs), gbps(mMs), gbps(nMs), mMs / kMs, nMs / kMs);
    llvm::outs() << llvm::formatv(
        "\"max_abs_err\": {0:e3}, \"kernel_threads\": {1}, ", err,
        kernelThreads);
    llvm::outs() << "\"layout\": \"" << tensorLayout
                 << "\", \"tokens_per_block\": " << blockTokens << ", ";
    llvm::outs() << "\"positions\": \"" << jsonEscape(posText)
                 << "\", \"nt_copy_kind\": \"" << ntCopyKind()
                 << "\", \"cpu\": \"" << jsonEscape(cpuName)
                 << "\", \"llvm_cpu\": \"" << jsonEscape(llvmCpu)
                 << "\", \"library\": \""
                 << jsonEscape(tmpDir.empty() ? libPath : "(temporary)")
                 << "\"}\n";
  } else {
    llvm::outs() << llvm::formatv(
        "S={0} threads={1} layout {15}: kernel {2:f3} ms ({3:f2} GB/s), memcpy "
        "{4:f3} ms "
        "({5:f2} GB/s), nt copy {6:f3} ms ({7:f2} GB/s); kernel/memcpy "
        "throughput {8:f3}, kernel/nt-copy {9:f3}; max abs err {10:e2}; "
        "{11:f1} MB moved; {12} ({13}); kernel on {16} thread(s)\n  "
        "positions: {14}\n",
        S, threads.getValue(), kMs, gbps(kMs), mMs, gbps(mMs), nMs, gbps(nMs),
        mMs / kMs, nMs / kMs, err, bytes / 1e6, cpuName, llvmCpu, posText,
        tensorLayout, kernelThreads);
  }
  return 0;
}
