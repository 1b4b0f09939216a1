//===- Libonnx.cpp - libonnx's shape inference and checker, contained -----===//
#include "Libonnx.h"
#include "Common.h"
#include "Validate.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#define MROPE_CAN_FORK 1
#endif
#ifdef __linux__
#include <sys/mman.h>
#include <sys/prctl.h>
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

/// libonnx registers its op schemas on first use: on a thread, so that it
/// overlaps the caller's work.
void startSchemaThread() {
  if (schemasRegistered().valid())
    return;
  schemasRegistered() = std::async(std::launch::async, [] {
                          (void)::onnx::OpSchemaRegistry::Schema("Add", "");
                        }).share();
}

/// Done once, before any fork from the caller, each child inherits them
/// instead of registering them again.
void registerSchemasOnce() {
  startSchemaThread();
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
/// user) and run `body` under the memory ceiling and, as a backstop for a
/// caller that stopped waiting, a time limit; it writes to `out` and says
/// whether that went through.
[[noreturn]] void runChild(llvm::function_ref<bool(int)> body, int out,
                           int64_t memoryBytes, unsigned timeoutSeconds) {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGPIPE, SIGALRM})
    std::signal(sig, SIG_DFL);
  int devnull = open("/dev/null", O_WRONLY);
  if (devnull >= 0) {
    dup2(devnull, 1);
    dup2(devnull, 2);
  }
  if (timeoutSeconds > 0)
    alarm(timeoutSeconds + 5);
#ifdef MROPE_ASAN
  // A sanitizer report in libonnx stays in the child: no death callback
  // (libFuzzer's would save the parent's input as a crash of its own).
  __sanitizer_set_death_callback(nullptr);
  (void)memoryBytes;
#else // ASan reserves terabytes of address space up front
  if (memoryBytes > 0) {
    long pages = 0;
    if (FILE *f = fopen("/proc/self/statm", "r")) {
      if (fscanf(f, "%ld", &pages) != 1)
        pages = 0;
      fclose(f);
    }
    rlim_t cap =
        (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)memoryBytes;
    struct rlimit rl = {cap, cap};
    setrlimit(RLIMIT_AS, &rl);
  }
#endif
  _exit(body(out) ? 0 : 3);
}

/// Everything the child `pid` writes to `fd` until it closes it (a child
/// blocks once its pipe is full) or `timeoutSeconds` have passed, when the
/// child is killed; with `pidFirst`, a server's worker, whose pid is the
/// first 4 bytes it writes. Closes `fd`.
std::string readChild(pid_t pid, bool pidFirst, int fd,
                      unsigned timeoutSeconds) {
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
      if (pidFirst && out.size() >= sizeof(int32_t)) {
        int32_t worker;
        std::memcpy(&worker, out.data(), sizeof worker);
        pid = worker;
      }
      if (pid > 0)
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

#ifdef MROPE_CAN_FORK
/// Runs `works` on `view` one after the other, one record each written to
/// `out` as soon as it is done (a crash in shape inference leaves the
/// checker's finding readable): a tag ('C' checker, 'I' inference), 1 when
/// there is a result, its size (8 bytes) and its bytes.
template <typename Works>
bool runWorks(const Works &works, ::onnx::ModelProto &view, int out) {
  for (const auto &w : works) {
    std::optional<std::string> r = runInline([&] { return w.work(view); });
    std::string record(1, w.checker ? 'C' : 'I');
    record.push_back(r ? '\1' : '\0');
    uint64_t n = r ? r->size() : 0;
    record.append(reinterpret_cast<const char *>(&n), sizeof n);
    if (r)
      record += *r;
    if (!writeAll(out, record))
      return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// The server
//===----------------------------------------------------------------------===//

/// What a job asks the server for. The pipe the worker writes to comes with
/// it (SCM_RIGHTS), and the `size` bytes of input either in a memory file
/// that comes with it too (`inFile`: the caller need not wait for the
/// server to read them) or on the socket after it.
struct Request {
  uint8_t input, check, infer, inFile;
  int64_t minOpset, maxOpset, maxDim, maxElements, memoryBytes;
  uint32_t timeoutSeconds;
  uint64_t size;
};

struct Server {
  std::mutex mutex;
  bool tried = false;
  int sock = -1;    // ours; the server reads requests from the other end
  pid_t owner = -1; // a forked copy of the caller must not share the socket
};

/// Never destroyed: the socket closes with the process, which ends the
/// server.
Server &server() {
  static Server *s = new Server;
  return *s;
}

void setCloexec(int fd) { fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC); }

bool readAll(int fd, char *data, size_t size) {
  while (size > 0) {
    ssize_t n = read(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    size -= n;
  }
  return true;
}

/// Sends all of `bytes` on socket `fd`, without SIGPIPE when the server
/// is gone.
bool sendAll(int fd, llvm::StringRef bytes) {
  while (!bytes.empty()) {
    ssize_t w = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    bytes = bytes.drop_front(w);
  }
  return true;
}

/// The request header with file descriptors `pass` (1 or 2), as one
/// message.
bool sendRequest(int sock, const Request &req, llvm::ArrayRef<int> pass) {
  struct iovec iov = {const_cast<Request *>(&req), sizeof req};
  alignas(struct cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(pass.size() * sizeof(int));
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(pass.size() * sizeof(int));
  std::memcpy(CMSG_DATA(c), pass.data(), pass.size() * sizeof(int));
  for (;;) {
    ssize_t w = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w == (ssize_t)sizeof req)
      return true;
    if (w <= 0)
      return false;
    // The descriptor went with the first bytes; the rest follows plainly.
    return sendAll(
        sock, llvm::StringRef(reinterpret_cast<const char *>(&req), sizeof req)
                  .drop_front(w));
  }
}

/// The server's side of sendRequest: false at EOF (the caller is gone).
/// `pass`: the pipe, then the memory file or -1.
bool receiveRequest(int sock, Request &req, int (&pass)[2]) {
  struct iovec iov = {&req, sizeof req};
  alignas(struct cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do
    n = recvmsg(sock, &msg, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return false;
  pass[0] = pass[1] = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      std::memcpy(pass, CMSG_DATA(c),
                  std::min<size_t>(c->cmsg_len - CMSG_LEN(0), sizeof pass));
  for (int fd : pass)
    if (fd >= 0)
      setCloexec(fd);
  if (pass[0] < 0 ||
      ((size_t)n < sizeof req &&
       !readAll(sock, reinterpret_cast<char *>(&req) + n, sizeof req - n))) {
    for (int fd : pass)
      if (fd >= 0)
        close(fd);
    return false;
  }
  return true;
}

/// A worker: parses (and for a model file, validates) the input on its
/// own heap, then runs what was asked, writing its pid first.
[[noreturn]] void runWorker(const Request &req, std::string &input, int inFile,
                            int out) {
  runChild(
      [&](int out) {
        int32_t self = getpid();
        if (!writeAll(out, llvm::StringRef(reinterpret_cast<char *>(&self),
                                           sizeof self)))
          return false;
        if (inFile >= 0) {
          input.resize(req.size);
          for (size_t done = 0; done < input.size();) {
            ssize_t n =
                pread(inFile, input.data() + done, input.size() - done, done);
            if (n < 0 && errno == EINTR)
              continue;
            if (n <= 0)
              return false;
            done += n;
          }
          close(inFile);
        }
        // Never freed: the worker exits right after (freeing the arena
        // cost it as much as the checker's slowest node).
        auto *arena = new google::protobuf::Arena;
        auto &model =
            *google::protobuf::Arena::CreateMessage<::onnx::ModelProto>(arena);
        auto kind = (LibonnxInput)req.input;
        if (parseModelBytes(input, kind == LibonnxInput::ModelText, model))
          return true; // the caller says why
        bool check = req.check;
        if (kind != LibonnxInput::Written) {
          ImportOptions limits;
          limits.minOpset = req.minOpset;
          limits.maxOpset = req.maxOpset;
          limits.maxDim = req.maxDim;
          limits.maxElements = req.maxElements;
          auto opset = checkOpsetImports(model, limits);
          if (!opset) {
            llvm::consumeError(opset.takeError());
            return true;
          }
          if (llvm::Error e = validateModel(model, limits)) {
            llvm::consumeError(std::move(e));
            return true;
          }
          check = check && *opset <= libonnxMaxOpset();
        }
        struct Work {
          std::optional<std::string> (*work)(::onnx::ModelProto &);
          bool checker;
        };
        llvm::SmallVector<Work, 2> works;
        if (check)
          works.push_back({checkerWork, true});
        if (req.infer)
          works.push_back({shapeInferenceWork, false});
        auto *view =
            google::protobuf::Arena::CreateMessage<::onnx::ModelProto>(arena);
        trim(model, *view);
        return runWorks(works, *view, out);
      },
      out, req.memoryBytes, req.timeoutSeconds);
}

/// The server: registers libonnx's schemas once (each worker inherits
/// them), then forks a worker per request until the caller goes away. It
/// runs no libonnx code on any model itself.
[[noreturn]] void serve(int sock) {
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  for (int sig :
       {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGPIPE, SIGALRM, SIGCHLD})
    std::signal(sig, SIG_DFL);
  sigset_t none; // the caller's blocked signals would outlive a worker's alarm
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int devnull = open("/dev/null", O_WRONLY);
  if (devnull >= 0) {
    dup2(devnull, 1);
    dup2(devnull, 2);
  }
  // Nothing else of the caller's stays open here (a pipe's write end held
  // by the server would keep the caller's reader from ever seeing EOF).
  if (dup2(sock, 3) == 3) {
    sock = 3;
    setCloexec(sock);
#if defined(__linux__) && defined(__GLIBC__) &&                                \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    close_range(4, ~0U, 0);
#else
    for (int fd = 4, n = (int)sysconf(_SC_OPEN_MAX); fd < n && fd < 65536; ++fd)
      close(fd);
#endif
  }
  // Registering overlaps reading the first request.
  std::thread schemas(
      [] { (void)::onnx::OpSchemaRegistry::Schema("Add", ""); });
  bool registered = false;
  for (;;) {
    Request req;
    int pass[2];
    if (!receiveRequest(sock, req, pass))
      break;
    auto [out, inFile] = pass;
    std::string input;
    if (req.inFile != (inFile >= 0)) // out of step with the caller
      break;
    if (inFile < 0) {
      input.resize(req.size);
      if (!readAll(sock, input.data(), input.size())) {
        close(out);
        break;
      }
    }
    if (!registered) {
      schemas.join();
      registered = true;
    }
    // Workers that ended are reaped only now, so that the pid a caller
    // may still kill stays theirs until it sent its next request.
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    pid_t worker = fork();
    if (worker == 0) {
      close(sock);
      runWorker(req, input, inFile, out);
    }
    close(out); // a failed fork: the caller reads EOF, no results
    if (inFile >= 0)
      close(inFile);
  }
  if (!registered)
    schemas.join();
  _exit(0);
}

/// Forks the server (once): the earlier, the less of the caller it shares.
void startServer(Server &s) {
  s.tried = true;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    return;
  setCloexec(sv[0]);
  setCloexec(sv[1]);
  pid_t forked = fork();
  if (forked < 0) {
    close(sv[0]);
    close(sv[1]);
    return;
  }
  if (forked == 0) {
    close(sv[0]);
    serve(sv[1]);
  }
  close(sv[1]);
  s.sock = sv[0];
  s.owner = getpid();
}
#endif

} // namespace

//===----------------------------------------------------------------------===//
// LibonnxJob
//===----------------------------------------------------------------------===//

LibonnxJob::LibonnxJob(const ::onnx::ModelProto &model,
                       const ImportOptions &options, bool check, bool infer)
    : timeoutSeconds(options.libonnxTimeoutSeconds) {
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
      // each). The child's memory is its own copy: it takes the model apart
      // and exits without freeing anything.
      close(fds[0]);
      auto &own = const_cast<::onnx::ModelProto &>(model);
      auto *view = google::protobuf::Arena::CreateMessage<::onnx::ModelProto>(
          own.GetArena());
      trim(own, *view);
      runChild([&](int out) { return runWorks(works, *view, out); }, fds[1],
               options.libonnxMemoryBytes, options.libonnxTimeoutSeconds);
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

std::unique_ptr<LibonnxJob> LibonnxJob::submit(llvm::StringRef bytes,
                                               LibonnxInput input,
                                               const ImportOptions &options,
                                               bool check, bool infer) {
#ifdef MROPE_CAN_FORK
  if (!options.isolateLibonnx || (!check && !infer))
    return nullptr;
  Server &s = server();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.tried)
    startServer(s);
  if (s.sock < 0 || s.owner != getpid())
    return nullptr;
  int fds[2];
  if (pipe(fds) != 0)
    return nullptr;
  setCloexec(fds[0]);
  setCloexec(fds[1]);
  Request req = {};
  req.input = (uint8_t)input;
  req.check = check;
  req.infer = infer;
  req.minOpset = options.minOpset;
  req.maxOpset = options.maxOpset;
  req.maxDim = options.maxDim;
  req.maxElements = options.maxElements;
  req.memoryBytes = options.libonnxMemoryBytes;
  req.timeoutSeconds = options.libonnxTimeoutSeconds;
  req.size = bytes.size();
  int inFile = -1;
#ifdef __linux__
  // A memory file is filled at memcpy speed; a socket would make this
  // thread wait for the server to read.
  inFile = memfd_create("mrope-libonnx-input", MFD_CLOEXEC);
  if (inFile >= 0 && !writeAll(inFile, bytes)) {
    close(inFile);
    inFile = -1;
  }
#endif
  req.inFile = inFile >= 0;
  bool sent = inFile >= 0 ? sendRequest(s.sock, req, {fds[1], inFile})
                          : sendRequest(s.sock, req, {fds[1]}) &&
                                sendAll(s.sock, bytes);
  close(fds[1]);
  if (inFile >= 0)
    close(inFile);
  if (!sent) { // the server is gone (or out of step): not used again
    close(fds[0]);
    close(s.sock);
    s.sock = -1;
    return nullptr;
  }
  std::unique_ptr<LibonnxJob> job(
      new LibonnxJob(options.libonnxTimeoutSeconds));
  if (check)
    job->works.push_back({checkerWork, /*checker=*/true});
  if (infer)
    job->works.push_back({shapeInferenceWork, /*checker=*/false});
  job->fd = fds[0];
  job->viaServer = true;
  return job;
#else
  (void)bytes, (void)input, (void)options, (void)check, (void)infer;
  return nullptr;
#endif
}

LibonnxJob::~LibonnxJob() {
#ifdef MROPE_CAN_FORK
  if (fd < 0)
    return;
  if (viaServer) {
    // Not our child: the server reaps it. Its pid comes first on the pipe
    // (the worker writes it before anything else; unread, it is gone).
    int32_t worker = 0;
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 0) == 1 &&
        read(fd, &worker, sizeof worker) == (ssize_t)sizeof worker &&
        worker > 0)
      kill(worker, SIGKILL);
    close(fd);
    return;
  }
  close(fd);
  kill(pid, SIGKILL);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
#endif
}

void LibonnxJob::finish(std::optional<std::string> *finding,
                        llvm::StringMap<::onnx::TypeProto> *inferred) {
#ifdef MROPE_CAN_FORK
  if (fd >= 0) {
    std::string records =
        readChild(viaServer ? -1 : pid, viaServer, fd, timeoutSeconds);
    if (!viaServer) {
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    llvm::StringRef out = records;
    if (viaServer)
      out = out.size() >= sizeof(int32_t) ? out.drop_front(sizeof(int32_t))
                                          : llvm::StringRef();
    pid = fd = -1;
    // Every complete record counts, even from a child that died later.
    while (out.size() >= 2 + sizeof(uint64_t)) {
      char tag = out[0];
      bool present = out[1] == '\1';
      uint64_t n = 0;
      std::memcpy(&n, out.data() + 2, sizeof n);
      out = out.drop_front(2 + sizeof n);
      if (out.size() < n)
        break;
      for (Entry &w : works)
        if (w.checker == (tag == 'C') && present)
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
  Server &s = server();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.tried)
      startServer(s);
    if (s.sock >= 0 && s.owner == getpid())
      return;
  }
  startSchemaThread();
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
