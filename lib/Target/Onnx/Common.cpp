//===- Common.cpp - shared by the ONNX importer and exporter --------------===//
#include "Common.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;

namespace mrope::onnx::detail {

int64_t rawByteSize(int32_t dt, int64_t n) {
  switch (dt) {
  case FLOAT:
  case INT32:
  case UINT32:
    return 4 * n;
  case UINT8:
  case INT8:
  case BOOL:
  case FLOAT8E4M3FN:
  case FLOAT8E4M3FNUZ:
  case FLOAT8E5M2:
  case FLOAT8E5M2FNUZ:
  case FLOAT8E8M0:
    return n;
  case UINT16:
  case INT16:
  case FLOAT16:
  case BFLOAT16:
    return 2 * n;
  case INT64:
  case UINT64:
  case DOUBLE:
  case COMPLEX64:
    return 8 * n;
  case COMPLEX128:
    return 16 * n;
  case UINT4:
  case INT4:
  case FLOAT4E2M1:
    return (n + 1) / 2;
  default:
    return -1;
  }
}

llvm::Expected<std::pair<std::string, uint64_t>>
resolveExternalLocation(StringRef modelDir, StringRef location) {
  auto fail = [&](const llvm::Twine &why) {
    return llvm::createStringError("external data location '" + location +
                                   "' " + why);
  };
  if (location.empty())
    return fail("is empty");
  if (location.contains('\0'))
    return fail("contains a NUL byte");
  if (location.starts_with("/") || location.starts_with("\\") ||
      (location.size() > 1 && location[1] == ':'))
    return fail("is an absolute path (must be relative to the model's folder)");
  SmallString<256> path(modelDir);
  SmallVector<StringRef> parts;
  location.split(parts, '/', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts) {
    SmallVector<StringRef> sub;
    part.split(sub, '\\', -1, false);
    for (StringRef p : sub)
      if (p == "..")
        return fail("contains '..'");
  }
  for (StringRef part : parts) {
    if (part == ".")
      continue;
    llvm::sys::path::append(path, part);
    llvm::sys::fs::file_status st;
    if (std::error_code ec = llvm::sys::fs::status(path, st, /*follow=*/false))
      return fail("does not exist (" + path + ": " + ec.message() + ")");
    if (llvm::sys::fs::is_symlink_file(st))
      return fail("is a symlink (" + path + ")");
  }
  llvm::sys::fs::file_status st;
  if (std::error_code ec = llvm::sys::fs::status(path, st, false))
    return fail("cannot be read (" + ec.message() + ")");
  if (!llvm::sys::fs::is_regular_file(st))
    return fail("is not a regular file");
  return std::make_pair(std::string(path), (uint64_t)st.getSize());
}

} // namespace mrope::onnx::detail
