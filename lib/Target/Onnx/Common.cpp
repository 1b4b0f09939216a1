//===- Common.cpp - shared by the ONNX importer and exporter --------------===//
#include "Common.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/defs/parser.h>
#include <onnx/onnx_pb.h>

#include <climits>

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

std::optional<std::string> parseModelBytes(llvm::StringRef bytes, bool text,
                                           ::onnx::ModelProto &model) {
  if (text) {
    std::string copy(bytes);
    try {
      ::onnx::OnnxParser parser(copy.c_str());
      auto status = parser.Parse(model);
      if (!status.IsOK())
        return "cannot parse ONNX text: " +
               llvm::StringRef(status.ErrorMessage()).trim().str();
    } catch (const std::exception &e) {
      return std::string("cannot parse ONNX text: ") + e.what();
    }
    return std::nullopt;
  }
  if (bytes.empty())
    return std::string("empty file, not an ONNX model");
  if (bytes.size() > (size_t)INT_MAX)
    return std::string("file is over 2 GB, which protobuf cannot parse as one "
                       "message; keep the weights in external data");
  google::protobuf::io::ArrayInputStream input(bytes.data(), (int)bytes.size());
  google::protobuf::io::CodedInputStream coded(&input);
  coded.SetTotalBytesLimit(INT_MAX);
  coded.SetRecursionLimit(100);
  if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
    return std::string("cannot parse as an ONNX ModelProto (truncated, "
                       "corrupt, or not an ONNX model)");
  return std::nullopt;
}

} // namespace mrope::onnx::detail
