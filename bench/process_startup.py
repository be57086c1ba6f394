#!/usr/bin/env python3
"""Whole-process times of `cube` commands, side by side for several binaries (issue 18).

For each binary: `cube --version` (start-up alone) and `cube trace replay` of the naive 32x32
matmul ByteDMD program (bench/matmul_bytedmd_program.py; 1.9 MB, bytedmd 1,505,125), each run
`--runs` times in turn, ABAB..., so that drift hits every binary alike. Prints min and median
milliseconds and the page faults of one run (from getrusage), and checks the bytedmd value.

Usage: bench/process_startup.py [--runs 30] BINARY [BINARY ...]   (default: build/cube)
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from matmul_bytedmd_program import program  # noqa: E402


def run(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}")
    return elapsed, after.ru_minflt - before.ru_minflt, done.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("binaries", nargs="*", default=["build/cube"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        matmul = os.path.join(scratch, "matmul32.ir")
        with open(matmul, "w") as out:
            out.write(program(32))
        cases = [("--version", ["--version"]),
                 ("trace replay matmul32 (bytedmd)", ["trace", "replay", matmul, "--metric", "bytedmd"])]
        for name, tail in cases:
            times = {b: [] for b in args.binaries}
            faults = {}
            for _ in range(args.runs):
                for binary in args.binaries:
                    elapsed, minflt, stdout = run([binary] + tail)
                    times[binary].append(elapsed * 1e3)
                    faults[binary] = minflt
                    if "replay" in tail and "1505125" not in stdout:
                        sys.exit(f"{binary}: bytedmd is not 1505125:\n{stdout}")
            print(f"{name}: {args.runs} runs each, interleaved")
            for binary in args.binaries:
                t = times[binary]
                print(f"  {binary:40s} min {min(t):7.1f} ms  median {statistics.median(t):7.1f} ms"
                      f"  page faults {faults[binary]}")


if __name__ == "__main__":
    main()
