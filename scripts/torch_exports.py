"""Real-PyTorch fixtures for issue 24: plain state-dict exports and PyTorch's own outputs.
Usage: python3 scripts/torch_exports.py OUTDIR   (needs torch; safetensors optional)
Writes x.npy [2,50,3] float32, NAME.safetensors (model.state_dict()), NAME_out.npy (PyTorch's
output, batch_first [2,50,D*H_out]); h0/c0 NAME_h0.npy/NAME_c0.npy where an initial state is used.
With OUTDIR/fit_lstm.safetensors present (written by `pararnn fit --cell lstm --hidden 4`), loads
it into nn.LSTM with load_state_dict(strict=False) and writes fit_input.npy [2,60,2] and
fit_lstm_torch.npy (PyTorch's h). The committed fixtures were made on a machine with PyTorch 2.11
(this machine has none): the first part in one run, the fit part in a second run."""
import os, sys, json, numpy as np, torch
from torch import nn
out = sys.argv[1]; os.makedirs(out, exist_ok=True)
def save(sd, path):
    try:
        from safetensors.torch import save_file; save_file({k: v.contiguous() for k, v in sd.items()}, path)
    except ImportError:  # minimal writer, same format
        hd, blob, o = {}, b"", 0
        for k in sorted(sd):
            a = sd[k].detach().numpy().astype("<f4"); b = a.tobytes()
            hd[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [o, o + len(b)]}; blob += b; o += len(b)
        h = json.dumps(hd).encode(); h += b" " * (-len(h) % 8)
        open(path, "wb").write(len(h).to_bytes(8, "little") + h + blob)
torch.manual_seed(24)
x = torch.randn(2, 50, 3); np.save(f"{out}/x.npy", x.numpy())
def seq(m):
    return lambda x, *s: m(x, *s)[0]
def cell(m):
    def f(x, *s):
        st = None; hs = []
        for t in range(x.shape[1]):
            st = m(x[:, t], st); hs.append(st[0] if isinstance(st, tuple) else st)
        return torch.stack(hs, 1)
    return f
class Sub(nn.Module):
    def __init__(s):
        super().__init__(); s.encoder = nn.Module(); s.encoder.rnn = nn.GRU(3, 5, batch_first=True); s.head = nn.Linear(5, 2)
class Two(nn.Module):
    def __init__(s):
        super().__init__(); s.a = nn.GRU(3, 4, batch_first=True); s.b = nn.LSTM(3, 5, batch_first=True)
B = dict(batch_first=True)
cases = {
 "gru2": nn.GRU(3, 8, num_layers=2, **B), "lstm": nn.LSTM(3, 6, **B), "rnn": nn.RNN(3, 5, **B),
 "rnn_relu": nn.RNN(3, 5, nonlinearity="relu", **B), "gru_bi": nn.GRU(3, 4, bidirectional=True, **B),
 "gru_bi2": nn.GRU(3, 4, num_layers=2, bidirectional=True, **B),
 "lstm_bi2": nn.LSTM(3, 4, num_layers=2, bidirectional=True, **B),
 "lstm_proj": nn.LSTM(3, 6, proj_size=3, **B),
 "lstm_proj_bi2": nn.LSTM(3, 6, proj_size=3, num_layers=2, bidirectional=True, **B),
 "rnn_bi2_relu": nn.RNN(3, 4, num_layers=2, bidirectional=True, nonlinearity="relu", **B),
 "gru_nobias": nn.GRU(3, 4, bias=False, **B),
 "grucell": nn.GRUCell(3, 5), "lstmcell": nn.LSTMCell(3, 5), "rnncell": nn.RNNCell(3, 5),
}
with torch.no_grad():
    for n, m in cases.items():
        f = cell(m) if "cell" in n else seq(m)
        save(m.state_dict(), f"{out}/{n}.safetensors"); np.save(f"{out}/{n}_out.npy", f(x).numpy())
    s = Sub(); save(s.state_dict(), f"{out}/sub.safetensors"); np.save(f"{out}/sub_out.npy", s.encoder.rnn(x)[0].numpy())
    t = Two(); save(t.state_dict(), f"{out}/two.safetensors"); np.save(f"{out}/two_b_out.npy", t.b(x)[0].numpy())
    for n in ("lstm_proj_bi2", "gru_bi2"):
        m = cases[n]; L = m.num_layers * 2; H = m.proj_size or m.hidden_size
        h0 = torch.randn(L, 2, H); np.save(f"{out}/{n}_h0.npy", h0.numpy()); s0 = h0
        if isinstance(m, nn.LSTM):
            c0 = torch.randn(L, 2, m.hidden_size); np.save(f"{out}/{n}_c0.npy", c0.numpy()); s0 = (h0, c0)
        np.save(f"{out}/{n}_h0_out.npy", m(x, s0)[0].numpy())
    p = f"{out}/fit_lstm.safetensors"
    if os.path.exists(p):  # the round trip of `pararnn fit --cell lstm`: load_state_dict(strict=False)
        from safetensors.torch import load_file
        sd = load_file(p); L = 1 + max(int(k[len("weight_ih_l"):]) for k in sd if k.startswith("weight_ih_l"))
        m = nn.LSTM(sd["weight_ih_l0"].shape[1], sd["weight_hh_l0"].shape[1], num_layers=L, batch_first=True)
        print("load_state_dict:", m.load_state_dict(sd, strict=False))  # unexpected: readout.*
        xi = torch.from_numpy(np.sin(np.arange(240) * 0.37).reshape(2, 60, 2).astype(np.float32))
        np.save(f"{out}/fit_input.npy", xi.numpy()); np.save(f"{out}/fit_lstm_torch.npy", m(xi)[0].numpy())
print("torch", torch.__version__, "wrote", len(os.listdir(out)), "files")
