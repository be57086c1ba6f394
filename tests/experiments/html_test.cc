// Tests of experiments/html: escaping, the page frame and markdown rendering (GitHub tables, raw
// HTML blocks such as the report's inline SVG).
#include "experiments/html.h"

#include <gtest/gtest.h>

#include <string>

namespace cube {
namespace {

TEST(HtmlTest, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(html_escape("plain text"), "plain text");
  EXPECT_EQ(html_escape(""), "");
}

TEST(HtmlTest, PageHasTheTitleEscapedAndTheBodyAsIs) {
  const std::string page = html_page("a < b", "<p>body</p>\n");
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(page.find("<title>a &lt; b</title>"), std::string::npos);
  EXPECT_NE(page.find("<body>\n<p>body</p>\n</body>"), std::string::npos) << page;
}

TEST(HtmlTest, MarkdownTablesCodeAndRawSvgRender) {
  const std::string html = markdown_to_html(
      "# Title\n\nSome `code` and **bold**.\n\n| a | b |\n| --- | ---: |\n| 1 | x<y |\n\n"
      "<figure>\n<svg width=\"10\" height=\"10\"><rect width=\"5\" height=\"5\"/></svg>\n"
      "</figure>\n\nafter\n");
  EXPECT_NE(html.find("<h1>Title</h1>"), std::string::npos) << html;
  EXPECT_NE(html.find("<code>code</code>"), std::string::npos);
  EXPECT_NE(html.find("<strong>bold</strong>"), std::string::npos);
  EXPECT_NE(html.find("<table>"), std::string::npos) << html;
  EXPECT_NE(html.find("<th>a</th>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td align=\"right\">x&lt;y</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<svg width=\"10\" height=\"10\"><rect width=\"5\" height=\"5\"/></svg>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<p>after</p>"), std::string::npos) << html;
}

}  // namespace
}  // namespace cube
