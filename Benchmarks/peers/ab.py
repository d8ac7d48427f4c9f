#!/usr/bin/env python3
"""A/B two pararnn binaries on the rollout shapes of rollout.py (sequential solve time, best of
--repeats, binaries alternating), plus the float64 agreement of B's output.

    python3 Benchmarks/peers/ab.py OLD_BINARY NEW_BINARY --threads 1 [--shapes quick|full]
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rollout  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--shapes", choices=["quick", "full"], default="full")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=None, help="only shapes whose 'cell B d' text contains this, e.g. '16 256'")
    args = ap.parse_args()
    import numpy as np
    print("| cell | B | d | T | A ms | B ms | A / B time | B − f64 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as work:
        for cell, B, d, T in (rollout.FULL if args.shapes == "full" else rollout.QUICK):
            if args.only and args.only not in f"{cell} {B} {d}":
                continue
            model, npz, xin = rollout.make_case(np, work, cell, B, d, T)
            out = os.path.join(work, "out.npy")
            ta = tb = float("inf")
            for _ in range(args.repeats):
                ta = min(ta, rollout.run_pararnn(args.a, model, xin, out, args.threads, 1))
                tb = min(tb, rollout.run_pararnn(args.b, model, xin, out, args.threads, 1))
            steps = min(T, 2000)
            ref = rollout.numpy_reference(np, cell, npz, np.load(xin), steps)
            err = float(np.abs(np.load(out)[:, :steps] - ref).max())
            print(f"| {cell} | {B} | {d} | {T} | {ta * 1e3:.2f} | {tb * 1e3:.2f} | {ta / tb:.2f}× | {err:.1e} |",
                  flush=True)


if __name__ == "__main__":
    main()
