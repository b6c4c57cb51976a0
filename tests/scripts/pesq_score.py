#!/usr/bin/env python3
"""Wideband PESQ (ITU-T P.862.2, PyPI `pesq`) of DEGRADED against REFERENCE.

Usage: pesq_score.py REFERENCE.wav DEGRADED.wav [CHANNEL]
Both are converted to 16 kHz mono with sox first (CHANNEL picks one channel of a
multi-channel DEGRADED file, 1-based). Prints the MOS-LQO score.
"""
import subprocess, sys, tempfile, wave, os
import numpy as np
from pesq import pesq


def load16k(path, channel=None):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "x.wav")
        cmd = ["sox", path, "-r", "16000", "-b", "16", out]
        if channel:
            cmd += ["remix", str(channel)]
        else:
            cmd += ["channels", "1"]
        subprocess.run(cmd, check=True)
        with wave.open(out) as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0


ref = load16k(sys.argv[1])
deg = load16k(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
n = min(len(ref), len(deg))
print(f"{pesq(16000, ref[:n], deg[:n], 'wb'):.3f}")
