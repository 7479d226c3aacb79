"""The mouth at rest in silence: where the encoder hears silence, the lips close and the jaw settles.

    w = rest_weights(p_sil)          # (T,) in [0, 1] from the phone head's silence posterior (T,)
    perf = rest_mouth(perf, w)       # opening channels scaled by 1 - w

A frame rests when its silence posterior is at least ``threshold``. The mask is smoothed with a Hann window of
``2 * ramp + 1`` frames (its ends are 0), so the mouth eases shut over about ``ramp`` frames on each side of a silence instead of
snapping (a one-frame silence rests only partly). ``rest_mouth`` scales ``jawOpen``, ``mouthClose`` (which
closes the lips against the jaw, so it scales with it and a sealed mouth stays sealed) and the lip-opening
channels toward 0; smiles, frowns, brows, eyes and head are untouched. Used by ``runtime.generate`` when the
card (or request) asks for ``silence_rest``; numpy only.
"""
from __future__ import annotations

import numpy as np

from .closures import LIP_OPENING, SEAL_CHANNELS

# the channels a lip seal drives (core.closures): jawOpen, mouthClose and the lip-opening channels
REST_CHANNELS: tuple[str, ...] = ("jawOpen", "mouthClose", *LIP_OPENING)
_REST_INDEX = np.array(SEAL_CHANNELS)


def rest_weights(p_sil: np.ndarray, threshold: float = 0.5, ramp: int = 3) -> np.ndarray:
    """(T,) float32 rest weights in [0, 1] from the silence posterior ``p_sil`` (T,)."""
    mask = (np.asarray(p_sil, np.float64) >= threshold).astype(np.float64)
    if ramp <= 0 or mask.size == 0:
        return mask.astype(np.float32)
    k = np.hanning(2 * ramp + 1)
    k /= k.sum()
    padded = np.concatenate([np.full(ramp, mask[0]), mask, np.full(ramp, mask[-1])])
    return np.clip(np.convolve(padded, k, mode="valid"), 0.0, 1.0).astype(np.float32)


def rest_mouth(perf: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``perf`` (T, 55) with the opening channels scaled by ``1 - weights`` (T,); a modified copy."""
    out = np.array(perf, copy=True)
    out[:, _REST_INDEX] *= (1.0 - np.asarray(weights, out.dtype))[:, None]
    return out
