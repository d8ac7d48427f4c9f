#!/usr/bin/env python3
"""PyTorch-compatibility fixtures for ModelIO (numpy only; uses torch too if it is importable).

Fixtures made by real PyTorch from plain state-dict exports (GRU/LSTM/RNN, bidirectional,
proj_size, Cell variants, submodules, initial states, the `pararnn fit` round trip) come from
scripts/torch_exports.py into Tests/ModelIOTests/Fixtures/torch/.

Writes into Tests/ModelIOTests/Fixtures/:
- torch_gru2.safetensors  — a 2-layer nn.GRU(input_size=3, hidden_size=4) state dict
  (names weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._l1), stored as float32;
- torch_lstm1.safetensors — a 1-layer nn.LSTM(input_size=3, hidden_size=5) state dict, float64;
- torch_input.npy         — x, float64 [B=2, T=7, m=3] (batch_first);
- torch_gru2_expected.npy, torch_lstm1_expected.npy — the last layer's h, float64 [2, 7, d].

The expected outputs implement PyTorch's documented equations (torch.nn.GRU / torch.nn.LSTM),
in float64, from the weights exactly as stored (float32 weights widened to float64):
  GRU  (gate rows r, z, n):  r = σ(W_ir x + b_ir + W_hr h + b_hr)
                             z = σ(W_iz x + b_iz + W_hz h + b_hz)
                             n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
                             h' = (1 − z) ⊙ n + z ⊙ h
  LSTM (gate rows i, f, g, o): i, f, g, o = σ, σ, tanh, σ of (W_i· x + b_i· + W_h· h + b_h·)
                             c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c')
with h_0 = c_0 = 0, and layer l+1 fed with layer l's h.

With torch available one would run torch.nn.GRU / torch.nn.LSTM (batch_first=True,
dtype=float64) on the same weights; this script does so automatically when `import torch`
works and asserts that both agree to 1e-12. Without torch it says so and relies on the
equations above.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ModelIOTests", "Fixtures")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru_layer(x, w_ih, w_hh, b_ih, b_hh):
    B, T, _ = x.shape
    d = w_hh.shape[1]
    h = np.zeros((B, d))
    out = np.zeros((B, T, d))
    for t in range(T):
        gi = x[:, t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        r = sigmoid(gi[:, :d] + gh[:, :d])
        z = sigmoid(gi[:, d:2 * d] + gh[:, d:2 * d])
        n = np.tanh(gi[:, 2 * d:] + r * gh[:, 2 * d:])
        h = (1 - z) * n + z * h
        out[:, t] = h
    return out


def lstm_layer(x, w_ih, w_hh, b_ih, b_hh):
    B, T, _ = x.shape
    d = w_hh.shape[1]
    h = np.zeros((B, d))
    c = np.zeros((B, d))
    out = np.zeros((B, T, d))
    for t in range(T):
        g_all = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i = sigmoid(g_all[:, :d])
        f = sigmoid(g_all[:, d:2 * d])
        g = np.tanh(g_all[:, 2 * d:3 * d])
        o = sigmoid(g_all[:, 3 * d:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[:, t] = h
    return out


def state_dict(rng, gates, m, d, layers, dtype):
    k = 1 / np.sqrt(d)  # PyTorch's default init range U(-1/sqrt(d), 1/sqrt(d))
    sd = {}
    for l in range(layers):
        inp = m if l == 0 else d
        sd[f"weight_ih_l{l}"] = rng.uniform(-k, k, (gates * d, inp)).astype(dtype)
        sd[f"weight_hh_l{l}"] = rng.uniform(-k, k, (gates * d, d)).astype(dtype)
        sd[f"bias_ih_l{l}"] = rng.uniform(-k, k, gates * d).astype(dtype)
        sd[f"bias_hh_l{l}"] = rng.uniform(-k, k, gates * d).astype(dtype)
    return sd


def run(layer, x, sd, layers):
    h = x
    for l in range(layers):
        h = layer(h, *(sd[f"{n}_l{l}"].astype(np.float64)
                       for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    return h


def check_with_torch(x, gru_sd, gru_expected, lstm_sd, lstm_expected):
    try:
        import torch
    except ImportError:
        print("torch is not importable: expected outputs come from the numpy equations only")
        return
    for cls, sd, layers, d, expected in ((torch.nn.GRU, gru_sd, 2, 4, gru_expected),
                                          (torch.nn.LSTM, lstm_sd, 1, 5, lstm_expected)):
        net = cls(3, d, num_layers=layers, batch_first=True).double()
        net.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in sd.items()})
        with torch.no_grad():
            y = net(torch.from_numpy(x))[0].numpy()
        err = np.abs(y - expected).max()
        print(f"torch {cls.__name__}: max |torch - numpy| = {err:.3e}")
        assert err < 1e-12


def main():
    rng = np.random.default_rng(1234)
    x = rng.normal(0.0, 1.0, (2, 7, 3))
    gru_sd = state_dict(rng, 3, 3, 4, 2, np.float32)
    lstm_sd = state_dict(rng, 4, 3, 5, 1, np.float64)
    gru_expected = run(gru_layer, x, gru_sd, 2)
    lstm_expected = run(lstm_layer, x, lstm_sd, 1)
    check_with_torch(x, gru_sd, gru_expected, lstm_sd, lstm_expected)
    os.makedirs(OUT, exist_ok=True)
    safetensors_np.save(os.path.join(OUT, "torch_gru2.safetensors"), gru_sd, {"cell": "gru"})
    safetensors_np.save(os.path.join(OUT, "torch_lstm1.safetensors"), lstm_sd, {"cell": "lstm"})
    np.save(os.path.join(OUT, "torch_input.npy"), x)
    np.save(os.path.join(OUT, "torch_gru2_expected.npy"), gru_expected)
    np.save(os.path.join(OUT, "torch_lstm1_expected.npy"), lstm_expected)
    print(f"wrote fixtures to {OUT}")


if __name__ == "__main__":
    main()
