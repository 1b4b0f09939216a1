//===- WorkDir.h - a scratch folder for a fuzzer process --------*- C++ -*-===//
#ifndef MROPE_FUZZ_WORKDIR_H
#define MROPE_FUZZ_WORKDIR_H

#include "llvm/Support/FileSystem.h"

#include <cstdio>
#include <string>
#include <unistd.h>

namespace mrope::fuzz {

/// /tmp/<name>-<pid>, created once, with a 4 KiB `data.bin` that external
/// data tensors of the inputs may point at.
inline const std::string &workDir(const char *name) {
  static std::string dir = [name] {
    std::string d =
        std::string("/tmp/") + name + "-" + std::to_string(getpid());
    llvm::sys::fs::create_directories(d);
    std::string data(4096, '\x01');
    if (FILE *f = std::fopen((d + "/data.bin").c_str(), "wb")) {
      std::fwrite(data.data(), 1, data.size(), f);
      std::fclose(f);
    }
    return d;
  }();
  return dir;
}

} // namespace mrope::fuzz

#endif // MROPE_FUZZ_WORKDIR_H
