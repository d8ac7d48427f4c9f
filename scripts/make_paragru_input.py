#!/usr/bin/env python3
"""A ParaGRU d = 4 model with m inputs (OUT/gru.safetensors, weights uniform, seed 7) and a
Float input of STEPS steps (OUT/x.npy, values uniform in [-1, 1]), with the Python standard
library only (the device machine's Python needs nothing else).

    python3 scripts/make_paragru_input.py OUT STEPS [M]      (M defaults to 1)

Used by scripts/device_bench.sh (run-mpi, local-mpi: M = 1) and scripts/stream_whole_process.sh
(M = 2).
"""
import array, json, random, struct, sys

out, steps = sys.argv[1], int(sys.argv[2])
m = int(sys.argv[3]) if len(sys.argv) > 3 else 1
rng = random.Random(7)
d = 4


def tensor(shape, scale):
    n = 1
    for s in shape:
        n *= s
    return shape, array.array('f', (rng.uniform(-scale, scale) for _ in range(n)))


ts = {"A": tensor([3, d], 0.8), "B": tensor([1, m, 3, d], 1.0), "b": tensor([3, d], 0.5)}
header, blobs, off = {"__metadata__": {"cell": "paragru"}}, [], 0
for k, (shape, v) in ts.items():
    b = v.tobytes()
    header[k] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
    off += len(b)
    blobs.append(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(out + "/gru.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
desc = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (steps, m)
pad = 64 - (10 + len(desc) + 1) % 64
with open(out + "/x.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(desc) + pad + 1) + desc.encode() + b" " * pad + b"\n")
    chunk = 1 << 20
    for start in range(0, steps * m, chunk):
        n = min(chunk, steps * m - start)
        f.write(array.array('f', (rng.uniform(-1, 1) for _ in range(n))).tobytes())
