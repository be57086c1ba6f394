// cube/tests/fuzz/fuzz_targets.cc: see fuzz_targets.h.

#include "tests/fuzz/fuzz_targets.h"

#include <sstream>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/trace_binary.h"
#include "core/trace_text.h"
#include "experiments/plan.h"
#include "models/dally_ir/interpreter.h"

namespace cube::fuzz {
namespace {

std::string_view as_text(std::span<const std::uint8_t> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

std::string text_of(const Trace& trace) {
  std::ostringstream out;
  write_text_trace(trace, out);
  return out.str();
}

std::string binary_of(const Trace& trace) {
  std::ostringstream out;
  write_binary_trace(trace, out);
  return out.str();
}

Trace read_binary(const std::string& bytes, const std::string& source) {
  std::istringstream in(bytes);
  return read_binary_trace(in, source);
}

}  // namespace

std::string plan_yaml(std::span<const std::uint8_t> data) {
  try {
    parse_plan(as_text(data), "<fuzz>.yaml", {});
  } catch (const ConfigError&) {
  }
  return "";
}

std::string plan_json(std::span<const std::uint8_t> data) {
  ExperimentPlan plan;
  try {
    plan = parse_plan_json(as_text(data), "<fuzz>.json");
  } catch (const ConfigError&) {
    return "";
  }
  const std::string written = plan_to_json(plan);
  if (plan_to_json(parse_plan_json(written, "<fuzz-rewritten>.json")) != written)
    return "a plan read from JSON changes when written and read again";
  return "";
}

std::string dally_ir(std::span<const std::uint8_t> data) {
  if (data.empty()) return "";
  const DallyVersion version = (data[0] & 1) ? DallyVersion::kV3 : DallyVersion::kV0;
  try {
    const DallyProgram program =
        parse_dally_program(as_text(data.subspan(1)), "<fuzz>.ir", version);
    std::vector<std::int64_t> inputs(program.input_addresses().size());
    for (std::size_t i = 0; i < inputs.size(); ++i)
      inputs[i] = static_cast<std::int64_t>((i * 37) % 256) - 128;
    const DallyRun run = run_dally(program, inputs);
    if (run.cost != program.cost()) return "a run's cost differs from the program's price";
    if (run.outputs.size() != program.output_addresses().size())
      return "a run returned a different number of outputs than the program declares";
  } catch (const ConfigError&) {
  }
  return "";
}

std::string trace_text(std::span<const std::uint8_t> data) {
  Trace trace;
  try {
    trace = parse_text_trace(as_text(data), "<fuzz>.trace");
  } catch (const ConfigError&) {
    return "";
  }
  const std::string written = text_of(trace);
  if (text_of(parse_text_trace(written, "<fuzz-rewritten>")) != written)
    return "a text trace changes when written and read again";
  if (text_of(read_binary(binary_of(trace), "<fuzz-binary>")) != written)
    return "a trace changes through the binary format";
  return "";
}

std::string trace_binary(std::span<const std::uint8_t> data) {
  // The streaming decoder (mapped files) must accept, reject and decode exactly as the reader.
  std::string streamed_error;
  TraceCollector collector;
  BufferTable streamed_buffers;
  try {
    stream_binary_trace(as_text(data), "<fuzz>.ctrace", streamed_buffers, collector, 7);
  } catch (const ConfigError& e) {
    streamed_error = e.what();
  }
  Trace trace;
  try {
    trace = read_binary(std::string(as_text(data)), "<fuzz>.ctrace");
  } catch (const ConfigError& e) {
    return streamed_error == e.what() ? "" : "streaming and reading reject differently";
  }
  if (!streamed_error.empty()) return "streaming rejects what reading accepts";
  if (collector.trace().events != trace.events) return "streaming decodes other events";
  const std::string once = binary_of(trace);
  if (binary_of(read_binary(once, "<fuzz-rewritten>")) != once)
    return "a binary trace changes when written and read again";
  return "";
}

}  // namespace cube::fuzz
