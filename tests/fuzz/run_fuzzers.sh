#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (AddressSanitizer, UndefinedBehavior-
# Sanitizer, libFuzzer coverage) in BUILD_DIR, then runs each for SECONDS from its seed corpus
# (tests/fuzz/corpus/<target>/) and saved crashes (tests/fuzz/regressions/<target>/). New inputs
# go to a scratch corpus under BUILD_DIR/runs, never into the source tree. Targets run side by
# side, one per core.
# Exit: 0 clean; 1 a finding (crash, sanitizer report, escaping exception, broken property,
# timeout > 10 s or memory > 2 GiB on one input: the input is saved and named); 77 no clang or
# libFuzzer on this machine (Debian: clang libclang-rt-14-dev).
# Usage: tests/fuzz/run_fuzzers.sh SOURCE_DIR BUILD_DIR [SECONDS]   (CUBE_FUZZ_SECONDS, default 60)
set -uo pipefail
src=$(cd "$1" && pwd)
build=$2
seconds=${3:-${CUBE_FUZZ_SECONDS:-60}}
targets=(plan_yaml plan_json dally_ir trace_text trace_binary bytedmd_program)

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  > "$probe/probe.cc"
if ! command -v clang++ > /dev/null || ! clang++ -fsanitize=fuzzer "$probe/probe.cc" -o "$probe/probe" 2> "$probe/err"; then
  echo "SKIP: clang++ with libFuzzer is not installed (Debian: apt install clang libclang-rt-14-dev)"
  cat "$probe/err" 2> /dev/null
  exit 77
fi

launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
started=$(date +%s)
mkdir -p "$build"
if ! cmake -S "$src" -B "$build" "${generator[@]}" "${launcher[@]}" -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUBE_BUILD_TESTS=OFF -DCUBE_BUILD_BENCH=OFF \
    -DCUBE_BUILD_FUZZERS=ON \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    > "$build/configure.log" 2>&1; then
  echo "FAIL: configuring the fuzz build failed; log: $build/configure.log"
  tail -20 "$build/configure.log"
  exit 1
fi
if ! cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" > "$build/build.log" 2>&1; then
  echo "FAIL: building the fuzzers failed; log: $build/build.log"
  grep -m 20 -E "error" "$build/build.log"
  exit 1
fi
echo "built the fuzzers in $(($(date +%s) - started)) s ($build/fuzz)"

# One target: its log, its summary line and any saved input under $build/runs/<target>/.
fuzz_one() {
  local name=$1 work="$build/runs/$1"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  local seeds=("$src/tests/fuzz/corpus/$name")
  [ -d "$src/tests/fuzz/regressions/$name" ] && seeds+=("$src/tests/fuzz/regressions/$name")
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "${seeds[@]}" \
    > "$work/log" 2>&1
  local code=$?
  local runs cov
  runs=$(grep -m1 -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$work/log" || echo "?")
  cov=$(grep -oP '#[0-9]+\s+(DONE|pulse|NEW|REDUCE)\s+cov: \K[0-9]+' "$work/log" | tail -1)
  if [ "$code" -eq 0 ]; then
    echo "ok    fuzz_$name: $runs inputs in ${seconds} s, coverage ${cov:-?} edges, 0 crashes" \
      > "$work/summary"
    return
  fi
  {
    echo "FAIL  fuzz_$name (exit $code); log $work/log"
    grep -m 5 -E "ERROR|SUMMARY|property broken|terminate called|what\(\)" "$work/log"
    for artifact in "$work"/artifacts/*; do
      [ -e "$artifact" ] || continue
      echo "      input: $artifact"
      echo "      replay: $build/fuzz/fuzz_$name $artifact"
      echo "      once fixed, keep it: cp $artifact $src/tests/fuzz/regressions/$name/"
    done
  } > "$work/summary"
}

# As many targets at once as there are cores: each is one process.
for name in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n; done
  fuzz_one "$name" &
done
wait
status=0
for name in "${targets[@]}"; do
  cat "$build/runs/$name/summary"
  grep -q "^FAIL" "$build/runs/$name/summary" && status=1
done
exit $status
