//===- DataFile.cpp - the external data file an export writes -------------===//
#include "DataFile.h"
#include "Common.h"
#include "mrope/Target/Onnx/Export.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

#include <thread>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

using namespace mrope::onnx;
using namespace mrope::onnx::detail;

llvm::StringRef
mrope::onnx::detail::largestKey(const llvm::StringMap<uint64_t> &bytes) {
  llvm::StringRef largest;
  uint64_t most = 0;
  for (const auto &entry : bytes)
    if (entry.second > most ||
        (entry.second == most && entry.first() < largest)) {
      largest = entry.first();
      most = entry.second;
    }
  return largest;
}

void DataFileWriter::addFileRange(::onnx::TensorProto *t, std::string file,
                                  uint64_t offset, uint64_t length) {
  Piece p;
  p.tensor = t;
  p.file = std::move(file);
  p.sourceOffset = offset;
  p.length = length;
  pieces.push_back(std::move(p));
}

void DataFileWriter::addMemory(::onnx::TensorProto *t,
                               llvm::ArrayRef<char> bytes, std::string owned) {
  Piece p;
  p.tensor = t;
  p.length = bytes.size();
  // `bytes` may point into `owned`, which moves with the piece: write()
  // reads `owned` itself then.
  p.owned = std::move(owned);
  if (p.owned.empty())
    p.memory = bytes;
  pieces.push_back(std::move(p));
}

bool DataFileWriter::place(llvm::StringRef location,
                           llvm::StringRef precopied) {
  // The source file most bytes come from.
  llvm::StringMap<uint64_t> bytesPerFile;
  for (const Piece &p : pieces)
    if (!p.file.empty())
      bytesPerFile[p.file] += p.length;
  std::string primary = largestKey(bytesPerFile).str();

  // Its tensors keep their offsets if they do not overlap and cover at least
  // 3/4 of the span they reach (a small part of a large file is packed
  // instead, rather than leaving a mostly empty data file).
  std::vector<Piece *> kept;
  for (Piece &p : pieces)
    if (!primary.empty() && p.file == primary)
      kept.push_back(&p);
  llvm::stable_sort(kept, [](const Piece *a, const Piece *b) {
    return a->sourceOffset < b->sourceOffset;
  });
  std::vector<Piece *> keptDisjoint;
  uint64_t end = 0, covered = 0;
  for (Piece *p : kept) {
    if (!keptDisjoint.empty() && p->sourceOffset < end)
      continue; // shares bytes with a kept tensor: appended below
    keptDisjoint.push_back(p);
    end = p->sourceOffset + p->length;
    covered += p->length;
  }
  bool keepOffsets = !keptDisjoint.empty() && covered * 4 >= end * 3;
  std::vector<bool> placed(pieces.size(), false);
  uint64_t cursor = 0;
  if (keepOffsets) {
    for (Piece *p : keptDisjoint) {
      p->offset = p->sourceOffset;
      placed[p - pieces.data()] = true;
    }
    cursor = end;
  }
  for (auto [i, p] : llvm::enumerate(pieces)) {
    if (placed[i])
      continue;
    uint64_t align = p.length >= (1 << 20) ? 4096 : 64;
    p.offset = (cursor + align - 1) / align * align;
    cursor = p.offset + p.length;
  }

  for (Piece &p : pieces) {
    ::onnx::TensorProto *t = p.tensor;
    t->set_data_location(::onnx::TensorProto::EXTERNAL);
    auto add = [&](const char *k, const std::string &v) {
      auto *e = t->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location.str());
    add("offset", std::to_string(p.offset));
    add("length", std::to_string(p.length));
  }

  // File copies in data-file order; neighbours from one file at the same
  // distance (kept offsets) merge into one run, bridging gaps up to 1 MiB.
  std::vector<const Piece *> copies;
  for (const Piece &p : pieces)
    if (!p.file.empty() && p.length)
      copies.push_back(&p);
  llvm::stable_sort(copies, [](const Piece *a, const Piece *b) {
    return a->offset < b->offset;
  });
  bool usePrecopy = keepOffsets && !precopied.empty() && primary == precopied;
  runs.clear();
  for (const Piece *p : copies) {
    if (usePrecopy && placed[p - pieces.data()])
      continue; // already there

    if (!runs.empty()) {
      Run &last = runs.back();
      uint64_t lastEnd = last.offset + last.length;
      if (last.file == p->file && p->offset >= lastEnd &&
          p->offset - lastEnd <= (1 << 20) &&
          p->offset - last.offset == p->sourceOffset - last.sourceOffset) {
        last.length = p->offset + p->length - last.offset;
        continue;
      }
    }
    runs.push_back({p->file, p->sourceOffset, p->offset, p->length});
  }
  return usePrecopy;
}

/// Copies `length` bytes from `srcFd` at `srcOff` to `dstFd` at `dstOff`.
static bool copyRange(int srcFd, off_t srcOff, int dstFd, off_t dstOff,
                      uint64_t length) {
  uint64_t left = length;
  while (left > 0) {
    ssize_t n = ::copy_file_range(srcFd, &srcOff, dstFd, &dstOff,
                                  (size_t)std::min<uint64_t>(left, 1 << 30), 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                  errno == EOPNOTSUPP))
      break;
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    left -= n;
  }
  if (left == 0)
    return true;
  // copy_file_range cannot cross these file systems: copy through memory.
  std::vector<char> buf(1 << 20);
  while (left > 0) {
    ssize_t n = ::pread(srcFd, buf.data(),
                        (size_t)std::min<uint64_t>(left, buf.size()), srcOff);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::pwrite(dstFd, buf.data() + done, n - done, dstOff);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return false;
      done += w;
      dstOff += w;
    }
    srcOff += n;
    left -= n;
  }
  return true;
}

bool mrope::onnx::detail::writeAll(int fd, const char *data, uint64_t size,
                                   int64_t offset) {
  while (size > 0) {
    ssize_t w =
        ::pwrite(fd, data, (size_t)std::min<uint64_t>(size, 1 << 30), offset);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    data += w;
    size -= w;
    offset += w;
  }
  return true;
}

std::optional<std::string> DataFileWriter::write(int fd) const {
  std::string openFile;
  int srcFd = -1;
  auto closeSource = [&] {
    if (srcFd >= 0)
      ::close(srcFd);
    srcFd = -1;
  };
  for (const Run &run : runs) {
    if (run.file != openFile) {
      closeSource();
      openFile = run.file;
      srcFd = ::open(run.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (srcFd < 0)
        return "cannot open external data '" + run.file +
               "': " + std::strerror(errno);
    }
    if (!copyRange(srcFd, run.sourceOffset, fd, run.offset, run.length)) {
      std::string message = std::strerror(errno);
      closeSource();
      return "cannot copy external data from '" + run.file + "': " + message;
    }
  }
  closeSource();
  for (const Piece &p : pieces) {
    if (!p.file.empty())
      continue;
    const char *bytes = p.owned.empty() ? p.memory.data() : p.owned.data();
    if (!writeAll(fd, bytes, p.length, p.offset))
      return std::string(std::strerror(errno));
  }
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// DataFilePrecopy
//===----------------------------------------------------------------------===//

struct DataFilePrecopy::Impl {
  std::string source, dataPath;
  std::optional<llvm::sys::fs::TempFile> file;
  std::thread copier;
  std::optional<std::string> error;
  /// Set when the copy is discarded: the thread stops at its next chunk.
  std::atomic<bool> cancelled{false};
};

DataFilePrecopy::DataFilePrecopy(std::unique_ptr<Impl> impl)
    : impl(std::move(impl)) {}

DataFilePrecopy::~DataFilePrecopy() {
  if (impl->file) // not taken over: nobody needs the rest of the copy
    impl->cancelled = true;
  wait();
  if (impl->file)
    llvm::consumeError(impl->file->discard());
}

llvm::StringRef DataFilePrecopy::sourceFile() const { return impl->source; }
llvm::StringRef DataFilePrecopy::dataPath() const { return impl->dataPath; }

std::optional<std::string> DataFilePrecopy::wait() {
  if (impl->copier.joinable())
    impl->copier.join();
  return impl->error;
}

llvm::sys::fs::TempFile DataFilePrecopy::takeFile() {
  llvm::sys::fs::TempFile file = std::move(*impl->file);
  impl->file.reset();
  return file;
}

std::unique_ptr<DataFilePrecopy>
DataFilePrecopy::start(llvm::StringRef sourceFile, uint64_t size,
                       llvm::StringRef outPath) {
  auto impl = std::make_unique<Impl>();
  impl->source = sourceFile.str();
  impl->dataPath = (outPath + ".data").str();
  auto temp = llvm::sys::fs::TempFile::create(impl->dataPath + "-%%%%%%%%.tmp");
  if (!temp) {
    llvm::consumeError(temp.takeError());
    return nullptr;
  }
  impl->file.emplace(std::move(*temp));
  int fd = ::open(impl->source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    llvm::consumeError(impl->file->discard());
    return nullptr;
  }
  Impl *raw = impl.get();
  raw->copier = std::thread([raw, fd, dst = raw->file->FD, size] {
    // In chunks, so that a discarded copy (a failed command) stops early.
    const uint64_t chunk = uint64_t(64) << 20;
    for (uint64_t done = 0; done < size && !raw->cancelled;) {
      uint64_t n = std::min(chunk, size - done);
      if (!copyRange(fd, done, dst, done, n)) {
        raw->error = "cannot copy external data from '" + raw->source +
                     "': " + std::strerror(errno);
        break;
      }
      done += n;
    }
    ::close(fd);
  });
  return std::unique_ptr<DataFilePrecopy>(new DataFilePrecopy(std::move(impl)));
}

std::unique_ptr<DataFilePrecopy>
mrope::onnx::detail::startForLargest(const llvm::StringMap<uint64_t> &bytes,
                                     llvm::StringRef modelDir,
                                     llvm::StringRef outPath) {
  llvm::StringRef largest = largestKey(bytes);
  if (largest.empty())
    return nullptr;
  auto resolved = resolveExternalLocation(modelDir, largest);
  if (!resolved) {
    llvm::consumeError(resolved.takeError()); // the export says what is wrong
    return nullptr;
  }
  return DataFilePrecopy::start(resolved->first, resolved->second, outPath);
}
