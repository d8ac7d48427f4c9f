#!/usr/bin/env python3
"""Builds data/default/input.npy, the shipped recording (numpy only).

Source: /usr/share/sounds/alsa/Front_Center.wav from the Debian package `alsa-utils`
(a spoken "Front center", 48 kHz mono 16-bit PCM, 68545 frames). If the package is not
installed, get the file without installing it:

    apt-get download alsa-utils && dpkg -x alsa-utils_*.deb /tmp/alsa
    python3 scripts/make_default_data.py /tmp/alsa/usr/share/sounds/alsa/Front_Center.wav

Processing: PCM16 -> float in [-1, 1); low-pass (windowed-sinc FIR, 101 taps, cutoff 7.2 kHz,
Blackman window) and decimation by 3 to 16 kHz; leading/trailing near-silence (|x| < 1e-3 of
full scale) trimmed; saved as float32 [T, 1] C order (NPY v1.0).
"""
import os
import sys
import wave

import numpy as np

DEFAULT_SOURCE = "/usr/share/sounds/alsa/Front_Center.wav"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_pcm16(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"{path}: expected 16-bit PCM")
        rate, channels, frames = w.getframerate(), w.getnchannels(), w.getnframes()
        raw = w.readframes(frames)
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64).reshape(-1, channels)
    return x.mean(axis=1) / 32768.0, rate


def lowpass_decimate(x, factor, taps=101):
    cutoff = 0.45 / factor  # cycles per input sample (0.5 = Nyquist)
    n = np.arange(taps) - (taps - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(taps)
    h /= h.sum()
    y = np.convolve(x, h, mode="same")
    return y[::factor]


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SOURCE
    x, rate = read_pcm16(source)
    factor = rate // 16000
    if factor * 16000 != rate:
        raise SystemExit(f"{source}: sample rate {rate} is not a multiple of 16 kHz")
    y = lowpass_decimate(x, factor) if factor > 1 else x
    loud = np.nonzero(np.abs(y) >= 1e-3)[0]
    y = y[loud[0]: loud[-1] + 1]
    out = os.path.join(ROOT, "data", "default", "input.npy")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    np.save(out, np.ascontiguousarray(y.astype(np.float32).reshape(-1, 1)))
    print(f"{out}: T = {len(y)} samples at 16 kHz ({len(y) / 16000:.2f} s), "
          f"peak {np.abs(y).max():.3f}, rms {np.sqrt(np.mean(y ** 2)):.4f}")


if __name__ == "__main__":
    main()
