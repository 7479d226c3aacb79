"""Sealed lip closures (/p b m/) in a performance: which frames, and keeping them through a filter.

A frame is sealed when ``jawOpen - mouthClose <= tol`` and every lip-opening channel (funnel, lower lip
down, upper lip up, tongue out) is at most ``tol``: the lips touch whatever the jaw does (ARKit's
``mouthClose`` closes the lips against ``jawOpen``). The runtime seals closures with the same rule
(``runtime.generate.seal_closures``).

``keep_sealed`` is the closure-preserving rule of ``core.resample`` applied to a filter: there, every
significant extreme of the source is locked onto a scene frame; here, every frame that was sealed before the
filter gets its sealing channels back, so a closure is never smoothed away.
"""
from __future__ import annotations

import numpy as np

from .channels import INDEX

LIP_OPENING: tuple[str, ...] = ("mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                                "mouthUpperUpRight", "tongueOut")
SEAL_CHANNELS: tuple[int, ...] = tuple(INDEX[k] for k in ("jawOpen", "mouthClose") + LIP_OPENING)
SEAL_TOL = 0.05


def sealed_frames(perf: np.ndarray, tol: float = SEAL_TOL) -> np.ndarray:
    """(T,) bool: frames whose lips are sealed. perf: (T, 55) or (T, 52)."""
    p = np.asarray(perf)
    gap = p[:, INDEX["jawOpen"]] - p[:, INDEX["mouthClose"]]
    opening = p[:, [INDEX[k] for k in LIP_OPENING]].max(axis=1)
    return (gap <= tol) & (opening <= tol)


def keep_sealed(filtered: np.ndarray, original: np.ndarray, sealed: np.ndarray) -> np.ndarray:
    """Put the sealing channels of ``original`` back on the ``sealed`` frames of ``filtered`` (in place).

    filtered, original: (T, 55); sealed: (T,) bool. Returns ``filtered``.
    """
    idx = np.flatnonzero(sealed)
    if idx.size:
        cols = list(SEAL_CHANNELS)
        filtered[np.ix_(idx, cols)] = np.asarray(original)[np.ix_(idx, cols)]
    return filtered


def aligned_closures(frames: np.ndarray, bilabial: int = 1) -> np.ndarray:
    """(T,) bool: the core of every aligned /p b m/ run of ``frames`` ((T,) phone class ids, ``core.phones``):
    its middle frame, and the frame before it when the run is 4 frames or longer. Only the core, so that an
    aligner's boundary error of a frame or two never seals the neighbouring vowel."""
    f = np.asarray(frames)
    out = np.zeros(f.shape[0], bool)
    d = np.diff(np.concatenate([[0], (f == bilabial).astype(np.int8), [0]]))
    for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
        mid = s + (e - s) // 2
        out[mid] = True
        if e - s >= 4:
            out[mid - 1] = True
    return out
