"""flite voices with phone end times (``flite -psdur``), CMU phone set."""
from __future__ import annotations

import os
import subprocess
import tempfile

import numpy as np
import soundfile as sf

VOICES: tuple[str, ...] = ("slt", "rms", "awb", "kal16", "kal")


def synthesize(text: str, voice: str, stretch: float = 1.0, f0_mean: float | None = None,
               f0_std: float | None = None) -> tuple[np.ndarray, int, list[tuple[str, float, float]]]:
    """Speak ``text``; returns audio ``(S,) int16``, its sample rate and phones ``[(cmu, start, end)]``.

    ``stretch`` > 1 slows speech down; ``f0_mean`` / ``f0_std`` (Hz) set the intonation target
    where the voice supports it.
    """
    if voice not in VOICES:
        raise ValueError(f"unknown flite voice {voice!r}")
    fd, path = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    cmd = ["flite", "-voice", voice, "-psdur", "--setf", f"duration_stretch={stretch:.3f}"]
    if f0_mean is not None:
        cmd += ["--setf", f"int_f0_target_mean={f0_mean:.1f}"]
    if f0_std is not None:
        cmd += ["--setf", f"int_f0_target_stddev={f0_std:.1f}"]
    try:
        res = subprocess.run(cmd + ["-t", text, "-o", path], capture_output=True, text=True, check=True)
        audio, sr = sf.read(path, dtype="int16")
    finally:
        os.unlink(path)
    phones: list[tuple[str, float, float]] = []
    prev = 0.0
    for tok in res.stdout.split():
        if ":" not in tok:
            continue
        name, end = tok.rsplit(":", 1)
        try:
            t = float(end)
        except ValueError:
            continue
        if t > prev:
            phones.append((name, prev, t))
            prev = t
    dur = len(audio) / sr
    if phones and phones[-1][2] < dur:
        phones.append(("pau", phones[-1][2], dur))
    return audio.astype(np.int16), int(sr), phones
