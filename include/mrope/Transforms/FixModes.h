//===- FixModes.h - the fix's choices as enums ------------------*- C++ -*-===//
//
// The choices a user makes for the fix (`arch` is in RopeSites.h, `emit`
// (EmitMode) in mrope/Conversion/RopeToOnnx/RopeToOnnx.h): typed
// for the library call (mrope/Fix/RunFix.h) and for the pass options of
// rope-fix, rope-classify and mrope-fix-pipeline, which read the same
// spellings users type (`arch=qwen2.5-vl`, `positions=compute`,
// `emit=ort`). An unknown spelling is one line naming the option and the
// choices.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_TRANSFORMS_FIXMODES_H
#define MROPE_TRANSFORMS_FIXMODES_H

#include "mrope/Analysis/RopeSites.h"
#include "mrope/Conversion/RopeToOnnx/RopeToOnnx.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"

#include <optional>

namespace mrope {

/// Where the fixed model's 3D positions come from (mrope-fix --positions).
enum class PositionsMode {
  Input,   ///< a graph input position_ids int64 [3, batch, seq]
  Compute, ///< rope.mrope_index from the token ids and grids, in the graph
};
std::optional<PositionsMode> parsePositionsMode(llvm::StringRef name);

} // namespace mrope

// Pass options of these types read the spellings above; an unknown one is
// "error: <option> must be <choices>, got '<value>'" (the generic parser
// would only say "Cannot find option named ...").
namespace llvm::cl {
template <>
bool parser<mrope::Arch>::parse(Option &option, StringRef argName,
                                StringRef arg, mrope::Arch &value);
template <>
bool parser<mrope::PositionsMode>::parse(Option &option, StringRef argName,
                                         StringRef arg,
                                         mrope::PositionsMode &value);
} // namespace llvm::cl

#endif // MROPE_TRANSFORMS_FIXMODES_H
