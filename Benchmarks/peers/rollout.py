#!/usr/bin/env python3
"""Forward rollout of PyTorch-layout GRU / LSTM: pararnn's sequential solve vs JAX jit(lax.scan).

Same weights (PyTorch nn.GRU / nn.LSTM state-dict names, float32), same inputs [B, T, m], same
CPU set: each implementation runs in its own process pinned with `taskset` to the first
`threads` cores (pararnn also gets `--threads`, JAX the XLA intra-op thread count). Timings are
compute only, best of `--repeats` (pararnn: the report's solveSeconds; JAX: the jitted call
after compilation, with block_until_ready). Every row is an agreement check: max |Δ| between
the two outputs, and of each against a float64 NumPy rollout of the first 2,000 steps.

    python3 Benchmarks/peers/rollout.py --threads 1,2 --out /tmp/rollout.md
    PARARNN_BIN=path/to/pararnn python3 Benchmarks/peers/rollout.py --shapes quick

Needs numpy and jax[cpu] (`pip install "jax[cpu]"`); not part of `make test`.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

# (cell, B, d, T): the grid {GRU, LSTM} x {B 1, 16} x {d 4, 64, 256}.
FULL = [(c, b, d, t) for c in ("gru", "lstm") for b in (1, 16)
        for d, t in ((4, 100_000), (64, 20_000), (256, 4_000))]
QUICK = [("gru", 1, 64, 20_000), ("lstm", 1, 64, 20_000), ("lstm", 16, 64, 10_000)]

JAX_WORKER = r'''
import json, sys, time, numpy as np
import jax, jax.numpy as jnp
assert jax.default_backend() == "cpu", f"JAX must run on the CPU here, not {jax.default_backend()}"
cell, model, inp, out, repeats = sys.argv[1:6]
W = dict(np.load(model))
x = jnp.asarray(np.load(inp))                       # [B, T, m]
wih, whh, bih, bhh = (jnp.asarray(W[k]) for k in ("wih", "whh", "bih", "bhh"))
d = whh.shape[1]

def gru_step(h, gi):
    gh = h @ whh.T + bhh
    r = jax.nn.sigmoid(gi[..., :d] + gh[..., :d])
    z = jax.nn.sigmoid(gi[..., d:2*d] + gh[..., d:2*d])
    n = jnp.tanh(gi[..., 2*d:] + r * gh[..., 2*d:])
    h = (1 - z) * n + z * h
    return h, h

def lstm_step(s, gi):
    c, h = s
    g = gi + h @ whh.T + bhh
    i, f = jax.nn.sigmoid(g[..., :d]), jax.nn.sigmoid(g[..., d:2*d])
    gg, o = jnp.tanh(g[..., 2*d:3*d]), jax.nn.sigmoid(g[..., 3*d:])
    c = f * c + i * gg
    h = o * jnp.tanh(c)
    return (c, h), h

@jax.jit
def run(x):
    gi = jnp.einsum("btm,gm->tbg", x, wih) + bih        # input projections: one GEMM
    B = x.shape[0]
    h0 = jnp.zeros((B, d), x.dtype)
    if cell == "gru":
        _, hs = jax.lax.scan(gru_step, h0, gi)
    else:
        _, hs = jax.lax.scan(lstm_step, (h0, h0), gi)
    return jnp.transpose(hs, (1, 0, 2))                # [B, T, d]

t0 = time.perf_counter(); y = run(x).block_until_ready(); compile_s = time.perf_counter() - t0
best = float("inf")
for _ in range(int(repeats)):
    t0 = time.perf_counter(); y = run(x).block_until_ready(); best = min(best, time.perf_counter() - t0)
np.save(out, np.asarray(y))
print(json.dumps({"seconds": best, "compile": compile_s}))
'''


def pinned(threads):
    return ["taskset", "-c", f"0-{threads - 1}"] if threads > 0 else []


def make_case(np, work, cell, B, d, T, m=4):
    import safetensors_np
    G = 3 if cell == "gru" else 4
    rng = np.random.default_rng(1000 * d + 10 * G + m)
    W = {"weight_ih_l0": rng.normal(0, 1, (G * d, m)) / np.sqrt(m),
         "weight_hh_l0": 0.9 * rng.normal(0, 1, (G * d, d)) / np.sqrt(d),
         "bias_ih_l0": rng.uniform(-0.1, 0.1, G * d), "bias_hh_l0": rng.uniform(-0.1, 0.1, G * d)}
    W = {k: v.astype(np.float32) for k, v in W.items()}
    model = os.path.join(work, f"{cell}-d{d}.safetensors")
    safetensors_np.save(model, W, {"cell": cell})
    npz = os.path.join(work, f"{cell}-d{d}.npz")
    np.savez(npz, wih=W["weight_ih_l0"], whh=W["weight_hh_l0"], bih=W["bias_ih_l0"], bhh=W["bias_hh_l0"])
    x = np.random.default_rng(T + B).normal(0, 1, (B, T, m)).astype(np.float32)
    xin = os.path.join(work, f"x-B{B}-T{T}.npy")
    np.save(xin, x)
    return model, npz, xin


def numpy_reference(np, cell, npz, x, steps):
    """Float64 rollout of the first `steps` steps (the independent reference both are checked against)."""
    W = np.load(npz)
    wih, whh, bih, bhh = (W[k].astype(np.float64) for k in ("wih", "whh", "bih", "bhh"))
    d = whh.shape[1]
    x = x[:, :steps].astype(np.float64)
    B = x.shape[0]
    gi = np.einsum("btm,gm->btg", x, wih) + bih
    sig = lambda v: 1 / (1 + np.exp(-v))
    h, c = np.zeros((B, d)), np.zeros((B, d))
    out = np.zeros((B, steps, d))
    for t in range(steps):
        gh = h @ whh.T + bhh
        if cell == "gru":
            r, z = sig(gi[:, t, :d] + gh[:, :d]), sig(gi[:, t, d:2*d] + gh[:, d:2*d])
            n = np.tanh(gi[:, t, 2*d:] + r * gh[:, 2*d:])
            h = (1 - z) * n + z * h
        else:
            g = gi[:, t] + gh
            c = sig(g[:, d:2*d]) * c + sig(g[:, :d]) * np.tanh(g[:, 2*d:3*d])
            h = sig(g[:, 3*d:]) * np.tanh(c)
        out[:, t] = h
    return out


def run_pararnn(binary, model, xin, out, threads, repeats):
    best = float("inf")
    for _ in range(repeats):
        report = out + ".json"
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        subprocess.run(pinned(threads) + [binary, "solve", "--model", model, "--input", xin,
                       "--output", out, "--report", report, "--method", "sequential",
                       "--threads", str(threads)],
                       check=True, env=env, capture_output=True)
        with open(report) as f:
            best = min(best, json.load(f)["solveSeconds"])
    return best


def run_jax(cell, npz, xin, out, threads, repeats):
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
               f"intra_op_parallelism_threads={threads}", OMP_NUM_THREADS=str(threads))
    res = subprocess.run(pinned(threads) + [sys.executable, "-c", JAX_WORKER, cell, npz, xin, out,
                         str(repeats)], check=True, env=env, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])["seconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--shapes", choices=["quick", "full"], default="full")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help="write the Markdown table here too")
    args = ap.parse_args()
    import numpy as np
    binary = os.environ.get("PARARNN_BIN") or os.path.join(subprocess.run(
        ["swift", "build", "-c", "release", "-Xswiftc", "-target-cpu", "-Xswiftc", "haswell",
         "-Xswiftc", "-DPARARNN_FMA", "--show-bin-path"], cwd=ROOT, capture_output=True,
        text=True).stdout.strip(), "pararnn")
    rows = ["| cell | B | d | T | threads | pararnn ms | JAX ms | pararnn / JAX speed | µs per step (pararnn) | max \\|Δ\\| pararnn − JAX | pararnn − f64 | JAX − f64 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    print(rows[0]); print(rows[1])
    with tempfile.TemporaryDirectory() as work:
        for cell, B, d, T in (FULL if args.shapes == "full" else QUICK):
            model, npz, xin = make_case(np, work, cell, B, d, T)
            reference = None
            for threads in (int(t) for t in args.threads.split(",")):
                po, jo = os.path.join(work, "p.npy"), os.path.join(work, "j.npy")
                tp = run_pararnn(binary, model, xin, po, threads, args.repeats)
                tj = run_jax(cell, npz, xin, jo, threads, args.repeats)
                yp, yj = np.load(po), np.load(jo)
                yp = yp.reshape(yj.shape)
                diff = float(np.max(np.abs(yp - yj)))
                if reference is None:
                    reference = numpy_reference(np, cell, npz, np.load(xin), min(T, 2000))
                n = reference.shape[1]
                dp = float(np.max(np.abs(yp[:, :n] - reference)))
                dj = float(np.max(np.abs(yj[:, :n] - reference)))
                row = (f"| {cell} | {B} | {d} | {T} | {threads} | {tp * 1e3:.2f} | {tj * 1e3:.2f} | "
                       f"{tj / tp:.2f}× | {tp / T * 1e6:.3f} | {diff:.1e} | {dp:.1e} | {dj:.1e} |")
                print(row, flush=True)
                rows.append(row)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
