#!/usr/bin/env python3
"""Builds data/default/paragru.safetensors: a small ParaGRU (m = 1, d = 8, H = 1), numpy only.

This is an *initialisation*, not a trained model (a later `pararnn fit` will replace it). It is
chosen to be well-conditioned and to do something visible on the 16 kHz speech recording:
- recurrent gains A [3, d] (rows z, r, h) uniform in [-0.9, 0.9], so |A| <= 1;
- input projection B [H=1, m/H=1, 3, d/H=8] ~ N(0, 4^2) (the recording's rms is ~0.07);
- biases b [3, d]: update gate z biased negative (b_z in [-3, -1]: slow, leaky channels with
  time constants of a few to ~20 samples), r and h biases small.
Equations: /work/shared/reference/cells.md ("ParaGRU"). Seeded: the file is reproducible.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    m, d, heads = 1, 8, 1
    rng = np.random.default_rng(20240601)
    A = rng.uniform(-0.9, 0.9, size=(3, d))
    B = rng.normal(0.0, 4.0, size=(heads, m // heads, 3, d // heads))
    b = np.stack([rng.uniform(-3.0, -1.0, d), rng.uniform(-0.5, 0.5, d), rng.uniform(-0.2, 0.2, d)])
    out = os.path.join(ROOT, "data", "default", "paragru.safetensors")
    safetensors_np.save(out, {"A": A.astype(np.float32), "B": B.astype(np.float32),
                              "b": b.astype(np.float32)},
                        {"cell": "paragru", "heads": str(heads)})
    print(f"{out}: ParaGRU m={m} d={d} H={heads}, max|A| = {np.abs(A).max():.3f}")


if __name__ == "__main__":
    main()
