"""Festival voices with segment end times (``utt.save.segs``), radio/CMU-style phone names.

All sentences of one utterance are synthesised in a single ``festival -b`` run (start-up dominates).
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

VOICES: tuple[str, ...] = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")


def _clean(text: str) -> str:
    return text.replace("\\", " ").replace('"', " ")


def synthesize_many(texts: list[str], voice: str, stretch: list[float]) -> list[tuple[np.ndarray, int, list]]:
    """Speak each text; returns ``[(audio (S,) int16, sample_rate, [(phone, start, end)])]``."""
    if voice not in VOICES:
        raise ValueError(f"unknown festival voice {voice!r}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        lines = [f"(voice_{voice})"]
        for i, (t, s) in enumerate(zip(texts, stretch, strict=True)):
            lines += [f"(Parameter.set 'Duration_Stretch {s:.3f})",
                      f'(set! utt (utt.synth (Utterance Text "{_clean(t)}")))',
                      f'(utt.save.wave utt "{d}/{i}.wav" \'riff)', f'(utt.save.segs utt "{d}/{i}.lab")']
        (d / "run.scm").write_text("\n".join(lines) + "\n")
        subprocess.run(["festival", "-b", str(d / "run.scm")], capture_output=True, check=True, timeout=300)
        out = []
        for i in range(len(texts)):
            audio, sr = sf.read(d / f"{i}.wav", dtype="int16")
            phones, prev = [], 0.0
            for line in (d / f"{i}.lab").read_text().splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] != "#":
                    end = float(parts[0])
                    if end > prev:
                        phones.append((parts[2], prev, end))
                        prev = end
            out.append((audio.astype(np.int16), int(sr), phones))
    return out
