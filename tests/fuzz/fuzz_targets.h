// The fuzz targets: each feeds one kind of untrusted input to cube's reader for it and checks
// the reader's promise. libFuzzer drives them in the clang build (tests/fuzz/*_main.cc, see
// tests/fuzz/run_fuzzers.sh); the GoogleTest suite replays the seed corpora and every saved
// crash through the same functions in every build (fuzz_regressions_test.cc).
//
// Each returns "" when the input was handled as promised: read, or rejected with
// cube::ConfigError (the documented error for bad input). It returns a description when a
// property of the reader breaks (a round trip that changes the data, a cost that differs from
// the price). Any other exception escapes: it is a finding too.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace cube::fuzz {

// The YAML cell/sweep loader, parse_plan(text, no overrides).
std::string plan_yaml(std::span<const std::uint8_t> data);

// The expanded JSON plan reader (`cube run-cell`); a plan read writes back to JSON that reads
// to the same plan.
std::string plan_json(std::span<const std::uint8_t> data);

// The Dally IR parser and interpreter. data[0] picks the version (even v0, odd v3), the rest
// is the program; a program that parses is run on fixed inputs, and its run's cost must equal
// its price.
std::string dally_ir(std::span<const std::uint8_t> data);

// The text trace reader; a trace read must come out unchanged through text and binary.
std::string trace_text(std::span<const std::uint8_t> data);

// The binary trace reader; a trace read must write back to bytes that read to it again.
std::string trace_binary(std::span<const std::uint8_t> data);

// The ByteDMD program reader (metrics.md §6.4); a program read must print back (by its names) to
// text that reads to the same program, and evaluating it either prices it or throws cube::Error
// (a value read when not live).
std::string bytedmd_program(std::span<const std::uint8_t> data);

}  // namespace cube::fuzz
