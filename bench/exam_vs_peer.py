#!/usr/bin/env python3
"""The final exam against its PyTorch peer, measured the way issue 13 sets its goals: whole
processes, one after the other in one sitting, cube's exam cell
(experiments/final_exam/shakespeare_cpu.yaml) then the peer (bench/peers/nanogpt_shakespeare.py),
--pairs times, on this machine.

Usage (from anywhere; paths are the repository's):
  python3 bench/exam_vs_peer.py [--pairs 3] [--seed 1337] [--cube build/cube]
      [--python /usr/bin/python3] [--max-iters 2000] [--no-peer]

Each wall time is the whole process from start to exit (start-up, data, evaluations included), as
/usr/bin/time's elapsed. cube runs with -j1 --force into a scratch store, so every pair trains.
The peer runs on Debian's torch with OpenBLAS on one thread and its own kernels
(OPENBLAS_NUM_THREADS=1, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset: the fastest set-up,
docs/performance.md), under --python (Debian's interpreter, which has python3-torch); without torch
there the peer is skipped and said so. The VM's speed drifts by 10-30 % within minutes, so only
adjacent runs are compared: each pair's ratio is the peer's wall over cube's.

Prints a markdown table (run, wall, val loss), each pair's ratio, the machine and the commit, and
the goals' verdicts (cube's whole run <= 30 s; >= 3x the peer in the same sitting). Exit status 0
unless a run fails. Not part of the timed test suite: ctest runs it once with --max-iters 5 to
check that it runs and parses both programs' output.
"""
import argparse
import contextlib
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAM = os.path.join("experiments", "final_exam", "shakespeare_cpu.yaml")
PEER = os.path.join("bench", "peers", "nanogpt_shakespeare.py")
GOAL_SECONDS, GOAL_RATIO = 30.0, 3.0


def timed(command, env=None):
    """(seconds, stdout) of one whole process; raises when it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def run_cube(args, store):
    command = [args.cube, "run", EXAM, "-j1", "--force", "-q", "--format", "json", "--store",
               store, "--set", f"seeds={args.seed}"]
    if args.max_iters != 2000:
        command += ["--set", f"solver.max_iters={args.max_iters}",
                    "--set", f"solver.lr_decay_iters={args.max_iters}"]
    seconds, out = timed(command)
    rows = json.loads(out)["rows"]
    if len(rows) != 1 or rows[0]["status"] != "ok":
        raise RuntimeError(f"cube's exam cell did not finish ok: {rows}")
    return seconds, rows[0]["val_loss"]


def provenance(store):
    """The machine and commit cube recorded for its last run (its store's runs table)."""
    with contextlib.closing(sqlite3.connect(store)) as db:
        machine, sha, dirty = db.execute(
            "SELECT machine, git_commit, git_dirty FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    return machine, (sha[:7] or "?") + ("+dirty" if dirty else "")


def run_peer(args):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    seconds, out = timed([args.python, PEER, "--seed", str(args.seed),
                          "--max-iters", str(args.max_iters)], env)
    match = re.search(r"^seed \d+: val loss ([0-9.]+|nan)", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no final val loss in the peer's output:\n{out[-2000:]}")
    return seconds, float(match.group(1))


def has_torch(python):
    try:
        return subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3, help="cube-then-peer pairs (default 3)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--cube", default=os.path.join("build", "cube"), help="cube binary")
    ap.add_argument("--python", default="/usr/bin/python3", help="interpreter that has torch")
    ap.add_argument("--max-iters", type=int, default=2000,
                    help="training steps of both (2000 is the exam; less only to try the script)")
    ap.add_argument("--no-peer", action="store_true", help="time cube alone")
    args = ap.parse_args()
    if args.pairs < 1 or args.max_iters < 1:
        ap.error("--pairs and --max-iters must be >= 1")
    peer = not args.no_peer and has_torch(args.python)
    if not args.no_peer and not peer:
        print(f"note: {args.python} cannot import torch (apt-get install python3-torch "
              "libopenblas0-pthread): timing cube alone", file=sys.stderr)

    runs, pairs = [], []
    with tempfile.TemporaryDirectory(prefix="exam_vs_peer_") as scratch:
        store = os.path.join(scratch, "results.db")
        for i in range(args.pairs):
            print(f"pair {i + 1}/{args.pairs}: cube ...", file=sys.stderr, flush=True)
            cube_s, cube_loss = run_cube(args, store)
            runs.append(("cube", cube_s, cube_loss))
            if not peer:
                continue
            print(f"pair {i + 1}/{args.pairs}: PyTorch peer ...", file=sys.stderr, flush=True)
            peer_s, peer_loss = run_peer(args)
            runs.append(("PyTorch peer", peer_s, peer_loss))
            pairs.append(peer_s / cube_s)
        machine, commit = provenance(store)

    print(f"Machine: {machine}; commit {commit}; {time.strftime('%Y-%m-%d %H:%M')}; "
          f"seed {args.seed}, {args.max_iters} steps.\n")
    print("| run | wall | val loss |\n|---|---:|---:|")
    for name, seconds, loss in runs:
        print(f"| {name} | {seconds:.1f} s | {loss:.4f} |")
    cube_walls = [s for name, s, _ in runs if name == "cube"]
    print(f"\ncube: median {statistics.median(cube_walls):.1f} s, "
          f"[{min(cube_walls):.1f}, {max(cube_walls):.1f}] s")
    if pairs:
        print("peer / cube, each pair: " + ", ".join(f"{r:.2f}x" for r in pairs))
    if args.max_iters == 2000:
        met = sum(s <= GOAL_SECONDS for s in cube_walls)
        print(f"goal, whole run <= {GOAL_SECONDS:.0f} s: {met} of {len(cube_walls)} runs")
        if pairs:
            met = sum(r >= GOAL_RATIO for r in pairs)
            print(f"goal, >= {GOAL_RATIO:.0f}x the peer in the same sitting: {met} of "
                  f"{len(pairs)} pairs")


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as error:
        print(f"exam_vs_peer: {error}", file=sys.stderr)
        sys.exit(1)
