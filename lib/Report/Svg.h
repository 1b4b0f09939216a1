//===- Svg.h - a few SVG/HTML string helpers for the report ----*- C++ -*-===//
#ifndef MROPE_LIB_REPORT_SVG_H
#define MROPE_LIB_REPORT_SVG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mrope::report {

/// Text escaped for HTML element content and attribute values.
inline std::string escape(llvm::StringRef text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

/// An <svg> element built up in a string.
class Svg {
public:
  Svg(double width, double height, llvm::StringRef cls,
      llvm::StringRef extraAttrs = "") {
    os << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"" << cls
       << "\" width=\"" << width << "\" height=\"" << height
       << "\" viewBox=\"0 0 " << width << " " << height << "\" " << extraAttrs
       << ">\n";
  }
  /// A rect; `attrs` is raw attribute text (class, data-*).
  void rect(double x, double y, double w, double h, llvm::StringRef attrs,
            llvm::StringRef title = "") {
    os << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w
       << "\" height=\"" << h << "\" " << attrs;
    if (title.empty()) {
      os << "/>\n";
      return;
    }
    os << "><title>" << escape(title) << "</title></rect>\n";
  }
  void text(double x, double y, llvm::StringRef content,
            llvm::StringRef attrs = "") {
    os << "<text x=\"" << x << "\" y=\"" << y << "\" " << attrs << ">"
       << escape(content) << "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, llvm::StringRef attrs) {
    os << "<line x1=\"" << x1 << "\" y1=\"" << y1 << "\" x2=\"" << x2
       << "\" y2=\"" << y2 << "\" " << attrs << "/>\n";
  }
  void raw(llvm::StringRef text) { os << text; }
  std::string finish() {
    os << "</svg>\n";
    return std::move(buffer);
  }

private:
  std::string buffer;
  llvm::raw_string_ostream os{buffer};
};

} // namespace mrope::report

#endif // MROPE_LIB_REPORT_SVG_H
