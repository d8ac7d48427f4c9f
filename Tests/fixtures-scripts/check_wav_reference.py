#!/usr/bin/env python3
"""Cross-checks Tests/SequenceIOTests/Fixtures/wav_reference/*.npy, the values the hand-written
WAV reader (removed after commit 60a352a) decoded from PCM16 and float32 WAV files, against an
independent numpy decoder: PCM16 sample s -> float32(s) * 2^-15, float32 stored as is.
Run from the repository root: python3 Tests/fixtures-scripts/check_wav_reference.py"""
import glob
import struct
import sys

import numpy as np

FIXTURES = "Tests/SequenceIOTests/Fixtures/"


def decode(path):
    b = open(path, "rb").read()
    assert b[:4] == b"RIFF" and b[8:12] == b"WAVE", path
    offset, fmt, data = 12, None, None
    while offset + 8 <= len(b):
        chunk, size = b[offset:offset + 4], struct.unpack("<I", b[offset + 4:offset + 8])[0]
        if chunk == b"fmt " and fmt is None:
            fmt = b[offset + 8:offset + 8 + size]
        if chunk == b"data" and data is None:
            data = b[offset + 8:offset + 8 + size]
        offset += 8 + size + (size & 1)
    code, channels, rate = struct.unpack("<HHI", fmt[:8])
    if code == 0xFFFE:
        code = struct.unpack("<H", fmt[24:26])[0]
    if code == 1:
        x = np.frombuffer(data, "<i2").astype(np.float32) * np.float32(1 / 32768)
    else:
        x = np.frombuffer(data, "<f4")
    return x.reshape(-1, channels), rate


pairs = [("pcm16_stereo.wav", "pcm16_stereo_8000Hz"), ("float32_mono.wav", "float32_mono_16000Hz"),
         ("audio/pcm16.wav", "audio_pcm16_16000Hz"), ("audio/source_f32.wav", "audio_source_f32_16000Hz")]
for wav in sorted(glob.glob(FIXTURES + "wav_reference/random_*.wav")):
    stem = wav[len(FIXTURES):-4]
    pairs.append((stem + ".wav", glob.glob(FIXTURES + stem + "_*Hz.npy")[0][len(FIXTURES) + len("wav_reference/"):-4]))
bad = 0
for wav, expected in pairs:
    x, rate = decode(FIXTURES + wav)
    e = np.load(FIXTURES + "wav_reference/" + expected + ".npy")
    ok = x.shape == e.shape and np.array_equal(x.view(np.uint32), e.view(np.uint32)) and expected.endswith(f"_{rate}Hz")
    bad += not ok
    print("ok  " if ok else "BAD ", wav, x.shape, rate)
sys.exit(1 if bad else 0)
