// cube/experiments/html.cc: HTML escaping, the page frame and markdown rendering (html.h).
#include "experiments/html.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

#include <cstdlib>
#include <memory>

#include "core/error.h"

namespace cube {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
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

std::string html_page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         html_escape(title) +
         "</title>\n<style>\n"
         "body { font-family: system-ui, sans-serif; margin: 2em; max-width: 110em; }\n"
         "table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }\n"
         "th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }\n"
         "th { background: #f3f3f3; }\n"
         "code { background: #f6f6f6; padding: 0 0.2em; }\n"
         "figure svg { max-width: 100%; height: auto; }\n"
         "</style>\n</head>\n<body>\n" +
         body + "</body>\n</html>\n";
}

std::string markdown_to_html(const std::string& markdown) {
  cmark_gfm_core_extensions_ensure_registered();
  std::unique_ptr<cmark_parser, decltype(&cmark_parser_free)> parser(
      cmark_parser_new(CMARK_OPT_UNSAFE), &cmark_parser_free);
  cmark_syntax_extension* table = cmark_find_syntax_extension("table");
  CUBE_CHECK(table != nullptr, "libcmark-gfm has no table extension");
  cmark_parser_attach_syntax_extension(parser.get(), table);
  cmark_parser_feed(parser.get(), markdown.data(), markdown.size());
  std::unique_ptr<cmark_node, decltype(&cmark_node_free)> document(
      cmark_parser_finish(parser.get()), &cmark_node_free);
  char* html = cmark_render_html(document.get(), CMARK_OPT_UNSAFE,
                                 cmark_parser_get_syntax_extensions(parser.get()));
  std::string out(html);
  std::free(html);
  return out;
}

}  // namespace cube
