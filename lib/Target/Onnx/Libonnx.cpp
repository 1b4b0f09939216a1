//===- Libonnx.cpp - libonnx's shape inference and checker, contained -----===//
#include "Libonnx.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <functional>

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

/// Runs `work` and returns what it returns; with isolation, in a forked
/// child (stderr silenced, address space capped) whose result comes back
/// through a pipe. nullopt when the work failed in any way.
std::optional<std::string>
runContained(llvm::function_ref<std::optional<std::string>()> work,
             const ImportOptions &options) {
  auto inline_ = [&]() -> std::optional<std::string> {
    try {
      return work();
    } catch (...) {
      return std::nullopt;
    }
  };
#ifdef MROPE_CAN_FORK
  if (!options.isolateLibonnx)
    return inline_();
  int fds[2];
  if (pipe(fds) != 0)
    return std::nullopt;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    // The child: die quietly on any fault; nothing of it reaches the user.
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
    std::optional<std::string> out = inline_();
    if (!out)
      _exit(2);
    const char *p = out->data();
    size_t left = out->size();
    while (left) {
      ssize_t w = write(fds[1], p, left);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        _exit(3);
      p += w;
      left -= w;
    }
    _exit(0);
  }
  close(fds[1]);
  std::string result;
  bool timedOut = false;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  char buf[1 << 16];
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsedMs = (now.tv_sec - start.tv_sec) * 1000 +
                     (now.tv_nsec - start.tv_nsec) / 1000000;
    long leftMs = (long)options.libonnxTimeoutSeconds * 1000 - elapsedMs;
    if (leftMs <= 0) {
      timedOut = true;
      break;
    }
    struct pollfd pfd = {fds[0], POLLIN, 0};
    int r = poll(&pfd, 1, (int)std::min(leftMs, 1000L));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      break;
    if (r == 0)
      continue;
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; // EOF: the child is done (or died)
    result.append(buf, n);
  }
  close(fds[0]);
  if (timedOut)
    kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return std::nullopt;
  return result;
#else
  return inline_();
#endif
}

/// Whether libonnx may see a tensor's payload: small and inline.
bool smallInline(const ::onnx::TensorProto &t) {
  return t.data_location() != ::onnx::TensorProto::EXTERNAL &&
         t.raw_data().size() <= 4096 && t.float_data_size() <= 1024 &&
         t.int64_data_size() <= 1024 && t.int32_data_size() <= 1024 &&
         t.double_data_size() <= 512 && t.uint64_data_size() <= 1024 &&
         t.string_data_size() <= 64;
}

} // namespace

/// The model without large tensor payloads (subgraph initializers are small
/// in practice and copied as they are). A large or external initializer
/// becomes a graph input of its type: libonnx then sees no values for it,
/// rather than an empty payload it would read as values.
static ::onnx::ModelProto trimmedCopy(const ::onnx::ModelProto &model) {
  ::onnx::ModelProto copy;
  *copy.mutable_opset_import() = model.opset_import();
  copy.set_ir_version(model.ir_version());
  *copy.mutable_functions() = model.functions();
  ::onnx::GraphProto *g = copy.mutable_graph();
  const ::onnx::GraphProto &src = model.graph();
  g->set_name(src.name());
  *g->mutable_node() = src.node();
  *g->mutable_input() = src.input();
  *g->mutable_output() = src.output();
  *g->mutable_value_info() = src.value_info();
  for (const auto &t : src.initializer()) {
    if (smallInline(t)) {
      *g->add_initializer() = t;
      continue;
    }
    bool isInput = false;
    for (const auto &in : src.input())
      isInput |= in.name() == t.name();
    if (isInput)
      continue;
    ::onnx::ValueInfoProto *in = g->add_input();
    in->set_name(t.name());
    auto *tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(t.data_type());
    auto *shape = tt->mutable_shape();
    for (int64_t d : t.dims())
      shape->add_dim()->set_dim_value(d);
  }
  return copy;
}

int64_t mrope::onnx::detail::libonnxMaxOpset() {
  const auto &map =
      ::onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = map.find("");
  return it == map.end() ? 0 : it->second.second;
}

void mrope::onnx::detail::inferShapesContained(
    const ::onnx::ModelProto &model, const ImportOptions &options,
    llvm::StringMap<::onnx::TypeProto> &inferred) {
  ::onnx::ModelProto copy = trimmedCopy(model);
  auto infer = [&]() -> std::optional<std::string> {
    ::onnx::ShapeInferenceOptions opts(/*check_type=*/false,
                                       /*strict_mode=*/0,
                                       /*data_prop=*/false);
    ::onnx::shape_inference::InferShapes(
        copy, ::onnx::OpSchemaRegistry::Instance(), opts);
    // Only the graphs travel back: value_info is all we read.
    std::string out;
    copy.graph().SerializeToString(&out);
    return out;
  };
  std::optional<std::string> bytes = runContained(infer, options);
  ::onnx::GraphProto result;
  if (!bytes || !result.ParseFromString(*bytes))
    return; // best effort only
  std::function<void(const ::onnx::GraphProto &)> collect =
      [&](const ::onnx::GraphProto &graph) {
        for (const auto &vi : graph.value_info())
          if (vi.has_type())
            inferred.try_emplace(vi.name(), vi.type());
        for (const auto &n : graph.node())
          for (const auto &a : n.attribute()) {
            if (a.has_g())
              collect(a.g());
            for (const auto &sg : a.graphs())
              collect(sg);
          }
      };
  collect(result);
}

std::optional<std::string>
mrope::onnx::detail::checkModelContained(const ::onnx::ModelProto &model,
                                         const ImportOptions &options) {
  ::onnx::ModelProto copy = trimmedCopy(model);
  auto check = [&]() -> std::optional<std::string> {
    try {
      ::onnx::checker::check_model(copy);
    } catch (const std::exception &e) {
      std::string msg = llvm::StringRef(e.what()).split('\n').first.str();
      return msg.empty() ? std::string("(no message)") : msg;
    }
    return std::string();
  };
  return runContained(check, options);
}
