#!/usr/bin/env python3
"""Training step: `pararnn fit` vs a jitted JAX value_and_grad + Adam step over lax.scan.

Same task and sizes on both sides: one recurrent layer (GRU, LSTM or ParaGRU) of d channels
plus a linear readout, next-step prediction with mean squared error on mini-batches of 8 windows
of 512 steps drawn from a 2-channel recording, Adam(W) updates. Each side runs pinned with
`taskset` to the first `threads` cores (pararnn also gets `--threads`, JAX its XLA intra-op
thread count). pararnn's figure is its history's training seconds over the step count (its
validation passes included: one at the end where every binary timed has `fit --validation-every`,
else one every steps / 10, so it is a slight overestimate); JAX's is the mean of `--steps`
jitted steps after compilation. `--repeats` takes pararnn's best of that many runs.

    python3 Benchmarks/peers/train.py --threads 1,2 --out /tmp/train.md
    python3 Benchmarks/peers/train.py --pararnn NEW --baseline OLD --repeats 3 --cells gru,lstm --hidden 64

`--pararnn` (or the environment's PARARNN_BIN) names the binary, by default the release build
here; `--baseline OLD` also times another binary on every row, alternating with the first, and
adds its figure and the two binaries' ratio.

Needs numpy and jax[cpu]; not part of `make test`.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

JAX_WORKER = r'''
import json, sys, time, numpy as np
import jax, jax.numpy as jnp
assert jax.default_backend() == "cpu", f"JAX must run on the CPU here, not {jax.default_backend()}"
cell, d, window, batch, steps, rec = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
x = np.load(rec).astype(np.float32)
x = (x - x.mean(0)) / x.std(0)
T, m = x.shape
G = {"gru": 3, "lstm": 4, "paragru": 3}[cell]
rng = np.random.default_rng(0)
p = {"wih": rng.normal(0, 1 / np.sqrt(m), (G * d, m)), "bih": np.zeros(G * d),
     "wout": rng.normal(0, 1 / np.sqrt(d), (m, d)), "bout": np.zeros(m)}
if cell == "paragru":
    p["a"] = rng.uniform(-0.5, 0.5, (3, d))
else:
    p["whh"] = rng.normal(0, 1 / np.sqrt(d), (G * d, d)); p["bhh"] = np.zeros(G * d)
p = {k: jnp.asarray(v, jnp.float32) for k, v in p.items()}

def step_fn(p):
    def gru(h, gi):
        gh = h @ p["whh"].T + p["bhh"]
        r = jax.nn.sigmoid(gi[:, :d] + gh[:, :d]); z = jax.nn.sigmoid(gi[:, d:2*d] + gh[:, d:2*d])
        n = jnp.tanh(gi[:, 2*d:] + r * gh[:, 2*d:])
        h = (1 - z) * n + z * h
        return h, h
    def lstm(s, gi):
        c, h = s
        g = gi + h @ p["whh"].T + p["bhh"]
        i, f, gg, o = jax.nn.sigmoid(g[:, :d]), jax.nn.sigmoid(g[:, d:2*d]), jnp.tanh(g[:, 2*d:3*d]), jax.nn.sigmoid(g[:, 3*d:])
        c = f * c + i * gg; h = o * jnp.tanh(c)
        return (c, h), h
    def paragru(h, gi):
        z = jax.nn.sigmoid(p["a"][0] * h + gi[:, :d]); r = jax.nn.sigmoid(p["a"][1] * h + gi[:, d:2*d])
        c = jnp.tanh(p["a"][2] * (h * r) + gi[:, 2*d:])
        h = z * c + (1 - z) * h
        return h, h
    return {"gru": gru, "lstm": lstm, "paragru": paragru}[cell]

def loss(p, xb, yb):
    gi = jnp.einsum("btm,gm->tbg", xb, p["wih"]) + p["bih"]
    h0 = jnp.zeros((xb.shape[0], d))
    init = (h0, h0) if cell == "lstm" else h0
    _, hs = jax.lax.scan(step_fn(p), init, gi)
    y = jnp.einsum("tbd,md->btm", hs, p["wout"]) + p["bout"]
    return jnp.mean((y - yb) ** 2)

@jax.jit
def train_step(p, mu, nu, k, xb, yb):
    l, g = jax.value_and_grad(loss)(p, xb, yb)
    mu = jax.tree.map(lambda a, b: 0.9 * a + 0.1 * b, mu, g)
    nu = jax.tree.map(lambda a, b: 0.999 * a + 0.001 * b * b, nu, g)
    p = jax.tree.map(lambda w, a, b: w - 1e-3 * (a / (1 - 0.9 ** k)) / (jnp.sqrt(b / (1 - 0.999 ** k)) + 1e-8), p, mu, nu)
    return p, mu, nu, l

mu = jax.tree.map(jnp.zeros_like, p); nu = jax.tree.map(jnp.zeros_like, p)
def batch_at(i):
    starts = np.random.default_rng(i).integers(0, T - window - 1, batch)
    xb = np.stack([x[s:s + window] for s in starts]); yb = np.stack([x[s + 1:s + window + 1] for s in starts])
    return jnp.asarray(xb), jnp.asarray(yb)
xb, yb = batch_at(0)
p, mu, nu, l = train_step(p, mu, nu, 1.0, xb, yb); l.block_until_ready()
batches = [batch_at(i) for i in range(steps)]
t0 = time.perf_counter()
for i in range(steps):
    p, mu, nu, l = train_step(p, mu, nu, float(i + 2), *batches[i])
l.block_until_ready()
print(json.dumps({"seconds": (time.perf_counter() - t0) / steps}))
'''


def pinned(threads):
    return ["taskset", "-c", f"0-{threads - 1}"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--cells", default="gru,lstm,paragru")
    ap.add_argument("--hidden", default="8,64")
    ap.add_argument("--out", default=None)
    ap.add_argument("--pararnn", default=None, help="the pararnn binary (default: $PARARNN_BIN, else the release build)")
    ap.add_argument("--baseline", default=None, help="a second pararnn binary timed on every row, alternating")
    ap.add_argument("--repeats", type=int, default=1, help="pararnn runs per row and binary (best of)")
    args = ap.parse_args()
    import numpy as np
    binary = args.pararnn or os.environ.get("PARARNN_BIN") or os.path.join(subprocess.run(
        ["swift", "build", "-c", "release", "-Xswiftc", "-target-cpu", "-Xswiftc", "haswell",
         "-Xswiftc", "-DPARARNN_FMA", "--show-bin-path"], cwd=ROOT, capture_output=True,
        text=True).stdout.strip(), "pararnn")
    binaries = [binary] + ([args.baseline] if args.baseline else [])
    # One validation pass at the end where every binary can be told so (the same work for each).
    quiet = all("--validation-every" in subprocess.run([b, "fit", "--help"], capture_output=True, text=True).stdout
                for b in binaries)
    rows = ["| cell | d | threads | pararnn ms / step | JAX ms / step | pararnn / JAX speed |",
            "|---|---:|---:|---:|---:|---:|"]
    if args.baseline:
        rows = ["| cell | d | threads | pararnn ms / step | baseline ms / step | JAX ms / step | pararnn / JAX speed "
                "| baseline / JAX speed | pararnn / baseline speed |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    print(rows[0]); print(rows[1])
    with tempfile.TemporaryDirectory() as work:
        rec = os.path.join(work, "rec.npy")
        t = np.arange(20_000)
        x = np.stack([np.sin(0.05 * t), np.cos(0.031 * t)], 1) + 0.1 * np.random.default_rng(0).normal(size=(20_000, 2))
        np.save(rec, x.astype(np.float32))
        for cell in args.cells.split(","):
            for d in (int(v) for v in args.hidden.split(",")):
                for threads in (int(v) for v in args.threads.split(",")):
                    hist = os.path.join(work, "h.json")
                    best = {b: float("inf") for b in binaries}
                    for _ in range(args.repeats):
                        for b in binaries:
                            extra = ["--validation-every", str(args.steps)] if quiet else []
                            subprocess.run(pinned(threads) + [b, "fit", "--input", rec, "--output",
                                           os.path.join(work, "m.safetensors"), "--cell", cell, "--hidden", str(d),
                                           "--steps", str(args.steps), "--window", "512", "--batch-size", "8",
                                           "--threads", str(threads), "--history", hist] + extra,
                                           check=True, capture_output=True,
                                           env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
                            with open(hist) as f:
                                best[b] = min(best[b], json.load(f)["seconds"] / args.steps)
                    tp = best[binary]
                    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                               f"intra_op_parallelism_threads={threads}")
                    res = subprocess.run(pinned(threads) + [sys.executable, "-c", JAX_WORKER, cell, str(d), "512", "8",
                                         str(args.steps), rec], check=True, env=env, capture_output=True, text=True)
                    tj = json.loads(res.stdout.strip().splitlines()[-1])["seconds"]
                    row = f"| {cell} | {d} | {threads} | {tp * 1e3:.2f} | {tj * 1e3:.2f} | {tj / tp:.2f}× |"
                    if args.baseline:
                        tb = best[args.baseline]
                        row = (f"| {cell} | {d} | {threads} | {tp * 1e3:.2f} | {tb * 1e3:.2f} | {tj * 1e3:.2f} "
                               f"| {tj / tp:.2f}× | {tj / tb:.2f}× | {tb / tp:.2f}× |")
                    print(row, flush=True)
                    rows.append(row)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
