// cube/core/trace_text.h: the text form of a buffer-level trace (metrics.md §1, §2.3, §2.4).
//
// One event per line, or several separated by ';' (the spec writes its vectors that way):
//
//   W name size     write of `size` elements of buffer `name`
//   R name size     read of `size` elements of `name`
//   R name -        read, size omitted: the size of `name`'s most recent write, or 0 if `name`
//                   was never written (resolved while reading, so the Trace holds a count);
//                   `R name` means the same (the SGD listing of metrics.md §2.4 writes it so)
//   F name          `name` is dead (EventKind::kFree)
//   OP              operation boundary (EventKind::kOpEnd)
//
// '#' starts a comment that runs to the end of the line; blank lines are ignored. Fields are
// separated by spaces or tabs; a name is any run of characters other than whitespace, ';' and
// '#'. Sizes are decimal integers in [0, 2^32).
//
// The format is buffer-level: every event covers elements [0, size) of its buffer (offset 0),
// as in the reference MemTracker, whose element identity is a prefix (metrics.md §1). Buffers
// are declared in order of first appearance with element_bytes 4 (floats) and, as elements,
// the largest size any event of theirs names. Writing a trace keeps kind, buffer name and
// count of every event and drops offsets and element sizes, so read(write(t)) reproduces the
// events of t exactly when t was itself read from text.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <string_view>

#include "core/trace.h"

namespace cube {

// Reads a whole text trace from `in`. `source_name` names the input in error messages.
// Throws ConfigError at SourceLocation{source_name, line} on a malformed line, saying what was
// expected and what was found. O(total characters) expected time.
Trace read_text_trace(std::istream& in, const std::string& source_name);

// The same, from a string: parse_text_trace("W a 100; W b 50; R a -").
Trace parse_text_trace(std::string_view text, const std::string& source_name = "<string>");

// Writes `trace` one event per line: `W name count`, `R name count`, `F name`, `OP`.
// Throws cube::Error if an event names an undeclared buffer or a buffer name cannot be written
// (empty, or containing whitespace, ';' or '#'). O(events).
void write_text_trace(const Trace& trace, std::ostream& out);

}  // namespace cube
