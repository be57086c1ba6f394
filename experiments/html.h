// cube/experiments/html.h: self-contained HTML pages for `--format html` (results, diff, report):
// one file with its styles inline, no scripts, no server, readable in any browser.
#pragma once

#include <string>
#include <string_view>

namespace cube {

// Text with &, <, >, " and ' escaped for HTML element content and attribute values.
std::string html_escape(std::string_view text);

// <!DOCTYPE html> page titled `title` (escaped) around `body` (HTML, inserted as is), with a
// small inline style sheet for tables, code and figures.
std::string html_page(const std::string& title, const std::string& body);

// CommonMark with GitHub's table extension to HTML (libcmark-gfm, Debian libcmark-gfm-dev). Raw
// HTML in the markdown is kept (the report's inline SVG plots): pass only trusted markdown, such
// as cube's own reports and the report spec's text.
std::string markdown_to_html(const std::string& markdown);

}  // namespace cube
