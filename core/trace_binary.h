// cube/core/trace_binary.h: the compact binary trace file (`cube trace record -o run.trace`).
//
// Layout, all integers little-endian (documented in docs/trace-formats.md):
//   magic    8 bytes  "CUBETRC1"
//   u32      buffer count B
//   B times: u32 name length, name bytes (UTF-8, no terminator), u32 element_bytes,
//            u64 elements, u64 base_address
//   u64      event count E
//   E times: TraceEvent as 16 bytes: u32 buffer, u32 offset, u32 count, u8 kind, 3 zero bytes
// Unlike the text format it keeps offsets and element sizes, so read(write(t)) has the events,
// names, element sizes and element counts of t. Base addresses are stored for other readers;
// this reader recomputes them in declaration order (they differ from t's only if a buffer grew
// after later buffers were declared). 16 bytes per event: 10^7 events are 160 MB.
#pragma once

#include <filesystem>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>

#include "core/trace.h"

namespace cube {

inline constexpr char kBinaryTraceMagic[8] = {'C', 'U', 'B', 'E', 'T', 'R', 'C', '1'};

// Writes `trace`. Throws cube::Error if the stream fails. O(events).
void write_binary_trace(const Trace& trace, std::ostream& out);

// Reads a trace written by write_binary_trace. Throws ConfigError naming `source_name` and the
// byte offset when the magic, a length or an event (unknown kind, undeclared buffer, range
// outside its buffer) is wrong or the file is truncated.
Trace read_binary_trace(std::istream& in, const std::string& source_name);

// The same format from bytes in memory (e.g. a mapped file), streamed: the header fills
// `buffers` (empty on entry; sinks may keep pointers to it, so it must outlive their use), then
// sink.begin(buffers), sink.consume() with chunks of up to `chunk_events` validated events, and
// sink.end(). Nothing of the size of the trace is allocated. Throws as read_binary_trace, possibly
// after the sink has consumed the events before the bad one. Returns the number of events.
std::uint64_t stream_binary_trace(std::string_view bytes, const std::string& source_name,
                                  BufferTable& buffers, TraceSink& sink,
                                  std::size_t chunk_events = RecordingTracer::kChunkEvents);

// The same from the file `file`, read through a buffer of `buffer_bytes` with read(): the file's
// pages are copied out of the page cache, not mapped (on cube's VM, touching a 160 MB mapping
// cost 75-200 ms of page-cache faults and reading it 30 ms). Errors name the file; one that
// cannot be opened or read is a ConfigError too.
std::uint64_t stream_binary_trace_file(const std::filesystem::path& file, BufferTable& buffers,
                                       TraceSink& sink,
                                       std::size_t chunk_events = RecordingTracer::kChunkEvents,
                                       std::size_t buffer_bytes = std::size_t{1} << 20);

// True if the file starts with the binary magic.
bool is_binary_trace(const std::filesystem::path& file);

}  // namespace cube
