"""Generation with a transcript: a 10 s clip of espeak-ng speech and its text, 4 takes, through the shipped runtime.

Reported: 4 takes with and without the text (median wall time, the two timed alternately), the alignment alone (``core.alignment``), the
one-off load of the pronunciation table (first transcript of a process), and the alignment of a 10-minute
clip (the 10 s clip's encoder posteriors and words repeated) with its search band and back-pointer memory.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np

from .common import TimingConfig, read_wav, time_repeated

TEXT = ("Bob packed a small brown bag, hummed a tune, and walked up the path to the old mill. "
        "Who knew the moon would be so bright over the blue water tonight?")
SECONDS = 10.0


def transcript_clip(out_dir: Path, sample_rate: int = 16000) -> tuple[Path, str]:
    """``TEXT`` spoken by espeak-ng (en-us, 150 wpm), padded with silence to exactly ``SECONDS``."""
    raw, out = out_dir / "transcript_raw.wav", out_dir / "transcript_10s.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), TEXT], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", str(sample_rate), "-c", "1", "-b", "16", str(out), "pad", "0",
                    f"{SECONDS}", "trim", "0", f"{SECONDS}"], check=True, capture_output=True)
    raw.unlink()
    return out, TEXT


def bench_transcript(work: Path, timing: TimingConfig | None = None, minutes: float = 10.0) -> dict:
    from thunder_blender.core import features, pronounce
    from thunder_blender.core.alignment import align
    from thunder_blender.runtime.generate import GenerateRequest, encode, generate, log_softmax
    from thunder_blender.runtime.model import load_model

    timing = timing or TimingConfig()
    wav, text = transcript_clip(work)
    pcm, rate = read_wav(wav)
    model = load_model(providers=["CPUExecutionProvider"])
    pronounce.lexicon.cache_clear()
    t0 = time.perf_counter()
    pronounce.lexicon()
    lexicon_s = time.perf_counter() - t0
    plain_req = GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=4, seed=7)
    told_req = GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=4, seed=7, transcript=text)
    # interleaved, so that a change in the machine's load hits both alike
    pair = {"plain": [], "told": []}

    def both() -> None:
        for key, req in (("plain", plain_req), ("told", told_req)):
            t0 = time.perf_counter()
            generate(req, model)
            pair[key].append(time.perf_counter() - t0)

    told = time_repeated(both, timing)
    del pair["plain"][: timing.warmup], pair["told"][: timing.warmup]
    takes = generate(told_req, model)
    al = takes.alignment
    mel = features.normalise(features.log_mel(features.to_model_audio(np.asarray(pcm, np.float32), rate)))
    n = mel.shape[0] // 2
    lp = log_softmax(encode(model, mel, n)[2][0, :n])
    words = pronounce.pronounce(text)
    align_only = time_repeated(lambda: align(lp, words), timing)
    reps = int(round(minutes * 60 / SECONDS))
    long_al = align(np.tile(lp, (reps, 1)), words * reps)
    return {
        "audio_s": SECONDS, "takes": 4, "words": len(words),
        "generate_4_takes_with_text_s": float(np.median(pair["told"])),
        "generate_4_takes_without_text_s": float(np.median(pair["plain"])), "runs": told["runs"],
        "alignment_s": align_only["median_s"], "words_used": sum(w.used for w in al.words),
        "lexicon_first_load_s": lexicon_s,
        "long": {"audio_s": reps * SECONDS, "words": len(words) * reps, "align_s": long_al.seconds,
                 "band_max_states": long_al.band_max, "pointer_mb": long_al.pointer_bytes / 1e6,
                 "words_used": sum(w.used for w in long_al.words)},
        "phone_input": bool(model.phone_input),
    }
