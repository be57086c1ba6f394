#!/usr/bin/env bash
# Regenerates cmake/startup-functions.txt: the mangled names of the functions that `cube` runs
# for `--version` and for `trace replay` of a ByteDMD program and of a binary trace (static
# initialisation, option parsing, the readers, the ByteDMD and LRU engines), as callgrind sees
# them. The release link lays these out next to each other (CMakeLists.txt, lld's
# --symbol-ordering-file), so that a command's start-up faults in a few 64 KiB windows of the
# executable instead of ~40 scattered ones. A stale list costs start-up time, never correctness.
# Usage: bash scripts/startup-functions.sh [build/cube]   (needs valgrind; run from the repo)
set -euo pipefail
cd "$(dirname "$0")/.."
cube=$(realpath "${1:-build/cube}")
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 - "$scratch" <<'PY'
import os, sys
sys.path.insert(0, "bench")
from matmul_bytedmd_program import program
from process_startup import write_random_trace
with open(os.path.join(sys.argv[1], "matmul16.ir"), "w") as out:
    out.write(program(16))
write_random_trace(os.path.join(sys.argv[1], "random.ctrace"), 10**4, 10**3)
PY
for args in "--version" "trace replay $scratch/matmul16.ir --metric bytedmd" \
    "trace replay $scratch/random.ctrace --metric lru_dmd"; do
  # shellcheck disable=SC2086  # the arguments split on purpose
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$scratch/callgrind.out" \
    "$cube" $args >/dev/null 2>&1
  # Every function of the cube executable that ran, without callgrind's recursion suffix.
  callgrind_annotate --threshold=100 "$scratch/callgrind.out" |
    awk -v ob="[$cube]" '$NF == ob { name = $(NF - 1); sub(/^[^:]*:/, "", name);
                                    sub(/'"'"'[0-9]+$/, "", name); print name }'
done | grep -E '^[_A-Za-z][_A-Za-z0-9.$]*$' | LC_ALL=C sort -u > cmake/startup-functions.txt
echo "cmake/startup-functions.txt: $(wc -l < cmake/startup-functions.txt) functions" >&2
