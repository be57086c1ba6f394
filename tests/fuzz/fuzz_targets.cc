// cube/tests/fuzz/fuzz_targets.cc: see fuzz_targets.h.

#include "tests/fuzz/fuzz_targets.h"

#include <sstream>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/trace_binary.h"
#include "core/trace_text.h"
#include "experiments/plan.h"
#include "metrics/bytedmd/bytedmd.h"
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

// A ByteDMD program printed back by its names: push, one line per instruction, return.
std::string text_of(const ByteDmdProgram& p) {
  std::string out = "push";
  for (std::uint32_t v : p.inputs) out.append(" ").append(p.name(v));
  out += '\n';
  for (const auto& ins : p.instructions) {
    if (ins.output_count == 0) {
      out += ins.read_count == 0 ? "escape #0" : "escape";  // `escape #1` reads nothing
    } else {
      for (std::uint32_t o = 0; o < ins.output_count; ++o) {
        out.append(p.name(p.outputs[ins.first_output + o])).append(" ");
      }
      out += "= op";
    }
    for (std::uint32_t r = 0; r < ins.read_count; ++r) {
      out.append(" ").append(p.name(p.reads[ins.first_read + r]));
    }
    out += '\n';
  }
  if (!p.live_out.empty()) {
    out += "return";
    for (std::uint32_t v : p.live_out) out.append(" ").append(p.name(v));
    out += '\n';
  }
  return out;
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

std::string bytedmd_program(std::span<const std::uint8_t> data) {
  ByteDmdProgram program;
  try {
    program = parse_bytedmd_program(as_text(data), "<fuzz>.bytedmd");
  } catch (const ConfigError&) {
    return "";
  }
  // Inputs print as one push line: a later push line numbers its values after earlier outputs,
  // so the programs are compared by the names they read and write, not by value numbers.
  const std::string written = text_of(program);
  const ByteDmdProgram again = parse_bytedmd_program(written, "<fuzz-rewritten>.bytedmd");
  const auto names = [](const ByteDmdProgram& q, const std::vector<std::uint32_t>& values) {
    std::vector<std::string_view> out;
    for (std::uint32_t v : values) out.push_back(q.name(v));
    return out;
  };
  bool same = again.values == program.values &&
              again.instructions.size() == program.instructions.size() &&
              names(again, again.inputs) == names(program, program.inputs) &&
              names(again, again.reads) == names(program, program.reads) &&
              names(again, again.outputs) == names(program, program.outputs) &&
              names(again, again.live_out) == names(program, program.live_out);
  for (std::size_t i = 0; same && i < program.instructions.size(); ++i) {
    same = again.instructions[i].read_count == program.instructions[i].read_count &&
           again.instructions[i].output_count == program.instructions[i].output_count;
  }
  if (!same) return "a ByteDMD program changes when printed by its names and read again";
  try {
    const ByteDmdResult priced = evaluate_bytedmd(program, 1);
    if (priced.reads != program.reads.size()) return "an evaluation priced a different read count";
  } catch (const ConfigError&) {
    return "evaluate_bytedmd threw ConfigError (it reports bad programs as cube::Error)";
  } catch (const Error&) {
  }
  return "";
}

}  // namespace cube::fuzz
