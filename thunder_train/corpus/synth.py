"""Synthesise one corpus utterance: sentences -> speech with phone times -> rendered performance.

A :class:`Job` is fully determined by the build plan (voice, sentences, seed), so a worker process can
run it independently and the result does not depend on scheduling.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.pool import Pool

import numpy as np
from scipy.signal import resample_poly

from . import flite
from .articulation import ArticulationStyle
from .espeak import ESpeak, SynthParams
from .expression import EMOTION_PROSODY, ExpressionStyle
from .phonemap import expand
from .render import render
from .shards import Record
from .voices import Voice

SR = 16000
FPS = 50

_ENGINE: ESpeak | None = None


def synth_pool(workers: int) -> Pool:
    """A process pool whose every task runs in a fresh worker forked from a clean server process.

    libespeak-ng keeps static state that survives ``espeak_Initialize`` (wave generator phase and noise,
    the last voice's settings), and a forked child inherits it from its parent. With plain ``fork``,
    the audio of an utterance therefore depended on whether the *parent* had used espeak-ng before (the
    aligner speaks out-of-vocabulary words, tests synthesise in-process). Workers are forked from a
    ``forkserver`` that never synthesises, and each runs one task (chunk), so every result depends only
    on its inputs.
    """
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx.Pool(workers, maxtasksperchild=1)


def _espeak() -> ESpeak:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = ESpeak()
    return _ENGINE


@dataclass(frozen=True)
class Job:
    """One utterance to synthesise."""

    voice: Voice
    sentences: tuple[str, ...]
    emotion: int
    intensity: float
    seed: int      # utterance seed (prosody, pauses, stochastic layers)
    corpus_seed: int


def speaker_rng(voice: Voice, corpus_seed: int) -> np.random.Generator:
    """RNG for a voice's persistent traits (articulation/expression style, base prosody)."""
    return np.random.default_rng([corpus_seed, zlib.crc32(voice.id.encode())])


def _to16k(audio: np.ndarray, sr: int) -> np.ndarray:
    x = audio.astype(np.float32) / 32768.0
    if sr != SR:
        g = np.gcd(sr, SR)
        x = resample_poly(x, SR // g, sr // g).astype(np.float32)
    return x


def _speak(job: Job, text: str, rng: np.random.Generator, base: dict[str, float],
           prosody: tuple[float, float, float],
           pre: tuple | None = None) -> tuple[np.ndarray, list[tuple[str, int, float, float]]]:
    """One sentence: 16 kHz float audio ``(S,)`` and segments (times from its start).

    ``pre`` is an already synthesised ``(audio, sr, phones)`` (festival runs whole utterances).
    """
    dp, dr, drate = prosody
    v = job.voice
    if v.engine == "espeak":
        p = SynthParams(
            rate=int(np.clip(base["rate"] * (1 + drate) * rng.uniform(0.88, 1.12), 80, 400)),
            pitch=int(np.clip(base["pitch"] * (1 + dp) + rng.normal(0, 5), 0, 99)),
            range=int(np.clip(base["range"] * (1 + dr) + rng.normal(0, 8), 0, 99)),
            volume=int(np.clip(rng.uniform(70, 140), 10, 200)))
        eng = _espeak()
        audio, phones = eng.synthesize(text, v.name, p)
        sr, kind = eng.sample_rate, "ipa"
    elif v.engine == "flite":
        stretch = float(np.clip(base["stretch"] / (1 + drate) * rng.uniform(0.9, 1.1), 0.7, 1.5))
        audio, sr, phones = flite.synthesize(text, v.name, stretch, base["f0"] * (1 + dp) * rng.uniform(0.93, 1.07),
                                             max(5.0, base["f0std"] * (1 + dr)))
        kind = "cmu"
    else:
        audio, sr, phones = pre
        kind = "cmu"
    x = _to16k(audio, sr)
    dur = len(x) / SR
    phones = [(n, min(s, dur), min(e, dur)) for n, s, e in phones if s < dur]
    return x, expand(phones, kind)


def base_prosody(voice: Voice, corpus_seed: int) -> dict[str, float]:
    rng = speaker_rng(voice, corpus_seed)
    rng.random(16)  # keep independent of the style draws below (fixed offset)
    f0 = {"slt": 170.0, "rms": 100.0, "awb": 110.0, "kal16": 105.0, "kal": 105.0}.get(voice.name, 120.0)
    return {"rate": float(rng.uniform(130, 230)), "pitch": float(rng.uniform(25, 75)),
            "range": float(rng.uniform(25, 85)), "stretch": float(rng.uniform(0.85, 1.2)),
            "f0": f0 * float(rng.uniform(0.9, 1.12)), "f0std": float(rng.uniform(12, 35))}


def run_job(job: Job) -> Record:
    """Synthesise and render one utterance (16 kHz audio padded to whole 50 fps frames)."""
    from . import phonemap
    phonemap.UNKNOWN.clear()
    rng = np.random.default_rng(job.seed)
    srng = speaker_rng(job.voice, job.corpus_seed)
    art, expr = ArticulationStyle.sample(srng), ExpressionStyle.sample(srng)
    base = base_prosody(job.voice, job.corpus_seed)
    pros = tuple(job.intensity * d for d in EMOTION_PROSODY[_emotion_name(job.emotion)])
    pieces: list[np.ndarray] = []
    segs: list[tuple[str, int, float, float]] = []
    t = 0.0

    def pause(sec: float) -> None:
        nonlocal t
        n = int(round(sec * SR))
        if n > 0:
            pieces.append(np.zeros(n, np.float32))
            segs.append(("sil", 0, t, t + n / SR))
            t += n / SR

    pre: list = [None] * len(job.sentences)
    if job.voice.engine == "festival":
        from . import festival
        stretch = [float(np.clip(base["stretch"] / (1 + pros[2]) * rng.uniform(0.9, 1.1), 0.7, 1.5))
                   for _ in job.sentences]
        pre = festival.synthesize_many(list(job.sentences), job.voice.name, stretch)
    pause(rng.uniform(0.05, 0.6))
    for k, text in enumerate(job.sentences):
        if k:
            pause(rng.uniform(0.15, 1.2))
        x, ss = _speak(job, text, rng, base, pros, pre[k])
        gain = rng.uniform(0.35, 1.0) / max(1e-4, float(np.max(np.abs(x))))
        pieces.append(x * gain)
        segs += [(p, c, t + a, t + b) for p, c, a, b in ss]
        t += len(x) / SR
    pause(rng.uniform(0.1, 0.8))
    audio = np.concatenate(pieces)
    hop = SR // FPS
    pad = (-len(audio)) % hop
    if pad:
        audio = np.concatenate([audio, np.zeros(pad, np.float32)])
        segs.append(("sil", 0, t, len(audio) / SR))
    segs = _merge_sil(segs)
    r = render(audio, SR, segs, FPS, job.emotion, job.intensity, art, expr, rng)
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
    return Record(audio=pcm, perf=r.perf, phone_class=r.phone_class, closure=r.closure, emotion=job.emotion,
                  intensity=job.intensity, voice=job.voice.id, lang=job.voice.lang, source=job.voice.engine,
                  text=" ".join(job.sentences), segments=segs, unmapped=dict(phonemap.UNKNOWN))


def _merge_sil(segs: list[tuple[str, int, float, float]]) -> list[tuple[str, int, float, float]]:
    out: list[tuple[str, int, float, float]] = []
    for s in segs:
        if s[3] <= s[2]:
            continue
        if out and s[0] == "sil" and out[-1][0] == "sil":
            out[-1] = ("sil", 0, out[-1][2], s[3])
        else:
            out.append(s)
    return out


def _emotion_name(idx: int) -> str:
    from thunder_blender.core.channels import EMOTIONS
    return EMOTIONS[idx]
