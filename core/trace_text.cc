// cube/core/trace_text.cc: reader and writer of the W/R/F/OP text trace format.
// Not here: what the events cost; that is metrics/ (e.g. metrics/mem_tracker).

#include "core/trace_text.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <vector>

namespace cube {

namespace {

constexpr std::uint32_t kTextElementBytes = 4;  // the reference traces count floats

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_blank(s[i])) ++i;
    std::size_t start = i;
    while (i < s.size() && !is_blank(s[i])) ++i;
    if (i > start) fields.push_back(s.substr(start, i - start));
  }
  return fields;
}

// Parses a decimal size in [0, 2^32), the range of TraceEvent::count.
bool parse_size(std::string_view text, std::uint32_t& size) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto result = std::from_chars(text.data(), end, value);
  if (text.empty() || result.ec != std::errc() || result.ptr != end) return false;
  if (value > std::numeric_limits<std::uint32_t>::max()) return false;
  size = static_cast<std::uint32_t>(value);
  return true;
}

// Accumulates events line by line; keeps each buffer's last write size for `R name -`.
class TextTraceReader {
 public:
  explicit TextTraceReader(const std::string& source_name) : source_name_(source_name) {}

  void add_line(std::string_view line) {
    ++line_;
    if (std::size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    while (!line.empty()) {
      std::size_t semicolon = line.find(';');
      std::string_view segment = trim(line.substr(0, semicolon));
      // Empty segments ("a;;b", a trailing ';') are tolerated like blank lines.
      if (!segment.empty()) add_event(segment);
      if (semicolon == std::string_view::npos) break;
      line.remove_prefix(semicolon + 1);
    }
  }

  Trace take() { return std::move(trace_); }

 private:
  void add_event(std::string_view segment) {
    std::vector<std::string_view> fields = split_fields(segment);
    std::string_view kind = fields[0];
    if (kind == "W") {
      std::uint32_t size = 0;
      if (fields.size() != 3 || !parse_size(fields[2], size))
        fail("'W name size' with size an integer in [0, 2^32)", segment);
      BufferId b = declare(fields[1], size);
      last_write_size_[b] = size;
      push(b, size, EventKind::kWrite);
    } else if (kind == "R") {
      if (fields.size() != 2 && fields.size() != 3) fail("'R name size' or 'R name -'", segment);
      // "R name" (as metrics.md §2.4 writes its listing) omits the size just as "R name -" does.
      if (fields.size() == 2 || fields[2] == "-") {
        BufferId b = declare(fields[1], 0);
        push(b, last_write_size_[b], EventKind::kRead);
      } else {
        std::uint32_t size = 0;
        if (!parse_size(fields[2], size))
          fail("'R name size|-' with size an integer in [0, 2^32)", segment);
        push(declare(fields[1], size), size, EventKind::kRead);
      }
    } else if (kind == "F") {
      if (fields.size() != 2) fail("'F name'", segment);
      push(declare(fields[1], 0), 0, EventKind::kFree);
    } else if (kind == "OP") {
      if (fields.size() != 1) fail("'OP' alone", segment);
      trace_.events.push_back(TraceEvent{0, 0, 0, EventKind::kOpEnd});
    } else {
      fail("'W name size', 'R name size|-', 'F name' or 'OP'", segment);
    }
  }

  BufferId declare(std::string_view name, std::uint32_t elements) {
    BufferId b = trace_.buffers.declare(name, kTextElementBytes, elements);
    if (b >= last_write_size_.size()) last_write_size_.resize(b + 1, 0);
    return b;
  }

  void push(BufferId b, std::uint32_t count, EventKind kind) {
    trace_.events.push_back(TraceEvent{b, 0, count, kind});
  }

  [[noreturn]] void fail(const std::string& expected, std::string_view got) const {
    throw ConfigError(SourceLocation{source_name_, line_},
                      "expected " + expected + ", got '" + std::string(got) + "'");
  }

  std::string source_name_;
  int line_ = 0;
  Trace trace_;
  std::vector<std::uint32_t> last_write_size_;  // by BufferId; 0 until written
};

bool writable_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (c == ';' || c == '#' || c == '\n' || is_blank(c)) return false;
  return true;
}

}  // namespace

Trace read_text_trace(std::istream& in, const std::string& source_name) {
  TextTraceReader reader(source_name);
  std::string line;
  while (std::getline(in, line)) reader.add_line(line);
  if (in.bad()) throw ConfigError(SourceLocation{source_name}, "cannot read the trace");
  return reader.take();
}

Trace parse_text_trace(std::string_view text, const std::string& source_name) {
  TextTraceReader reader(source_name);
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    reader.add_line(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return reader.take();
}

void write_text_trace(const Trace& trace, std::ostream& out) {
  std::vector<bool> checked(trace.buffers.size(), false);
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kOpEnd) {
      out << "OP\n";
      continue;
    }
    CUBE_CHECK(e.buffer < trace.buffers.size(),
               "event names buffer " << e.buffer << " of " << trace.buffers.size());
    const std::string& name = trace.buffers[e.buffer].name;
    if (!checked[e.buffer]) {
      CUBE_CHECK(writable_name(name), "buffer name '" << name << "' cannot be written as text");
      checked[e.buffer] = true;
    }
    out << to_string(e.kind) << ' ' << name;
    if (e.kind != EventKind::kFree) out << ' ' << e.count;
    out << '\n';
  }
}

}  // namespace cube
