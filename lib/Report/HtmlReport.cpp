//===- HtmlReport.cpp - the self-contained HTML report --------------------===//
#include "mrope/Report/HtmlReport.h"

#include "Svg.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Fix/RunFix.h"
#include "mrope/Report/GraphDiff.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <map>

using namespace mlir;
using namespace mrope;
using mrope::report::escape;
using mrope::report::Svg;

namespace {

// Everything the page needs to look right offline; colours say what a token
// is (text, image, video) and what the fix did (removed, added).
constexpr llvm::StringLiteral kStyle = R"css(
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2430; max-width: 1200px; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.verdict { display: inline-block; padding: 6px 14px; border-radius: 6px; font-weight: 700; font-size: 16px; }
.verdict-bug { background: #fde2e1; color: #9b1c1c; border: 1px solid #f3a5a1; }
.verdict-ok { background: #def7e5; color: #14622f; border: 1px solid #98d8ad; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d5dae3; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f1f4f9; }
td.bug { color: #9b1c1c; font-weight: 600; } td.ok { color: #14622f; }
.nodes { font: 11px ui-monospace, monospace; color: #4a5568; }
td.bug, td.ok { max-width: 320px; }
.caption { color: #4a5568; margin: 4px 0 10px; }
.panel { display: inline-block; vertical-align: top; margin: 0 24px 12px 0; }
.scroll { overflow-x: auto; max-width: 100%; }
svg text { font: 10px ui-monospace, monospace; }
svg .label { font: 12px system-ui, sans-serif; fill: #1d2430; }
.tok-text { fill: #e6e9ef; } .tok-image { fill: #9cc3f5; } .tok-video { fill: #f7c08a; }
.tok-mark { fill: #c9ced8; }
.pt-image { fill: #2f6fc4; } .pt-video { fill: #d9772b; }
.node { fill: #f1f4f9; stroke: #8b95a7; } .node-removed { fill: #fde2e1; stroke: #c0392b; }
.node-added { fill: #def7e5; stroke: #27ae60; } .edge { stroke: #8b95a7; stroke-width: 1; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 6px; border-radius: 3px; }
ul.changes { font: 12px ui-monospace, monospace; }
)css";

std::string join(llvm::ArrayRef<int64_t> values) {
  std::string out;
  llvm::raw_string_ostream os(out);
  llvm::interleave(values, os, ", ");
  return out;
}

std::string gridsText(llvm::ArrayRef<GridThw> grids) {
  std::string out;
  for (const GridThw &g : grids)
    out += (out.empty() ? "" : ";") + std::to_string(g.t) + "," +
           std::to_string(g.h) + "," + std::to_string(g.w);
  return out;
}

const char *tokenClass(int64_t token) {
  if (token == kImageTokenId)
    return "image";
  if (token == kVideoTokenId)
    return "video";
  if (token == kVisionStartTokenId || token == kVisionEndTokenId)
    return "mark";
  return "text";
}

std::string tokenName(int64_t token) {
  if (token == kImageTokenId)
    return "<|image_pad|>";
  if (token == kVideoTokenId)
    return "<|video_pad|>";
  if (token == kVisionStartTokenId)
    return "<|vision_start|>";
  if (token == kVisionEndTokenId)
    return "<|vision_end|>";
  return "text token " + std::to_string(token);
}

using Rows = std::array<std::vector<int64_t>, 3>;

/// The token strip: one rect per token in each of the t, h, w rows, with
/// its position written in it.
std::string positionStrip(const ExamplePrompt &prompt, const Rows &rows,
                          llvm::StringRef phase, double tokensPerSecond) {
  const double cell = 24, height = 20, left = 28, top = 6;
  size_t n = prompt.tokens.size();
  std::string attrs = llvm::formatv(
      "data-phase=\"{0}\" data-tokens=\"{1}\" data-images=\"{2}\" "
      "data-videos=\"{3}\" data-tokens-per-second=\"{4}\"",
      phase, join(prompt.tokens), gridsText(prompt.images),
      gridsText(prompt.videos), tokensPerSecond);
  Svg svg(left + cell * n + 4, top + 3 * (height + 4) + 4, "positions", attrs);
  const char *names[3] = {"t", "h", "w"};
  for (int r = 0; r < 3; ++r) {
    double y = top + r * (height + 4);
    svg.text(4, y + 14, names[r], "class=\"label\"");
    for (size_t i = 0; i < n; ++i) {
      int64_t value = rows[r][i];
      double x = left + cell * i;
      svg.rect(x, y, cell - 2, height,
               llvm::formatv("class=\"pos tok-{0}\" data-row=\"{1}\" "
                             "data-token=\"{2}\" data-value=\"{3}\"",
                             tokenClass(prompt.tokens[i]), names[r], i, value)
                   .str(),
               tokenName(prompt.tokens[i]) + ": " + names[r] + " = " +
                   std::to_string(value));
      svg.text(x + (cell - 2) / 2, y + 14, std::to_string(value),
               "text-anchor=\"middle\"");
    }
  }
  return svg.finish();
}

/// Where the vision tokens sit in the (w, h) plane, relative to the first
/// position of their block; later frames (t) are drawn stacked behind.
/// `points`: (t, h, w, kind) per token, already relative.
struct PlanePoint {
  int64_t t, h, w;
  std::string kind; ///< image | video | patch
};

std::string positionPlane(llvm::ArrayRef<PlanePoint> points,
                          llvm::StringRef phase, llvm::StringRef cls) {
  const double cell = 18, stack = 10, margin = 22;
  // Frame t is drawn up and to the right of frame 0 (stacked behind it).
  auto xOf = [&](const PlanePoint &p) { return p.w * cell + p.t * stack; };
  auto yOf = [&](const PlanePoint &p) { return p.h * cell - p.t * stack; };
  double minY = 0, maxX = 0, maxY = 0;
  for (const PlanePoint &p : points) {
    minY = std::min(minY, yOf(p));
    maxX = std::max(maxX, xOf(p));
    maxY = std::max(maxY, yOf(p));
  }
  Svg svg(margin + maxX + cell + 8, margin + maxY - minY + cell + 8, cls,
          llvm::formatv("data-phase=\"{0}\"", phase).str());
  svg.text(margin, 12, "w \xe2\x86\x92", "class=\"label\"");
  svg.text(2, margin + 12, "h", "class=\"label\"");
  svg.text(2, margin + 24, "\xe2\x86\x93", "class=\"label\"");
  // Back frames first so that frame 0 is on top.
  std::vector<const PlanePoint *> order;
  for (const PlanePoint &p : points)
    order.push_back(&p);
  std::stable_sort(order.begin(), order.end(),
                   [](auto *a, auto *b) { return a->t > b->t; });
  for (const PlanePoint *p : order) {
    svg.rect(margin + xOf(*p), margin + yOf(*p) - minY, cell - 3, cell - 3,
             llvm::formatv("class=\"pt pt-{0}\" data-t=\"{1}\" data-h=\"{2}\" "
                           "data-w=\"{3}\" fill-opacity=\"{4}\"",
                           p->kind == "video" ? "video" : "image", p->t, p->h,
                           p->w, p->t ? 0.55 : 1.0)
                 .str(),
             llvm::formatv("t={0} h={1} w={2}", p->t, p->h, p->w).str());
  }
  return svg.finish();
}

/// One plane per vision block (image or video) of a prompt: the tokens'
/// positions relative to the block's first position.
std::vector<std::vector<PlanePoint>> visionBlocks(const ExamplePrompt &prompt,
                                                  const Rows &rows) {
  std::vector<std::vector<PlanePoint>> blocks;
  int64_t base = 0;
  for (size_t i = 0; i < prompt.tokens.size(); ++i) {
    std::string kind = tokenClass(prompt.tokens[i]);
    if (kind != "image" && kind != "video")
      continue;
    if (i == 0 || prompt.tokens[i - 1] != prompt.tokens[i]) {
      base = std::min({rows[0][i], rows[1][i], rows[2][i]});
      blocks.emplace_back();
    }
    blocks.back().push_back(
        {rows[0][i] - base, rows[1][i] - base, rows[2][i] - base, kind});
  }
  return blocks;
}

double tokensPerSecondFor(Arch arch) {
  // Qwen2.5-VL's default vision_config.tokens_per_second.
  return arch == Arch::Qwen25VL ? 2.0 : 0.0;
}

void decoderPicture(llvm::raw_ostream &os, const ExamplePrompt &prompt,
                    bool modelIs1D, Arch arch) {
  Rows mrope, oneD;
  std::string error;
  double tps = tokensPerSecondFor(arch);
  if (!ropeIndex(prompt, 2, tps, mrope, error)) {
    os << "<p class=\"caption\">cannot compute the example positions: "
       << escape(error) << "</p>\n";
    return;
  }
  for (auto &row : oneD)
    for (size_t i = 0; i < prompt.tokens.size(); ++i)
      row.push_back(i);
  os << "<p class=\"caption\">Example prompt: " << prompt.tokens.size()
     << " tokens &mdash; text, " << prompt.images.size()
     << " image(s) (grids t,h,w in patches: "
     << escape(gridsText(prompt.images)) << "), " << prompt.videos.size()
     << " video(s) (" << escape(gridsText(prompt.videos))
     << "), text between and after. Vision tokens are 2&times;2 merged "
        "patches. Positions as get_rope_index computes them"
     << (tps > 0 ? " (Qwen2.5-VL: 2 temporal positions per second)" : "")
     << ".</p>\n<p class=\"legend\"><span class=\"tok-text\" "
        "style=\"background:#e6e9ef\">text</span><span "
        "style=\"background:#c9ced8\">vision start/end</span><span "
        "style=\"background:#9cc3f5\">image</span><span "
        "style=\"background:#f7c08a\">video</span></p>\n";
  struct Phase {
    const char *id, *title, *what;
    const Rows *rows;
  } phases[2] = {
      {"before", "As this model computes them",
       modelIs1D ? "1D: t = h = w = the token index. The image is a line, the "
                   "video frames follow each other."
                 : "This model already takes 3D M-RoPE positions.",
       modelIs1D ? &oneD : &mrope},
      {"after", "As they should be (M-RoPE)",
       "t, h, w differ on vision tokens: the image is a 2D grid, the video "
       "frames are stacked in t; text continues after the largest position.",
       &mrope}};
  for (const Phase &phase : phases) {
    os << "<h3>" << phase.title << "</h3>\n<p class=\"caption\">" << phase.what
       << "</p>\n<div class=\"panel\">"
       << positionStrip(prompt, *phase.rows, phase.id, tps) << "</div>\n"
       << "<br>\n";
    for (const std::vector<PlanePoint> &block :
         visionBlocks(prompt, *phase.rows))
      os << "<div class=\"panel\"><p class=\"caption\">" << block.front().kind
         << " tokens at (w, h)"
         << (block.front().kind == "video" ? ", frames stacked by t" : "")
         << "</p>" << positionPlane(block, phase.id, "plane") << "</div>\n";
  }
}

void visionPicture(llvm::raw_ostream &os, llvm::ArrayRef<GridThw> grids,
                   bool modelIs1D) {
  std::vector<std::array<int64_t, 2>> hw = visionPatchPositions(grids, 2);
  std::vector<PlanePoint> before, after;
  for (size_t i = 0; i < hw.size(); ++i) {
    int64_t index = static_cast<int64_t>(i);
    before.push_back({0, modelIs1D ? index : hw[i][0],
                      modelIs1D ? index : hw[i][1], "patch"});
    after.push_back({0, hw[i][0], hw[i][1], "patch"});
  }
  os << "<p class=\"caption\">Vision tower, grid(s) "
     << escape(gridsText(grids))
     << " patches (t,h,w), patches in 2&times;2 merge-block order. Each square "
        "is a patch at its (h, w) rotary position.</p>\n"
     << "<div class=\"panel\"><h3>As this model computes them</h3>"
     << "<p class=\"caption\">"
     << (modelIs1D ? "flattened patch index: h = w = i, a line"
                   : "(h, w) already")
     << "</p>" << positionPlane(before, "before", "patches") << "</div>\n"
     << "<div class=\"panel\"><h3>As they should be</h3><p class=\"caption\">"
        "(h, w) of the patch: the image's own grid</p>"
     << positionPlane(after, "after", "patches") << "</div>\n";
}

/// A small layered drawing of the nodes `ids` of `snapshot`, changed ones
/// coloured.
std::string graphPanel(const GraphSnapshot &snapshot,
                       llvm::ArrayRef<int64_t> ids,
                       const llvm::DenseSet<int64_t> &changed,
                       llvm::StringRef phase) {
  llvm::DenseMap<int64_t, int> depth;
  for (const SnapshotNode &node : snapshot.nodes) {
    if (!llvm::is_contained(ids, node.id))
      continue;
    int d = 0;
    for (int64_t in : node.inputs)
      if (auto it = depth.find(in); it != depth.end())
        d = std::max(d, it->second + 1);
    depth[node.id] = d;
  }
  std::map<int, std::vector<int64_t>> columns;
  for (const SnapshotNode &node : snapshot.nodes)
    if (depth.count(node.id))
      columns[depth[node.id]].push_back(node.id);
  const double boxW = 150, boxH = 26, gapX = 40, gapY = 10, margin = 6;
  size_t tallest = 1;
  for (auto &[d, column] : columns)
    tallest = std::max(tallest, column.size());
  double width = margin * 2 + columns.size() * (boxW + gapX);
  double height = margin * 2 + tallest * (boxH + gapY);
  Svg svg(std::max(width, 200.0), height, "rewrite",
          llvm::formatv("data-phase=\"{0}\"", phase).str());
  llvm::DenseMap<int64_t, std::pair<double, double>> at;
  for (auto &[d, column] : columns)
    for (size_t i = 0; i < column.size(); ++i)
      at[column[i]] = {margin + d * (boxW + gapX), margin + i * (boxH + gapY)};
  for (const SnapshotNode &node : snapshot.nodes) {
    if (!at.count(node.id))
      continue;
    for (int64_t in : node.inputs)
      if (at.count(in))
        svg.line(at[in].first + boxW, at[in].second + boxH / 2,
                 at[node.id].first, at[node.id].second + boxH / 2,
                 "class=\"edge\"");
  }
  for (const SnapshotNode &node : snapshot.nodes) {
    if (!at.count(node.id))
      continue;
    auto [x, y] = at[node.id];
    const char *cls = !changed.contains(node.id) ? "node"
                      : phase == "before"        ? "node node-removed"
                                                 : "node node-added";
    std::string text = node.opType.empty() ? node.label : node.opType;
    std::string title =
        node.label +
        (node.opType.empty() ? ": " + node.type : " (" + node.opType + ")");
    svg.rect(x, y, boxW, boxH,
             llvm::formatv("class=\"{0}\" rx=\"4\" data-node=\"{1}\"", cls,
                           escape(node.label))
                 .str(),
             title);
    if (text.size() > 22)
      text = text.substr(0, 21) + "\xe2\x80\xa6";
    svg.text(x + 6, y + 17, text);
  }
  return svg.finish();
}

void rewriteSection(llvm::raw_ostream &os, ModuleOp module,
                    const FixRequest &fixRequest, bool anyBug) {
  os << "<h2>The rewrite</h2>\n";
  if (!anyBug) {
    os << "<p class=\"caption\">Nothing to fix: <code>mrope-fix -o</code> "
          "writes this model unchanged.</p>\n";
    return;
  }
  // The fix runs on a scratch copy: the caller's module stays as it was.
  OwningOpRef<ModuleOp> copy(cast<ModuleOp>(module->clone()));
  onnx::GraphOp graph = onnx::getMainGraph(*copy);
  int64_t nextId = 0;
  GraphSnapshot before = snapshotGraph(graph, nextId);
  // What mrope-fix -o runs, with its typed report; its one error goes on
  // the page instead of stderr.
  FixRequest request = fixRequest;
  request.fix = true;
  request.explain = false;
  request.onAnalysis = nullptr;
  request.timing = nullptr;
  request.perturb = DebugPerturb::None;
  std::string error;
  FailureOr<FixReport> fixed = failure();
  {
    ScopedDiagnosticHandler capture(copy->getContext(), [&](Diagnostic &d) {
      if (d.getSeverity() == DiagnosticSeverity::Error && error.empty())
        error = d.str();
      return success();
    });
    fixed = runFix(*copy, request);
  }
  if (failed(fixed)) {
    os << "<p class=\"verdict verdict-bug\">The fix fails: " << escape(error)
       << "</p>\n";
    return;
  }
  std::vector<std::string> changes = fixed->linesOf(FixLine::Kind::Fixed);
  GraphSnapshot after = snapshotGraph(graph, nextId);
  GraphDiff diff = diffGraphs(before, after);
  os << "<p class=\"caption\">What <code>mrope-fix -o FIXED.onnx</code> "
        "does to this model"
     << (fixRequest.positions == PositionsMode::Compute
             ? " (--positions compute)"
             : "")
     << ": " << diff.removed.size() << " ONNX node(s) removed, "
     << diff.added.size()
     << " added; every other node, initializer and "
        "name is kept.</p>\n<ul class=\"changes\">\n";
  for (const std::string &change : changes)
    os << "<li class=\"change\">" << escape(change) << "</li>\n";
  for (const std::string &change : diff.inputChanges)
    os << "<li class=\"input-change\">" << escape(change) << "</li>\n";
  os << "</ul>\n<table class=\"diff\"><tr><th>removed</th><th>added</th></tr>"
        "<tr><td class=\"nodes\">";
  for (const SnapshotNode &node : diff.removed)
    os << "<div class=\"removed\">" << escape(node.opType) << " "
       << escape(node.label) << "</div>";
  os << "</td><td class=\"nodes\">";
  for (const SnapshotNode &node : diff.added)
    os << "<div class=\"added\">" << escape(node.opType) << "</div>";
  os << "</td></tr></table>\n";
  llvm::DenseSet<int64_t> removed, added;
  for (const SnapshotNode &node : diff.removed)
    removed.insert(node.id);
  added.insert(diff.changedInputs.begin(), diff.changedInputs.end());
  for (const SnapshotNode &node : diff.added)
    added.insert(node.id);
  os << "<h3>Before</h3><div class=\"scroll\">"
     << graphPanel(before, diff.beforeIds, removed, "before") << "</div>\n"
     << "<h3>After</h3><div class=\"scroll\">"
     << graphPanel(after, diff.afterIds, added, "after") << "</div>\n";
}

void sitesTable(llvm::raw_ostream &os, const RopeReport &report) {
  os << "<h2>RoPE sites</h2>\n";
  if (report.sites.empty()) {
    os << "<p class=\"caption\">No RoPE site found.</p>\n";
    return;
  }
  os << "<table class=\"sites\"><tr><th>#</th><th>positions</th><th>layout</th>"
        "<th>sections</th><th>theta</th><th>rotary dim</th><th>rotations</th>"
        "<th>positions from</th><th>verdict</th></tr>\n";
  for (auto [i, site] : llvm::enumerate(report.sites)) {
    os << "<tr class=\"site\"><td>" << i << "</td><td>"
       << escape(site.positionsKindName()) << (site.vision ? " (vision)" : "")
       << "</td><td>" << escape(pairLayoutName(site.layout)) << "</td><td>["
       << join(site.sections) << "]</td><td>" << llvm::format("%g", site.theta)
       << "</td><td>" << site.rotaryDim << "</td><td>" << site.rotations
       << "<div class=\"nodes\">"
       << escape(llvm::join(site.rotationNodes, ", ")) << "</div></td><td>"
       << escape(site.positionsSource) << "</td><td class=\""
       << (site.bug ? "bug\">BUG: " : "ok\">ok: ") << escape(site.reason)
       << "</td></tr>\n<tr class=\"site-nodes\"><td></td><td colspan=\"8\" "
          "class=\"nodes\">nodes: "
       << escape(llvm::join(site.nodes, ", ")) << "</td></tr>\n";
  }
  os << "</table>\n";
}

} // namespace

static LogicalResult parseGrids(llvm::StringRef what,
                                llvm::ArrayRef<int64_t> flat,
                                std::vector<GridThw> &grids,
                                std::string &error) {
  if (flat.size() % 3) {
    error = ("--example-" + what + " takes T,H,W triples, got " +
             llvm::Twine(flat.size()) + " numbers")
                .str();
    return failure();
  }
  for (size_t i = 0; i < flat.size(); i += 3) {
    GridThw g{flat[i], flat[i + 1], flat[i + 2]};
    // Vision tokens are 2x2 merged patches; keep the picture readable.
    if (g.t < 1 || g.h < 2 || g.w < 2 || g.h % 2 || g.w % 2 || g.t > 8 ||
        g.h > 64 || g.w > 64) {
      error = llvm::formatv("--example-{0}: grid {1},{2},{3} must have 1 <= T "
                            "<= 8 and even H, W in 2..64 (patches)",
                            what, g.t, g.h, g.w)
                  .str();
      return failure();
    }
    grids.push_back(g);
  }
  return success();
}

LogicalResult mrope::setExampleGrids(HtmlReportOptions &options,
                                     llvm::ArrayRef<int64_t> images,
                                     llvm::ArrayRef<int64_t> videos,
                                     std::string &error) {
  if (images.empty() && videos.empty())
    return success();
  std::vector<GridThw> imageGrids, videoGrids;
  if (failed(parseGrids("images", images, imageGrids, error)) ||
      failed(parseGrids("videos", videos, videoGrids, error)))
    return failure();
  options.example = makeExamplePrompt(imageGrids, videoGrids);
  options.visionGrids = imageGrids.empty() ? videoGrids : imageGrids;
  return success();
}

std::string mrope::renderHtmlReport(ModuleOp module, const RopeReport &report,
                                    const HtmlReportOptions &options) {
  std::string html;
  llvm::raw_string_ostream os(html);
  int64_t bugs = report.bugs();
  size_t count = report.sites.size();
  Arch arch = report.arch;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>mrope report: "
     << escape(report.model) << "</title>\n<style>" << kStyle
     << "</style></head>\n<body>\n<h1>mrope report: " << escape(report.model)
     << "</h1>\n<p class=\"caption\">arch " << escape(archName(arch)) << ", "
     << count << " RoPE site(s)</p>\n<p class=\"verdict "
     << (bugs ? "verdict-bug\">BUG: " : "verdict-ok\">OK: ") << bugs << " of "
     << count << " site(s) rotate by the wrong positions</p>\n";
  sitesTable(os, report);

  const SiteReport *decoder = nullptr, *vision = nullptr;
  for (const SiteReport &site : report.sites) {
    const SiteReport *&slot = site.vision ? vision : decoder;
    if (!slot || (site.bug && !slot->bug))
      slot = &site;
  }
  os << "<h2>Positions</h2>\n";
  if (decoder && arch == Arch::Text)
    os << "<p class=\"caption\">A text model: 1D positions are right.</p>\n";
  else if (decoder)
    decoderPicture(os, options.example.value_or(workedExamplePrompt()),
                   decoder->rotatesBy1D(), arch);
  if (vision)
    visionPicture(os,
                  options.visionGrids.empty()
                      ? std::vector<GridThw>{GridThw{1, 4, 6}}
                      : options.visionGrids,
                  vision->rotatesBy1D());
  if (!decoder && !vision)
    os << "<p class=\"caption\">No RoPE site: nothing to draw.</p>\n";

  rewriteSection(os, module, options.fix, bugs > 0);
  os << "<p class=\"caption\">Written by mrope-fix. Self-contained: no "
        "scripts, no network.</p>\n</body></html>\n";
  return html;
}
