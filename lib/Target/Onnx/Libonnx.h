//===- Libonnx.h - libonnx, contained in a child process --------*- C++ -*-===//
//
// libonnx 1.12 is trusted with nothing: its shape inference and checker run
// on a validated, trimmed copy of the model, in a child process under a
// memory ceiling and a time limit (ImportOptions::isolateLibonnx). A crash,
// hang or out-of-memory there costs the inferred types or the checker's
// findings, never the tool.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_TARGET_ONNX_LIBONNX_H
#define MROPE_LIB_TARGET_ONNX_LIBONNX_H

#include "mrope/Target/Onnx/Import.h"

#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>
#include <vector>

namespace mrope::onnx::detail {

/// libonnx on the (validated) model: the checker and/or shape inference,
/// on a view without large tensor payloads. With isolation they run one
/// after the other in a child forked by the constructor, so the caller can
/// go on meanwhile (the child sees the model as it was then); without, both
/// run right there.
class LibonnxJob {
public:
  LibonnxJob(const ::onnx::ModelProto &model, const ImportOptions &options,
             bool check, bool infer);
  /// Children not collected by finish() are killed.
  ~LibonnxJob();
  LibonnxJob(const LibonnxJob &) = delete;
  LibonnxJob &operator=(const LibonnxJob &) = delete;

  /// Waits for the results (once):
  /// - `finding`: the first line of what the checker says, "" when the
  ///   model passes, nullopt when the checker could not run to the end
  ///   (crashed, out of memory, out of time);
  /// - `inferred`: the value types shape inference found, by name, in every
  ///   graph (best effort: none when it failed).
  void finish(std::optional<std::string> *finding,
              llvm::StringMap<::onnx::TypeProto> *inferred);

private:
  struct Entry {
    std::optional<std::string> (*work)(::onnx::ModelProto &);
    bool checker;
    std::optional<std::string> result;
  };
  const ImportOptions &options;
  std::vector<Entry> works;
  int pid = -1, fd = -1; // the child running them all, and its pipe
};

/// Starts registering libonnx's op schemas on a thread of its
/// own, once per process, so that it overlaps parsing and validation; the
/// first LibonnxJob waits for it before it forks.
void prepareLibonnx();
/// Waits for what prepareLibonnx started. Every import does before it
/// returns: libonnx's registry must not be torn down at exit while the
/// thread still fills it.
void waitForLibonnx();

/// The newest default-domain opset libonnx knows (17 for libonnx 1.12).
int64_t libonnxMaxOpset();

} // namespace mrope::onnx::detail

#endif // MROPE_LIB_TARGET_ONNX_LIBONNX_H
