"""Closure and mouth-shape accuracies per phone class (numpy only).

Definitions (also written to metrics.json):
- bilabial_sealed: fraction of /p b m/ intervals (runs of phone class ``bilabial``) in which the inner-lip
  gap drops below ``seal_mm`` in at least one frame of the interval widened by ``tol`` frames each side.
- open_jaw: fraction of open-vowel intervals (class ``open``) in which the mouth opening reaches
  ``open_mm`` in at least one frame (same tolerance).
- rounded_lips: fraction of rounded intervals (class ``rounded``: uw uh ow w oy) in which the mouth
  width (distance between the lip corners) falls ``round_frac`` below its rest width in at least one frame.
- silent_closed: fraction of silence frames at least ``guard`` frames away from any speech frame
  on which the inner-lip gap is below ``closed_mm``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thunder_train.phones import CLASS_INDEX


@dataclass(frozen=True)
class ClosureConfig:
    seal_mm: float = 1.0
    tol: int = 1
    open_mm: float = 8.0
    round_frac: float = 0.08
    closed_mm: float = 2.0
    guard: int = 3


def intervals(labels: np.ndarray, cls: int) -> list[tuple[int, int]]:
    """Runs of ``labels == cls`` as half-open (start, stop) frame intervals."""
    on = np.concatenate([[False], np.asarray(labels) == cls, [False]])
    edges = np.flatnonzero(on[1:] != on[:-1])
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def _interval_hits(signal: np.ndarray, labels: np.ndarray, cls: int, tol: int, hit) -> list[bool]:
    out = []
    for s, e in intervals(labels, cls):
        seg = signal[max(0, s - tol): min(len(signal), e + tol)]
        out.append(bool(hit(seg)))
    return out


def bilabial_sealed(gap_mm: np.ndarray, labels: np.ndarray, cfg: ClosureConfig = ClosureConfig()) -> list[bool]:
    """One bool per /p b m/ interval: the inner-lip gap (T,) mm goes below cfg.seal_mm within it (+-tol)."""
    return _interval_hits(gap_mm, labels, CLASS_INDEX["bilabial"], cfg.tol, lambda s: s.min() < cfg.seal_mm)


def open_jaw(opening_mm: np.ndarray, labels: np.ndarray, cfg: ClosureConfig = ClosureConfig()) -> list[bool]:
    """One bool per open-vowel interval: the mouth opening (T,) mm reaches cfg.open_mm within it (+-tol)."""
    return _interval_hits(opening_mm, labels, CLASS_INDEX["open"], cfg.tol, lambda s: s.max() >= cfg.open_mm)


def rounded_lips(width_mm: np.ndarray, rest_width_mm: float, labels: np.ndarray,
                 cfg: ClosureConfig = ClosureConfig()) -> list[bool]:
    """One bool per rounded interval: the mouth width (T,) mm narrows by cfg.round_frac of rest (+-tol)."""
    limit = rest_width_mm * (1.0 - cfg.round_frac)
    return _interval_hits(width_mm, labels, CLASS_INDEX["rounded"], cfg.tol, lambda s: s.min() <= limit)


def silent_closed(gap_mm: np.ndarray, labels: np.ndarray, cfg: ClosureConfig = ClosureConfig()) -> list[bool]:
    """One bool per silence frame far (>= cfg.guard frames) from speech: the gap is below cfg.closed_mm."""
    labels = np.asarray(labels)
    speech = (labels != CLASS_INDEX["sil"]).astype(np.float64)
    near = np.convolve(speech, np.ones(2 * cfg.guard + 1), mode="same") > 0
    far_sil = ~near
    return (gap_mm[far_sil] < cfg.closed_mm).tolist()


def rate(hits: list[bool]) -> float | None:
    """Fraction of True (None when there is nothing to score)."""
    return float(np.mean(hits)) if hits else None
