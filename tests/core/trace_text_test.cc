// Tests of core/trace_text: the W/R/F/OP text format read and written, sizes, comments, ';'
// separators, error locations, and write -> read round trips.

#include "core/trace_text.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace cube {
namespace {

// "W a 100" per event, by buffer name, so expectations read like the input.
std::vector<std::string> describe(const Trace& trace) {
  std::vector<std::string> out;
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kOpEnd) {
      out.push_back("OP");
      continue;
    }
    std::string line = std::string(to_string(e.kind)) + " " + trace.buffers[e.buffer].name;
    if (e.kind != EventKind::kFree) line += " " + std::to_string(e.count);
    out.push_back(line);
  }
  return out;
}

ConfigError parse_error(const std::string& text) {
  try {
    parse_text_trace(text, "t.trace");
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no ConfigError for: " << text;
  return ConfigError("none");
}

TEST(TraceTextTest, ParsesOneEventPerLine) {
  Trace t = parse_text_trace("W a 100\nW b 50\nR a 100\nR b 7\n");
  EXPECT_EQ(describe(t), (std::vector<std::string>{"W a 100", "W b 50", "R a 100", "R b 7"}));
  ASSERT_EQ(t.buffers.size(), 2u);
  EXPECT_EQ(t.buffers[0].name, "a");
  EXPECT_EQ(t.buffers[1].name, "b");
  EXPECT_EQ(t.buffers[0].element_bytes, 4u);
  EXPECT_EQ(t.buffers[0].elements, 100u);
  EXPECT_EQ(t.buffers[1].base_address, 400u);
  for (const TraceEvent& e : t.events) EXPECT_EQ(e.offset, 0u);
  EXPECT_EQ(t.events[2], (TraceEvent{0, 0, 100, EventKind::kRead}));
}

TEST(TraceTextTest, OmittedReadSizeIsTheLastWriteSizeOrZero) {
  // M5 (last write wins), a never-written name (0) and the bare "R name" form of §2.4.
  Trace t = parse_text_trace("W a 3; W a 5; R a -; R z -; R a; W a 2; R a -");
  EXPECT_EQ(describe(t), (std::vector<std::string>{"W a 3", "W a 5", "R a 5", "R z 0", "R a 5",
                                                   "W a 2", "R a 2"}));
  // The buffer holds the largest size seen.
  EXPECT_EQ(t.buffers.find("a")->elements, 5u);
  EXPECT_EQ(t.buffers.find("z")->elements, 0u);
}

TEST(TraceTextTest, ReadOfUnwrittenNameWithExplicitSizeKeepsIt) {
  Trace t = parse_text_trace("R z 10; W a 2; R a -");
  EXPECT_EQ(describe(t), (std::vector<std::string>{"R z 10", "W a 2", "R a 2"}));
}

TEST(TraceTextTest, CommentsBlankLinesAndSeparatorsAreSkipped) {
  Trace t = parse_text_trace(
      "# a header comment\n"
      "\n"
      "   \t\n"
      "W a 4   # trailing comment; R a 99 is not an event\n"
      "  R a -;R a -  ;  ; R a 1;\n"
      "F a\r\n"
      "OP # end of operation\n");
  EXPECT_EQ(describe(t),
            (std::vector<std::string>{"W a 4", "R a 4", "R a 4", "R a 1", "F a", "OP"}));
  EXPECT_EQ(t.events[4], (TraceEvent{0, 0, 0, EventKind::kFree}));
  EXPECT_EQ(t.events[5], (TraceEvent{0, 0, 0, EventKind::kOpEnd}));
}

TEST(TraceTextTest, EmptyInputGivesEmptyTrace) {
  Trace t = parse_text_trace("# nothing\n\n");
  EXPECT_TRUE(t.events.empty());
  EXPECT_EQ(t.buffers.size(), 0u);
}

TEST(TraceTextTest, StreamAndStringReadersAgree) {
  std::string text = "W x 3\nW W1 12; R x\nR W1 -\n# done\nOP\nF x";
  std::istringstream in(text);
  Trace a = read_text_trace(in, "s");
  Trace b = parse_text_trace(text);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(describe(a),
            (std::vector<std::string>{"W x 3", "W W1 12", "R x 3", "R W1 12", "OP", "F x"}));
}

TEST(TraceTextTest, MalformedLinesNameSourceLineAndExpectation) {
  ConfigError e = parse_error("W a 1\n\n# c\nW b 2; X b 3\n");
  EXPECT_EQ(e.where().file, "t.trace");
  EXPECT_EQ(e.where().line, 4);
  EXPECT_EQ(e.message(), "expected 'W name size', 'R name size|-', 'F name' or 'OP', got 'X b 3'");
  EXPECT_EQ(std::string(e.what()), "t.trace:4: " + e.message());

  EXPECT_EQ(parse_error("W a -").message(),
            "expected 'W name size' with size an integer in [0, 2^32), got 'W a -'");
  EXPECT_EQ(parse_error("W a").message(),
            "expected 'W name size' with size an integer in [0, 2^32), got 'W a'");
  EXPECT_EQ(parse_error("R a 1 2").message(),
            "expected 'R name size' or 'R name -', got 'R a 1 2'");
  EXPECT_EQ(parse_error("R").message(), "expected 'R name size' or 'R name -', got 'R'");
  EXPECT_EQ(parse_error("R a x1").message(),
            "expected 'R name size|-' with size an integer in [0, 2^32), got 'R a x1'");
  EXPECT_EQ(parse_error("F").message(), "expected 'F name', got 'F'");
  EXPECT_EQ(parse_error("OP now").message(), "expected 'OP' alone, got 'OP now'");
  EXPECT_EQ(parse_error("w a 1").where().line, 1);  // kinds are case-sensitive
}

TEST(TraceTextTest, SizesMustBeNonNegativeAndFitInThirtyTwoBits) {
  EXPECT_EQ(parse_text_trace("W a 4294967295").events[0].count, 4294967295u);
  for (const char* bad : {"W a 4294967296", "W a -1", "W a +1", "W a 1.5", "W a 0x10", "R a 1e3"})
    EXPECT_EQ(parse_error(bad).where().line, 1) << bad;
}

TEST(TraceTextTest, StreamErrorsCountLinesToo) {
  std::istringstream in("W a 1\nR a -\nR a - extra\n");
  try {
    read_text_trace(in, "file.trace");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where().str(), "file.trace:3");
  }
}

TEST(TraceTextTest, WriterUsesExplicitSizesAndRoundTrips) {
  Trace t = parse_text_trace("W a 3; R a -; R z -; W b 7; OP; R b; F a; W a 9; R a 2; OP");
  std::ostringstream out;
  write_text_trace(t, out);
  EXPECT_EQ(out.str(), "W a 3\nR a 3\nR z 0\nW b 7\nOP\nR b 7\nF a\nW a 9\nR a 2\nOP\n");
  Trace back = parse_text_trace(out.str());
  EXPECT_EQ(back.events, t.events);
  ASSERT_EQ(back.buffers.size(), t.buffers.size());
  for (BufferId b = 0; b < t.buffers.size(); ++b) {
    EXPECT_EQ(back.buffers[b].name, t.buffers[b].name);
    EXPECT_EQ(back.buffers[b].elements, t.buffers[b].elements);
    EXPECT_EQ(back.buffers[b].base_address, t.buffers[b].base_address);
  }
}

TEST(TraceTextTest, WriterKeepsKindNameAndCountOfARecordedTrace) {
  // A solver-style trace: offsets and an 8-byte element size, which the text form drops.
  Trace t;
  BufferId w = t.buffers.declare("weights", 8, 100);
  BufferId x = t.buffers.declare("x", 8, 10);
  t.events = {{x, 0, 10, EventKind::kWrite},
              {w, 40, 20, EventKind::kRead},
              {x, 5, 1, EventKind::kRead},
              {0, 0, 0, EventKind::kOpEnd},
              {x, 0, 0, EventKind::kFree}};
  std::ostringstream out;
  write_text_trace(t, out);
  EXPECT_EQ(out.str(), "W x 10\nR weights 20\nR x 1\nOP\nF x\n");
  Trace back = parse_text_trace(out.str());
  EXPECT_EQ(describe(back), describe(t));
}

TEST(TraceTextTest, WriterRejectsNamesTheFormatCannotHold) {
  for (const char* name : {"two words", "semi;colon", "hash#", ""}) {
    Trace t;
    BufferId b = t.buffers.declare(name, 4, 1);
    t.events = {{b, 0, 1, EventKind::kWrite}};
    std::ostringstream out;
    EXPECT_THROW(write_text_trace(t, out), Error) << "'" << name << "'";
  }
  Trace t;
  t.events = {{3, 0, 1, EventKind::kRead}};  // an undeclared buffer
  std::ostringstream out;
  EXPECT_THROW(write_text_trace(t, out), Error);
}

}  // namespace
}  // namespace cube
