"""Mouth-shape accuracies on ARKit weights (issue 13's definitions), beside the mesh ones in ``closure.py``.

Input: a performance ``(T, 55)`` (ARKit-52 weights 0..1, then head rotation) and per-frame phone classes
``(T,)`` (``thunder_train.phones.PHONE_CLASSES``). With aperture = jawOpen - mouthClose:
- bilabial_sealed: fraction of /p b m/ intervals where aperture < ``seal`` in some frame (+-``tol`` frames).
- rounded_lips: fraction of rounded intervals (uw uh ow w oy, and other languages' rounded vowels) where
  max(mouthFunnel, mouthPucker) > ``round`` in some frame (+-``tol``).
- open_jaw: fraction of open-vowel intervals where aperture > ``open`` in some frame (+-``tol``).
- silent_closed: fraction of silence frames at least ``guard`` frames from speech with aperture < ``seal``.
- peak ratio (per articulator): for each interval of the articulator's phone class whose target peak is at
  least ``min_peak``, the generated peak over the interval (+-``tol``) divided by the target's peak there
  (target = the articulation model's performance for the same phones). Articulators: ``jaw`` = jawOpen on open
  vowels, ``round`` = max(mouthFunnel, mouthPucker) on rounded phones, ``close`` = mouthClose on /p b m/.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thunder_blender.core.channels import INDEX
from thunder_train.phones import CLASS_INDEX

from .closure import intervals

JAW, CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]
FUNNEL, PUCKER = INDEX["mouthFunnel"], INDEX["mouthPucker"]


@dataclass(frozen=True)
class ArkitConfig:
    seal: float = 0.12
    round: float = 0.2
    open: float = 0.15
    tol: int = 1
    guard: int = 3
    min_peak: float = 0.05


def aperture(perf: np.ndarray) -> np.ndarray:
    """jawOpen - mouthClose per frame: (T, 55) -> (T,)."""
    return perf[:, JAW] - perf[:, CLOSE]


def rounding(perf: np.ndarray) -> np.ndarray:
    """max(mouthFunnel, mouthPucker) per frame: (T, 55) -> (T,)."""
    return np.maximum(perf[:, FUNNEL], perf[:, PUCKER])


def _hits(signal: np.ndarray, labels: np.ndarray, cls: str, tol: int, hit) -> list[bool]:
    return [bool(hit(signal[max(0, s - tol): e + tol])) for s, e in intervals(labels, CLASS_INDEX[cls])]


def bilabial_sealed(perf: np.ndarray, labels: np.ndarray, cfg: ArkitConfig = ArkitConfig()) -> list[bool]:
    return _hits(aperture(perf), labels, "bilabial", cfg.tol, lambda s: s.min() < cfg.seal)


def rounded_lips(perf: np.ndarray, labels: np.ndarray, cfg: ArkitConfig = ArkitConfig()) -> list[bool]:
    return _hits(rounding(perf), labels, "rounded", cfg.tol, lambda s: s.max() > cfg.round)


def open_jaw(perf: np.ndarray, labels: np.ndarray, cfg: ArkitConfig = ArkitConfig()) -> list[bool]:
    return _hits(aperture(perf), labels, "open", cfg.tol, lambda s: s.max() > cfg.open)


def silent_closed(perf: np.ndarray, labels: np.ndarray, cfg: ArkitConfig = ArkitConfig()) -> list[bool]:
    speech = (np.asarray(labels) != CLASS_INDEX["sil"]).astype(np.float64)
    far = np.convolve(speech, np.ones(2 * cfg.guard + 1), mode="same") == 0
    return (aperture(perf)[far] < cfg.seal).tolist()


ARTICULATORS: dict[str, tuple[str, object]] = {
    "jaw": ("open", lambda p: p[:, JAW]),
    "round": ("rounded", rounding),
    "close": ("bilabial", lambda p: p[:, CLOSE]),
}


def peak_ratios(perf: np.ndarray, target: np.ndarray, labels: np.ndarray,
                cfg: ArkitConfig = ArkitConfig()) -> dict[str, list[float]]:
    """Per articulator, generated / target peak per interval (intervals with target peak < min_peak skipped)."""
    out: dict[str, list[float]] = {}
    for name, (cls, fn) in ARTICULATORS.items():
        g, t = fn(perf), fn(target)
        vals = []
        for s, e in intervals(labels, CLASS_INDEX[cls]):
            a, b = max(0, s - cfg.tol), e + cfg.tol
            tp = float(t[a:b].max())
            if tp >= cfg.min_peak:
                vals.append(float(g[a:b].max()) / tp)
        out[name] = vals
    return out
