"""Zero-phase temporal smoothing per face region, never smoothing a lip closure away (numpy only).

The filter is a Gaussian kernel applied forwards in time; a symmetric kernel has no phase shift, so motion is
softened without being delayed. Its cut-off ``fc`` is where the gain falls to 1/sqrt(2) (-3 dB in power):
``sigma = sqrt(ln 2) / (2 pi fc)`` seconds. Ends are padded with the edge value. Frames that were sealed
before smoothing keep their sealing channels (``core.closures.keep_sealed``).
"""
from __future__ import annotations

import math

import numpy as np

from .closures import keep_sealed, sealed_frames
from .regions import REGION_INDEX, REGIONS

MAX_CUTOFF_HZ = 60.0


def sigma_seconds(cutoff_hz: float) -> float:
    """Standard deviation (s) of the Gaussian whose -3 dB point is ``cutoff_hz``."""
    return math.sqrt(math.log(2.0)) / (2.0 * math.pi * float(cutoff_hz))


def gaussian_kernel(cutoff_hz: float, fps: float) -> np.ndarray:
    """(2R + 1,) float64 normalised kernel at ``fps`` (R = ceil(4 sigma) frames)."""
    sig = sigma_seconds(cutoff_hz) * float(fps)
    r = max(1, int(math.ceil(4.0 * sig)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sig) ** 2)
    return k / k.sum()


def lowpass(x: np.ndarray, fps: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase Gaussian low-pass of every column. x: (T, C) -> (T, C) float64."""
    a = np.asarray(x, dtype=np.float64)
    k = gaussian_kernel(cutoff_hz, fps)
    r = k.size // 2
    pad = np.pad(a, ((r, r), (0, 0)), mode="edge")
    out = np.zeros_like(a)
    for i, w in enumerate(k):  # a sum of shifted copies: exact, and fast for the short kernels used here
        out += w * pad[i:i + a.shape[0]]
    return out


def check_cutoffs(cutoff_hz: dict[str, float]) -> None:
    for r, hz in cutoff_hz.items():
        if r not in REGIONS:
            raise ValueError(f"unknown region {r!r}; choose from {', '.join(REGIONS)}")
        if not 0.0 <= float(hz) <= MAX_CUTOFF_HZ:
            raise ValueError(f"smoothing cut-off of {r} must be between 0 (off) and {MAX_CUTOFF_HZ:g} Hz, got {hz}")


def smooth(perf: np.ndarray, fps: float, cutoff_hz: dict[str, float]) -> np.ndarray:
    """Smooth each region with its cut-off (0 or missing: untouched). perf: (T, 55) -> new (T, 55) float32.

    A cut-off at or above the Nyquist frequency (fps / 2) leaves the region untouched. Frames sealed in
    ``perf`` stay sealed.
    """
    check_cutoffs(cutoff_hz)
    src = np.asarray(perf, dtype=np.float32)
    out = src.copy()
    changed = False
    for r, hz in cutoff_hz.items():
        if not hz or float(hz) >= 0.5 * float(fps):
            continue
        idx = list(REGION_INDEX[r])
        out[:, idx] = lowpass(src[:, idx], fps, float(hz))
        changed = True
    if changed and cutoff_hz.get("mouth"):
        keep_sealed(out, src, sealed_frames(src))
    return out
