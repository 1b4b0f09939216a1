//===- RopeClassify.cpp - is a RoPE site right for its architecture -------===//
#include "mrope/Analysis/RopeClassify.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mrope;

FailureOr<Arch> mrope::parseArchOption(Operation *op, StringRef name) {
  if (std::optional<Arch> arch = parseArch(name))
    return *arch;
  return op->emitError() << "arch must be auto, qwen2-vl, qwen2.5-vl, "
                            "qwen3-vl or text, got '"
                         << name << "'";
}

std::optional<Arch> mrope::parseArch(StringRef name) {
  return llvm::StringSwitch<std::optional<Arch>>(name)
      .Case("auto", Arch::Auto)
      .Case("qwen2-vl", Arch::Qwen2VL)
      .Case("qwen2.5-vl", Arch::Qwen25VL)
      .Case("qwen3-vl", Arch::Qwen3VL)
      .Case("text", Arch::Text)
      .Default(std::nullopt);
}

StringRef mrope::archName(Arch arch) {
  switch (arch) {
  case Arch::Auto:
    return "auto";
  case Arch::Qwen2VL:
    return "qwen2-vl";
  case Arch::Qwen25VL:
    return "qwen2.5-vl";
  case Arch::Qwen3VL:
    return "qwen3-vl";
  case Arch::Text:
    return "text";
  }
  llvm_unreachable("unknown arch");
}

bool mrope::isQwenVL(Arch arch) {
  return arch == Arch::Qwen2VL || arch == Arch::Qwen25VL ||
         arch == Arch::Qwen3VL;
}

bool mrope::isPositionBug(const RopeSite &site, Arch arch) {
  switch (site.kind) {
  case PositionKind::MRopeDegenerate:
    return true;
  case PositionKind::OneD:
    return isQwenVL(arch);
  case PositionKind::TwoD:
  case PositionKind::MRope:
  case PositionKind::MRopeInterleaved:
    return false;
  }
  llvm_unreachable("unknown position kind");
}
