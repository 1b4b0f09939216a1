//===- RaisedSite.h - the rope.apply rope-raise made of a site -*- C++ -*-===//
//
// `mrope-compile MODEL --site N` compiles what rope-raise says about site N:
// the graph is raised, and the rope.apply ops carrying `mrope.site = N`
// (Transforms/RopeRaise.h) give the kernel's semantics, frequency table,
// element type and head counts.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_COMPILE_RAISEDSITE_H
#define MROPE_COMPILE_RAISEDSITE_H

#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include "llvm/ADT/SmallVector.h"

#include <string>

namespace mrope {

/// The rope.apply ops of site `site` in `module` (an imported model, whose
/// `onnx.graph @main` is raised here with rope-raise unless it already holds
/// raised ops), in program order. Fails with a one-line `error` when there
/// is no such site, or when rope-raise left it as it was: then the error
/// gives rope-raise's reason and names the site's node.
mlir::FailureOr<llvm::SmallVector<rope::ApplyOp>>
raiseSite(mlir::ModuleOp module, int64_t site, std::string &error);

/// What `--fuse norm,cache` absorbs around a raised site, from what
/// rope-raise recorded on its ops (mrope.norms, mrope.cache_writes): the
/// RMSNorm epsilon when every op normalises q and k with one eps and
/// appends k to a KV cache. Fails with a one-line `error` saying what is
/// missing otherwise.
mlir::FailureOr<double> fusedNormEps(llvm::ArrayRef<rope::ApplyOp> ops,
                                     std::string &error);

} // namespace mrope

#endif // MROPE_COMPILE_RAISEDSITE_H
