"""Performance renderer: speech audio + phone segments -> ``(F, 55)`` performance and frame labels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .articulation import (
    ArticulationStyle,
    Segment,
    articulate,
    closure_frames,
    enforce_closures,
    frame_classes,
    segment_loudness,
)
from .expression import ExpressionStyle, add_expression


@dataclass
class Rendered:
    """A rendered performance at ``fps``."""

    perf: np.ndarray         # (F, 55) float32
    phone_class: np.ndarray  # (F,) int8
    closure: np.ndarray      # (F,) bool


def n_frames_for(n_samples: int, sr: int, fps: float) -> int:
    """Number of frames covering ``n_samples`` of audio (frame f covers [f/fps, (f+1)/fps))."""
    return int(np.ceil(n_samples / sr * fps - 1e-9))


def render(audio: np.ndarray, sr: int, segs: list[Segment], fps: float, emotion: int, intensity: float,
           art: ArticulationStyle, expr: ExpressionStyle, rng: np.random.Generator) -> Rendered:
    """Render a performance for ``audio`` ``(S,)`` whose phones are ``segs`` (times in s).

    Deterministic given ``rng``. Lip closures on bilabials and closed silences hold at any ``fps``.
    """
    n = n_frames_for(len(audio), sr, fps)
    db = segment_loudness(segs, audio, sr)
    perf = articulate(segs, n, fps, art, db)
    add_expression(perf, fps, segs, db, emotion, intensity, expr, rng)
    enforce_closures(perf, segs, fps)
    return Rendered(perf.astype(np.float32), frame_classes(segs, n, fps), closure_frames(segs, n, fps))
