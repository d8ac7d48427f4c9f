"""Minimal .safetensors writer/reader for numpy arrays (F32/F64 only), no dependencies but numpy.

Layout: 8-byte little-endian header length N, N bytes of JSON header
{"__metadata__": {...strings...}, "name": {"dtype", "shape", "data_offsets"}}, then the raw
little-endian data. Tensors are stored sorted by name; the header is space-padded to 8 bytes.
"""
import json
import struct

import numpy as np

_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64"}


def save(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        a = a.astype(a.dtype.newbyteorder("<"))
        if a.dtype not in _DTYPES:
            raise ValueError(f"{name}: dtype {a.dtype} not supported (float32/float64 only)")
        data = a.tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        dt = {"F32": "<f4", "F64": "<f8"}[e["dtype"]]
        b, t = e["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + b: 8 + n + t], dtype=dt).reshape(e["shape"])
    return out, meta
