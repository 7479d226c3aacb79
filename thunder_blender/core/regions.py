"""Face regions an animator scales separately, and the per-region strength rule (numpy only).

Five regions cover all 55 channels once: ``mouth`` (jaw, lips, tongue, cheek puff), ``cheeks`` (cheek squint,
nose sneer), ``brows``, ``eyes`` (blinks, gaze, squint, wide) and ``head`` (rotation). Every channel's rest
value is 0 (the neutral face, head straight).

Strength ``s`` scales a region's deviation from rest: ``rest + s * (value - rest)``; 0 leaves the region at
rest, 1 changes nothing, 2 doubles the deviation. Shape-key weights are then clipped to their range [0, 1].
Scaling the whole mouth together keeps a sealed lip closure sealed (``mouthClose`` and ``jawOpen`` scale
alike, lip-opening channels stay 0).
"""
from __future__ import annotations

import numpy as np

from .channels import ARKIT_52, CHANNELS, HEAD_CHANNELS, MOUTH_CHANNELS

REGIONS: tuple[str, ...] = ("mouth", "cheeks", "brows", "eyes", "head")
REGION_LABELS: dict[str, str] = {"mouth": "Jaw / Mouth", "cheeks": "Cheeks / Nose", "brows": "Brows",
                                 "eyes": "Eyes / Blinks", "head": "Head"}
STRENGTH_RANGE = (0.0, 2.0)


def _region_of(name: str) -> str:
    if name in HEAD_CHANNELS:
        return "head"
    if name in MOUTH_CHANNELS:
        return "mouth"
    if name.startswith(("cheek", "nose")):
        return "cheeks"
    if name.startswith("brow"):
        return "brows"
    if name.startswith("eye"):
        return "eyes"
    raise ValueError(f"channel {name!r} has no region")


REGION_OF: dict[str, str] = {n: _region_of(n) for n in CHANNELS}
REGION_INDEX: dict[str, tuple[int, ...]] = {r: tuple(i for i, n in enumerate(CHANNELS) if REGION_OF[n] == r)
                                            for r in REGIONS}
REST = np.zeros(len(CHANNELS), dtype=np.float32)  # (55,) neutral face, head straight
N_SHAPES = len(ARKIT_52)


def check_strengths(strength: dict[str, float]) -> None:
    """Raise ValueError (user-facing) for an unknown region or a strength outside 0..2."""
    for r, s in strength.items():
        if r not in REGIONS:
            raise ValueError(f"unknown region {r!r}; choose from {', '.join(REGIONS)}")
        if not STRENGTH_RANGE[0] <= float(s) <= STRENGTH_RANGE[1]:
            raise ValueError(f"strength of {r} must be between {STRENGTH_RANGE[0]:g} and {STRENGTH_RANGE[1]:g}, "
                             f"got {s}")


def apply_strength(perf: np.ndarray, strength: dict[str, float]) -> np.ndarray:
    """Scale each region's deviation from rest. perf: (T, 55) -> new (T, 55) float32.

    Regions missing from ``strength`` keep strength 1. Shape-key channels are clipped to [0, 1]; head
    rotation (radians) is not clipped.
    """
    check_strengths(strength)
    out = np.array(perf, dtype=np.float32, copy=True)
    for r, s in strength.items():
        s = float(s)
        if s == 1.0:
            continue
        idx = list(REGION_INDEX[r])
        out[:, idx] = REST[idx] + s * (out[:, idx] - REST[idx])
    np.clip(out[:, :N_SHAPES], 0.0, 1.0, out=out[:, :N_SHAPES])
    return out
