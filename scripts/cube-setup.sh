#!/usr/bin/env bash
# The two README commands: install what is missing (Debian packages), build, then
#   quickstart  -> run experiments/quickstart.yaml and print its metric table
#   test        -> run the whole test suite (ctest)
#   sanitize    -> AddressSanitizer + UndefinedBehaviorSanitizer build in build-sanitize/, then
#                  the test suite on it (the minutes-long integration tests excepted)
# Usage: bash scripts/cube-setup.sh quickstart|test|sanitize   (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
case "$mode" in quickstart|test|build|sanitize) ;; *) echo "usage: $0 quickstart|test|sanitize|build" >&2; exit 2 ;; esac

# Every dependency is a Debian package; nothing is fetched at build time.
packages=(
  g++ cmake ninja-build git ccache   # toolchain (OpenMP comes with g++ as libgomp); ccache for cube diff
  lld                                # links cube with its start-up functions together
  libeigen3-dev                      # dense linear algebra in solvers
  libboost-program-options-dev      # the cube command line
  libyaml-cpp-dev                    # cell and sweep files
  libsqlite3-dev                     # the results store
  libdnnl-dev                        # oneDNN: the GPT's linear-layer GEMMs
  nlohmann-json3-dev                 # JSON plans and --format json
  libcmark-gfm-dev libcmark-gfm-extensions-dev   # markdown to HTML for --format html
  libgtest-dev libgmock-dev          # tests
  libbenchmark-dev                   # bench/
  gnuplot-nox                        # cube plot (PNG and SVG)
  python3                            # the function-length lint test
)
# The test suite also runs a sweep on a real single-node Slurm (scripts/slurm-local.sh)
# and fuzzes cube's readers with clang's libFuzzer (tests/fuzz/run_fuzzers.sh).
[ "$mode" = test ] && packages+=(munge slurmctld slurmd slurm-client clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

jobs="$(nproc)"
if [ "$mode" = sanitize ]; then
  # Any report fails the test that triggered it: UBSan does not recover, ASan stops at the first
  # error and checks for leaks at exit. Benchmarks are not built; the integration tests that
  # build other commits, start Slurm daemons or build the (already sanitized) fuzzers are left
  # to the Release run.
  cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUBE_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" >&2
  cmake --build build-sanitize -j "$jobs" >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-sanitize --output-on-failure -j "$jobs" -E '^(diff_builds|slurm_cluster|fuzzers)$'
  exit
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build -j "$jobs" >&2

case "$mode" in
  quickstart) build/cube run experiments/quickstart.yaml ;;
  test) ctest --test-dir build --output-on-failure -j "$jobs" ;;
  build) ;;
esac
