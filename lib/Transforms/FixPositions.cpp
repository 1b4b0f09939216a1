//===- FixPositions.cpp - the positions a fix gives its sites -------------===//
//
// True [3, B, S] decoder positions (a new input, or rope.mrope_index under
// --positions compute), (h, w) per vision patch, and the checks a model must
// pass before the fix rewrites it. Used by the fixers on rope.apply.
//
//===----------------------------------------------------------------------===//
#include "FixSitesImpl.h"

#include "mrope/Analysis/ArchTraits.h"
#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeNeighbours.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Rope/IR/MRopeIndexRules.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"

#include <numeric>

using namespace mlir;
using namespace mrope;
using namespace mrope::fix;
using namespace mrope::match;
using onnx::NodeOp;

std::optional<SmallVector<int64_t>> fix::defaultSections(Arch arch,
                                                         int64_t numFreqs) {
  std::optional<std::array<int64_t, 3>> scaled = scaledSections(arch, numFreqs);
  if (!scaled)
    return std::nullopt;
  return SmallVector<int64_t>(scaled->begin(), scaled->end());
}

FailureOr<SmallVector<int64_t>>
fix::textSections(const FixOptions &options, int64_t numFreqs,
                  function_ref<InFlightDiagnostic()> error) {
  SmallVector<int64_t> sections;
  if (!options.sections.empty()) {
    sections.assign(options.sections.begin(), options.sections.end());
  } else if (auto def = defaultSections(options.arch, numFreqs)) {
    sections = *def;
  } else {
    return error() << "no default M-RoPE sections for " << numFreqs
                   << " frequencies; pass --sections";
  }
  if (std::accumulate(sections.begin(), sections.end(), int64_t{0}) !=
          numFreqs ||
      llvm::any_of(sections, [](int64_t s) { return s <= 0; }))
    return error() << "--sections must be positive and sum to " << numFreqs
                   << " (rotary dim / 2)";
  return sections;
}

LogicalResult fix::checkModelForFix(onnx::GraphOp graph) {
  auto module = graph->getParentOfType<ModuleOp>();
  auto opsets = module
                    ? module->getAttrOfType<ArrayAttr>(onnx::attr::kOpsetImport)
                    : ArrayAttr();
  llvm::StringMap<int64_t> imported;
  int64_t defaults = 0;
  for (Attribute a : opsets ? opsets.getValue() : ArrayRef<Attribute>()) {
    auto opset = dyn_cast<onnx::OpsetAttr>(a);
    if (!opset)
      continue;
    bool isDefault =
        opset.getDomain().empty() || opset.getDomain() == "ai.onnx";
    defaults += isDefault;
    if (!imported.try_emplace(opset.getDomain(), opset.getVersion()).second)
      return mlir::emitError(graph.getLoc())
             << "the model imports opset domain '" << opset.getDomain()
             << "' twice";
  }
  if (defaults == 0)
    return mlir::emitError(graph.getLoc())
           << "the model imports no default ONNX opset (opset_import)";
  if (defaults > 1)
    return mlir::emitError(graph.getLoc())
           << "the model imports the default ONNX opset twice";
  std::optional<int64_t> version = onnx::getOpsetVersion(graph);
  if (!version || *version < 13)
    return mlir::emitError(graph.getLoc())
           << "the model's ONNX opset is " << version.value_or(0)
           << "; the fix writes opset 13 nodes (convert the model to opset 13 "
              "or newer first)";
  WalkResult walk = graph.walk([&](NodeOp node) {
    StringRef domain = node.getDomain();
    if (!domain.empty() && !imported.count(domain)) {
      mlir::emitError(node.getLoc())
          << "node " << nodeLabel(node) << " (" << node.getOpType()
          << ") is in domain '" << domain
          << "', which the model does not import";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

namespace {

/// (batch, seq) dims for the new input: from the old [B, S] positions input
/// when there is one, else from the first graph input of rank >= 2.
void positionDims(onnx::GraphOp graph, Value oldPositions,
                  SmallVectorImpl<int64_t> &shape,
                  SmallVectorImpl<std::string> &params) {
  shape.assign({3, ShapedType::kDynamic, ShapedType::kDynamic});
  params.assign({"", "batch", "sequence"});
  auto take = [&](BlockArgument arg) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.getRank() < 2)
      return false;
    // [B, S], or already [3, B, S] (a correct model computing its own).
    int first = type.getRank() == 3 && type.getDimSize(0) == 3 ? 1 : 0;
    shape[1] = type.getDimSize(first);
    shape[2] = type.getDimSize(first + 1);
    if (auto dims = graph.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(),
                                                      onnx::attr::kDimParams))
      for (int i = 0; i < 2 && first + i < static_cast<int>(dims.size()); ++i)
        if (auto s = dyn_cast<StringAttr>(dims[first + i]))
          params[i + 1] = s.getValue().str();
    return true;
  };
  if (auto arg = dyn_cast_or_null<BlockArgument>(oldPositions);
      arg && arg.getOwner() == &graph.getBodyBlock() && take(arg))
    return;
  for (BlockArgument arg : graph.getBodyBlock().getArguments())
    if (take(arg))
      return;
}

/// The graph inputs whose values the positions of rope.apply ops and fused
/// rotary nodes are computed from: positions, never token ids, whatever
/// table they index.
llvm::DenseSet<Value> inputsReadAsPositions(onnx::GraphOp graph) {
  SmallVector<Value> work;
  graph.walk([&](rope::ApplyOp op) { work.push_back(op.getPositions()); });
  graph.walk([&](NodeOp node) {
    unsigned at = 0;
    if (node.getDomain() == "com.microsoft" &&
        (node.getOpType() == "RotaryEmbedding" ||
         node.getOpType() == "MRotaryEmbedding"))
      at = 1; // (x, position_ids, cos_cache, sin_cache)
    else if (node.isOnnx("RotaryEmbedding"))
      at = 3; // opset 23: (x, cos, sin, position_ids?)
    if (at && at < node->getNumOperands() && node->getOperand(at))
      work.push_back(node->getOperand(at));
  });
  llvm::DenseSet<Value> inputs;
  llvm::SmallPtrSet<Operation *, 32> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (arg.getOwner() == &graph.getBodyBlock())
        inputs.insert(arg);
      continue;
    }
    // Shape and Size read no values: the token count of Range(0, S) is no
    // reason to call the embedded token ids positions.
    Operation *op = v.getDefiningOp();
    auto node = dyn_cast_or_null<NodeOp>(op);
    if (op && seen.insert(op).second &&
        !(node && (node.isOnnx("Shape") || node.isOnnx("Size"))))
      work.append(op->operand_begin(), op->operand_end());
  }
  return inputs;
}

/// The token ids and attention mask the graph already has, by what it does
/// with them (RopeNeighbours.h); null where there is none. `claimed`: the
/// inputs that have a meaning (those two, packed segments, past caches,
/// grids), which no name lookup may take for another. (Positions are not
/// claimed: a mask the positions are counted from is still the mask.)
struct ComputeInputs {
  BlockArgument ids, mask;
  llvm::DenseSet<Value> claimed;
};

FailureOr<ComputeInputs> findComputeInputs(onnx::GraphOp graph,
                                           Value segments) {
  ComputeInputs found;
  llvm::DenseSet<Value> positions = inputsReadAsPositions(graph);
  auto pick = [&](SmallVector<BlockArgument> candidates, StringRef what,
                  BlockArgument &into) -> LogicalResult {
    llvm::erase_if(candidates, [&](BlockArgument a) {
      return a == segments || found.claimed.contains(a);
    });
    if (candidates.size() > 1)
      return mlir::emitError(graph.getLoc())
             << "--positions compute: inputs '"
             << graph.getInputName(candidates[0].getArgNumber()) << "' and '"
             << graph.getInputName(candidates[1].getArgNumber())
             << "' are both read as " << what
             << "; which one get_rope_index should read is not clear";
    if (!candidates.empty())
      into = candidates.front();
    found.claimed.insert(into);
    return success();
  };
  // A RoPE cache gathered by positions looks like an embedding lookup.
  SmallVector<BlockArgument> ids = tokenIdsInputs(graph);
  llvm::erase_if(ids, [&](BlockArgument a) { return positions.contains(a); });
  if (failed(pick(ids, "token ids (rows of an embedding table)", found.ids)) ||
      failed(
          pick(attentionMaskInputs(graph), "the attention mask", found.mask)))
    return failure();
  if (segments)
    found.claimed.insert(segments);
  for (const PastCacheInput &cache : pastCacheInputs(graph))
    found.claimed.insert(cache.input);
  for (BlockArgument grid : gridInputs(graph))
    found.claimed.insert(grid);
  found.claimed.erase(Value());
  return found;
}

/// --positions compute: rope.mrope_index over graph inputs (found by
/// meaning, else by name, else added), rope_deltas as a new output; returns
/// the [3, B, S] positions.
FailureOr<Value> computePositionsInGraph(onnx::GraphOp graph,
                                         const FixOptions &options,
                                         ArrayRef<int64_t> shape,
                                         ArrayRef<std::string> params,
                                         Value segments, FixResult &result) {
  OpBuilder b(graph.getContext());
  Location loc = graph.getLoc();
  // A KV-cache decoder: a past cache by what the graph does with it
  // (pastCacheInputs), whatever its name; its past axis is the past length.
  Value pastKey;
  int64_t pastAxis = 0;
  if (SmallVector<PastCacheInput> caches = pastCacheInputs(graph);
      !caches.empty()) {
    pastKey = caches.front().input;
    pastAxis = caches.front().axis;
  }
  auto input = [&](StringRef name, Type type,
                   ArrayRef<StringRef> dims) -> Value {
    for (unsigned i = 0, e = graph.getNumArguments(); i < e; ++i)
      if (graph.getInputName(i) == name)
        return graph.getArgument(i);
    result.changes.push_back("added input '" + name.str() + "'");
    return graph.addInput(name, type, dims);
  };
  FailureOr<ComputeInputs> found = findComputeInputs(graph, segments);
  if (failed(found))
    return failure();
  // An input the graph reads as token ids or mask is taken whatever its
  // name; only when none is there does the name decide (today's inputs),
  // and an input another meaning took is not taken by its name.
  auto byMeaning = [&](BlockArgument arg, StringRef name, Type type,
                       ArrayRef<StringRef> dims) -> Value {
    if (arg)
      return arg;
    for (unsigned i = 0, e = graph.getNumArguments(); i < e; ++i)
      if (graph.getInputName(i) == name &&
          !found->claimed.contains(graph.getArgument(i)))
        return graph.getArgument(i);
    std::string unique = name.str();
    for (int k = 2;
         llvm::any_of(graph.getBodyBlock().getArguments(),
                      [&](BlockArgument a) {
                        return graph.getInputName(a.getArgNumber()) == unique;
                      });
         ++k)
      unique = name.str() + "_" + std::to_string(k);
    result.changes.push_back("added input '" + unique + "'");
    return graph.addInput(unique, type, dims);
  };
  // Qwen3-Omni: its float positions come out of float arithmetic on the
  // f32 second_per_grid_ts input, which the analysis that checks the fixed
  // graph reads as an activation (it takes integer inputs as positions).
  if (floatPositions(options.arch))
    return mlir::emitError(graph.getLoc())
           << "--positions compute is not available under --arch "
           << archName(options.arch)
           << " (float positions computed from the float input "
              "second_per_grid_ts cannot be checked in the fixed graph); "
              "use --positions input and feed position_ids from "
              "mrope.position_ids";
  if (segments && pastKey)
    return mlir::emitError(graph.getLoc())
           << "--positions compute: the positions restart per packed sample "
              "of '"
           << graph.getInputName(cast<BlockArgument>(segments).getArgNumber())
           << "', and the model has a KV cache: packed decoding is not "
              "supported";
  Type i64 = b.getI64Type();
  StringRef batch = params[1], seq = params[2];
  auto tokens = RankedTensorType::get({shape[1], shape[2]}, i64);
  auto grids = RankedTensorType::get({ShapedType::kDynamic, 3}, i64);
  // Grids are told apart by their names only: nothing in a decoder says
  // whether an [N, 3] input holds image or video grids.
  for (BlockArgument grid : gridInputs(graph))
    if (StringRef name = graph.getInputName(grid.getArgNumber());
        name != "image_grid_thw" && name != "video_grid_thw")
      return mlir::emitError(graph.getLoc())
             << "--positions compute: input '" << name
             << "' is an integer [N, 3] grid, and whether it holds image or "
                "video grids is not something the graph says; name it "
                "image_grid_thw or video_grid_thw";
  Value ids = byMeaning(found->ids, "input_ids", tokens, {batch, seq});
  Value mask = byMeaning(found->mask, "attention_mask", tokens, {batch, seq});
  // The change lines name the inputs read, and what they are where their
  // names do not say it.
  auto nameOf = [&](Value v, StringRef usual, StringRef what) {
    std::string name =
        graph.getInputName(cast<BlockArgument>(v).getArgNumber()).str();
    return name == usual ? name : "'" + name + "' (" + what.str() + ")";
  };
  std::string idsAndMask = nameOf(ids, "input_ids", "the token ids") + ", " +
                           nameOf(mask, "attention_mask", "the attention mask");
  Value images = input("image_grid_thw", grids, {"num_images", ""});
  Value videos = input("video_grid_thw", grids, {"num_videos", ""});
  // The declared arch's get_rope_index rule and token ids (ArchTraits.h).
  const ArchTraits &traits = archTraits(options.arch);
  Value seconds;
  FloatAttr tokensPerSecond;
  if (traits.tokensPerSecond) {
    seconds =
        input("second_per_grid_ts",
              RankedTensorType::get({ShapedType::kDynamic}, b.getF32Type()),
              {"num_videos"});
    tokensPerSecond = b.getF32FloatAttr(*traits.tokensPerSecond);
  }
  b.setInsertionPointToStart(&graph.getBodyBlock());
  int64_t dyn = ShapedType::kDynamic;
  onnx::OnnxBuilder emit(b, graph, loc, "mrope_fix/positions",
                         "mrope_fix.positions");
  auto scalarType = RankedTensorType::get({}, i64);
  auto bsType = RankedTensorType::get({shape[1], shape[2]}, i64);
  // A bool or float mask (or another integer width) read as int64 0/1.
  if (RankedTensorType maskType = rankedTypeOf(mask);
      maskType && maskType.getElementType() != i64)
    mask = emit.node("Cast", RankedTensorType::get(maskType.getShape(), i64),
                     {mask},
                     {b.getNamedAttr("to", b.getI64IntegerAttr(7 /*INT64*/))});
  Value seqLen, indexMask = mask;
  if (pastKey) {
    // The mask covers past and new tokens; the index wants the new ones.
    Value idsShape = emit.node("Shape", RankedTensorType::get({2}, i64), {ids});
    seqLen = emit.node("Gather", scalarType, {idsShape, emit.ints({1}, {})},
                       {b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
    Value start = emit.node(
        "Unsqueeze", RankedTensorType::get({1}, i64),
        {emit.node("Neg", scalarType, {seqLen}), emit.ints({0}, {1})});
    indexMask = emit.node(
        "Slice", RankedTensorType::get({shape[1], dyn}, i64),
        {mask, start, emit.ints({INT64_MAX}, {1}), emit.ints({1}, {1})});
  }
  // Packed rows: one rope_delta per segment id slot of a row.
  auto deltasType = RankedTensorType::get(
      {shape[1], segments ? ShapedType::kDynamic : 1}, i64);
  auto index = rope::MRopeIndexOp::create(
      b, loc, RankedTensorType::get(shape, i64), deltasType, ids, indexMask,
      images, videos, seconds, b.getI64IntegerAttr(traits.imageToken),
      b.getI64IntegerAttr(traits.videoToken),
      b.getI64IntegerAttr(traits.visionStartToken), b.getI64IntegerAttr(2),
      tokensPerSecond,
      rope::IndexArchAttr::get(b.getContext(), traits.indexArch));
  if (segments)
    index.getSegmentIdsMutable().assign(segments);
  if (!pastKey) {
    graph.addOutput("rope_deltas", index.getRopeDeltas(),
                    {batch, segments ? "segments" : ""});
    result.changes.push_back(
        segments
            ? "positions computed in the graph from " + idsAndMask +
                  ", the grids and the packed samples of '" +
                  graph
                      .getInputName(
                          cast<BlockArgument>(segments).getArgNumber())
                      .str() +
                  "' (get_rope_index per sample); added output 'rope_deltas'"
            : "positions computed in the graph from " + idsAndMask +
                  " and the grids (get_rope_index); added output "
                  "'rope_deltas'");
    return index.getPositions();
  }
  // Decode steps (past > 0) continue as text: past + arange(S) + the
  // rope_deltas of the prefill on all three rows; the prefill (past = 0)
  // computes positions and deltas from the prompt.
  Value pastDeltas =
      input("past_rope_deltas", RankedTensorType::get({shape[1], 1}, i64),
            {batch, ""});
  int64_t pastRank = rankOf(pastKey);
  Value pastShape =
      emit.node("Shape",
                RankedTensorType::get(
                    {pastRank >= 0 ? pastRank : ShapedType::kDynamic}, i64),
                {pastKey});
  Value pastLen =
      emit.node("Gather", scalarType, {pastShape, emit.ints({pastAxis}, {})},
                {b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
  Value steps = emit.node("Range", RankedTensorType::get({shape[2]}, i64),
                          {emit.ints({0}, {}), seqLen, emit.ints({1}, {})});
  Value decode =
      emit.node("Add", bsType,
                {emit.node("Add", RankedTensorType::get({shape[2]}, i64),
                           {steps, pastLen}),
                 pastDeltas});
  Value decode3 =
      emit.node("Expand", RankedTensorType::get(shape, i64),
                {emit.node("Unsqueeze",
                           RankedTensorType::get({1, shape[1], shape[2]}, i64),
                           {decode, emit.ints({0}, {1})}),
                 emit.ints({3, 1, 1}, {3})});
  Value prefill = emit.node("Equal", RankedTensorType::get({}, b.getI1Type()),
                            {pastLen, emit.ints({0}, {})});
  Value positions = emit.node("Where", RankedTensorType::get(shape, i64),
                              {prefill, index.getPositions(), decode3});
  Value deltas = emit.node("Where", RankedTensorType::get({shape[1], 1}, i64),
                           {prefill, index.getRopeDeltas(), pastDeltas});
  graph.addOutput("rope_deltas", deltas, {batch, ""});
  result.changes.push_back(
      "positions computed in the graph: from " + idsAndMask +
      " and "
      "the grids (get_rope_index) when the past is empty, else past length + "
      "arange + input 'past_rope_deltas'; added output 'rope_deltas' (feed it "
      "back as past_rope_deltas)");
  return positions;
}

/// (h, w) of every patch from `grid_thw` [images, 3] in the graph, as
/// Qwen2VisionTransformer.rot_pos_emb orders them: image by image, frame by
/// frame, m x m merge block by block (row-major), row-major inside a block.
/// Closed form per patch p: image k = #ends <= p, r = (p - start_k) mod h*w,
/// block = r / m^2, e = r mod m^2, h = (block / (w/m)) m + e / m,
/// w = (block mod (w/m)) m + e mod m.
Value visionPositionsInGraph(onnx::GraphOp graph, Value gridThw,
                             Value patchesOf, int64_t patches, int64_t merge,
                             Location loc) {
  OpBuilder b(graph.getContext());
  Type i64 = b.getI64Type();
  int64_t dyn = ShapedType::kDynamic;
  auto vec = RankedTensorType::get({patches}, i64);
  auto perImage = RankedTensorType::get({dyn}, i64);
  auto scalarType = RankedTensorType::get({}, i64);
  b.setInsertionPointToStart(&graph.getBodyBlock());
  onnx::OnnxBuilder emit(b, graph, loc, "mrope_fix/vision_positions",
                         "mrope_fix.vision");
  auto axis = [&](int64_t a) {
    return b.getNamedAttr("axis", b.getI64IntegerAttr(a));
  };
  Value zero = emit.ints({0}, {}), one = emit.ints({1}, {}),
        m = emit.ints({merge}, {});
  Value mm = emit.ints({merge * merge}, {});
  Value shape =
      emit.node("Shape", RankedTensorType::get({dyn}, i64), {patchesOf});
  Value n = emit.node("Gather", scalarType, {shape, zero}, {axis(0)});
  Value p = emit.node("Range", vec, {zero, n, one});
  auto column = [&](int64_t c) {
    return emit.node("Gather", perImage, {gridThw, emit.ints({c}, {})},
                     {axis(1)});
  };
  Value t = column(0), h = column(1), w = column(2);
  Value hw = emit.node("Mul", perImage, {h, w});
  Value count = emit.node("Mul", perImage, {t, hw});
  Value ends = emit.node("CumSum", perImage, {count, zero});
  Value starts = emit.node("Sub", perImage, {ends, count});
  Value endsRow = emit.node("Unsqueeze", RankedTensorType::get({1, dyn}, i64),
                            {ends, emit.ints({0}, {1})});
  Value pCol = emit.node("Unsqueeze", RankedTensorType::get({patches, 1}, i64),
                         {p, emit.ints({1}, {1})});
  Value done =
      emit.node("Cast", RankedTensorType::get({patches, dyn}, i64),
                {emit.node("LessOrEqual",
                           RankedTensorType::get({patches, dyn}, b.getI1Type()),
                           {endsRow, pCol})},
                {b.getNamedAttr("to", b.getI64IntegerAttr(7))});
  Value k = emit.node("ReduceSum", vec, {done, emit.ints({1}, {1})},
                      {b.getNamedAttr("keepdims", b.getI64IntegerAttr(0))});
  auto at = [&](Value perImageValue) {
    return emit.node("Gather", vec, {perImageValue, k}, {axis(0)});
  };
  Value r =
      emit.node("Mod", vec, {emit.node("Sub", vec, {p, at(starts)}), at(hw)});
  Value block = emit.node("Div", vec, {r, mm});
  Value e = emit.node("Mod", vec, {r, mm});
  Value blocksPerRow = emit.node("Div", vec, {at(w), m});
  Value hpos = emit.node(
      "Add", vec,
      {emit.node("Mul", vec, {emit.node("Div", vec, {block, blocksPerRow}), m}),
       emit.node("Div", vec, {e, m})});
  Value wpos = emit.node(
      "Add", vec,
      {emit.node("Mul", vec, {emit.node("Mod", vec, {block, blocksPerRow}), m}),
       emit.node("Mod", vec, {e, m})});
  auto col = RankedTensorType::get({patches, 1}, i64);
  Value axes1 = emit.ints({1}, {1});
  return emit.node("Concat", RankedTensorType::get({patches, 2}, i64),
                   {emit.node("Unsqueeze", col, {hpos, axes1}),
                    emit.node("Unsqueeze", col, {wpos, axes1})},
                   {axis(1)});
}

} // namespace

DecoderPositions::DecoderPositions(onnx::GraphOp graph,
                                   const FixOptions &options, FixResult &result,
                                   Value oldPositions)
    : graph(graph), options(options), result(result) {
  positionDims(graph, oldPositions, shape, params);
}

bool fix::floatPositions(Arch arch) {
  return rope::lookupMRopeIndexArch(archTraits(arch).indexArch).floatPositions;
}

Type fix::positionsElementType(MLIRContext *ctx, Arch arch) {
  if (floatPositions(arch))
    return Float32Type::get(ctx);
  return IntegerType::get(ctx, 64);
}

RankedTensorType DecoderPositions::type() {
  return RankedTensorType::get(
      shape, positionsElementType(graph.getContext(), options.arch));
}

std::string DecoderPositions::describe() const {
  return options.computePositions
             ? std::string("the positions computed in the graph")
             : "input '" + options.positionsName + "' [3, batch, seq]" +
                   (floatPositions(options.arch) ? " float32" : "");
}

FailureOr<Value> DecoderPositions::get() {
  if (value)
    return value;
  if (options.computePositions) {
    FailureOr<Value> computed = computePositionsInGraph(
        graph, options, shape, params, segments, result);
    if (failed(computed))
      return failure();
    value = *computed;
  } else {
    SmallVector<StringRef> refs(params.begin(), params.end());
    value = graph.addInput("mrope_fix.position_ids", type(), refs);
  }
  return value;
}

FailureOr<Value>
fix::visionPositions(onnx::GraphOp graph, int64_t patches, bool compute,
                     FixResult &result,
                     function_ref<InFlightDiagnostic()> error) {
  Type i64 = IntegerType::get(graph.getContext(), 64);
  Location loc = graph.getLoc();
  Value hw;
  for (unsigned i = 0, e = graph.getNumArguments(); i < e && !compute; ++i)
    if (graph.getInputName(i) == "vision_position_ids")
      hw = graph.getArgument(i);
  if (hw && (!isIntTensor(hw) || rankOf(hw) != 2 || dimOf(hw, 1) != 2))
    return error() << "input 'vision_position_ids' is not an integer "
                      "[patches, 2] tensor";
  // The patches the tables are for: the float [patches, ...] input (the
  // hidden states), never an unrelated input such as the grid.
  BlockArgument patchesOf;
  for (BlockArgument arg : graph.getBodyBlock().getArguments())
    if (!patchesOf && isFloatTensor(arg) && rankOf(arg) >= 2 &&
        (ShapedType::isDynamic(patches) || dimOf(arg, 0) == patches))
      patchesOf = arg;
  if (!patchesOf)
    return error() << "no float [patches, ...] graph input gives the "
                      "patch count of the vision tables";
  if (compute) {
    // The grid: the integer [N, 3] input (grid data by its type, as the
    // analysis reads it), whatever its name; else the input so named.
    Value grid;
    SmallVector<BlockArgument> grids = gridInputs(graph);
    if (grids.size() > 1)
      return error() << "--positions compute: inputs '"
                     << graph.getInputName(grids[0].getArgNumber()) << "' and '"
                     << graph.getInputName(grids[1].getArgNumber())
                     << "' are both integer [N, 3] grids; which one the "
                        "patches are laid out by is not clear";
    if (!grids.empty())
      grid = grids.front();
    for (unsigned i = 0, e = graph.getNumArguments(); i < e && !grid; ++i)
      if (graph.getInputName(i) == "grid_thw")
        grid = graph.getArgument(i);
    if (grid && (!isIntTensor(grid) || rankOf(grid) != 2 ||
                 dimOf(grid, 1) != 3 || elementTypeOf(grid) != i64))
      return error() << "input '"
                     << graph.getInputName(
                            cast<BlockArgument>(grid).getArgNumber())
                     << "' is not int64 [images, 3]";
    if (!grid) {
      grid = graph.addInput(
          "grid_thw", RankedTensorType::get({ShapedType::kDynamic, 3}, i64),
          {StringRef("num_images"), StringRef("")});
      result.changes.push_back("added input 'grid_thw' int64 [images, 3]");
    }
    hw = visionPositionsInGraph(graph, grid, patchesOf, patches, 2, loc);
    result.changes.push_back("(h, w) of every patch computed in the graph from "
                             "grid_thw (2x2 merge-block order)");
  } else if (!hw) {
    std::string patchDim = "patches";
    if (auto dims = graph.getArgAttrOfType<ArrayAttr>(patchesOf.getArgNumber(),
                                                      onnx::attr::kDimParams);
        dims && !dims.empty())
      if (auto name = dyn_cast<StringAttr>(dims[0]);
          name && !name.getValue().empty())
        patchDim = name.getValue().str();
    hw = graph.addInput("vision_position_ids",
                        RankedTensorType::get({patches, 2}, i64),
                        {StringRef(patchDim), StringRef("")});
    result.changes.push_back("added input 'vision_position_ids' int64 "
                             "[patches, 2] ((h, w) per patch)");
  }
  // [patches, 2] -> [2, 1, patches]: two position rows of one "batch".
  OpBuilder b(graph.getContext());
  if (auto arg = dyn_cast<BlockArgument>(hw))
    b.setInsertionPointToStart(&graph.getBodyBlock());
  else
    b.setInsertionPointAfter(hw.getDefiningOp());
  onnx::OnnxBuilder emit(b, graph, loc, "mrope_fix/vision", "mrope_fix");
  Type hwElem = elementTypeOf(hw);
  Value rows = emit.node(
      "Transpose", RankedTensorType::get({2, patches}, hwElem), {hw},
      {b.getNamedAttr("perm", DenseI64ArrayAttr::get(b.getContext(), {1, 0}))});
  return emit.node("Unsqueeze", RankedTensorType::get({2, 1, patches}, hwElem),
                   {rows, emit.ints({1}, {1}, "vision_axes")});
}

std::string fix::describeTextFix(StringRef label, rope::PairLayout layout,
                                 StringRef what, ArrayRef<int64_t> sections,
                                 rope::SectionOrder order,
                                 const DecoderPositions &positions,
                                 const RopeSite &site) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << label << " (1d";
  if (layout == rope::PairLayout::gptj)
    os << ", gptj pairs";
  os << "): " << what << " [";
  llvm::interleaveComma(sections, os);
  os << "]" << (order == rope::SectionOrder::interleaved ? " interleaved" : "")
     << " from " << positions.describe() << " (was " << positionsName(site)
     << ")";
  return text;
}

SmallVector<float> fix::visionFreqs(ArrayRef<float> invFreq) {
  SmallVector<float> table;
  for (size_t j = 0; j < invFreq.size(); j += 2)
    table.push_back(invFreq[j]);
  return table;
}
