//===- Libonnx.h - libonnx, contained in a child process --------*- C++ -*-===//
//
// libonnx 1.12 is trusted with nothing: its shape inference and checker run
// on a validated, trimmed copy of the model, in another process under a
// memory ceiling and a time limit (ImportOptions::isolateLibonnx): a worker
// of a server forked at the first import, or else a child forked per job. A
// crash, hang or out-of-memory there costs the inferred types or the
// checker's findings, never the tool.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_TARGET_ONNX_LIBONNX_H
#define MROPE_LIB_TARGET_ONNX_LIBONNX_H

#include "mrope/Target/Onnx/Import.h"

#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mrope::onnx::detail {

/// What a job on serialized bytes is given (LibonnxJob::submit).
enum class LibonnxInput {
  /// A model file's bytes, protobuf or ONNX text: the worker parses and
  /// validates them as the importer does before libonnx sees anything.
  Model,
  ModelText,
  /// A model the exporter built and serialized: parsed, not validated (the
  /// writer's own check, as on the in-memory model).
  Written,
};

/// libonnx on the (validated) model: the checker and/or shape inference,
/// on a view without large tensor payloads. With isolation they run one
/// after the other in another process; without, both run right there.
class LibonnxJob {
public:
  /// On `model`: with isolation in a child forked now (the child sees the
  /// model as it was then), else right here.
  LibonnxJob(const ::onnx::ModelProto &model, const ImportOptions &options,
             bool check, bool infer);
  /// On serialized bytes, by a worker of libonnx's server: a process forked
  /// once, while the caller is still small (the first import), that forks
  /// one worker per job. A child forked from the caller late would share
  /// the caller's heap: each page the caller writes afterwards costs a
  /// copy-on-write fault and a TLB flush (the IR build ran 3x slower).
  /// Workers keep the containment of forked children (memory ceiling,
  /// time limit, a crash costs only the results). For `Model`/`ModelText`
  /// `check` asks for the checker, which the worker runs only where libonnx
  /// knows the default-domain opset (as the importer decides). nullptr
  /// without isolation or without a server (no fork, or it died): then use
  /// the constructor.
  static std::unique_ptr<LibonnxJob> submit(llvm::StringRef bytes,
                                            LibonnxInput input,
                                            const ImportOptions &options,
                                            bool check, bool infer);
  /// Children not collected by finish() are killed.
  ~LibonnxJob();
  LibonnxJob(const LibonnxJob &) = delete;
  LibonnxJob &operator=(const LibonnxJob &) = delete;

  /// Waits for the results (once):
  /// - `finding`: the first line of what the checker says, "" when the
  ///   model passes, nullopt when the checker could not run to the end
  ///   (crashed, out of memory, out of time, or not run);
  /// - `inferred`: the value types shape inference found, by name, in every
  ///   graph (best effort: none when it failed).
  void finish(std::optional<std::string> *finding,
              llvm::StringMap<::onnx::TypeProto> *inferred);

private:
  explicit LibonnxJob(unsigned timeoutSeconds)
      : timeoutSeconds(timeoutSeconds) {}
  struct Entry {
    std::optional<std::string> (*work)(::onnx::ModelProto &);
    bool checker;
    std::optional<std::string> result;
  };
  unsigned timeoutSeconds;
  std::vector<Entry> works;
  int pid = -1, fd = -1;  // the process running them all, and its pipe
  bool viaServer = false; // pid is a worker of the server, read from fd
};

/// Starts libonnx's server (see LibonnxJob::submit) once per process, or
/// where there is none, registers libonnx's op schemas on a thread of its
/// own, so that it overlaps parsing and validation (the first LibonnxJob
/// forked from the caller waits for it).
void prepareLibonnx();
/// Waits for what prepareLibonnx started. Every import does before it
/// returns: libonnx's registry must not be torn down at exit while the
/// thread still fills it.
void waitForLibonnx();

/// The newest default-domain opset libonnx knows (17 for libonnx 1.12).
int64_t libonnxMaxOpset();

} // namespace mrope::onnx::detail

#endif // MROPE_LIB_TARGET_ONNX_LIBONNX_H
