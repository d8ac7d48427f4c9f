"""Helpers shared by the notebooks: locate the `pararnn` binary, run it, write small models.

The binary is taken from $PARARNN_BIN if set; otherwise from the release build folder that
`make release` uses (AVX2 flags when this CPU has them), building it once if it is missing.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

NOTEBOOKS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(NOTEBOOKS)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import safetensors_np  # noqa: E402  (the repo's numpy-only .safetensors writer)

FIGURES = os.path.join(NOTEBOOKS, "figures")
WORK = os.path.join(ROOT, "out", "notebooks")


def _release_flags():
    try:
        info = open("/proc/cpuinfo").read().split()
        if "avx2" in info and "fma" in info:
            return ["-c", "release", "-Xswiftc", "-target-cpu", "-Xswiftc", "haswell"]
    except OSError:
        pass
    return ["-c", "release"]


def binary():
    """Path of the pararnn executable (PARARNN_BIN, or the `make release` build; built if missing)."""
    env = os.environ.get("PARARNN_BIN")
    if env:
        return env
    flags = _release_flags()
    path = subprocess.run(["swift", "build", *flags, "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    exe = os.path.join(path, "pararnn")
    if not os.path.exists(exe):
        print("building the release binary (a few minutes) ...")
        subprocess.run(["make", "release"], cwd=ROOT, check=True)
    return exe


def pararnn(*args, check=True, quiet=True):
    """Runs `pararnn args...` from the repository root; returns (returncode, stdout, seconds)."""
    t0 = time.perf_counter()
    p = subprocess.run([binary(), *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if check and p.returncode not in (0,):
        raise RuntimeError(f"pararnn {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}")
    if not quiet:
        print(p.stdout)
    return p.returncode, p.stdout, dt


def workdir(name):
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    return d


def paragru_model(path, d=8, m=1, gain=1.0, input_scale=1.0, seed=0):
    """A ParaGRU (A [3,d], B [1,m,3,d], b [3,d]) with recurrent gains A ~ gain·U(-1, 1)."""
    rng = np.random.default_rng(seed)
    A = gain * rng.uniform(-1, 1, size=(3, d))
    B = input_scale * rng.normal(0, 1, size=(1, m, 3, d)) / np.sqrt(m)
    b = np.stack([rng.uniform(-2, 0, d), rng.uniform(-0.5, 0.5, d), rng.uniform(-0.2, 0.2, d)])
    safetensors_np.save(path, {"A": A.astype(np.float32), "B": B.astype(np.float32),
                               "b": b.astype(np.float32)}, {"cell": "paragru"})
    return path


def gru_model(path, d=8, m=1, gain=1.0, seed=0):
    """A dense GRU with PyTorch nn.GRU names; recurrent weights ~ N(0, gain²/d)."""
    rng = np.random.default_rng(seed)
    w = {"weight_ih_l0": rng.normal(0, 1, size=(3 * d, m)) / np.sqrt(m),
         "weight_hh_l0": gain * rng.normal(0, 1, size=(3 * d, d)) / np.sqrt(d),
         "bias_ih_l0": rng.uniform(-0.1, 0.1, 3 * d), "bias_hh_l0": rng.uniform(-0.1, 0.1, 3 * d)}
    safetensors_np.save(path, {k: v.astype(np.float32) for k, v in w.items()}, {"cell": "gru"})
    return path


def inputs(path, steps, m=1, batch=None, seed=1):
    rng = np.random.default_rng(seed)
    shape = (steps, m) if batch is None else (batch, steps, m)
    np.save(path, rng.normal(0, 1, size=shape).astype(np.float32))
    return path


def load_json(path):
    with open(path) as f:
        return json.load(f)
