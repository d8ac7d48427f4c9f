#!/usr/bin/env python3
"""Writes the small reference files used by Tests/SequenceIOTests.

Every value is produced by a closed-form formula that the Swift tests recompute:

  f32_2d.npy        float32 [5, 3]    np.arange(15).reshape(5, 3) * 0.5 - 1
  f64_3d.npy        float64 [2, 4, 3] np.arange(24).reshape(2, 4, 3) * 0.25 + 0.125
  f64_v2.npy        float64 [3, 2]    np.arange(6).reshape(3, 2) * 1.5 - 2   (format version 2.0)
  f32_v3.npy        float32 [4]       np.arange(4) * 0.75                     (format version 3.0)
  f32_bigendian.npy '>f4'   [2, 2]    must be rejected
  i64.npy           int64   [3]       must be rejected
  fortran.npy       float64 [2, 3] Fortran order, must be rejected
  model.safetensors hand-written: "a.weight" F32 [2, 3] = arange(6) * 0.5 - 1,
                    "b.bias" F64 [4] = arange(4) * 0.1 + 1, metadata {"cell": "paragru"}
  pcm16_stereo.wav  Python `wave`, 8000 Hz, 2 channels, 6 frames,
                    left = i * 1000 - 2500, right = -32768 + i * 13107 (int16)
  float32_mono.wav  hand-written IEEE float (format 3), 16000 Hz, 1 channel, 5 frames,
                    value = i * 0.25 - 0.5, with a LIST chunk of odd size before "data"
  with_header.csv   header "x,y"; rows i * 0.5, -i for i in 0..<4; CRLF line ends
  no_header.csv     3 x 3: row r, column c -> r * 3 + c + 0.5, trailing blank line

Run from the repository root:  python3 Tests/fixtures-scripts/make_io_fixtures.py
"""
import json
import os
import struct
import wave

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "SequenceIOTests", "Fixtures")


def path(name):
    return os.path.join(OUT, name)


def write_npy(name, arr, version=None):
    with open(path(name), "wb") as f:
        np.lib.format.write_array(f, arr, version=version)


def main():
    os.makedirs(OUT, exist_ok=True)

    write_npy("f32_2d.npy", (np.arange(15).reshape(5, 3) * 0.5 - 1).astype(np.float32))
    write_npy("f64_3d.npy", (np.arange(24).reshape(2, 4, 3) * 0.25 + 0.125).astype(np.float64))
    write_npy("f64_v2.npy", (np.arange(6).reshape(3, 2) * 1.5 - 2).astype(np.float64), version=(2, 0))
    write_npy("f32_v3.npy", (np.arange(4) * 0.75).astype(np.float32), version=(3, 0))
    write_npy("f32_bigendian.npy", np.arange(4).reshape(2, 2).astype(">f4"))
    write_npy("i64.npy", np.arange(3, dtype=np.int64))
    write_npy("fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)))

    # safetensors, by hand: u64 LE header length, JSON header, raw little-endian data.
    a = (np.arange(6) * 0.5 - 1).astype("<f4").reshape(2, 3)
    b = (np.arange(4) * 0.1 + 1).astype("<f8")
    a_bytes, b_bytes = a.tobytes(), b.tobytes()
    header = {
        "__metadata__": {"cell": "paragru"},
        "a.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, len(a_bytes)]},
        "b.bias": {"dtype": "F64", "shape": [4],
                   "data_offsets": [len(a_bytes), len(a_bytes) + len(b_bytes)]},
    }
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path("model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        f.write(a_bytes)
        f.write(b_bytes)

    # PCM16 stereo with the standard library.
    frames = []
    for i in range(6):
        frames.append(struct.pack("<hh", i * 1000 - 2500, -32768 + i * 13107))
    with wave.open(path("pcm16_stereo.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(frames))

    # IEEE float mono, by hand, with an odd-sized LIST chunk (padded) before the data chunk.
    samples = np.array([i * 0.25 - 0.5 for i in range(5)], dtype="<f4").tobytes()
    channels, rate, bits = 1, 16000, 32
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    list_payload = b"INFOabc"  # 7 bytes: odd, followed by one pad byte
    body = b"WAVE"
    body += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", len(list_payload)) + list_payload + b"\x00"
    body += b"data" + struct.pack("<I", len(samples)) + samples
    with open(path("float32_mono.wav"), "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)

    with open(path("with_header.csv"), "wb") as f:
        f.write(b"x,y\r\n")
        for i in range(4):
            f.write(f"{i * 0.5!r},{-i}\r\n".encode())
    with open(path("no_header.csv"), "w") as f:
        for r in range(3):
            f.write(",".join(repr(r * 3 + c + 0.5) for c in range(3)) + "\n")
        f.write("\n")


if __name__ == "__main__":
    main()
