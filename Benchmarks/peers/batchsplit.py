#!/usr/bin/env python3
"""Batch-parallel rollout scaling: the B = 16 shapes of rollout.py, sequential solve time (best of
--repeats, variants alternating) at 1 thread and at --threads N, and the throughput ratio
t(1) / t(N) — issue 14's "B = 16 on 16 threads ≥ 8× its 1-thread throughput".

A variant is NAME=BINARY[,ENV=VALUE...]: two binaries, or one binary under two settings of an
environment variable, e.g. `old=./pararnn-old new=./pararnn`.

    python3 Benchmarks/peers/batchsplit.py --threads 16 old=OLD_BINARY new=NEW_BINARY
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rollout  # noqa: E402


def solve_seconds(binary, env, model, xin, out, threads):
    report = out + ".json"
    subprocess.run(rollout.pinned(threads) + [binary, "solve", "--model", model, "--input", xin, "--output", out,
                   "--report", report, "--method", "sequential", "--threads", str(threads)],
                   check=True, env=env, capture_output=True)
    with open(report) as f:
        return json.load(f)["solveSeconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=None, help="only shapes whose 'cell d' text contains this, e.g. 'gru 4'")
    args = ap.parse_args()
    import numpy as np
    variants = []
    for text in args.variants:
        name, rest = text.split("=", 1)
        binary, *settings = rest.split(",")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        env.update(s.split("=", 1) for s in settings)
        variants.append((name, binary, env))
    n = args.threads
    print(f"| cell | d | T | variant | 1 thread ms | {n} threads ms | throughput {n} / 1 |")
    print("|---|---:|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as work:
        for cell, B, d, T in rollout.FULL:
            if B != 16 or (args.only and args.only not in f"{cell} {d}"):
                continue
            model, _, xin = rollout.make_case(np, work, cell, B, d, T)
            best = {(v[0], t): float("inf") for v in variants for t in (1, n)}
            outputs = {}
            for _ in range(args.repeats):
                for name, binary, env in variants:
                    for t in (1, n):
                        out = os.path.join(work, f"{name}-{t}.npy")
                        best[(name, t)] = min(best[(name, t)], solve_seconds(binary, env, model, xin, out, t))
                        outputs[(name, t)] = out
            first = np.load(outputs[(variants[0][0], 1)])
            for name, _, _ in variants:
                same = all(np.array_equal(first, np.load(outputs[(name, t)])) for t in (1, n))
                one, many = best[(name, 1)] * 1e3, best[(name, n)] * 1e3
                note = "" if same else " (states differ from the first variant's 1-thread run)"
                print(f"| {cell} | {d} | {T} | {name} | {one:.2f} | {many:.2f} | {one / many:.2f}×{note} |", flush=True)


if __name__ == "__main__":
    main()
