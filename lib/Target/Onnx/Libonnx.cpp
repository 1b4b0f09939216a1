//===- Libonnx.cpp - libonnx's shape inference and checker, contained -----===//
#include "Libonnx.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <functional>
#include <future>

#if defined(__unix__) || defined(__APPLE__)
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#define MROPE_CAN_FORK 1
#endif

#if defined(__SANITIZE_ADDRESS__)
#define MROPE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MROPE_ASAN 1
#endif
#endif

#ifdef MROPE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

using namespace mrope::onnx;
using namespace mrope::onnx::detail;

namespace {

using Work = std::function<std::optional<std::string>()>;

std::optional<std::string> runInline(const Work &work) {
  try {
    return work();
  } catch (...) {
    return std::nullopt;
  }
}

#ifdef MROPE_CAN_FORK
std::shared_future<void> &schemasRegistered() {
  static std::shared_future<void> registered;
  return registered;
}

/// libonnx registers its op schemas on first use. Done once, before any
/// fork, each child inherits them instead of registering them again.
void registerSchemasOnce() {
  if (!schemasRegistered().valid())
    mrope::onnx::detail::prepareLibonnx();
  schemasRegistered().wait();
}

/// Writes all of `bytes` to the pipe `fd`.
bool writeAll(int fd, llvm::StringRef bytes) {
  while (!bytes.empty()) {
    ssize_t w = write(fd, bytes.data(), bytes.size());
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    bytes = bytes.drop_front(w);
  }
  return true;
}

/// The child's side: die quietly on any fault (nothing of it reaches the
/// user) and run `body` under the memory ceiling; it writes to the pipe's
/// end it is given and says whether that went through.
[[noreturn]] void runChild(llvm::function_ref<bool(int)> body, int fds[2],
                           const ImportOptions &options) {
  close(fds[0]);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
    std::signal(sig, SIG_DFL);
  int devnull = open("/dev/null", O_WRONLY);
  if (devnull >= 0) {
    dup2(devnull, 1);
    dup2(devnull, 2);
  }
#ifdef MROPE_ASAN
  // A sanitizer report in libonnx stays in the child: no death callback
  // (libFuzzer's would save the parent's input as a crash of its own).
  __sanitizer_set_death_callback(nullptr);
#else // ASan reserves terabytes of address space up front
  if (options.libonnxMemoryBytes > 0) {
    long pages = 0;
    if (FILE *f = fopen("/proc/self/statm", "r")) {
      if (fscanf(f, "%ld", &pages) != 1)
        pages = 0;
      fclose(f);
    }
    rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) +
                 (rlim_t)options.libonnxMemoryBytes;
    struct rlimit rl = {cap, cap};
    setrlimit(RLIMIT_AS, &rl);
  }
#endif
  _exit(body(fds[1]) ? 0 : 3);
}

/// Everything the child `pid` writes to `fd` until it closes it (a child
/// blocks once its pipe is full) or `timeoutSeconds` have passed, when the
/// child is killed. Closes `fd`.
std::string readChild(pid_t pid, int fd, unsigned timeoutSeconds) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsedMs = (now.tv_sec - start.tv_sec) * 1000 +
                     (now.tv_nsec - start.tv_nsec) / 1000000;
    long leftMs = (long)timeoutSeconds * 1000 - elapsedMs;
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = leftMs <= 0 ? -1 : poll(&pfd, 1, (int)std::min(leftMs, 1000L));
    if (r < 0 && leftMs > 0 && errno == EINTR)
      continue;
    if (r < 0) { // out of time, or cannot wait on it
      kill(pid, SIGKILL);
      break;
    }
    if (r == 0)
      continue;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) // EOF: the child is done (or died)
      break;
    out.append(buf, n);
  }
  close(fd);
  return out;
}
#endif

/// Whether libonnx may see a tensor's payload: small and inline.
bool smallInline(const ::onnx::TensorProto &t) {
  return t.data_location() != ::onnx::TensorProto::EXTERNAL &&
         t.raw_data().size() <= 4096 && t.float_data_size() <= 1024 &&
         t.int64_data_size() <= 1024 && t.int32_data_size() <= 1024 &&
         t.double_data_size() <= 512 && t.uint64_data_size() <= 1024 &&
         t.string_data_size() <= 64;
}

/// Fills `out` (on `model`'s arena, so that swaps move) with what libonnx
/// sees of `model`, which it takes apart (fields are swapped over, not
/// copied): the graph and functions without large tensor payloads
/// (subgraph initializers are small in practice and kept as they are). A
/// large or external initializer becomes a graph input of its type: libonnx
/// then sees no values for it, rather than an empty payload it would read
/// as values.
void trim(::onnx::ModelProto &model, ::onnx::ModelProto &out) {
  out.mutable_opset_import()->Swap(model.mutable_opset_import());
  out.set_ir_version(model.ir_version());
  out.mutable_functions()->Swap(model.mutable_functions());
  ::onnx::GraphProto *g = out.mutable_graph();
  ::onnx::GraphProto &src = *model.mutable_graph();
  g->set_name(src.name());
  g->mutable_node()->Swap(src.mutable_node());
  g->mutable_input()->Swap(src.mutable_input());
  g->mutable_output()->Swap(src.mutable_output());
  g->mutable_value_info()->Swap(src.mutable_value_info());
  llvm::StringSet<> inputs;
  for (const auto &in : g->input())
    inputs.insert(in.name());
  for (auto &t : *src.mutable_initializer()) {
    if (smallInline(t)) {
      g->add_initializer()->Swap(&t);
      continue;
    }
    if (inputs.contains(t.name()))
      continue;
    ::onnx::ValueInfoProto *in = g->add_input();
    in->set_name(t.name());
    auto *tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(t.data_type());
    auto *shape = tt->mutable_shape();
    for (int64_t d : t.dims())
      shape->add_dim()->set_dim_value(d);
  }
}

std::optional<std::string> checkerWork(::onnx::ModelProto &model) {
  try {
    ::onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    std::string msg = llvm::StringRef(e.what()).split('\n').first.str();
    return msg.empty() ? std::string("(no message)") : msg;
  }
  return std::string();
}

std::optional<std::string> shapeInferenceWork(::onnx::ModelProto &model) {
  ::onnx::ShapeInferenceOptions opts(/*check_type=*/false, /*strict_mode=*/0,
                                     /*data_prop=*/false);
  ::onnx::shape_inference::InferShapes(
      model, ::onnx::OpSchemaRegistry::Instance(), opts);
  // Only the value_info travels back, every graph's in one list (outer
  // graphs first, so a name's first entry is the outermost).
  ::onnx::GraphProto types;
  std::function<void(::onnx::GraphProto &)> collect =
      [&](::onnx::GraphProto &graph) {
        for (auto &vi : *graph.mutable_value_info())
          if (vi.has_type())
            types.add_value_info()->Swap(&vi);
        for (auto &n : *graph.mutable_node())
          for (auto &a : *n.mutable_attribute()) {
            if (a.has_g())
              collect(*a.mutable_g());
            for (auto &sg : *a.mutable_graphs())
              collect(sg);
          }
      };
  collect(*model.mutable_graph());
  std::string out;
  types.SerializeToString(&out);
  return out;
}

} // namespace

//===----------------------------------------------------------------------===//
// LibonnxJob
//===----------------------------------------------------------------------===//

LibonnxJob::LibonnxJob(const ::onnx::ModelProto &model,
                       const ImportOptions &options, bool check, bool infer)
    : options(options) {
  if (check)
    works.push_back({checkerWork, /*checker=*/true});
  if (infer)
    works.push_back({shapeInferenceWork, /*checker=*/false});
#ifdef MROPE_CAN_FORK
  if (options.isolateLibonnx && !works.empty()) {
    registerSchemasOnce();
    int fds[2];
    if (pipe(fds) != 0)
      return;
    pid_t forked = fork();
    if (forked < 0) {
      close(fds[0]);
      close(fds[1]);
      return;
    }
    if (forked == 0) {
      // One child for all works (a fork and a view of the model, not one
      // each), one record per work written as soon as it is done: a crash
      // in shape inference leaves the checker's finding readable. The
      // child's memory is its own copy: it takes the model apart and exits
      // without freeing anything.
      auto &own = const_cast<::onnx::ModelProto &>(model);
      auto *view = google::protobuf::Arena::CreateMessage<::onnx::ModelProto>(
          own.GetArena());
      trim(own, *view);
      runChild(
          [&](int out) {
            for (Entry &w : works) {
              std::optional<std::string> r =
                  runInline([&] { return w.work(*view); });
              std::string record(1, r ? '\1' : '\0');
              uint64_t n = r ? r->size() : 0;
              record.append(reinterpret_cast<const char *>(&n), sizeof n);
              if (r)
                record += *r;
              if (!writeAll(out, record))
                return false;
            }
            return true;
          },
          fds, options);
    }
    close(fds[1]);
    pid = forked;
    fd = fds[0];
    return;
  }
#endif
  // Inline: now, on copies, since the caller may change the model later.
  for (Entry &w : works) {
    ::onnx::ModelProto copy = model, view;
    trim(copy, view);
    w.result = runInline([&] { return w.work(view); });
  }
}

LibonnxJob::~LibonnxJob() {
#ifdef MROPE_CAN_FORK
  if (pid > 0) {
    if (fd >= 0)
      close(fd);
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
#endif
}

void LibonnxJob::finish(std::optional<std::string> *finding,
                        llvm::StringMap<::onnx::TypeProto> *inferred) {
#ifdef MROPE_CAN_FORK
  if (pid > 0) {
    std::string records = readChild(pid, fd, options.libonnxTimeoutSeconds);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = fd = -1;
    // Every complete record counts, even from a child that died later.
    llvm::StringRef out = records;
    for (Entry &w : works) {
      uint64_t n = 0;
      if (out.size() < 1 + sizeof n)
        break;
      bool present = out.front() == '\1';
      std::memcpy(&n, out.data() + 1, sizeof n);
      out = out.drop_front(1 + sizeof n);
      if (out.size() < n)
        break;
      if (present)
        w.result = out.take_front(n).str();
      out = out.drop_front(n);
    }
  }
#endif
  for (Entry &w : works) {
    if (w.checker) {
      if (finding)
        *finding = std::move(w.result);
      continue;
    }
    ::onnx::GraphProto types;
    if (!inferred || !w.result || !types.ParseFromString(*w.result))
      continue; // best effort only
    for (auto &vi : *types.mutable_value_info())
      inferred->try_emplace(vi.name(), std::move(*vi.mutable_type()));
  }
}

void mrope::onnx::detail::prepareLibonnx() {
#ifdef MROPE_CAN_FORK
  if (schemasRegistered().valid())
    return;
  schemasRegistered() = std::async(std::launch::async, [] {
                          (void)::onnx::OpSchemaRegistry::Schema("Add", "");
                        }).share();
#endif
}

void mrope::onnx::detail::waitForLibonnx() {
#ifdef MROPE_CAN_FORK
  if (schemasRegistered().valid())
    schemasRegistered().wait();
#endif
}

int64_t mrope::onnx::detail::libonnxMaxOpset() {
  const auto &map =
      ::onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = map.find("");
  return it == map.end() ? 0 : it->second.second;
}
