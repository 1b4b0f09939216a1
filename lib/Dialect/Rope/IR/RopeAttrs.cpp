//===- RopeAttrs.cpp - rope attributes ------------------------------------===//
#include "mrope/Dialect/Rope/IR/RopeAttrs.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace mrope::rope;

#include "mrope/Dialect/Rope/IR/RopeEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "mrope/Dialect/Rope/IR/RopeAttrs.cpp.inc"

void RopeDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "mrope/Dialect/Rope/IR/RopeAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Assembly: #rope.semantics<sections = [..], rotary_dim = N, theta = X
//                           [, layout = L] [, order = O] [, freqs = F]>
// The three enums are printed only when they differ from the common case.
//===----------------------------------------------------------------------===//

template <typename EnumT>
static ParseResult
parseEnumKeyword(AsmParser &parser, StringRef key,
                 std::optional<EnumT> (*symbolize)(StringRef), EnumT &out) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef word;
  if (parser.parseKeyword(&word))
    return failure();
  std::optional<EnumT> value = symbolize(word);
  if (!value)
    return parser.emitError(loc) << "unknown " << key << " '" << word << "'";
  out = *value;
  return success();
}

Attribute SemanticsAttr::parse(AsmParser &parser, Type) {
  SmallVector<int64_t> sections;
  std::optional<int64_t> rotaryDim;
  std::optional<double> theta;
  PairLayout layout = PairLayout::neox;
  SectionOrder order = SectionOrder::contiguous;
  FreqIndex freqs = FreqIndex::global;
  bool haveSections = false;
  llvm::StringSet<> seen;

  auto parseEntry = [&]() -> ParseResult {
    SMLoc loc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return failure();
    if (!seen.insert(key).second)
      return parser.emitError(loc) << "duplicate key '" << key << "'";
    if (key == "sections") {
      haveSections = true;
      return parser.parseCommaSeparatedList(
          AsmParser::Delimiter::Square, [&]() -> ParseResult {
            return parser.parseInteger(sections.emplace_back());
          });
    }
    if (key == "rotary_dim")
      return parser.parseInteger(rotaryDim.emplace());
    if (key == "theta")
      return parser.parseFloat(theta.emplace());
    if (key == "layout")
      return parseEnumKeyword<PairLayout>(parser, key, symbolizePairLayout,
                                          layout);
    if (key == "order")
      return parseEnumKeyword<SectionOrder>(parser, key, symbolizeSectionOrder,
                                            order);
    if (key == "freqs")
      return parseEnumKeyword<FreqIndex>(parser, key, symbolizeFreqIndex,
                                         freqs);
    return parser.emitError(loc) << "unknown key '" << key
                                 << "' (expected sections, rotary_dim, theta, "
                                    "layout, order or freqs)";
  };

  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseCommaSeparatedList(parseEntry) ||
      parser.parseGreater())
    return {};
  if (!haveSections || !rotaryDim || !theta) {
    parser.emitError(loc,
                     "#rope.semantics needs sections, rotary_dim and theta");
    return {};
  }
  return parser.getChecked<SemanticsAttr>(loc, parser.getContext(), sections,
                                          *rotaryDim, llvm::APFloat(*theta),
                                          layout, order, freqs);
}

void SemanticsAttr::print(AsmPrinter &printer) const {
  printer << "<sections = [";
  llvm::interleaveComma(getSections(), printer);
  printer << "], rotary_dim = " << getRotaryDim() << ", theta = ";
  printer.printFloat(getTheta());
  if (getLayout() != PairLayout::neox)
    printer << ", layout = " << stringifyPairLayout(getLayout());
  if (getOrder() != SectionOrder::contiguous)
    printer << ", order = " << stringifySectionOrder(getOrder());
  if (getFreqs() != FreqIndex::global)
    printer << ", freqs = " << stringifyFreqIndex(getFreqs());
  printer << ">";
}

LogicalResult
SemanticsAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      ArrayRef<int64_t> sections, int64_t rotaryDim,
                      llvm::APFloat thetaValue, PairLayout, SectionOrder order,
                      FreqIndex freqs) {
  if (sections.empty())
    return emitError() << "sections must name at least one position axis";
  for (auto [axis, n] : llvm::enumerate(sections))
    if (n <= 0)
      return emitError() << "section " << axis << " has " << n
                         << " frequencies; every axis needs at least one";
  if (rotaryDim <= 0 || rotaryDim % 2 != 0)
    return emitError() << "rotary_dim must be positive and even, got "
                       << rotaryDim;
  int64_t sum = std::accumulate(sections.begin(), sections.end(), int64_t{0});
  if (sum != rotaryDim / 2)
    return emitError() << "sections sum to " << sum
                       << " frequencies but rotary_dim " << rotaryDim << " has "
                       << rotaryDim / 2;
  double theta = thetaValue.convertToDouble();
  if (!(theta > 0.0) || !std::isfinite(theta))
    return emitError() << "theta must be a positive finite number, got "
                       << theta;
  int64_t numAxes = sections.size();
  if (order == SectionOrder::interleaved) {
    if (numAxes < 2)
      return emitError() << "interleaved sections need at least two axes";
    // Axis a > 0 owns frequencies a, a + A, ..., a + (n_a - 1) * A.
    for (int64_t a = 1; a < numAxes; ++a)
      if (a + (sections[a] - 1) * numAxes >= sum)
        return emitError() << "interleaved section " << a << " (" << sections[a]
                           << " frequencies) does not fit in " << sum
                           << " frequencies";
  }
  if (freqs == FreqIndex::per_section) {
    if (order != SectionOrder::contiguous)
      return emitError() << "per_section frequencies need contiguous sections";
    if (!llvm::all_equal(sections))
      return emitError()
             << "per_section frequencies need equal sections (one table)";
  }
  return success();
}

int64_t SemanticsAttr::axisOfFreq(int64_t i) const {
  ArrayRef<int64_t> sections = getSections();
  int64_t numAxes = sections.size();
  if (getOrder() == SectionOrder::interleaved) {
    int64_t a = i % numAxes;
    return (a != 0 && i < numAxes * sections[a]) ? a : 0;
  }
  for (int64_t a = 0, start = 0; a < numAxes; start += sections[a++])
    if (i < start + sections[a])
      return a;
  return numAxes - 1;
}

int64_t SemanticsAttr::tableIndexOfFreq(int64_t i) const {
  if (getFreqs() == FreqIndex::global)
    return i;
  return i % getSections().front();
}

int64_t SemanticsAttr::getTableSize() const {
  return getFreqs() == FreqIndex::global ? getNumFreqs()
                                         : getSections().front();
}

SmallVector<float> SemanticsAttr::computeInvFreq() const {
  // Mirrors `1 / theta ** (arange(0, dim, 2).float() / dim)` in f32, where
  // dim is the rotary dim (global) or twice the section size (per section).
  int64_t n = getTableSize();
  float dim = static_cast<float>(2 * n);
  float theta = static_cast<float>(getTheta().convertToDouble());
  SmallVector<float> invFreq(n);
  for (int64_t j = 0; j < n; ++j)
    invFreq[j] = 1.0f / std::pow(theta, static_cast<float>(2 * j) / dim);
  return invFreq;
}
