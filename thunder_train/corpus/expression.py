"""Stochastic layers the audio does not determine: emotion, blinks, brows, gaze, head motion.

All functions take an explicit ``np.random.Generator`` and write into a ``(F, 55)`` performance.
The mouth stays pinned by the phones: emotion only adds smile/frown/press-type offsets that do not
open the lips, and closures are enforced after this layer (``articulation.enforce_closures``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thunder_blender.core.channels import EMOTIONS, INDEX
from thunder_train.phones import CLASS_INDEX

from .articulation import Segment, _p

# Full-intensity emotion offsets (ARKit weights; head pitch offset in rad under "headPitch").
EMOTION_POSES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": _p(mouthSmile_=0.45, cheekSquint_=0.35, eyeSquint_=0.20, mouthDimple_=0.15, browOuterUp_=0.05),
    "sad": _p(mouthFrown_=0.35, browInnerUp=0.55, browDown_=0.10, eyeLookDown_=0.10, mouthShrugLower=0.15,
              eyeSquint_=0.05, headPitch=0.06),
    "angry": _p(browDown_=0.60, eyeSquint_=0.30, noseSneer_=0.25, mouthPress_=0.15, jawForward=0.08,
                eyeWide_=0.05, headPitch=0.03),
    "surprised": _p(browInnerUp=0.60, browOuterUp_=0.65, eyeWide_=0.55, headPitch=-0.05),
    "disgusted": _p(noseSneer_=0.55, browDown_=0.30, mouthFrown_=0.20, cheekSquint_=0.25, eyeSquint_=0.20,
                    mouthShrugUpper=0.20, headYaw=0.04),
    "fearful": _p(browInnerUp=0.60, browOuterUp_=0.25, eyeWide_=0.50, mouthStretch_=0.25, headPitch=0.02),
}
# Prosody shift per emotion at full intensity: (pitch, pitch range, rate) as relative changes.
EMOTION_PROSODY: dict[str, tuple[float, float, float]] = {
    "neutral": (0.0, 0.0, 0.0), "happy": (0.15, 0.35, 0.08), "sad": (-0.15, -0.45, -0.18),
    "angry": (0.05, 0.3, 0.12), "surprised": (0.25, 0.5, 0.0), "disgusted": (-0.1, -0.1, -0.1),
    "fearful": (0.2, 0.1, 0.15),
}
EMOTION_NAMES: tuple[str, ...] = EMOTIONS[1:]  # never "auto"


@dataclass
class ExpressionStyle:
    """Per-speaker habits for the non-phonetic layers."""

    blink_rate: float = 17.0     # blinks per minute
    brow_prob: float = 0.35      # chance of a brow raise on an accented syllable
    nod_prob: float = 0.4        # chance of a nod on an accented syllable
    head_amp: float = 1.0        # scale of head drift
    gaze_amp: float = 1.0        # scale of gaze excursions

    @staticmethod
    def sample(rng: np.random.Generator) -> ExpressionStyle:
        return ExpressionStyle(
            blink_rate=float(rng.uniform(8, 28)), brow_prob=float(rng.uniform(0.1, 0.6)),
            nod_prob=float(rng.uniform(0.15, 0.7)), head_amp=float(rng.uniform(0.4, 1.6)),
            gaze_amp=float(rng.uniform(0.5, 1.5)),
        )


def sample_emotion(rng: np.random.Generator) -> tuple[int, float]:
    """(index into core.channels.EMOTIONS, never 0; intensity 0..1). Neutral is drawn more often."""
    probs = np.array([0.28] + [0.12] * (len(EMOTION_NAMES) - 1))
    k = int(rng.choice(len(EMOTION_NAMES), p=probs / probs.sum()))
    name = EMOTION_NAMES[k]
    inten = 0.0 if name == "neutral" else float(rng.uniform(0.25, 1.0))
    return EMOTIONS.index(name), inten


def _smooth_noise(rng: np.random.Generator, n: int, fps: float, tau: float) -> np.ndarray:
    """Unit-variance Ornstein-Uhlenbeck noise with time constant ``tau`` s: ``(n,)``."""
    a = np.exp(-1.0 / (fps * tau))
    x = np.zeros(n)
    v = rng.standard_normal()
    eps = rng.standard_normal(n) * np.sqrt(1 - a * a)
    for i in range(n):
        v = a * v + eps[i]
        x[i] = v
    # remove frame-to-frame jitter (Gaussian kernel, sigma 0.12 s); motion stays slow and smooth
    sig = 0.12 * fps
    k = np.exp(-0.5 * (np.arange(-int(3 * sig), int(3 * sig) + 1) / sig) ** 2)
    y = np.convolve(np.pad(x, len(k) // 2, mode="edge"), k / k.sum(), "valid")
    return y / (y.std() + 1e-9) if n > 1 else y


def _bump(n: int, fps: float, t0: float, dur: float, attack: float = 0.3) -> np.ndarray:
    """Smooth 0->1->0 bump starting at t0 lasting dur s (rise over attack*dur): ``(n,)``."""
    t = (np.arange(n) + 0.5) / fps
    u = (t - t0) / max(dur, 1e-3)
    rise = np.clip(u / attack, 0, 1)
    fall = np.clip((1 - u) / (1 - attack), 0, 1)
    return (np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2) * ((u >= 0) & (u <= 1))


def accents(segs: list[Segment], seg_db: np.ndarray) -> list[float]:
    """Times (s) of accented vowels: loud, long vowels that stand out from the utterance."""
    vow = [k for k, (_, c, _, _) in enumerate(segs)
           if c in (CLASS_INDEX["open"], CLASS_INDEX["mid"], CLASS_INDEX["rounded"])]
    if len(vow) < 2:
        return []
    db = seg_db[vow]
    dur = np.array([segs[k][3] - segs[k][2] for k in vow])
    score = (db - db.mean()) / (db.std() + 1e-6) + (dur - dur.mean()) / (dur.std() + 1e-6)
    return [0.5 * (segs[k][2] + segs[k][3]) for k, sc in zip(vow, score, strict=True) if sc > 1.0]


def add_expression(perf: np.ndarray, fps: float, segs: list[Segment], seg_db: np.ndarray, emotion: int,
                   intensity: float, style: ExpressionStyle, rng: np.random.Generator) -> None:
    """Add emotion, blinks, brows, gaze and head motion to ``perf`` ``(F, 55)`` in place."""
    n = len(perf)
    dur = n / fps
    # emotion: a slowly breathing intensity around the utterance's value
    pose = EMOTION_POSES[EMOTIONS[emotion]]
    if pose and intensity > 0:
        level = intensity * np.clip(1 + 0.15 * _smooth_noise(rng, n, fps, 1.5), 0.6, 1.3)
        onset = np.clip((np.arange(n) + 0.5) / fps / rng.uniform(0.1, 0.6), 0, 1)
        for name, v in pose.items():
            perf[:, INDEX[name]] += v * level * onset
    acc = accents(segs, seg_db)
    # brows: raises on some accents, a few unprompted ones
    brow = np.zeros(n)
    for t in acc:
        if rng.random() < style.brow_prob:
            brow = np.maximum(brow, rng.uniform(0.15, 0.5) * _bump(n, fps, t - 0.12, rng.uniform(0.3, 0.9)))
    for _ in range(rng.poisson(dur / 8)):
        brow = np.maximum(brow, rng.uniform(0.1, 0.35) * _bump(n, fps, rng.uniform(0, dur), rng.uniform(0.4, 1.2)))
    perf[:, INDEX["browInnerUp"]] += brow
    for k in ("browOuterUpLeft", "browOuterUpRight"):
        perf[:, INDEX[k]] += brow * rng.uniform(0.6, 1.0)
    # blinks: Poisson times, log-normal durations, fast close and slower open
    t = rng.uniform(0, 1.5)
    blink = np.zeros(n)
    while t < dur:
        d = float(np.clip(rng.lognormal(np.log(0.22), 0.3), 0.1, 0.5))
        blink = np.maximum(blink, rng.uniform(0.85, 1.0) * _bump(n, fps, t, d, attack=0.35))
        t += d + rng.exponential(60.0 / style.blink_rate)
    asym = rng.uniform(-0.05, 0.05)
    perf[:, INDEX["eyeBlinkLeft"]] = np.maximum(perf[:, INDEX["eyeBlinkLeft"]], blink * (1 + asym))
    perf[:, INDEX["eyeBlinkRight"]] = np.maximum(perf[:, INDEX["eyeBlinkRight"]], blink * (1 - asym))
    # gaze: fixations of 0.4..3 s with quick saccades between them
    gx, gy = np.zeros(n), np.zeros(n)
    t, x, y = 0.0, 0.0, 0.0
    while t < dur:
        f0 = int(t * fps)
        x = float(np.clip(rng.normal(0, 0.18 * style.gaze_amp), -0.5, 0.5)) if rng.random() < 0.6 else 0.0
        y = float(np.clip(rng.normal(-0.03, 0.1 * style.gaze_amp), -0.4, 0.4))
        gx[f0:], gy[f0:] = x, y
        t += rng.uniform(0.4, 3.0)
    k = max(1, int(round(0.04 * fps)))
    ker = np.ones(k) / k
    gx = np.convolve(np.pad(gx, (k, k), mode="edge"), ker, "same")[k:-k]
    gy = np.convolve(np.pad(gy, (k, k), mode="edge"), ker, "same")[k:-k]
    # positive x: looking to the character's left (left eye out, right eye in)
    perf[:, INDEX["eyeLookOutLeft"]] += np.maximum(gx, 0)
    perf[:, INDEX["eyeLookInRight"]] += np.maximum(gx, 0)
    perf[:, INDEX["eyeLookInLeft"]] += np.maximum(-gx, 0)
    perf[:, INDEX["eyeLookOutRight"]] += np.maximum(-gx, 0)
    for side in ("Left", "Right"):
        perf[:, INDEX["eyeLookUp" + side]] += np.maximum(gy, 0)
        perf[:, INDEX["eyeLookDown" + side]] += np.maximum(-gy, 0) + 0.3 * blink
    # head: slow drift plus nods (pitch dips) on some accents; radians
    perf[:, INDEX["headYaw"]] += 0.05 * style.head_amp * _smooth_noise(rng, n, fps, 2.0)
    perf[:, INDEX["headPitch"]] += 0.03 * style.head_amp * _smooth_noise(rng, n, fps, 1.5)
    perf[:, INDEX["headRoll"]] += 0.02 * style.head_amp * _smooth_noise(rng, n, fps, 2.5)
    for t in acc:
        if rng.random() < style.nod_prob:
            perf[:, INDEX["headPitch"]] += rng.uniform(0.02, 0.07) * style.head_amp * _bump(
                n, fps, t - 0.15, rng.uniform(0.3, 0.6))
    np.clip(perf[:, :52], 0.0, 1.0, out=perf[:, :52])
