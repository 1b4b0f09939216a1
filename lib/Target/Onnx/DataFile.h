//===- DataFile.h - the external data file an export writes -----*- C++ -*-===//
//
// Tensors bound for the data file are collected while the ModelProto is
// built, placed once all are known, then written in as few system calls as
// the placement allows. Writing is separate from placing so that it can run
// beside the rest of the export (serializing, the checker).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_TARGET_ONNX_DATAFILE_H
#define MROPE_LIB_TARGET_ONNX_DATAFILE_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onnx {
class TensorProto;
} // namespace onnx

namespace mrope::onnx {
class DataFilePrecopy;
} // namespace mrope::onnx

namespace mrope::onnx::detail {

class DataFileWriter {
public:
  /// `t`'s bytes are [offset, offset + length) of the file at `file`.
  void addFileRange(::onnx::TensorProto *t, std::string file, uint64_t offset,
                    uint64_t length);
  /// `t`'s bytes are in memory; `owned` holds them when they were converted
  /// for the export (`bytes` then points into it).
  void addMemory(::onnx::TensorProto *t, llvm::ArrayRef<char> bytes,
                 std::string owned = {});
  bool empty() const { return pieces.empty(); }

  /// Sets each tensor's external_data (location, offset, length). When the
  /// tensors read from one source file cover most of it, they keep that
  /// file's offsets: the copy is then a few long copy_file_range calls, as
  /// `cp` makes, and the source's alignment carries over. Everything else is
  /// appended, aligned (4 KiB from 1 MiB up, else 64 bytes).
  ///
  /// `precopied`: a source file already copied whole into the data file.
  /// Returns whether that copy is used (its tensors keep their offsets);
  /// write() then leaves its bytes alone.
  bool place(llvm::StringRef location, llvm::StringRef precopied = {});

  /// Writes every placed tensor's bytes to `fd`. Safe to run on another
  /// thread (it only reads this object and makes system calls); returns a
  /// message on failure.
  std::optional<std::string> write(int fd) const;

private:
  struct Piece {
    ::onnx::TensorProto *tensor;
    std::string file; // empty: from memory
    uint64_t sourceOffset = 0, length = 0;
    llvm::ArrayRef<char> memory; // when `owned` is empty
    std::string owned;
    uint64_t offset = 0; // in the data file, set by place()
  };
  /// Copy `length` bytes of `file` from `sourceOffset` to `offset`.
  struct Run {
    std::string file;
    uint64_t sourceOffset, offset, length;
  };
  std::vector<Piece> pieces;
  std::vector<Run> runs; // file copies, merged by place()
};

/// Writes `size` bytes at `offset` of `fd` (pwrite until done); false on an
/// error (errno says which).
bool writeAll(int fd, const char *data, uint64_t size, int64_t offset);

/// The key with the most bytes (the smallest such key on a tie; "" when
/// empty): the file a data file's layout follows, and the one precopied.
llvm::StringRef largestKey(const llvm::StringMap<uint64_t> &bytes);

/// Starts a DataFilePrecopy of the location with the most bytes in `bytes`
/// (relative to `modelDir`); nullptr when there is none or it is unusable.
std::unique_ptr<DataFilePrecopy>
startForLargest(const llvm::StringMap<uint64_t> &bytes,
                llvm::StringRef modelDir, llvm::StringRef outPath);

} // namespace mrope::onnx::detail

#endif // MROPE_LIB_TARGET_ONNX_DATAFILE_H
