// Tests of core/trace_binary: round trips and every malformed-file error.

#include "core/trace_binary.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/rng.h"

namespace cube {
namespace {

Trace random_trace(std::uint64_t seed, std::size_t events) {
  Rng rng(seed);
  Trace trace;
  std::vector<BufferId> ids;
  for (int b = 0; b < 5; ++b)
    ids.push_back(trace.buffers.declare("buf" + std::to_string(b), 1u << (b % 4), 100 + 10 * b));
  for (std::size_t i = 0; i < events; ++i) {
    TraceEvent e;
    e.kind = static_cast<EventKind>(rng.below(4));
    if (e.kind == EventKind::kRead || e.kind == EventKind::kWrite) {
      e.buffer = ids[rng.below(ids.size())];
      e.offset = static_cast<std::uint32_t>(rng.below(100));
      e.count = static_cast<std::uint32_t>(rng.below(100 - e.offset + 1));
    } else if (e.kind == EventKind::kFree) {
      e.buffer = ids[rng.below(ids.size())];
    }
    trace.events.push_back(e);
  }
  return trace;
}

std::string bytes_of(const Trace& trace) {
  std::ostringstream out;
  write_binary_trace(trace, out);
  return out.str();
}

Trace read_bytes(const std::string& bytes) {
  std::istringstream in(bytes);
  return read_binary_trace(in, "t.trace");
}

TEST(TraceBinaryTest, RoundTripKeepsEventsNamesSizesAndAddresses) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Trace trace = random_trace(seed, 1000);
    std::string bytes = bytes_of(trace);
    EXPECT_EQ(bytes.size(), 8 + 4 + 5 * (4 + 4 + 4 + 8 + 8) + 8 + 16 * 1000u);
    Trace back = read_bytes(bytes);
    EXPECT_EQ(back.events, trace.events);
    ASSERT_EQ(back.buffers.size(), trace.buffers.size());
    for (BufferId b = 0; b < trace.buffers.size(); ++b) {
      EXPECT_EQ(back.buffers[b].name, trace.buffers[b].name);
      EXPECT_EQ(back.buffers[b].element_bytes, trace.buffers[b].element_bytes);
      EXPECT_EQ(back.buffers[b].elements, trace.buffers[b].elements);
      EXPECT_EQ(back.buffers[b].base_address, trace.buffers[b].base_address);
    }
    EXPECT_EQ(bytes_of(back), bytes);
  }
}

TEST(TraceBinaryTest, EmptyTraceRoundTrips) {
  Trace back = read_bytes(bytes_of(Trace{}));
  EXPECT_TRUE(back.events.empty());
  EXPECT_EQ(back.buffers.size(), 0u);
}

std::string error_of(const std::string& bytes) {
  try {
    read_bytes(bytes);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(TraceBinaryTest, BadMagicIsAnError) {
  EXPECT_NE(error_of("W a 100\nR a 100\n").find("not a cube binary trace"), std::string::npos);
}

TEST(TraceBinaryTest, TruncationAnywhereIsAnErrorNamingTheFileAndOffset) {
  std::string bytes = bytes_of(random_trace(3, 10));
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    std::string message = error_of(bytes.substr(0, cut));
    EXPECT_NE(message.find("t.trace: byte "), std::string::npos) << cut << ": " << message;
  }
}

TEST(TraceBinaryTest, EventOutsideItsBufferIsAnError) {
  Trace trace;
  BufferId a = trace.buffers.declare("a", 4, 10);
  trace.events.push_back(TraceEvent{a, 5, 6, EventKind::kRead});
  EXPECT_NE(error_of(bytes_of(trace)).find("past the end of buffer 'a'"), std::string::npos);
  trace.events[0] = TraceEvent{7, 0, 1, EventKind::kWrite};
  EXPECT_NE(error_of(bytes_of(trace)).find("undeclared buffer 7"), std::string::npos);
}

TEST(TraceBinaryTest, UnknownEventKindIsAnError) {
  Trace trace;
  trace.events.push_back(TraceEvent{0, 0, 0, EventKind::kOpEnd});
  std::string bytes = bytes_of(trace);
  bytes[bytes.size() - 4] = 9;
  EXPECT_NE(error_of(bytes).find("unknown kind 9"), std::string::npos);
}

// Streaming from memory (stream_binary_trace, used by `cube trace replay` on mapped files) is
// the same decoder: the same events in chunks, the same error at the same byte.
TEST(TraceBinaryTest, StreamingFromMemoryGivesTheReadersEventsAndErrors) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const Trace trace = random_trace(seed, 1000);
    const std::string bytes = bytes_of(trace);
    TraceCollector collector;
    BufferTable buffers;
    EXPECT_EQ(stream_binary_trace(bytes, "t.trace", buffers, collector, 64), 1000u);
    EXPECT_EQ(collector.trace().events, trace.events);
    ASSERT_EQ(buffers.size(), trace.buffers.size());
    for (BufferId b = 0; b < buffers.size(); ++b) EXPECT_EQ(buffers[b].name, trace.buffers[b].name);
  }
  const std::string bytes = bytes_of(random_trace(3, 10));
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    std::string streamed = "<no error>";
    try {
      TraceCollector collector;
      BufferTable buffers;
      stream_binary_trace(std::string_view(bytes).substr(0, cut), "t.trace", buffers, collector);
    } catch (const ConfigError& e) {
      streamed = e.what();
    }
    EXPECT_EQ(streamed, error_of(bytes.substr(0, cut))) << cut;
  }
}

// Streaming from a file through a buffer (stream_binary_trace_file, used by `cube trace replay`)
// gives the same events and, for every truncation, the same error; buffers of 7 bytes make
// records and names straddle refills. A file that cannot be read is a ConfigError naming it.
TEST(TraceBinaryTest, StreamingFromAFileGivesTheReadersEventsAndErrors) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / "stream.trace";
  const auto write = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  };
  for (const std::size_t buffer_bytes : {std::size_t{7}, std::size_t{1} << 20}) {
    const Trace trace = random_trace(4, 1000);
    write(bytes_of(trace));
    TraceCollector collector;
    BufferTable buffers;
    EXPECT_EQ(stream_binary_trace_file(path, buffers, collector, 64, buffer_bytes), 1000u);
    EXPECT_EQ(collector.trace().events, trace.events);
    ASSERT_EQ(buffers.size(), trace.buffers.size());
    for (BufferId b = 0; b < buffers.size(); ++b) EXPECT_EQ(buffers[b].name, trace.buffers[b].name);
  }
  const std::string bytes = bytes_of(random_trace(3, 10));
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    write(bytes.substr(0, cut));
    std::string streamed = "<no error>";
    try {
      TraceCollector collector;
      BufferTable buffers;
      stream_binary_trace_file(path, buffers, collector, 4, 7);
    } catch (const ConfigError& e) {
      streamed = e.what();
    }
    // The reader names the file by its path; the reference by the name it was given.
    std::string expected = error_of(bytes.substr(0, cut));
    if (expected.rfind("t.trace", 0) == 0) expected = path.string() + expected.substr(7);
    EXPECT_EQ(streamed, expected) << cut;
  }
  const std::filesystem::path missing = path.parent_path() / "no_such.trace";
  try {
    TraceCollector collector;
    BufferTable buffers;
    stream_binary_trace_file(missing, buffers, collector);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cube
