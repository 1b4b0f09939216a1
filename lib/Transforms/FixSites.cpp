//===- FixSites.cpp - rewrite buggy RoPE sites to true M-RoPE -------------===//
//
// The driver: collects the raised sites (rope.apply, FixApplySites.cpp),
// refuses a buggy site rope-raise left as ONNX nodes, gives every buggy
// raised one true positions (FixPositions.cpp), removes what only the old
// positions used, and settles the positions input.
//
//===----------------------------------------------------------------------===//
#include "mrope/Transforms/FixSites.h"

#include "FixSitesImpl.h"
#include "RaiseChecks.h"

#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::fix;
using namespace mrope::match;
using onnx::NodeOp;

std::string mrope::positionsInputName(onnx::GraphOp graph, StringRef base) {
  for (unsigned i = 0, e = graph.getNumArguments(); i < e; ++i)
    if (graph.getInputName(i) == base)
      return (base + "_3d").str();
  return base.str();
}

int64_t mrope::eraseDeadProducers(onnx::GraphOp graph,
                                  ArrayRef<Operation *> seeds) {
  llvm::SetVector<Operation *> candidates;
  SmallVector<Operation *> work(seeds.begin(), seeds.end());
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (!op || !isa<NodeOp, onnx::InitializerOp, onnx::NoneOp>(op) ||
        !candidates.insert(op))
      continue;
    for (Value operand : op->getOperands())
      work.push_back(operand.getDefiningOp());
  }
  int64_t erased = 0;
  // The body is in topological order: users die before their producers.
  for (Operation &op :
       llvm::make_early_inc_range(llvm::reverse(graph.getBodyBlock()))) {
    if (candidates.contains(&op) && op.use_empty()) {
      erased += isa<NodeOp>(op);
      op.erase();
    }
  }
  return erased;
}

/// Drops an input nothing reads any more; `why` ends the change line.
static LogicalResult
removeUnusedInput(onnx::GraphOp graph, BlockArgument input, FixResult &result,
                  StringRef why = "the graph computes its positions now") {
  std::string name = graph.getInputName(input.getArgNumber()).str();
  if (failed(graph.eraseArgument(input.getArgNumber())))
    return mlir::emitError(graph.getLoc())
           << "could not remove input '" << name << "'";
  result.changes.push_back("removed input '" + name + "' (" + why.str() + ")");
  return success();
}

/// The ops of one raised site (one per layer) each report the same change:
/// one line per change from `begin` on, with how many ops it applied to.
static void collapseRepeats(std::vector<std::string> &changes, size_t begin) {
  llvm::StringMap<int64_t> counts;
  std::vector<std::string> order;
  for (size_t i = begin; i < changes.size(); ++i)
    if (counts[changes[i]]++ == 0)
      order.push_back(changes[i]);
  changes.resize(begin);
  for (std::string &line : order) {
    int64_t count = counts[line];
    changes.push_back(count > 1 ? line + " (" + std::to_string(count) +
                                      " rope.apply ops)"
                                : line);
  }
}

/// --positions compute on a model without bugs: M-RoPE sites that read
/// [3, B, S] positions from a graph input get them computed in the graph
/// instead (get_rope_index), and the input goes. Nothing else applies.
static FailureOr<FixResult>
computePositionsOfCorrectModel(onnx::GraphOp graph, ArrayRef<RopeSite *> sites,
                               const FixOptions &options) {
  FixResult result;
  Value input;
  for (const RopeSite *site : sites) {
    bool mrope = site->kind == PositionKind::MRope ||
                 site->kind == PositionKind::MRopeInterleaved;
    if (!mrope || site->source != PositionSource::GraphInput)
      continue;
    if (input && input != site->positions)
      return mlir::emitError(graph.getLoc())
             << "--positions compute: the M-RoPE sites read their positions "
                "from different inputs";
    input = site->positions;
  }
  if (!input) {
    result.notes.push_back("--positions compute: nothing applies (no M-RoPE "
                           "site reads [3, batch, seq] positions from an "
                           "input)");
    return result;
  }
  auto arg = cast<BlockArgument>(input);
  std::string name = graph.getInputName(arg.getArgNumber()).str();
  std::string elemText = floatPositions(options.arch) ? "float32" : "int64";
  if (rankOf(input) != 3 || dimOf(input, 0) != 3 ||
      elementTypeOf(input) !=
          positionsElementType(graph.getContext(), options.arch))
    return mlir::emitError(graph.getLoc())
           << "--positions compute: input '" << name << "' is not " << elemText
           << " [3, batch, seq]";
  if (failed(checkModelForFix(graph)))
    return failure();
  DecoderPositions positions(graph, options, result, input);
  FailureOr<Value> computed = positions.get();
  if (failed(computed))
    return failure();
  input.replaceAllUsesWith(*computed);
  if (failed(removeUnusedInput(graph, arg, result)))
    return failure();
  return result;
}

FailureOr<FixResult> mrope::fixRopeSites(onnx::GraphOp graph,
                                         const FixOptions &options) {
  // The raised sites are what the fix rewrites. The analysis finds only the
  // sites rope-raise left as ONNX nodes (a raised site has no Cos left):
  // a buggy one among them is refused, a correct one stays as it is.
  SmallVector<ApplySite, 4> applies;
  graph.walk([&](rope::ApplyOp op) {
    if (!op.hasBufferSemantics())
      applies.push_back(analyseApply(op, options.arch));
  });
  std::vector<RopeSite> tables = findRopeSites(graph, options.arch);
  for (RopeSite &site : tables) {
    if (!site.bug)
      continue;
    std::string why;
    if (succeeded(raise::checkSite(site, why)))
      why = "rope-raise did not run before rope-fix";
    return mlir::emitError(site.cosNode.getLoc())
           << "site " << nodeLabel(site.cosNode)
           << ": rope-fix rewrites rope.apply only, and this site is not "
              "raised: "
           << why << "; no model written";
  }
  SmallVector<RopeSite *> all;
  for (ApplySite &apply : applies)
    all.push_back(&apply.site);
  for (RopeSite &site : tables)
    all.push_back(&site);
  FixResult result;
  RopeSite *firstBug = nullptr;
  for (RopeSite *site : all)
    if (site->bug && !firstBug)
      firstBug = site;
  if (!firstBug)
    return options.computePositions
               ? computePositionsOfCorrectModel(graph, all, options)
               : FailureOr<FixResult>(result);
  if (failed(checkModelForFix(graph)))
    return failure();

  // The true positions enter as a new input first; it takes the old input's
  // place at the end if nothing else needs the old one.
  Value oldPositions = firstBug->positions;
  DecoderPositions positions(graph, options, result, oldPositions);
  // Packed rows: the 3D positions restart per sample of the segment ids.
  if (firstBug->source == PositionSource::Segments)
    positions.segments = oldPositions;
  SmallVector<Operation *> dead;
  size_t firstApplyChange = result.changes.size();
  Value visionRows;
  for (ApplySite &apply : applies) {
    if (!apply.site.bug)
      continue;
    LogicalResult fixed = failure();
    switch (apply.site.kind) {
    case PositionKind::MRopeDegenerate:
      fixed = fixDegenerateApply(apply, positions, dead);
      break;
    case PositionKind::OneD:
      fixed = apply.site.vision
                  ? fixVisionApply(apply, options, result, visionRows, dead)
                  : fixTextApply(apply, options, positions, dead);
      break;
    default:
      fixed = apply.error() << "cannot fix a '"
                            << positionKindName(apply.site.kind) << "' site";
    }
    if (failed(fixed))
      return failure();
    ++result.fixedSites;
  }
  collapseRepeats(result.changes, firstApplyChange);
  // Read the old positions before erasing: a Range that produced them may
  // be among what goes, and its result must not be touched after that.
  auto oldArg = dyn_cast_or_null<BlockArgument>(oldPositions);
  int64_t erased = eraseDeadProducers(graph, dead);
  result.changes.push_back("removed " + std::to_string(erased) +
                           " node(s) only the old positions or tables used");

  bool oldUnused = oldArg && oldArg.getOwner() == &graph.getBodyBlock() &&
                   oldArg.use_empty();
  if (!positions.value)
    return result; // only vision sites: no decoder positions input
  if (options.computePositions) {
    // The graph computes its positions: an old positions input nothing
    // reads any more goes.
    if (oldUnused && failed(removeUnusedInput(graph, oldArg, result)))
      return failure();
    return result;
  }

  // Segment ids are not positions: nothing takes their place, and they go
  // once nothing reads them.
  if (positions.segments) {
    if (oldUnused &&
        failed(removeUnusedInput(
            graph, oldArg, result,
            "only the old positions read it; feed the 3D positions of every "
            "packed sample instead")))
      return failure();
    oldUnused = false;
    oldArg = nullptr;
  }
  // The new input takes the old positions input's place when that one is
  // now unused; otherwise it is appended under its own name.
  unsigned newIndex = cast<BlockArgument>(positions.value).getArgNumber();
  SmallVector<StringRef> paramRefs(positions.params.begin(),
                                   positions.params.end());
  if (oldUnused) {
    unsigned oldIndex = oldArg.getArgNumber();
    std::string oldName = graph.getInputName(oldIndex).str();
    auto oldType = dyn_cast<RankedTensorType>(oldArg.getType());
    std::string was =
        oldType && oldType.getRank() == 1 ? "[seq]" : "[batch, seq]";
    graph.setInputType(oldIndex, positions.type(), paramRefs);
    positions.value.replaceAllUsesWith(oldArg);
    if (failed(graph.eraseArgument(newIndex)))
      return mlir::emitError(graph.getLoc())
             << "could not remove a temporary input";
    result.changes.push_back(
        "input '" + oldName + "' is now " +
        (floatPositions(options.arch) ? "float32" : "int64") +
        " [3, batch, seq] (was " + was + ")");
  } else {
    std::string name = positionsInputName(graph, options.positionsName);
    graph.setArgAttr(newIndex, onnx::attr::kName,
                     StringAttr::get(graph.getContext(), name));
    result.changes.push_back(
        "added input '" + name + "' " +
        (floatPositions(options.arch) ? "float32" : "int64") +
        " [3, batch, seq]" +
        (oldArg ? " (the old positions input is still "
                  "used elsewhere and stays)"
                : ""));
  }
  return result;
}
