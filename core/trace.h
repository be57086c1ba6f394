// cube/core/trace.h: the memory trace, the only contract between solvers and metrics.
//
// A solver declares named buffers (element size, element count) and reports reads and writes of
// element ranges [offset, offset + count) of them, plus operation boundaries. Metrics consume the
// resulting event stream in chunks and never see solver code.
//
// Granularity is the solver's choice and part of what a metric measures: a read of a whole
// 4,000-float weight matrix is one event of count 4000; an element-level trace is one event per
// element. Buffer-level metrics (ARD, clock-DMC) price an event as one access of `count`
// elements of that buffer; element-level metrics expand it into `count` accesses.
//
// Operation boundaries: every read since the previous kOpEnd (or the start) is an operand of the
// same operation, and the writes before the kOpEnd are its results. Value-level metrics such as
// ByteDMD price all operands of one operation against the same stack (metrics.md §6). A solver
// that never calls op_end() produces one event per operation implicitly; metrics that need
// boundaries treat each read as its own operation then.
//
// kFree marks a buffer dead (its values are never read again), for liveness-aware metrics.
//
// Cost when off: solvers are templates over the tracer type. NullTracer's methods are empty and
// inline, so an untraced solve compiles to the same code as one written without tracing
// (bench/tracer_bench.cc measures it).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace cube {

using BufferId = std::uint32_t;

enum class EventKind : std::uint8_t {
  kRead = 0,   // elements [offset, offset + count) of `buffer` are read
  kWrite = 1,  // ... are written
  kFree = 2,   // the whole buffer is dead; offset and count are 0
  kOpEnd = 3,  // operation boundary; buffer, offset and count are 0
};
const char* to_string(EventKind kind);

// One event: 16 bytes, so a transformer step of 10^7 events streams through 160 MB of chunks
// without ever being held whole.
struct TraceEvent {
  BufferId buffer = 0;
  std::uint32_t offset = 0;  // first element
  std::uint32_t count = 0;   // number of elements
  EventKind kind = EventKind::kRead;

  friend bool operator==(const TraceEvent&, const TraceEvent&) = default;
};
static_assert(sizeof(TraceEvent) == 16);

// A named buffer. Logical byte addresses are assigned in declaration order (no gaps, no ASLR),
// so traces are identical across runs and machines.
struct BufferInfo {
  std::string name;
  std::uint32_t element_bytes = 4;
  std::uint64_t elements = 0;
  std::uint64_t base_address = 0;  // logical byte address of element 0
};

// The buffers of one trace. Ids are dense, in declaration order.
class BufferTable {
 public:
  // Declares `name`, or returns its id if declared before (its size grows to the maximum seen).
  // Throws Error if `name` was declared with another element size.
  BufferId declare(std::string_view name, std::uint32_t element_bytes, std::uint64_t elements);
  const BufferInfo& operator[](BufferId id) const { return buffers_[id]; }
  std::size_t size() const { return buffers_.size(); }
  const BufferInfo* find(std::string_view name) const;

 private:
  std::vector<BufferInfo> buffers_;
  std::unordered_map<std::string, BufferId> ids_;
  std::uint64_t next_address_ = 0;
};

// Consumer of a trace: metrics implement this. Lifecycle: begin, consume* (chunks in order), end.
// The table passed to begin() stays valid and may grow until end(); every buffer an event names
// is declared before the chunk holding that event is delivered.
class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void begin(const BufferTable& /*buffers*/) {}
  virtual void consume(std::span<const TraceEvent> events) = 0;
  virtual void end() {}
};

// The tracer a solver is handed when tracing is off. Every method compiles to nothing.
struct NullTracer {
  static constexpr bool kEnabled = false;
  BufferId buffer(std::string_view, std::uint32_t, std::uint64_t) { return 0; }
  void read(BufferId, std::uint64_t, std::uint64_t) {}
  void write(BufferId, std::uint64_t, std::uint64_t) {}
  void free(BufferId) {}
  void op_end() {}
};

// The tracer a solver is handed when some metric needs the trace. Buffers events in chunks of
// kChunkEvents and hands full chunks to every sink in registration order.
class RecordingTracer {
 public:
  static constexpr bool kEnabled = true;
  static constexpr std::size_t kChunkEvents = 1 << 16;

  RecordingTracer();
  // Sinks must outlive the tracer's finish().
  void add_sink(TraceSink* sink);

  BufferId buffer(std::string_view name, std::uint32_t element_bytes, std::uint64_t elements) {
    return buffers_.declare(name, element_bytes, elements);
  }
  void read(BufferId b, std::uint64_t offset, std::uint64_t count) {
    push(b, offset, count, EventKind::kRead);
  }
  void write(BufferId b, std::uint64_t offset, std::uint64_t count) {
    push(b, offset, count, EventKind::kWrite);
  }
  void free(BufferId b) { push(b, 0, 0, EventKind::kFree); }
  void op_end() { push(0, 0, 0, EventKind::kOpEnd); }

  // Flushes the last chunk and calls end() on every sink. Idempotent.
  void finish();

  const BufferTable& buffers() const { return buffers_; }
  std::uint64_t events_recorded() const { return events_recorded_; }

 private:
  void push(BufferId b, std::uint64_t offset, std::uint64_t count, EventKind kind) {
    if (chunk_.size() == kChunkEvents) flush();
    chunk_.push_back(
        TraceEvent{b, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(count), kind});
    ++events_recorded_;
  }
  void flush();

  BufferTable buffers_;
  std::vector<TraceEvent> chunk_;
  std::vector<TraceSink*> sinks_;
  std::uint64_t events_recorded_ = 0;
  bool begun_ = false;
  bool finished_ = false;
};

// A whole trace held in memory: for tests, trace files and metrics that need two passes.
struct Trace {
  BufferTable buffers;
  std::vector<TraceEvent> events;

  // Replays the trace into `sink` in chunks of `chunk_events` (begin, consume*, end).
  void replay(TraceSink& sink, std::size_t chunk_events = RecordingTracer::kChunkEvents) const;
};

// A sink that keeps every event: turns a recording into a Trace.
class TraceCollector : public TraceSink {
 public:
  void begin(const BufferTable& buffers) override { buffers_ = &buffers; }
  void consume(std::span<const TraceEvent> events) override;
  // Copies the buffer table as it stands at end().
  void end() override;
  Trace& trace() { return trace_; }

 private:
  const BufferTable* buffers_ = nullptr;
  Trace trace_;
};

}  // namespace cube
