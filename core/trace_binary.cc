// cube/core/trace_binary.cc: reading and writing the binary trace file, with full validation.

#include "core/trace_binary.h"

#include <bit>
#include <cstring>
#include <fstream>

namespace cube {

static_assert(std::endian::native == std::endian::little,
              "the binary trace writer assumes a little-endian host");

namespace {

template <class T>
void put(std::ostream& out, T value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

class Reader {
 public:
  Reader(std::istream& in, const std::string& source) : in_(in), source_(source) {}

  template <class T>
  T get(const char* what) {
    T value{};
    bytes(reinterpret_cast<char*>(&value), sizeof(T), what);
    return value;
  }
  void bytes(char* data, std::size_t n, const char* what) {
    in_.read(data, static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(in_.gcount()) != n)
      fail(std::string("truncated file: expected ") + what);
    offset_ += n;
  }
  [[noreturn]] void fail(const std::string& message) const {
    throw ConfigError(SourceLocation{source_name()},
                      "byte " + std::to_string(offset_) + ": " + message);
  }
  const std::string& source_name() const { return source_; }

 private:
  std::istream& in_;
  const std::string& source_;
  std::uint64_t offset_ = 0;
};

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

Trace read_binary_trace(std::istream& in, const std::string& source_name) {
  Reader r(in, source_name);
  char magic[8];
  r.bytes(magic, sizeof(magic), "the magic \"CUBETRC1\"");
  if (std::memcmp(magic, kBinaryTraceMagic, sizeof(magic)) != 0)
    r.fail("not a cube binary trace (expected the magic \"CUBETRC1\")");
  Trace trace;
  const auto buffers = r.get<std::uint32_t>("the buffer count");
  for (std::uint32_t b = 0; b < buffers; ++b) {
    const auto length = r.get<std::uint32_t>("a buffer name length");
    if (length == 0 || length > 4096) r.fail("buffer name length " + std::to_string(length));
    std::string name(length, '\0');
    r.bytes(name.data(), length, "a buffer name");
    const auto element_bytes = r.get<std::uint32_t>("an element size");
    const auto elements = r.get<std::uint64_t>("an element count");
    r.get<std::uint64_t>("a base address");  // recomputed by declare(): same order, same sizes
    if (element_bytes == 0 || elements > UINT32_MAX)
      r.fail("buffer '" + name + "' has element size " + std::to_string(element_bytes) + " and " +
             std::to_string(elements) + " elements");
    if (trace.buffers.find(name)) r.fail("buffer '" + name + "' declared twice");
    trace.buffers.declare(name, element_bytes, elements);
  }
  const auto events = r.get<std::uint64_t>("the event count");
  // The header's count is not trusted with memory (a 20-byte file could claim 2^64 events):
  // reserve a little and let the vector grow as records actually arrive.
  trace.events.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(events, 1u << 16)));
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
      if (e.buffer >= trace.buffers.size())
        r.fail("event " + std::to_string(i) + " names undeclared buffer " +
               std::to_string(e.buffer));
      if (std::uint64_t{e.offset} + e.count > trace.buffers[e.buffer].elements)
        r.fail("event " + std::to_string(i) + " reaches past the end of buffer '" +
               trace.buffers[e.buffer].name + "'");
    }
    trace.events.push_back(e);
  }
  return trace;
}

bool is_binary_trace(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[8] = {};
  in.read(magic, sizeof(magic));
  return in.gcount() == sizeof(magic) && std::memcmp(magic, kBinaryTraceMagic, sizeof(magic)) == 0;
}

}  // namespace cube
