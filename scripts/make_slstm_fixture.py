#!/usr/bin/env python3
"""ParaSLSTM (diagonal sLSTM) model-file fixture for ModelIO (numpy only).

Writes into Tests/ModelIOTests/Fixtures/:
- paraslstm2.safetensors   — a 2-layer "paraslstm" stack, float64, ParaRNN tensor names
  `layers.{l}.A` [4, d] (diagonal recurrent gains, rows i, f, z, o), `layers.{l}.B`
  [H, m/H, 4, d/H] (head-block input projection), `layers.{l}.b` [4, d]; layer 0: m = 3 → d = 4
  (H = 1), layer 1: 4 → 4 (H = 2);
- slstm_input.npy          — x, float64 [B=2, T=9, m=3] (batch first);
- paraslstm2_expected.npy  — the last layer's h, float64 [2, 9, 4].

The expected output implements the equations (../shared/reference/xlstm.md, diagonal R), float64,
zero initial state (c = n = h = 0, m = 0), layer l+1 fed with layer l's h:
  u = B-projection of x + b;  ĩ, f̃, z̃, õ = A ⊙ h + u (rows i, f, z, o)
  m' = max(ĩ, log σ(f̃) + m);  i' = exp(ĩ − m');  f' = exp(log σ(f̃) + m − m')
  c' = f' c + i' tanh(z̃);  n' = f' n + i';  h' = σ(õ) c' / n'
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ModelIOTests", "Fixtures")


def layer(rng, m, d, heads):
    A = rng.uniform(-0.5, 0.5, (4, d))
    B = rng.uniform(-1, 1, (heads, m // heads, 4, d // heads))
    b = rng.uniform(-0.5, 0.5, (4, d))
    b[1] += 2.0                                   # forget gates mostly open
    return A, B, b


def project(x, B):
    """u[b, t, g, j] = Σ_i x[b, t, k·(m/H) + i] B[k, i, g, j'] with j = k·(d/H) + j'."""
    H, mh, G, dh = B.shape
    Bt, T, _ = x.shape
    xs = x.reshape(Bt, T, H, mh)
    u = np.einsum("btki,kigj->btgkj", xs, B)
    return u.reshape(Bt, T, G, H * dh)


def run(x, A, B, b):
    u = project(x, B) + b                         # [B, T, 4, d]
    Bt, T, _, d = u.shape
    c, n, m, h = (np.zeros((Bt, d)) for _ in range(4))
    out = np.zeros((Bt, T, d))
    for t in range(T):
        pre = A[None] * h[:, None, :] + u[:, t]   # [B, 4, d]
        i, f, z, o = pre[:, 0], pre[:, 1], pre[:, 2], pre[:, 3]
        logf = -np.logaddexp(0, -f)
        m_new = np.maximum(i, logf + m)
        ig, fg = np.exp(i - m_new), np.exp(logf + m - m_new)
        c = fg * c + ig * np.tanh(z)
        n = fg * n + ig
        m = m_new
        h = 1 / (1 + np.exp(-o)) * c / n
        out[:, t] = h
    return out


def main():
    rng = np.random.default_rng(18)
    x = rng.normal(0, 1, (2, 9, 3))
    layers = [layer(rng, 3, 4, 1), layer(rng, 4, 4, 2)]
    tensors = {}
    h = x
    for l, (A, B, b) in enumerate(layers):
        tensors[f"layers.{l}.A"], tensors[f"layers.{l}.B"], tensors[f"layers.{l}.b"] = A, B, b
        h = run(h, A, B, b)
    os.makedirs(OUT, exist_ok=True)
    safetensors_np.save(os.path.join(OUT, "paraslstm2.safetensors"), tensors, {"cell": "paraslstm", "layers": "2"})
    np.save(os.path.join(OUT, "slstm_input.npy"), x)
    np.save(os.path.join(OUT, "paraslstm2_expected.npy"), h)
    print("wrote paraslstm2.safetensors, slstm_input.npy, paraslstm2_expected.npy to", OUT)


if __name__ == "__main__":
    main()
