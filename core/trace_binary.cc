// cube/core/trace_binary.cc: reading and writing the binary trace file, with full validation.

#include "core/trace_binary.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/file_read.h"

namespace cube {

static_assert(std::endian::native == std::endian::little,
              "the binary trace writer assumes a little-endian host");

namespace {

template <class T>
void put(std::ostream& out, T value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

}  // namespace

void write_binary_trace(const Trace& trace, std::ostream& out) {
  out.write(kBinaryTraceMagic, sizeof(kBinaryTraceMagic));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(trace.buffers.size()));
  for (std::size_t b = 0; b < trace.buffers.size(); ++b) {
    const BufferInfo& info = trace.buffers[static_cast<BufferId>(b)];
    put<std::uint32_t>(out, static_cast<std::uint32_t>(info.name.size()));
    out.write(info.name.data(), static_cast<std::streamsize>(info.name.size()));
    put<std::uint32_t>(out, info.element_bytes);
    put<std::uint64_t>(out, info.elements);
    put<std::uint64_t>(out, info.base_address);
  }
  put<std::uint64_t>(out, trace.events.size());
  // TraceEvent is 16 bytes with 3 padding bytes; write field by field so padding is always 0.
  for (const TraceEvent& e : trace.events) {
    char record[16] = {};
    std::memcpy(record, &e.buffer, 4);
    std::memcpy(record + 4, &e.offset, 4);
    std::memcpy(record + 8, &e.count, 4);
    record[12] = static_cast<char>(e.kind);
    out.write(record, sizeof(record));
  }
  if (!out) throw Error("writing the binary trace failed");
}

namespace {

// Where the reader's bytes come from: a stream, bytes already in memory, or a file read through a
// buffer (no stream call per event in the last two). take() copies the next n bytes, or returns
// false when fewer are left; left() is the number of bytes left, when the source can tell.
class StreamBytes {
 public:
  explicit StreamBytes(std::istream& in) : in_(in) {}
  bool take(char* data, std::size_t n) {
    in_.read(data, static_cast<std::streamsize>(n));
    return static_cast<std::size_t>(in_.gcount()) == n;
  }
  std::optional<std::uint64_t> left() {
    const auto here = in_.tellg();
    if (here == std::istream::pos_type(-1)) return std::nullopt;
    in_.seekg(0, std::ios::end);
    const auto end = in_.tellg();
    in_.seekg(here);
    if (end == std::istream::pos_type(-1) || end < here) return std::nullopt;
    return static_cast<std::uint64_t>(end - here);
  }

 private:
  std::istream& in_;
};

class MemoryBytes {
 public:
  explicit MemoryBytes(std::string_view bytes) : bytes_(bytes) {}
  bool take(char* data, std::size_t n) {
    if (bytes_.size() - at_ < n) return false;
    std::memcpy(data, bytes_.data() + at_, n);
    at_ += n;
    return true;
  }
  std::optional<std::uint64_t> left() const { return bytes_.size() - at_; }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

class FileBytes {
 public:
  FileBytes(const std::filesystem::path& path, std::size_t buffer_bytes)
      : file_(path), buffer_(std::max<std::size_t>(buffer_bytes, 1)) {}

  bool take(char* data, std::size_t n) {
    while (n > 0) {
      if (at_ == filled_ && !refill()) return false;
      const std::size_t part = std::min(n, filled_ - at_);
      std::memcpy(data, buffer_.data() + at_, part);
      at_ += part;
      data += part;
      n -= part;
    }
    return true;
  }
  std::optional<std::uint64_t> left() const { return file_.size() - consumed_ - at_; }

 private:
  bool refill() {
    consumed_ += filled_;
    at_ = 0;
    filled_ = file_.read_some(buffer_.data(), buffer_.size());
    return filled_ > 0;
  }

  ReadableFile file_;
  std::vector<char> buffer_;
  std::uint64_t consumed_ = 0;  // bytes of the file before the buffer's content
  std::size_t at_ = 0, filled_ = 0;
};

// Typed reads from a source, with errors naming the input and the byte offset.
template <class Source>
class Reader {
 public:
  // Source is a value (a view, a stream reference holder) or a reference to a source that owns
  // a file.
  Reader(Source source, const std::string& name)
      : source_(std::forward<Source>(source)), name_(name) {}

  template <class T>
  T get(const char* what) {
    T value{};
    bytes(reinterpret_cast<char*>(&value), sizeof(T), what);
    return value;
  }
  void bytes(char* data, std::size_t n, const char* what) {
    if (!source_.take(data, n)) fail(std::string("truncated file: expected ") + what);
    offset_ += n;
  }
  std::optional<std::uint64_t> bytes_left() { return source_.left(); }
  [[noreturn]] void fail(const std::string& message) const {
    throw ConfigError(SourceLocation{name_}, "byte " + std::to_string(offset_) + ": " + message);
  }

 private:
  Source source_;
  const std::string& name_;
  std::uint64_t offset_ = 0;
};

// The one decoder of the format, for both readers: the header into `buffers`, then
// on_events(count, room) with the declared event count and the events the rest of the input can
// hold, then emit(event) for each validated event in order.
template <class R, class OnEvents, class Emit>
void decode(R& r, BufferTable& buffers, OnEvents&& on_events, Emit&& emit) {
  char magic[8];
  r.bytes(magic, sizeof(magic), "the magic \"CUBETRC1\"");
  if (std::memcmp(magic, kBinaryTraceMagic, sizeof(magic)) != 0)
    r.fail("not a cube binary trace (expected the magic \"CUBETRC1\")");
  const auto buffer_count = r.template get<std::uint32_t>("the buffer count");
  for (std::uint32_t b = 0; b < buffer_count; ++b) {
    const auto length = r.template get<std::uint32_t>("a buffer name length");
    if (length == 0 || length > 4096) r.fail("buffer name length " + std::to_string(length));
    std::string name(length, '\0');
    r.bytes(name.data(), length, "a buffer name");
    const auto element_bytes = r.template get<std::uint32_t>("an element size");
    const auto elements = r.template get<std::uint64_t>("an element count");
    r.template get<std::uint64_t>("a base address");  // recomputed by declare(): same order, sizes
    if (element_bytes == 0 || elements > UINT32_MAX)
      r.fail("buffer '" + name + "' has element size " + std::to_string(element_bytes) + " and " +
             std::to_string(elements) + " elements");
    if (buffers.find(name)) r.fail("buffer '" + name + "' declared twice");
    buffers.declare(name, element_bytes, elements);
  }
  const auto events = r.template get<std::uint64_t>("the event count");
  // The header's count is not trusted with memory (a 20-byte file could claim 2^64 events):
  // callers reserve at most what the rest of the input can hold.
  on_events(events, r.bytes_left().value_or(std::uint64_t{1} << 20) / 16);
  for (std::uint64_t i = 0; i < events; ++i) {
    char record[16];
    r.bytes(record, sizeof(record), "an event");
    TraceEvent e;
    std::memcpy(&e.buffer, record, 4);
    std::memcpy(&e.offset, record + 4, 4);
    std::memcpy(&e.count, record + 8, 4);
    const auto kind = static_cast<std::uint8_t>(record[12]);
    if (kind > static_cast<std::uint8_t>(EventKind::kOpEnd))
      r.fail("event " + std::to_string(i) + " has unknown kind " + std::to_string(kind));
    e.kind = static_cast<EventKind>(kind);
    if (e.kind == EventKind::kRead || e.kind == EventKind::kWrite) {
      if (e.buffer >= buffers.size())
        r.fail("event " + std::to_string(i) + " names undeclared buffer " +
               std::to_string(e.buffer));
      if (std::uint64_t{e.offset} + e.count > buffers[e.buffer].elements)
        r.fail("event " + std::to_string(i) + " reaches past the end of buffer '" +
               buffers[e.buffer].name + "'");
    }
    emit(e);
  }
}

}  // namespace

Trace read_binary_trace(std::istream& in, const std::string& source_name) {
  Reader<StreamBytes> r(StreamBytes(in), source_name);
  Trace trace;
  decode(
      r, trace.buffers,
      [&](std::uint64_t events, std::uint64_t room) {
        trace.events.reserve(static_cast<std::size_t>(std::min(events, room)));
      },
      [&](const TraceEvent& e) { trace.events.push_back(e); });
  return trace;
}

namespace {

// The body of both streaming readers.
template <class R>
std::uint64_t stream(R& r, BufferTable& buffers, TraceSink& sink, std::size_t chunk_events) {
  CUBE_CHECK(chunk_events > 0, "streaming needs chunks of at least one event");
  CUBE_CHECK(buffers.size() == 0, "stream_binary_trace fills an empty buffer table");
  std::vector<TraceEvent> chunk;
  std::uint64_t count = 0;
  decode(
      r, buffers,
      [&](std::uint64_t events, std::uint64_t room) {
        chunk.reserve(
            static_cast<std::size_t>(std::min<std::uint64_t>({events, room, chunk_events})));
        sink.begin(buffers);
      },
      [&](const TraceEvent& e) {
        chunk.push_back(e);
        ++count;
        if (chunk.size() == chunk_events) {
          sink.consume(chunk);
          chunk.clear();
        }
      });
  if (!chunk.empty()) sink.consume(chunk);
  sink.end();
  return count;
}

}  // namespace

std::uint64_t stream_binary_trace(std::string_view bytes, const std::string& source_name,
                                  BufferTable& buffers, TraceSink& sink, std::size_t chunk_events) {
  Reader<MemoryBytes> r(MemoryBytes(bytes), source_name);
  return stream(r, buffers, sink, chunk_events);
}

std::uint64_t stream_binary_trace_file(const std::filesystem::path& file, BufferTable& buffers,
                                       TraceSink& sink, std::size_t chunk_events,
                                       std::size_t buffer_bytes) {
  const std::string name = file.string();
  FileBytes bytes(file, buffer_bytes);
  Reader<FileBytes&> r(bytes, name);
  return stream(r, buffers, sink, chunk_events);
}

bool is_binary_trace(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[8] = {};
  in.read(magic, sizeof(magic));
  return in.gcount() == sizeof(magic) && std::memcmp(magic, kBinaryTraceMagic, sizeof(magic)) == 0;
}

}  // namespace cube
