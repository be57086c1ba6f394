// cube/core/trace.cc: buffer table, chunked recording and in-memory replay of traces.

#include "core/trace.h"

#include <algorithm>

namespace cube {

const char* to_string(EventKind kind) {
  switch (kind) {
    case EventKind::kRead:
      return "R";
    case EventKind::kWrite:
      return "W";
    case EventKind::kFree:
      return "F";
    case EventKind::kOpEnd:
      return "OP";
  }
  return "?";
}

BufferId BufferTable::declare(std::string_view name, std::uint32_t element_bytes,
                              std::uint64_t elements) {
  CUBE_CHECK(element_bytes > 0, "buffer '" << name << "' has element size 0");
  CUBE_CHECK(elements <= UINT32_MAX, "buffer '" << name << "' has more than 2^32 elements");
  std::string key(name);
  if (auto it = ids_.find(key); it != ids_.end()) {
    BufferInfo& info = buffers_[it->second];
    CUBE_CHECK(info.element_bytes == element_bytes,
               "buffer '" << name << "' redeclared with element size " << element_bytes << " (was "
                          << info.element_bytes << ")");
    if (elements > info.elements) {
      // Growing moves the buffer to fresh addresses so that logical addresses never overlap.
      info.elements = elements;
      info.base_address = next_address_;
      next_address_ += elements * element_bytes;
    }
    return it->second;
  }
  BufferId id = static_cast<BufferId>(buffers_.size());
  buffers_.push_back(BufferInfo{key, element_bytes, elements, next_address_});
  next_address_ += elements * element_bytes;
  ids_.emplace(std::move(key), id);
  return id;
}

const BufferInfo* BufferTable::find(std::string_view name) const {
  auto it = ids_.find(std::string(name));
  return it == ids_.end() ? nullptr : &buffers_[it->second];
}

RecordingTracer::RecordingTracer() { chunk_.reserve(kChunkEvents); }

void RecordingTracer::add_sink(TraceSink* sink) {
  CUBE_CHECK(!begun_, "sinks must be added before the first event is flushed");
  sinks_.push_back(sink);
}

void RecordingTracer::flush() {
  if (!begun_) {
    begun_ = true;
    for (TraceSink* sink : sinks_) sink->begin(buffers_);
  }
  if (!chunk_.empty()) {
    std::span<const TraceEvent> events(chunk_.data(), chunk_.size());
    for (TraceSink* sink : sinks_) sink->consume(events);
  }
  chunk_.clear();
}

void RecordingTracer::finish() {
  if (finished_) return;
  flush();
  for (TraceSink* sink : sinks_) sink->end();
  finished_ = true;
}

void Trace::replay(TraceSink& sink, std::size_t chunk_events) const {
  CUBE_CHECK(chunk_events > 0, "replay needs chunks of at least one event");
  sink.begin(buffers);
  for (std::size_t i = 0; i < events.size(); i += chunk_events) {
    std::size_t n = std::min(chunk_events, events.size() - i);
    sink.consume(std::span<const TraceEvent>(events.data() + i, n));
  }
  sink.end();
}

void TraceCollector::consume(std::span<const TraceEvent> events) {
  trace_.events.insert(trace_.events.end(), events.begin(), events.end());
}

void TraceCollector::end() {
  if (buffers_) trace_.buffers = *buffers_;
}

}  // namespace cube
