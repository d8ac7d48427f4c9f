#!/usr/bin/env python3
"""Peer comparison: pararnn vs PyTorch, JAX and NumPy on identical weights and inputs.

A dense GRU (PyTorch nn.GRU state-dict names, float32) is written as .safetensors and random
inputs as .npy; every implementation evaluates the same sequence and its output is compared with
the NumPy sequential loop (max |difference|). Implementations:

  numpy-seq      NumPy sequential loop (always available; the reference output)
  torch-gru      PyTorch CPU nn.GRU (sequential, MKL/oneDNN kernels)       if torch installs
  jax-scan       JAX lax.scan sequential loop (jit)                          if jax installs
  jax-deer       JAX DEER-style Newton: dense Jacobians by jacfwd, each Newton step one
                 jax.lax.associative_scan over affine maps (jit), initial guess f(0, x_t),
                 stopped at max_t |h_t - f(h_{t-1}, x_t)| <= 1e-5 (as pararnn's float tolerance)
  pararnn-seq    pararnn solve --method sequential
  pararnn-newton pararnn solve --method newton (dense DEER Newton), same thread count

All run with the same number of threads (--threads; OMP/MKL/OpenBLAS_NUM_THREADS, XLA_FLAGS,
torch.set_num_threads, pararnn --threads). Times are the best of --repeats runs of the compute
only (no file I/O; jit compilation excluded and reported separately; pararnn's time is the
report's solveSeconds). Dense Newton stores B·T·d² Jacobian entries: when that exceeds
--memory-gb the sequence is solved in segments (pararnn --segment-length; the JAX version does the
same, each segment from the exact end state of the previous one) and the table says so.

By default the script creates a virtual environment (out/peers-venv), installs numpy, jax[cpu]
and torch into it (each with a timeout; a failed install only drops that column) and re-runs
itself there. --no-venv uses the current interpreter as is.

Usage: python3 Benchmarks/peers/compare.py [--full] [--threads N] [--out results.md]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="also T = 10^6")
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs (1 at T >= 10^5 for loops)")
    p.add_argument("--batches", default="1,16")
    p.add_argument("--hidden", default="4,64")
    p.add_argument("--steps", default=None, help="comma list of T (default 10000,100000[,1000000])")
    p.add_argument("--inputs", type=int, default=4, help="input features m")
    p.add_argument("--memory-gb", type=float, default=3.0, help="Jacobian memory before segmenting")
    p.add_argument("--max-newton-work", type=float, default=5e10,
                   help="skip the dense Newton solvers (jax-deer, pararnn-newton) above this B·T·d³ "
                        "(5e10 is ~15 s per run on 2 cores; --full raises it to 1e13)")
    p.add_argument("--out", default=os.path.join(HERE, "results.md"))
    p.add_argument("--work", default=os.path.join(ROOT, "out", "peers"))
    p.add_argument("--venv", default=os.path.join(ROOT, "out", "peers-venv"))
    p.add_argument("--no-venv", action="store_true", help="use this interpreter and whatever it has")
    p.add_argument("--skip", default="", help="comma list of implementations to skip")
    p.add_argument("--install-timeout", type=int, default=600)
    return p.parse_args()


# ---------------------------------------------------------------- environment

def bootstrap(args):
    """Creates the venv, installs the peers (best effort) and re-executes inside it."""
    if args.no_venv or os.environ.get("PARARNN_PEERS_IN_VENV") == "1":
        return
    py = os.path.join(args.venv, "bin", "python")
    if not os.path.exists(py):
        print(f"creating {args.venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", args.venv], check=True)
    log = []

    def pip(*pkgs, extra=()):
        t0 = time.time()
        try:
            r = subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                *pkgs, *extra], timeout=args.install_timeout,
                               capture_output=True, text=True)
            ok = r.returncode == 0
            msg = "ok" if ok else r.stderr.strip().splitlines()[-1][:200]
        except subprocess.TimeoutExpired:
            ok, msg = False, f"timed out after {args.install_timeout} s"
        log.append(f"pip install {' '.join(pkgs)} {' '.join(extra)}: {msg} ({time.time() - t0:.0f} s)")
        print(log[-1], flush=True)
        return ok

    def has(mod):
        return subprocess.run([py, "-c", f"import {mod}"], capture_output=True).returncode == 0

    if not has("numpy"):
        pip("numpy")
    if "jax" not in args.skip and not has("jax"):
        pip("jax[cpu]")
    if "torch" not in args.skip and not has("torch"):
        # The CPU-only wheel index first (small); PyPI's default wheel pulls the CUDA packages.
        pip("torch", extra=("--index-url", "https://download.pytorch.org/whl/cpu")) or pip("torch")
    env = dict(os.environ, PARARNN_PEERS_IN_VENV="1", PARARNN_PEERS_INSTALL_LOG="\n".join(log))
    os.execve(py, [py, os.path.abspath(__file__), *sys.argv[1:]], env)


def set_threads(n):
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PARARNN_THREADS"):
        os.environ[k] = str(n)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen={'true' if n > 1 else 'false'}"
                               f" intra_op_parallelism_threads={n}").strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def pararnn_bin():
    if os.environ.get("PARARNN_BIN"):
        return os.environ["PARARNN_BIN"]
    flags = ["-c", "release"]
    info = open("/proc/cpuinfo").read().split() if os.path.exists("/proc/cpuinfo") else []
    if "avx2" in info and "fma" in info:
        flags += ["-Xswiftc", "-target-cpu", "-Xswiftc", "haswell"]
    path = subprocess.run(["swift", "build", *flags, "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    exe = os.path.join(path, "pararnn")
    if not os.path.exists(exe):
        subprocess.run(["make", "release"], cwd=ROOT, check=True)
    return exe


# ---------------------------------------------------------------- model and data

def make_case(np, work, B, d, T, m):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import safetensors_np
    rng = np.random.default_rng(1000 * d + m)
    W = {"weight_ih_l0": rng.normal(0, 1, (3 * d, m)) / np.sqrt(m),
         "weight_hh_l0": 0.9 * rng.normal(0, 1, (3 * d, d)) / np.sqrt(d),
         "bias_ih_l0": rng.uniform(-0.1, 0.1, 3 * d), "bias_hh_l0": rng.uniform(-0.1, 0.1, 3 * d)}
    W = {k: v.astype(np.float32) for k, v in W.items()}
    model = os.path.join(work, f"gru-d{d}-m{m}.safetensors")
    safetensors_np.save(model, W, {"cell": "gru"})
    x = np.random.default_rng(T + B).normal(0, 1, (B, T, m)).astype(np.float32)
    xin = os.path.join(work, f"x-B{B}-T{T}-m{m}.npy")
    np.save(xin, x)
    return W, x, model, xin


def best_of(fn, repeats):
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# ---------------------------------------------------------------- implementations

def numpy_seq(np, W, x):
    Wih, Whh, bih, bhh = W["weight_ih_l0"], W["weight_hh_l0"], W["bias_ih_l0"], W["bias_hh_l0"]
    B, T, _ = x.shape
    d = Whh.shape[1]
    gi = np.einsum("btm,gm->btg", x, Wih) + bih          # all input projections at once
    WhhT = np.ascontiguousarray(Whh.T)
    h = np.zeros((B, d), np.float32)
    out = np.empty((B, T, d), np.float32)
    for t in range(T):
        gh = h @ WhhT + bhh
        g = gi[:, t]
        r = 1 / (1 + np.exp(-(g[:, :d] + gh[:, :d])))
        z = 1 / (1 + np.exp(-(g[:, d:2 * d] + gh[:, d:2 * d])))
        n = np.tanh(g[:, 2 * d:] + r * gh[:, 2 * d:])
        h = (1 - z) * n + z * h
        out[:, t] = h
    return out


def torch_runner(threads):
    import torch
    torch.set_num_threads(threads)

    def run(W, x):
        B, T, m = x.shape
        d = W["weight_hh_l0"].shape[1]
        gru = torch.nn.GRU(m, d, batch_first=True)
        gru.load_state_dict({k: torch.from_numpy(v) for k, v in W.items()})
        xt = torch.from_numpy(x)

        def go():
            with torch.no_grad():
                return gru(xt)[0].numpy()
        return go
    return run, f"torch {torch.__version__}"


def jax_runners():
    import jax
    import jax.numpy as jnp
    from jax import lax

    def cell(W, h, x):
        Wih, Whh, bih, bhh = W
        d = Whh.shape[1]
        gi = Wih @ x + bih
        gh = Whh @ h + bhh
        r = jax.nn.sigmoid(gi[:d] + gh[:d])
        z = jax.nn.sigmoid(gi[d:2 * d] + gh[d:2 * d])
        n = jnp.tanh(gi[2 * d:] + r * gh[2 * d:])
        return (1 - z) * n + z * h

    @jax.jit
    def scan_seq(W, x, h0):  # x [B, T, m]
        def one(h0b, xb):
            return lax.scan(lambda h, xt: (cell(W, h, xt),) * 2, h0b, xb)[1]
        return jax.vmap(one)(h0, x)

    f_bt = jax.vmap(jax.vmap(cell, (None, 0, 0)), (None, 0, 0))          # over B, T
    jac_bt = jax.vmap(jax.vmap(jax.jacfwd(cell, argnums=1), (None, 0, 0)), (None, 0, 0))

    def compose(e1, e2):  # e = (A, b): h -> A h + b; apply e1 then e2
        A1, b1 = e1
        A2, b2 = e2
        return A2 @ A1, jnp.einsum("...ij,...j->...i", A2, b1) + b2

    @jax.jit
    def deer(W, x, h0, tol=1e-5, max_iter=100):
        B, T, _ = x.shape
        d = W[1].shape[1]

        def shifted(h):  # h_{t-1} with h_0 = h0
            return jnp.concatenate([h0[:, None], h[:, :-1]], axis=1)

        def residual(h):
            f = f_bt(W, shifted(h), x)
            return jnp.max(jnp.abs(h - f) / jnp.maximum(1.0, jnp.abs(f))), f

        def body(state):
            h, _, k = state
            hp = shifted(h)
            f = f_bt(W, hp, x)
            J = jac_bt(W, hp, x)                                   # [B, T, d, d]
            b = f - jnp.einsum("btij,btj->bti", J, hp)
            # fold h0 into the first step: h_1 = J_1 h0 + b_1
            b = b.at[:, 0].add(jnp.einsum("bij,bj->bi", J[:, 0], h0))
            J = J.at[:, 0].set(0.0)
            _, hn = lax.associative_scan(compose, (J, b), axis=1)
            return hn, residual(hn)[0], k + 1

        h_init = f_bt(W, jnp.zeros((B, T, d), x.dtype), x)        # one step from zero
        state = (h_init, residual(h_init)[0], 0)
        h, res, k = lax.while_loop(lambda s: (s[1] > tol) & (s[2] < max_iter), body, state)
        return h, res, k

    def prepare(Wnp, xnp):
        W = tuple(jnp.asarray(Wnp[k]) for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
        return W, jnp.asarray(xnp)

    def run_scan(Wnp, xnp):
        W, xj = prepare(Wnp, xnp)
        h0 = jnp.zeros((xj.shape[0], W[1].shape[1]), jnp.float32)
        return lambda: np_asarray(scan_seq(W, xj, h0).block_until_ready())

    def run_deer(Wnp, xnp, segment):
        W, xj = prepare(Wnp, xnp)
        B, T, _ = xj.shape
        d = W[1].shape[1]
        info = {}

        def go():
            h0 = jnp.zeros((B, d), jnp.float32)
            outs, its, worst = [], [], 0.0
            for s in range(0, T, segment):
                h, res, k = deer(W, xj[:, s:s + segment], h0)
                h.block_until_ready()
                outs.append(h)
                its.append(int(k))
                worst = max(worst, float(res))
                h0 = h[:, -1]
            info.update(iterations=sum(its), residual=worst, segments=len(its))  # summed, as pararnn reports
            return np_asarray(jnp.concatenate(outs, axis=1))
        return go, info

    return run_scan, run_deer, f"jax {jax.__version__}"


def np_asarray(a):
    import numpy
    return numpy.asarray(a)


def pararnn_run(exe, model, xin, method, threads, work, segment=None):
    rep = os.path.join(work, f"report-{method}.json")
    out = os.path.join(work, f"h-{method}.npy")
    cmd = [exe, "solve", "--model", model, "--input", xin, "--output", out, "--report", rep,
           "--method", method, "--threads", str(threads)]
    if segment:
        cmd += ["--segment-length", str(segment)]

    def go():
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}")
        return rep, out
    return go


# ---------------------------------------------------------------- main

def main():
    args = parse()
    if args.full and args.max_newton_work == 5e10:
        args.max_newton_work = 1e13
    bootstrap(args)
    set_threads(args.threads)
    import numpy as np
    os.makedirs(args.work, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    exe = pararnn_bin()
    versions = [f"numpy {np.__version__}", f"python {sys.version.split()[0]}"]
    torch_run = jax_scan = jax_deer = None
    if "torch" not in skip:
        try:
            torch_run, v = torch_runner(args.threads)
            versions.append(v)
        except Exception as e:  # noqa: BLE001
            print(f"torch unavailable: {e}", flush=True)
    if "jax" not in skip:
        try:
            jax_scan, jax_deer, v = jax_runners()
            versions.append(v)
        except Exception as e:  # noqa: BLE001
            print(f"jax unavailable: {e}", flush=True)

    Ts = [int(t) for t in args.steps.split(",")] if args.steps else [10_000, 100_000] + ([1_000_000] if args.full else [])
    rows = []
    for T in Ts:
        for B in [int(b) for b in args.batches.split(",")]:
            for d in [int(v) for v in args.hidden.split(",")]:
                W, x, model, xin = make_case(np, args.work, B, d, T, args.inputs)
                jac_gb = B * T * d * d * 4 * 3 / 1e9            # J, scan temporaries
                segment = None
                if jac_gb > args.memory_gb:
                    segment = max(1000, int(T * args.memory_gb / jac_gb))
                reps_loop = args.repeats if T * B < 200_000 else 1
                work = B * T * d ** 3
                reps_newton = args.repeats if work < 1e10 else 1
                too_big = work > args.max_newton_work
                big_note = f"skipped: dense Newton work B·T·d³ = {work:.1e} > --max-newton-work {args.max_newton_work:.0e}"
                print(f"\n== B={B} d={d} T={T} threads={args.threads}"
                      + (f" (dense Jacobians {jac_gb:.1f} GB: segments of {segment})" if segment else ""), flush=True)
                shape = dict(B=B, d=d, T=T)

                def fail(name, note):
                    rows.append(dict(shape, impl=name, seconds=None, diff=None, note=note[:160]))
                    print(f"  {name:15s} {note[:160]}", flush=True)

                def record(name, seconds, out, note="", compile_s=None):
                    diff = float(np.max(np.abs(out.astype(np.float64) - ref))) if out is not None else None
                    rows.append(dict(shape, impl=name, seconds=seconds, diff=diff, note=note, compile=compile_s))
                    print(f"  {name:15s} {seconds * 1e3:10.1f} ms  max|Δ| {diff if diff is not None else float('nan'):.2e}  {note}", flush=True)

                if "numpy" not in skip or True:
                    secs, ref = best_of(lambda: numpy_seq(np, W, x), reps_loop)
                    ref = ref.astype(np.float64)
                    record("numpy-seq", secs, ref.astype(np.float32))
                if torch_run:
                    try:
                        fn = torch_run(W, x)
                        secs, out = best_of(fn, reps_loop)
                        record("torch-gru", secs, out)
                    except Exception as e:  # noqa: BLE001
                        fail("torch-gru", f"failed: {e}"[:120])
                if jax_scan and "jax-scan" not in skip:
                    try:
                        fn = jax_scan(W, x)
                        t0 = time.perf_counter(); fn(); first = time.perf_counter() - t0
                        secs, out = best_of(fn, args.repeats)
                        record("jax-scan", secs, out, compile_s=first - secs)
                    except Exception as e:  # noqa: BLE001
                        fail("jax-scan", f"failed: {e}"[:120])
                if jax_deer and "jax-deer" not in skip and too_big:
                    fail("jax-deer", big_note)
                elif jax_deer and "jax-deer" not in skip:
                    try:
                        fn, info = jax_deer(W, x, segment or T)
                        t0 = time.perf_counter(); fn(); first = time.perf_counter() - t0
                        secs, out = best_of(fn, reps_newton)
                        note = f"{info['iterations']} it, res {info['residual']:.1e}"
                        if info["segments"] > 1:
                            note += f", {info['segments']} segments"
                        record("jax-deer", secs, out, note, compile_s=first - secs)
                    except Exception as e:  # noqa: BLE001
                        fail("jax-deer", f"failed: {str(e).splitlines()[0]}"[:120])
                for method in ("sequential", "newton"):
                    name = f"pararnn-{'seq' if method == 'sequential' else 'newton'}"
                    if name in skip:
                        continue
                    seg = segment if method == "newton" else None
                    if method == "newton" and too_big:
                        fail(name, big_note)
                        continue
                    try:
                        go = pararnn_run(exe, model, xin, method, args.threads, args.work, seg)
                        best, out, note = float("inf"), None, ""
                        for _ in range(reps_newton if method == "newton" else args.repeats):
                            rep, outp = go()
                            r = json.load(open(rep))
                            best = min(best, r["solveSeconds"])
                        out = np.load(outp)
                        if method == "newton":
                            note = f"{r['iterations']} it, res {r['finalResidual']:.1e}"
                            if seg:
                                note += f", segments of {seg}"
                        record(name, best, out, note)
                    except Exception as e:  # noqa: BLE001
                        fail(name, f"failed: {e}"[:120])
    write_table(args, rows, versions)


def write_table(args, rows, versions):
    lines = [
        "# Peer comparison: dense GRU (nn.GRU weights), float32",
        "",
        f"Generated by `Benchmarks/peers/compare.py` ({time.strftime('%Y-%m-%d')}); "
        f"{args.threads} thread(s) for every implementation; m = {args.inputs} inputs; "
        f"best of {args.repeats} (loops at B·T ≥ 2·10^5: one run). Machine: {os.cpu_count()} cores "
        "(shared; expect noise). " + ", ".join(versions) + ".",
        "",
        "Time is compute only (no file I/O; JAX jit compilation excluded — shown separately; pararnn: "
        "the report's solveSeconds). max|Δ| is against the NumPy sequential loop (float32). "
        "Speedup is NumPy-seq time / this time.",
        "",
        "| B | d | T | implementation | time (ms) | speedup vs numpy-seq | max abs diff | notes |",
        "|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    base = {(r["B"], r["d"], r["T"]): r["seconds"] for r in rows if r["impl"] == "numpy-seq"}
    for r in rows:
        s = r["seconds"]
        b = base.get((r["B"], r["d"], r["T"]))
        note = r.get("note", "")
        if r.get("compile") is not None:
            note = (note + "; " if note else "") + f"jit {r['compile']:.1f} s"
        lines.append(
            f"| {r['B']} | {r['d']} | {r['T']} | {r['impl']} | "
            + (f"{s * 1e3:.1f}" if s is not None else "—") + " | "
            + (f"{b / s:.2f}×" if s and b else "—") + " | "
            + (f"{r['diff']:.1e}" if r["diff"] is not None else "—") + f" | {note} |")
    log = os.environ.get("PARARNN_PEERS_INSTALL_LOG")
    if log:
        lines += ["", "Install log:", "", *[f"- {l}" for l in log.splitlines()]]
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print("\n" + text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
