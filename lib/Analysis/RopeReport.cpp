//===- RopeReport.cpp - RoPE sites in words -------------------------------===//
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/ValueMeaning.h"

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

StringRef SiteReport::positionsKindName() const {
  return fused ? fusedPositionsName(fused->kind) : positionKindName(kind);
}

bool SiteReport::rotatesBy1D() const {
  if (fused)
    return fused->kind == FusedPositions::OneD ||
           fused->kind == FusedPositions::MRopeDegenerate;
  return kind == PositionKind::OneD || kind == PositionKind::MRopeDegenerate;
}

int64_t RopeReport::rotations() const {
  int64_t n = 0;
  for (const SiteReport &site : sites)
    n += site.rotations;
  return n;
}

int64_t RopeReport::bugs() const {
  return llvm::count_if(sites, [](const SiteReport &s) { return s.bug; });
}

SiteReport mrope::makeSiteReport(const RopeSite &site, Arch arch) {
  SiteReport r;
  r.kind = site.kind;
  r.vision = site.vision;
  r.layout = site.getLayout();
  r.sections.assign(site.getSections().begin(), site.getSections().end());
  r.interleaved = site.isInterleaved();
  r.theta = site.getTheta();
  r.rotaryDim = site.getRotaryDim();
  r.rotations = site.rotations.size();
  r.positionsSource = positionsName(site);
  for (Operation *op : site.nodes)
    if (auto node = dyn_cast<NodeOp>(op))
      r.nodes.push_back(nodeLabel(node));
  for (const Rotation &rotation : site.rotations)
    r.rotationNodes.push_back(nodeLabel(rotation.cosMul));
  r.cosNode = nodeLabel(site.cosNode);
  r.sinNode = nodeLabel(site.sinNode);
  r.bug = site.bug;
  r.reason = siteReason(site, arch);
  return r;
}

std::string mrope::onnxValueName(Value v) {
  if (!v)
    return "";
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (auto graph = dyn_cast<onnx::GraphOp>(arg.getOwner()->getParentOp()))
      return graph.getInputName(arg.getArgNumber()).str();
    return "";
  }
  if (auto init = v.getDefiningOp<onnx::InitializerOp>())
    return init.getName().str();
  if (auto node = v.getDefiningOp<NodeOp>())
    return node.getOutputName(cast<OpResult>(v).getResultNumber());
  return "";
}

SiteReport mrope::makeSiteReport(const FusedRopeSite &site) {
  SiteReport r;
  FusedSiteReport &fused = r.fused.emplace();
  fused.op = site.op;
  fused.kind = site.kind;
  fused.cosCache = onnxValueName(meaning::stripTransparent(site.cosCache));
  fused.sinCache = onnxValueName(meaning::stripTransparent(site.sinCache));
  fused.cacheShape = site.cacheShape;
  r.kind = site.kind == FusedPositions::MRope ? PositionKind::MRope
           : site.kind == FusedPositions::MRopeInterleaved
               ? PositionKind::MRopeInterleaved
           : site.kind == FusedPositions::MRopeDegenerate
               ? PositionKind::MRopeDegenerate
               : PositionKind::OneD;
  r.layout = site.gptj ? rope::PairLayout::gptj : rope::PairLayout::neox;
  r.sections = site.sections;
  r.interleaved = site.kind == FusedPositions::MRopeInterleaved;
  r.theta = site.theta;
  r.rotaryDim = site.rotaryDim;
  r.rotations = site.rotations();
  r.positionsSource = site.positionsName();
  for (NodeOp node : site.nodes)
    r.nodes.push_back(nodeLabel(node));
  r.rotationNodes = r.nodes;
  r.bug = site.bug;
  r.reason = site.reason;
  return r;
}

RopeReport mrope::makeRopeReport(ArrayRef<RopeSite> sites,
                                 ArrayRef<FusedRopeSite> fused, StringRef model,
                                 Arch arch) {
  RopeReport report;
  report.model = model.str();
  report.arch = arch;
  for (const RopeSite &site : sites)
    report.sites.push_back(makeSiteReport(site, arch));
  for (const FusedRopeSite &site : fused)
    report.sites.push_back(makeSiteReport(site));
  return report;
}

static llvm::json::Object siteJson(const SiteReport &site) {
  llvm::json::Object entry{
      {"positions", site.positionsKindName()},
      {"layout", pairLayoutName(site.layout)},
      {"sections", llvm::json::Array(site.sections)},
      {"interleaved", site.interleaved},
      {"theta", site.theta},
      {"rotary_dim", site.rotaryDim},
      {"rotations", site.rotations},
      {"positions_source", site.positionsSource},
      {"nodes", llvm::json::Array(site.nodes)},
      {"bug", site.bug},
      {"reason", site.reason},
  };
  if (site.fused) {
    entry["fused_op"] = fusedOpName(site.fused->op);
    entry["caches"] = llvm::json::Object{
        {"cos", site.fused->cosCache},
        {"sin", site.fused->sinCache},
        {"shape", llvm::json::Array(site.fused->cacheShape)}};
  }
  return entry;
}

std::string mrope::renderReportJson(const RopeReport &report) {
  llvm::json::Array list;
  for (const SiteReport &site : report.sites)
    list.push_back(siteJson(site));
  llvm::json::Object json{
      {"model", report.model},
      {"arch", archName(report.arch)},
      {"sites", std::move(list)},
      {"summary",
       llvm::json::Object{{"sites", static_cast<int64_t>(report.sites.size())},
                          {"rotations", report.rotations()},
                          {"bugs", report.bugs()}}},
  };
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(json))) << "\n";
  return text;
}

std::string mrope::renderReportText(const RopeReport &report) {
  std::string text;
  llvm::raw_string_ostream os(text);
  int64_t bugs = report.bugs(), rotations = report.rotations();
  size_t count = report.sites.size();
  os << report.model << ": " << count << " RoPE site" << (count == 1 ? "" : "s")
     << ", " << rotations << " rotation" << (rotations == 1 ? "" : "s") << ", "
     << bugs << " bug" << (bugs == 1 ? "" : "s") << " (arch "
     << archName(report.arch) << ")\n";
  for (auto [i, site] : llvm::enumerate(report.sites)) {
    os << "  site " << i << ": " << site.positionsKindName() << " [";
    llvm::interleaveComma(site.sections, os);
    os << "] " << pairLayoutName(site.layout) << ", rotary_dim "
       << site.rotaryDim << ", theta " << site.theta << ", " << site.rotations
       << " rotations";
    if (site.fused) {
      os << ", fused " << fusedOpName(site.fused->op) << " "
         << site.nodes.front();
      if (site.nodes.size() > 1)
        os << " (+" << site.nodes.size() - 1 << " more)";
    } else {
      os << ", tables by " << site.cosNode << " / " << site.sinNode;
    }
    os << "\n    " << (site.bug ? "BUG: " : "ok: ") << site.reason << "\n";
  }
  if (bugs)
    os << "verdict: " << bugs << (bugs == 1 ? " site needs" : " sites need")
       << " true multimodal positions (mrope-fix -o FIXED.onnx rewrites "
       << (bugs == 1 ? "it" : "them") << ")\n";
  else
    os << "verdict: no RoPE position bug found\n";
  return text;
}

std::string mrope::renderReportJson(ArrayRef<RopeSite> sites, StringRef model,
                                    Arch arch) {
  return renderReportJson(makeRopeReport(sites, {}, model, arch));
}

std::string mrope::renderReportText(ArrayRef<RopeSite> sites, StringRef model,
                                    Arch arch, ArrayRef<FusedRopeSite> fused) {
  return renderReportText(makeRopeReport(sites, fused, model, arch));
}
