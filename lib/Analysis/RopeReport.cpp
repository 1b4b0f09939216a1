//===- RopeReport.cpp - RoPE sites in words -------------------------------===//
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/FusedRopeSites.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mrope;
using onnx::NodeOp;

StringRef mrope::positionKindName(PositionKind kind) {
  switch (kind) {
  case PositionKind::OneD:
    return "1d";
  case PositionKind::TwoD:
    return "2d";
  case PositionKind::MRope:
    return "mrope";
  case PositionKind::MRopeInterleaved:
    return "mrope-interleaved";
  case PositionKind::MRopeDegenerate:
    return "mrope-degenerate";
  }
  llvm_unreachable("unknown position kind");
}

StringRef mrope::pairLayoutName(rope::PairLayout layout) {
  return rope::stringifyPairLayout(layout);
}

std::string mrope::nodeLabel(NodeOp node) {
  if (!node)
    return "an unknown node";
  if (!node.getNodeName().empty())
    return node.getNodeName().str();
  if (node.getNumResults() && !node.getOutputName(0).empty())
    return "output '" + node.getOutputName(0) + "'";
  return "an unnamed " + node.getOpType().str() + " node";
}

std::string mrope::positionsName(const RopeSite &site) {
  Value positions = site.positions;
  if (!positions)
    return "an unknown value";
  if (auto arg = dyn_cast<BlockArgument>(positions)) {
    if (auto graph = dyn_cast<onnx::GraphOp>(arg.getOwner()->getParentOp()))
      return ("input '" + graph.getInputName(arg.getArgNumber()) + "'").str();
    return "a subgraph input";
  }
  if (auto node = positions.getDefiningOp<NodeOp>())
    return "Range " + nodeLabel(node);
  return "an unknown value";
}

std::string mrope::siteReason(const RopeSite &site, Arch arch) {
  std::string source = positionsName(site);
  switch (site.kind) {
  case PositionKind::MRopeDegenerate:
    if (site.source == PositionSource::Segments)
      return "the " + std::to_string(site.getSections().size()) +
             " position rows of this M-RoPE are the same 1D count per packed "
             "sample of " +
             source +
             " (positions restart per sample, but text, image and video "
             "tokens all get 1D positions)";
    return "the " + std::to_string(site.getSections().size()) +
           " position rows of this M-RoPE are built in the graph from one 1D "
           "tensor (" +
           source + "): text, image and video tokens all get 1D positions";
  case PositionKind::OneD:
    if (site.vision)
      return site.bug
                 ? "the vision tower rotates patches by a flattened 1D "
                   "index from " +
                       source +
                       "; Qwen VL vision RoPE needs (h, w) positions per "
                       "patch"
                 : "1D positions from " + source + " over [tokens, heads, dim]";
    if (site.bug && site.source == PositionSource::Segments)
      return ("a " + archName(arch) +
              " model rotates by 1D positions counted per packed sample of " +
              source +
              "; its multimodal RoPE needs 3D positions [3, batch, "
              "seq] that restart per sample")
          .str();
    if (site.bug)
      return ("a " + archName(arch) + " model rotates by 1D positions from " +
              source +
              "; its multimodal RoPE needs 3D positions [3, batch, seq]")
          .str();
    return "1D positions from " + source +
           (arch == Arch::Auto ? ": right for a text model (declare --arch "
                                 "qwen2-vl to check it as a Qwen VL model)"
                               : ": right for a text model");
  case PositionKind::TwoD:
    return site.hasComputedPositions()
               ? "2D (h, w) positions computed in the graph from " + source +
                     " (vision tower)"
               : "2D (h, w) positions from " + source + " (vision tower)";
  case PositionKind::MRope:
  case PositionKind::MRopeInterleaved:
    if (site.hasComputedPositions())
      return "3D positions computed in the graph (get_rope_index) from " +
             source + " and the image/video grids";
    return "3D positions [3, batch, seq] from " + source;
  }
  llvm_unreachable("unknown position kind");
}

std::string mrope::siteSummary(const RopeSite &site) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << positionKindName(site.kind) << " [";
  llvm::interleaveComma(site.getSections(), os);
  os << "] " << pairLayoutName(site.getLayout()) << ", rotary_dim "
     << site.getRotaryDim() << ", theta " << site.getTheta() << ", "
     << site.rotations.size() << " rotations";
  return text;
}

/// The per-site JSON object (fused-op sites add their fields here).
static llvm::json::Object siteJson(const RopeSite &site, Arch arch) {
  llvm::json::Array nodes;
  for (Operation *op : site.nodes)
    if (auto node = dyn_cast<NodeOp>(op))
      nodes.push_back(nodeLabel(node));
  return llvm::json::Object{
      {"positions", positionKindName(site.kind)},
      {"layout", pairLayoutName(site.getLayout())},
      {"sections", llvm::json::Array(site.getSections())},
      {"interleaved", site.isInterleaved()},
      {"theta", site.getTheta()},
      {"rotary_dim", site.getRotaryDim()},
      {"rotations", static_cast<int64_t>(site.rotations.size())},
      {"positions_source", positionsName(site)},
      {"nodes", std::move(nodes)},
      {"bug", site.bug},
      {"reason", siteReason(site, arch)},
  };
}

std::string mrope::renderReportJson(ArrayRef<RopeSite> sites, StringRef model,
                                    Arch arch) {
  llvm::json::Array list;
  int64_t rotations = 0, bugs = 0;
  for (const RopeSite &site : sites) {
    rotations += site.rotations.size();
    bugs += site.bug;
    list.push_back(siteJson(site, arch));
  }
  llvm::json::Object report{
      {"model", model},
      {"arch", archName(arch)},
      {"sites", std::move(list)},
      {"summary",
       llvm::json::Object{{"sites", static_cast<int64_t>(sites.size())},
                          {"rotations", rotations},
                          {"bugs", bugs}}},
  };
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(report))) << "\n";
  return text;
}

std::string mrope::renderReportText(ArrayRef<RopeSite> sites, StringRef model,
                                    Arch arch, ArrayRef<FusedRopeSite> fused) {
  std::string text;
  llvm::raw_string_ostream os(text);
  int64_t bugs = 0, rotations = 0;
  for (const RopeSite &site : sites) {
    bugs += site.bug;
    rotations += site.rotations.size();
  }
  for (const FusedRopeSite &site : fused) {
    bugs += site.bug;
    rotations += site.rotations();
  }
  size_t count = sites.size() + fused.size();
  os << model << ": " << count << " RoPE site" << (count == 1 ? "" : "s")
     << ", " << rotations << " rotation" << (rotations == 1 ? "" : "s") << ", "
     << bugs << " bug" << (bugs == 1 ? "" : "s") << " (arch " << archName(arch)
     << ")\n";
  for (auto [i, site] : llvm::enumerate(sites)) {
    os << "  site " << i << ": " << siteSummary(site) << ", tables by "
       << nodeLabel(site.cosNode) << " / " << nodeLabel(site.sinNode) << "\n"
       << "    " << (site.bug ? "BUG: " : "ok: ") << siteReason(site, arch)
       << "\n";
  }
  os << renderFusedSitesText(fused, sites.size());
  if (bugs)
    os << "verdict: " << bugs << (bugs == 1 ? " site needs" : " sites need")
       << " true multimodal positions (mrope-fix -o FIXED.onnx rewrites "
       << (bugs == 1 ? "it" : "them") << ")\n";
  else
    os << "verdict: no RoPE position bug found\n";
  return text;
}
