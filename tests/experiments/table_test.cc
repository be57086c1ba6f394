// Tests of experiments/table: the four renderings of one table, byte for byte, and number formats.

#include "experiments/table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace cube {
namespace {

// n/a, a '|' to escape in markdown, a comma and quotes to quote in CSV, doubles and integers.
Table sample() {
  Table t;
  t.title = "t";
  t.columns = {"name", "n", "x", "note"};
  t.rows = {{std::string("a|b"), std::int64_t{3}, 1.5, Value()},
            {std::string("c,\"d\""), std::int64_t{-12}, Value(), std::string("ok")},
            {std::string("e"), std::int64_t{100}, 0.000123456789, std::string("x")}};
  t.notes = {"note one"};
  return t;
}

TEST(TableTest, PlainTextAlignsColumnsAndRightAlignsNumbers) {
  EXPECT_EQ(render(sample(), Format::kTable),
            "t\n"
            "name     n            x  note\n"
            "-----  ---  -----------  ----\n"
            "a|b      3          1.5  n/a\n"
            "c,\"d\"  -12          n/a  ok\n"
            "e      100  0.000123457  x\n"
            "note one\n");
}

TEST(TableTest, MarkdownEscapesPipesAndRightAlignsNumericColumns) {
  EXPECT_EQ(render(sample(), Format::kMarkdown),
            "### t\n"
            "\n"
            "| name | n | x | note |\n"
            "| --- | ---: | ---: | --- |\n"
            "| a\\|b | 3 | 1.5 | n/a |\n"
            "| c,\"d\" | -12 | n/a | ok |\n"
            "| e | 100 | 0.000123457 | x |\n"
            "\n"
            "- note one\n");
}

TEST(TableTest, CsvQuotesPerRfc4180AndWritesRoundTripNumbers) {
  EXPECT_EQ(render(sample(), Format::kCsv),
            "name,n,x,note\n"
            "a|b,3,1.5,\n"
            "\"c,\"\"d\"\"\",-12,,ok\n"
            "e,100,0.000123456789,x\n");
}

TEST(TableTest, JsonIsAnObjectWithNumbersAsNumbersAndNullForNa) {
  std::string text = render(sample(), Format::kJson);
  EXPECT_EQ(text,
            "{\n"
            "  \"title\": \"t\",\n"
            "  \"columns\": [\"name\", \"n\", \"x\", \"note\"],\n"
            "  \"rows\": [\n"
            "    {\"name\": \"a|b\", \"n\": 3, \"x\": 1.5, \"note\": null},\n"
            "    {\"name\": \"c,\\\"d\\\"\", \"n\": -12, \"x\": null, \"note\": \"ok\"},\n"
            "    {\"name\": \"e\", \"n\": 100, \"x\": 0.000123456789, \"note\": \"x\"}\n"
            "  ],\n"
            "  \"notes\": [\"note one\"]\n"
            "}\n");
  // And a JSON parser reads the same values back, doubles bit for bit.
  nlohmann::json parsed = nlohmann::json::parse(text);
  EXPECT_EQ(parsed["rows"][1]["name"], "c,\"d\"");
  EXPECT_EQ(parsed["rows"][2]["x"].get<double>(), 0.000123456789);
  EXPECT_TRUE(parsed["rows"][0]["note"].is_null());
  EXPECT_EQ(parsed["rows"][1]["n"].get<std::int64_t>(), -12);
}

TEST(TableTest, EmptyTableStillHasItsHeader) {
  Table t;
  t.columns = {"a", "b"};
  EXPECT_EQ(render(t, Format::kTable), "a  b\n-  -\n");
  EXPECT_EQ(render(t, Format::kCsv), "a,b\n");
  EXPECT_EQ(render(t, Format::kJson),
            "{\n  \"title\": \"\",\n  \"columns\": [\"a\", \"b\"],\n  \"rows\": [],\n"
            "  \"notes\": []\n}\n");
}

TEST(TableTest, ShortRowsArePaddedWithNaAndNewlinesStayOutOfTextCells) {
  Table t;
  t.columns = {"a", "b"};
  t.rows = {{std::string("two\nlines")}};
  EXPECT_EQ(render(t, Format::kTable), "a          b\n---------  ---\ntwo lines  n/a\n");
  EXPECT_EQ(render(t, Format::kCsv), "a,b\n\"two\nlines\",\n");
  t.rows = {{std::string("x"), std::string("y"), std::string("z")}};
  EXPECT_THROW(render(t, Format::kTable), Error);
}

TEST(TableTest, ReadableDoublesKeepIntegersExactAndSixSignificantDigits) {
  EXPECT_EQ(readable(123456789.0), "123456789");
  EXPECT_EQ(readable(-42.0), "-42");
  EXPECT_EQ(readable(-0.0), "0");
  EXPECT_EQ(readable(3.14159265), "3.14159");
  EXPECT_EQ(readable(0.1 + 0.2), "0.3");
  EXPECT_EQ(readable(1234567.89), "1234568");  // no exponent below 1e15
  EXPECT_EQ(readable(0.0001), "0.0001");
  EXPECT_EQ(readable(2.5e-7), "2.5e-07");
  EXPECT_EQ(readable(1e15), "1e+15");
  EXPECT_EQ(readable(9.9999999), "10");
  EXPECT_EQ(readable(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(readable(std::nan("")), "nan");
}

TEST(TableTest, RoundTripIsTheShortestExactForm) {
  EXPECT_EQ(round_trip(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(round_trip(3.0), "3");
  EXPECT_EQ(round_trip(1e20), "1e+20");
  EXPECT_EQ(std::stod(round_trip(1.0 / 3.0)), 1.0 / 3.0);
}

TEST(TableTest, NonFiniteDoublesAreNullInJson) {
  Table t;
  t.columns = {"x"};
  t.rows = {{std::nan("")}};
  EXPECT_NE(render(t, Format::kJson).find("{\"x\": null}"), std::string::npos);
  EXPECT_EQ(render(t, Format::kCsv), "x\nnan\n");
}

// An HTML page: the title as heading and page title, one header cell per column, short rows
// padded with n/a, notes as a list, and every text escaped.
TEST(TableTest, HtmlIsOnePageWithEveryTextEscaped) {
  Table t;
  t.title = "rows <of> HEAD";
  t.columns = {"cell", "value"};
  t.rows = {{std::string("a&b"), 1.5}, {std::string("<script>")}};
  t.notes = {"note \"quoted\""};
  const std::string html = render(t, Format::kHtml);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u) << html;
  EXPECT_NE(html.find("<title>rows &lt;of&gt; HEAD</title>"), std::string::npos) << html;
  EXPECT_NE(html.find("<h1>rows &lt;of&gt; HEAD</h1>"), std::string::npos) << html;
  EXPECT_NE(html.find("<thead><tr><th>cell</th><th>value</th></tr></thead>"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>a&amp;b</td><td>1.5</td></tr>"), std::string::npos) << html;
  EXPECT_NE(html.find("<tr><td>&lt;script&gt;</td><td>n/a</td></tr>"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("<li>note &quot;quoted&quot;</li>"), std::string::npos) << html;
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
}

TEST(TableTest, ParseFormatNamesTheValidChoices) {
  EXPECT_EQ(parse_format("table"), Format::kTable);
  EXPECT_EQ(parse_format("md"), Format::kMarkdown);
  EXPECT_EQ(parse_format("csv"), Format::kCsv);
  EXPECT_EQ(parse_format("json"), Format::kJson);
  EXPECT_EQ(parse_format("html"), Format::kHtml);
  try {
    parse_format("xml");
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "--format: unknown format 'xml'; valid choices: table, md, csv, json, html");
  }
}

}  // namespace
}  // namespace cube
