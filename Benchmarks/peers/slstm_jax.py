#!/usr/bin/env python3
"""Dense sLSTM (FlashRNN heads: block-diagonal R) rolled out by JAX jit(lax.scan) on the
FlashRNN benchmark shapes: B = 16, T = 1024, total width 768 as (head size, heads) in
{(16, 48), (32, 24), (64, 12), (128, 6), (256, 3), (768, 1)}.

The cell, per head (xLSTM reference notes, ../shared/reference/xlstm.md), with the gate
pre-activations Wx + b given (as FlashRNN takes them) and R of shape [4, H, D, D]:

    raw = Wx_t + R y_{t-1}  ->  i~, f~, z~, o~
    m_t = max(i~, log sigmoid(f~) + m_{t-1});  i' = exp(i~ - m_t);  f' = exp(log sigmoid(f~) + m_{t-1} - m_t)
    c_t = f' c_{t-1} + i' tanh(z~);  n_t = f' n_{t-1} + i';  y_t = sigmoid(o~) c_t / n_t

(zero initial state, m_0 = 0, no max(n, 1)). Timing: the jitted scan after compilation,
best of --repeats, block_until_ready; every row checks the first --check steps against a
float64 NumPy loop. Pin threads with taskset / XLA_FLAGS as the other peer scripts do.

    python3 Benchmarks/peers/slstm_jax.py --out /tmp/slstm_jax.md
    python3 Benchmarks/peers/slstm_jax.py --batch 2 --steps 16 --shapes 16x48,768x1   # tiny check

Needs numpy and jax[cpu]; not part of `make test`. pararnn has no dense headed sLSTM yet (only
the diagonal ParaSLSTM), so this is the peer side of that comparison, to be run beside it.
"""
import argparse
import json
import time

import numpy as np

FLASHRNN_SHAPES = [(16, 48), (32, 24), (64, 12), (128, 6), (256, 3), (768, 1)]


def make_case(B, T, D, H, seed=0):
    rng = np.random.default_rng(seed + 1000 * D + H)
    wx = rng.normal(0, 1, (T, B, 4, H, D)).astype(np.float32)
    wx[:, :, 1] += 3.0                                          # forget gates mostly open
    R = (rng.normal(0, 1, (4, H, D, D)) / np.sqrt(D)).astype(np.float32)
    return wx, R


def numpy_reference(wx, R, steps):
    wx = wx[:steps].astype(np.float64)
    R = R.astype(np.float64)
    T, B, _, H, D = wx.shape
    c = np.zeros((B, H, D)); n = np.zeros((B, H, D)); m = np.zeros((B, H, D)); y = np.zeros((B, H, D))
    out = np.zeros((T, B, H, D))
    for t in range(T):
        raw = wx[t] + np.einsum("ghde,bhe->bghd", R, y)          # [B, 4, H, D]
        i, f, z, o = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3]
        logf = -np.logaddexp(0, -f)
        m_new = np.maximum(i, logf + m)
        ig, fg = np.exp(i - m_new), np.exp(logf + m - m_new)
        c = fg * c + ig * np.tanh(z)
        n = fg * n + ig
        m = m_new
        y = 1 / (1 + np.exp(-o)) * c / n
        out[t] = y
    return out


def jax_rollout():
    import jax
    import jax.numpy as jnp

    # Heads lead every array so the recurrent product is one batched matmul per step
    # (y [H, B, D] @ R_h [H, D, 4D]), which XLA lowers to BLAS-style kernels.
    def step(Rh, state, wxt):
        c, n, m, y = state
        H, B, D = y.shape
        raw = wxt + jnp.matmul(y, Rh).reshape(H, B, 4, D)
        i, f, z, o = raw[:, :, 0], raw[:, :, 1], raw[:, :, 2], raw[:, :, 3]
        logf = jax.nn.log_sigmoid(f)
        m_new = jnp.maximum(i, logf + m)
        ig, fg = jnp.exp(i - m_new), jnp.exp(logf + m - m_new)
        c = fg * c + ig * jnp.tanh(z)
        n = fg * n + ig
        y = jax.nn.sigmoid(o) * c / n
        return (c, n, m_new, y), y

    @jax.jit
    def run(wx, R):
        T, B, _, H, D = wx.shape
        Rh = jnp.transpose(R, (1, 3, 0, 2)).reshape(H, D, 4 * D)      # [H, e, (g, d)]
        wxh = jnp.transpose(wx, (0, 3, 1, 2, 4))                      # [T, H, B, 4, D]
        zero = jnp.zeros((H, B, D), wx.dtype)
        _, ys = jax.lax.scan(lambda s, w: step(Rh, s, w), (zero, zero, zero, zero), wxh)
        return jnp.transpose(ys, (0, 2, 1, 3))                        # [T, B, H, D]

    return run


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=1024)
    p.add_argument("--shapes", default=",".join(f"{d}x{h}" for d, h in FLASHRNN_SHAPES),
                   help="head size x heads, comma-separated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--check", type=int, default=64, help="steps checked against the float64 NumPy loop")
    p.add_argument("--out", help="write the Markdown table here")
    p.add_argument("--json", help="write the rows as JSON here")
    a = p.parse_args()
    import jax.numpy as jnp
    run = jax_rollout()
    rows = []
    for spec in a.shapes.split(","):
        D, H = (int(v) for v in spec.lower().split("x"))
        wx, R = make_case(a.batch, a.steps, D, H)
        jwx, jR = jnp.asarray(wx), jnp.asarray(R)
        t0 = time.perf_counter(); y = run(jwx, jR).block_until_ready(); compile_s = time.perf_counter() - t0
        best = float("inf")
        for _ in range(a.repeats):
            t0 = time.perf_counter(); y = run(jwx, jR).block_until_ready(); best = min(best, time.perf_counter() - t0)
        steps = min(a.check, a.steps)
        ref = numpy_reference(wx, R, steps)
        err = float(np.max(np.abs(np.asarray(y)[:steps].astype(np.float64) - ref)))
        rows.append({"head": D, "heads": H, "B": a.batch, "T": a.steps, "seconds": best,
                     "compile": compile_s, "max_abs_error_vs_numpy": err})
        print(json.dumps(rows[-1]), flush=True)
    table = ["| head size × heads | B | T | JAX lax.scan (ms) | compile (s) | max abs err vs NumPy f64 |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        table.append(f"| {r['head']}×{r['heads']} | {r['B']} | {r['T']} | {r['seconds'] * 1e3:.2f} | "
                     f"{r['compile']:.2f} | {r['max_abs_error_vs_numpy']:.1e} |")
    text = "\n".join(table)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
