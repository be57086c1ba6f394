#!/usr/bin/env python3
"""Whole-process times of `cube` commands, side by side for several binaries (issue 18).

For each binary: `cube --version` (start-up alone); `cube trace replay` of the naive 32x32
matmul ByteDMD program (bench/matmul_bytedmd_program.py; 1.9 MB, bytedmd 1,505,125); and, with
--lru, `cube trace replay --metric lru_dmd` of a binary trace of 10^7 uniform random one-element
reads over 10^6 elements (one write of them all first; 160 MB), reported also as accesses/s.
Each case runs `--runs` times per binary in turn, ABAB..., so that drift hits every binary
alike. Prints min and median milliseconds and the page faults of one run (getrusage), and checks
the bytedmd value.

Usage: bench/process_startup.py [--runs 30] [--lru] BINARY [BINARY ...]   (default: build/cube)
"""
import argparse
import os
import random
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from matmul_bytedmd_program import program  # noqa: E402


def write_random_trace(path, reads, footprint, seed=1):
    rng = random.Random(seed)
    with open(path, "wb") as out:
        out.write(b"CUBETRC1" + struct.pack("<II", 1, 1) + b"x" + struct.pack("<IQQ", 4, footprint, 0))
        out.write(struct.pack("<Q", reads + 1))
        out.write(struct.pack("<IIIB3x", 0, 0, footprint, 1))  # write every element once
        chunk = 1 << 20
        for start in range(0, reads, chunk):
            n = min(chunk, reads - start)
            record = bytearray(16 * n)
            for i in range(n):
                struct.pack_into("<IIIB", record, 16 * i, 0, rng.randrange(footprint), 1, 0)
            out.write(record)


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
    parser.add_argument("--lru", action="store_true", help="also the 10^7-read lru_dmd replay")
    parser.add_argument("binaries", nargs="*", default=["build/cube"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        matmul = os.path.join(scratch, "matmul32.ir")
        with open(matmul, "w") as out:
            out.write(program(32))
        cases = [("--version", ["--version"], args.runs, 0),
                 ("trace replay matmul32 (bytedmd)",
                  ["trace", "replay", matmul, "--metric", "bytedmd"], args.runs, 0)]
        if args.lru:
            trace = os.path.join(scratch, "random.ctrace")
            write_random_trace(trace, 10**7, 10**6)
            cases.append(("trace replay 10^7 random reads (lru_dmd)",
                          ["trace", "replay", trace, "--metric", "lru_dmd"], min(args.runs, 5),
                          10**7))
        for name, tail, runs, accesses in cases:
            times = {b: [] for b in args.binaries}
            faults = {}
            for _ in range(runs):
                for binary in args.binaries:
                    elapsed, minflt, stdout = run([binary] + tail)
                    times[binary].append(elapsed * 1e3)
                    faults[binary] = minflt
                    if "bytedmd" in tail and "1505125" not in stdout:
                        sys.exit(f"{binary}: bytedmd is not 1505125:\n{stdout}")
            print(f"{name}: {runs} runs each, interleaved")
            for binary in args.binaries:
                t = times[binary]
                rate = f"  {accesses / min(t) / 1e3:.1f} M accesses/s" if accesses else ""
                print(f"  {binary:40s} min {min(t):7.1f} ms  median {statistics.median(t):7.1f} ms"
                      f"  page faults {faults[binary]}{rate}")


if __name__ == "__main__":
    main()
