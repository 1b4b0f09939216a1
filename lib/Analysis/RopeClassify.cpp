//===- RopeClassify.cpp - is a RoPE site right for its architecture -------===//
#include "mrope/Analysis/RopeClassify.h"
#include "mrope/Analysis/ArchTraits.h"

using namespace mlir;
using namespace mrope;

std::optional<Arch> mrope::parseArch(StringRef name) {
  for (const ArchTraits &row : allArchTraits())
    if (row.name == name)
      return row.arch;
  return std::nullopt;
}

StringRef mrope::archName(Arch arch) { return archTraits(arch).name; }

bool mrope::isQwenVL(Arch arch) { return archTraits(arch).oneDIsBug; }

bool mrope::isPositionBug(const RopeSite &site, Arch arch) {
  switch (site.kind) {
  case PositionKind::MRopeDegenerate:
    return true;
  case PositionKind::OneD:
    return archTraits(arch).oneDIsBug;
  case PositionKind::TwoD:
  case PositionKind::MRope:
  case PositionKind::MRopeInterleaved:
    return false;
  }
  llvm_unreachable("unknown position kind");
}
