// Tests of core/trace: buffer ids and logical addresses, chunked recording to several sinks,
// replay of a held trace, and the collector that turns a recording into a Trace.

#include "core/trace.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace cube {
namespace {

// Records the lifecycle calls and every chunk it is given.
class RecordingSink : public TraceSink {
 public:
  void begin(const BufferTable& buffers) override {
    calls.push_back("begin");
    table = &buffers;
  }
  void consume(std::span<const TraceEvent> chunk) override {
    calls.push_back("consume");
    chunk_sizes.push_back(chunk.size());
    events.insert(events.end(), chunk.begin(), chunk.end());
    // Every event's buffer is declared before its chunk arrives.
    for (const TraceEvent& e : chunk) {
      if (e.kind != EventKind::kOpEnd) {
        EXPECT_LT(e.buffer, table->size());
      }
    }
  }
  void end() override { calls.push_back("end"); }

  const BufferTable* table = nullptr;
  std::vector<std::string> calls;
  std::vector<std::size_t> chunk_sizes;
  std::vector<TraceEvent> events;
};

TEST(TraceTest, EventIsSixteenBytesAndKindsPrintShort) {
  EXPECT_EQ(sizeof(TraceEvent), 16u);
  EXPECT_STREQ(to_string(EventKind::kRead), "R");
  EXPECT_STREQ(to_string(EventKind::kWrite), "W");
  EXPECT_STREQ(to_string(EventKind::kFree), "F");
  EXPECT_STREQ(to_string(EventKind::kOpEnd), "OP");
}

TEST(TraceTest, BufferTableAssignsDenseIdsAndContiguousAddresses) {
  BufferTable t;
  EXPECT_EQ(t.declare("x", 4, 10), 0u);
  EXPECT_EQ(t.declare("w", 8, 3), 1u);
  EXPECT_EQ(t.declare("b", 1, 5), 2u);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].base_address, 0u);
  EXPECT_EQ(t[1].base_address, 40u);  // 10 floats
  EXPECT_EQ(t[2].base_address, 64u);  // + 3 doubles
  EXPECT_EQ(t[1].name, "w");
  EXPECT_EQ(t[1].element_bytes, 8u);
  EXPECT_EQ(t[1].elements, 3u);
  ASSERT_NE(t.find("b"), nullptr);
  EXPECT_EQ(t.find("b")->elements, 5u);
  EXPECT_EQ(t.find("nope"), nullptr);
}

TEST(TraceTest, RedeclaringReturnsTheSameIdAndGrowsToFreshAddresses) {
  BufferTable t;
  t.declare("x", 4, 10);
  t.declare("y", 4, 2);
  EXPECT_EQ(t.declare("x", 4, 5), 0u);  // smaller: unchanged
  EXPECT_EQ(t[0].elements, 10u);
  EXPECT_EQ(t[0].base_address, 0u);
  EXPECT_EQ(t.declare("x", 4, 20), 0u);  // larger: moved past every address used so far
  EXPECT_EQ(t[0].elements, 20u);
  EXPECT_EQ(t[0].base_address, 48u);
  EXPECT_EQ(t.declare("z", 4, 1), 2u);
  EXPECT_EQ(t[2].base_address, 128u);
  EXPECT_EQ(t.size(), 3u);
}

TEST(TraceTest, BufferTableRejectsAnotherElementSizeAndZeroSize) {
  BufferTable t;
  t.declare("x", 4, 10);
  EXPECT_THROW(t.declare("x", 8, 10), Error);
  EXPECT_THROW(t.declare("y", 0, 10), Error);
}

TEST(TraceTest, NullTracerIsOffAndRecordingTracerIsOn) {
  EXPECT_FALSE(NullTracer::kEnabled);
  EXPECT_TRUE(RecordingTracer::kEnabled);
}

TEST(TraceTest, RecordingTracerDeliversIdenticalChunksToEverySinkInOrder) {
  RecordingSink first, second;
  std::vector<TraceEvent> expected;
  {
    RecordingTracer tracer;
    tracer.add_sink(&first);
    tracer.add_sink(&second);
    BufferId a = tracer.buffer("a", 4, 1000);
    BufferId b = tracer.buffer("b", 8, 7);
    const std::size_t total = 2 * RecordingTracer::kChunkEvents + 123;
    for (std::size_t i = 0; expected.size() < total; ++i) {
      switch (i % 4) {
        case 0:
          tracer.write(a, i % 1000, 1);
          expected.push_back({a, static_cast<std::uint32_t>(i % 1000), 1, EventKind::kWrite});
          break;
        case 1:
          tracer.read(b, i % 7, 2);
          expected.push_back({b, static_cast<std::uint32_t>(i % 7), 2, EventKind::kRead});
          break;
        case 2:
          tracer.op_end();
          expected.push_back({0, 0, 0, EventKind::kOpEnd});
          break;
        default:
          tracer.free(b);
          expected.push_back({b, 0, 0, EventKind::kFree});
      }
    }
    // A buffer declared late still reaches the sinks before its events.
    BufferId c = tracer.buffer("c", 4, 3);
    tracer.read(c, 0, 3);
    expected.push_back({c, 0, 3, EventKind::kRead});
    EXPECT_EQ(tracer.events_recorded(), expected.size());
    tracer.finish();
    tracer.finish();  // idempotent: no second end()
    EXPECT_EQ(tracer.buffers().size(), 3u);
  }
  const std::size_t k = RecordingTracer::kChunkEvents;
  for (const RecordingSink* sink : {&first, &second}) {
    EXPECT_EQ(sink->calls,
              (std::vector<std::string>{"begin", "consume", "consume", "consume", "end"}));
    EXPECT_EQ(sink->chunk_sizes, (std::vector<std::size_t>{k, k, 124}));
    EXPECT_EQ(sink->events, expected);
  }
}

TEST(TraceTest, FinishWithoutEventsStillBeginsAndEnds) {
  RecordingSink sink;
  RecordingTracer tracer;
  tracer.add_sink(&sink);
  tracer.finish();
  EXPECT_EQ(sink.calls, (std::vector<std::string>{"begin", "end"}));
  EXPECT_EQ(tracer.events_recorded(), 0u);
}

TEST(TraceTest, ReplayDeliversTheTraceInChunksOfTheGivenSize) {
  Trace trace;
  BufferId a = trace.buffers.declare("a", 4, 8);
  for (std::uint32_t i = 0; i < 10; ++i)
    trace.events.push_back({a, i % 8, 1, i % 2 ? EventKind::kRead : EventKind::kWrite});
  for (std::size_t chunk : {1u, 3u, 10u, 64u}) {
    SCOPED_TRACE(chunk);
    RecordingSink sink;
    trace.replay(sink, chunk);
    EXPECT_EQ(sink.events, trace.events);
    EXPECT_EQ(sink.table, &trace.buffers);
    std::size_t full = 10 / chunk, rest = 10 % chunk;
    std::vector<std::size_t> sizes(full, chunk);
    if (rest) sizes.push_back(rest);
    EXPECT_EQ(sink.chunk_sizes, sizes);
    EXPECT_EQ(sink.calls.front(), "begin");
    EXPECT_EQ(sink.calls.back(), "end");
  }
  Trace empty;
  RecordingSink sink;
  empty.replay(sink);
  EXPECT_EQ(sink.calls, (std::vector<std::string>{"begin", "end"}));
}

TEST(TraceTest, CollectorTurnsARecordingIntoATrace) {
  TraceCollector collector;
  std::vector<TraceEvent> expected;
  {
    RecordingTracer tracer;
    tracer.add_sink(&collector);
    BufferId a = tracer.buffer("a", 4, 16);
    for (std::uint32_t i = 0; i < RecordingTracer::kChunkEvents + 5; ++i) {
      tracer.read(a, i % 16, 1);
      expected.push_back({a, i % 16, 1, EventKind::kRead});
    }
    BufferId late = tracer.buffer("late", 2, 4);  // declared after the first chunk
    tracer.write(late, 0, 4);
    expected.push_back({late, 0, 4, EventKind::kWrite});
    tracer.finish();
  }  // the tracer and its table are gone: the collector holds a copy
  Trace& trace = collector.trace();
  EXPECT_EQ(trace.events, expected);
  ASSERT_EQ(trace.buffers.size(), 2u);
  EXPECT_EQ(trace.buffers[1].name, "late");
  EXPECT_EQ(trace.buffers[1].element_bytes, 2u);
  EXPECT_EQ(trace.buffers[1].base_address, 64u);

  RecordingSink sink;
  trace.replay(sink, 1000);
  EXPECT_EQ(sink.events, expected);
}

}  // namespace
}  // namespace cube
