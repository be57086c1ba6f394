// cube/metrics/bytedmd/bytedmd.h: ByteDMD, the live-only LRU cost of cybertronai/ByteDMD.
//
// What (metrics.md §6, reference bytedmd.py at ByteDMD 2cc2a62b33d2): memory is an LRU stack of
// *live* values. Reads cost, writes are free. Each instruction's operands are priced against the
// stack before the instruction (simultaneous pricing), then each distinct operand moves to the
// top in first-occurrence order, values whose last read this was are removed, and the outputs
// are pushed. Inputs are pushed before the first instruction (eager initialisation); a value
// never read and not live-out is removed as soon as it is pushed. With B = bytes_per_element,
// an element at depth d covers byte depths (d-1)B+1 .. dB and costs
//   cost(d) = S(dB) - S((d-1)B),  S(N) = Σ_{j<=N} ⌈√j⌉ = M(6N - 2M² + 3M - 1)/6, M = ⌈√N⌉,
// so with B = 1 a read at depth d costs ⌈√d⌉. bytedmd = Σ cost over all operand reads: an exact
// integer (reported as a double, exact below 2^53).
//
// Two front ends build the same ByteDmdProgram, evaluated by evaluate_bytedmd():
//  * the neutral program text of §6.4 (parse_bytedmd_program), which reproduces every vector of
//    §6.6; its `return` list is the live-out set;
//  * a cube::Trace (program_from_trace), used by the `bytedmd` metric. Mapping:
//    - a value is the content of element (buffer, offset + i) between two writes of it;
//    - an operation is a run of reads followed by a run of writes: it ends at a kOpEnd, or where
//      a read follows a write. In a trace with no kOpEnd at all, every read *event* is its own
//      operation (its elements are priced simultaneously) and the writes after it are its
//      outputs. Reads price every element of the event in element order;
//    - each written element is a new value pushed in event order; the value it replaces is dead
//      (it can no longer be read);
//    - inputs are the elements read before any write of them, pushed at the start ordered by
//      buffer id descending, then element index ascending (ByteDMD's "last argument first,
//      natural order within an argument": buffer 0 ends on top);
//    - nothing is live-out: every value dies after its last read (a trace has no return value;
//      the liveness is exact because the metric sees the whole trace), so kFree is not needed
//      and is ignored.
//
// Cost: the metric buffers the trace (16 bytes per event) and evaluates it in end();
// O(log L) per read (StackDistance), L = live values; memory O(events + values).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <istream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/trace.h"
#include "metrics/metric.h"

namespace cube {

// A program in ByteDMD's event model (§6.2). Value ids are 0..values-1.
struct ByteDmdProgram {
  // 16 bytes, as a trace without boundaries has about one instruction per event.
  struct Instruction {
    std::uint32_t first_read = 0;  // operands: reads[first_read, first_read + read_count)
    std::uint32_t read_count = 0;
    std::uint32_t first_output = 0;  // outputs[first_output, first_output + output_count)
    std::uint32_t output_count = 0;
  };
  std::uint64_t values = 0;
  std::vector<std::uint32_t> inputs;  // pushed before the first instruction, bottom first
  std::vector<Instruction> instructions;
  std::vector<std::uint32_t> reads;    // operands in operand order (repeats allowed)
  std::vector<std::uint32_t> outputs;  // each a value pushed exactly once
  std::vector<std::uint32_t> live_out;
  // Optional value names, for messages (text front end): value v is
  // name_chars[name_ends[v - 1] (0 for v = 0), name_ends[v]). One arena, not a string per value.
  std::string name_chars;
  std::vector<std::uint32_t> name_ends;

  // The name of value v, or "" when the program has none.
  std::string_view name(std::uint32_t v) const {
    if (v >= name_ends.size()) return {};
    const std::uint32_t begin = v == 0 ? 0 : name_ends[v - 1];
    return std::string_view(name_chars).substr(begin, name_ends[v] - begin);
  }
};

// What evaluate_bytedmd keeps of each read's depth besides its cost.
enum class DepthRecord {
  kNone,
  kEveryRead,         // ByteDmdResult::depths: every depth, in read order (8 bytes per read)
  kByteDepthOctaves,  // ByteDmdResult::reads_by_byte_depth_octave (reuse-distance plots)
};

struct ByteDmdResult {
  std::uint64_t cost = 0;
  std::uint64_t reads = 0;            // operand reads priced
  std::uint64_t max_depth = 0;        // deepest read (0 if none)
  std::vector<std::uint64_t> depths;  // DepthRecord::kEveryRead: every read's depth in order
  // DepthRecord::kByteDepthOctaves: [i] = reads whose byte depth d * B (the LRU reuse distance in
  // bytes, the element's own bytes included) lies in [2^i, 2^(i+1)).
  std::array<std::uint64_t, 64> reads_by_byte_depth_octave{};
};

// S(dB) - S((d-1)B): the cost of one element read at depth d >= 1 with B bytes per element.
std::uint64_t bytedmd_read_cost(std::uint64_t depth, std::uint64_t bytes_per_element);

// Runs the program. Throws cube::Error if it reads a value that is not live (never pushed or
// already dead) or pushes a value twice. `record` says what is kept of the depths.
ByteDmdResult evaluate_bytedmd(const ByteDmdProgram& program, std::uint64_t bytes_per_element,
                               DepthRecord record = DepthRecord::kNone);

// The neutral program format of §6.4, one statement per line or several separated by ';':
//   push v1 v2 ... vN           inputs, vN ends on top (several push lines append)
//   y1 [y2 ...] = OP x1 x2 ...  operands x (tokens starting with '#' are untracked constants and
//                               are dropped), then outputs y pushed in order; OP is not used
//   escape x                    a read of x with no output
//   return r1 r2 ...            live-out values (may be empty; several lines append)
// A line whose first token starts with '#' is a comment. Names are whitespace-free tokens; a
// name assigned again denotes a new value. Throws ConfigError at {source_name, line} on a
// malformed statement or an unknown operand.
ByteDmdProgram parse_bytedmd_program(std::string_view text,
                                     const std::string& source_name = "<string>");
ByteDmdProgram read_bytedmd_program(std::istream& in, const std::string& source_name);

// The program of a cube trace under the mapping described at the top of this file. With
// unit_bytes > 0 every element of a buffer of E-byte elements becomes E / unit_bytes values of
// unit_bytes each (adjacent, read and written together), so that buffers of different element
// sizes (bfloat16 beside float32) are priced by the bytes they hold: evaluated with
// bytes_per_element = unit_bytes, an element read at byte depth D costs S(D + E) - S(D), as one
// E-byte element of a single-size trace does (for a trace of one element size E, unit_bytes = E
// gives the same cost as unit_bytes = 0 with bytes_per_element = E). Throws cube::Error when an
// element size is not a multiple of unit_bytes, and beyond 2^32 - 1 values, operand reads or
// outputs.
ByteDmdProgram program_from_trace(const BufferTable& buffers, std::span<const TraceEvent> events,
                                  std::uint32_t unit_bytes = 0);

// The greatest common divisor of the element sizes of the buffers (4 when there are none): the
// unit of `bytedmd(bytes_per_element=0)`.
std::uint32_t common_element_bytes(const BufferTable& buffers);

struct ByteDmdConfig {
  std::int64_t bytes_per_element = 1;
  template <class V>
  void visit(V& v) {
    v("bytes_per_element", bytes_per_element,
      "bytes per traced element; 1 as in ByteDMD's default, 4 prices float32 bytes, 0 prices "
      "each buffer's declared element size (bfloat16 beside float32)")
        .at_least(0)
        .at_most(1 << 20);
  }
};

// `bytedmd`: values "bytedmd" (Σ cost, bytes·⌈√bytes⌉) and "bytedmd_reads" (element operand
// reads priced; with bytes_per_element 0, reads of units of the buffers' common element size);
// nullopt if the run was not traced.
class ByteDmdMetric : public Metric {
 public:
  explicit ByteDmdMetric(const ByteDmdConfig& config) : config_(config) {}
  // For neutral programs, whose values declare no size: 0 (declared sizes) counts as 1.
  std::uint64_t bytes_per_element() const {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(1, config_.bytes_per_element));
  }
  bool needs_trace() const override { return true; }
  std::vector<std::string> value_names() const override { return {"bytedmd", "bytedmd_reads"}; }
  void begin(const BufferTable& buffers) override;
  void consume(std::span<const TraceEvent> events) override;
  void end() override;
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;

 private:
  ByteDmdConfig config_;
  const BufferTable* buffers_ = nullptr;
  std::vector<TraceEvent> events_;
  bool traced_ = false;
  bool evaluated_ = false;
  ByteDmdResult result_;
};

}  // namespace cube
