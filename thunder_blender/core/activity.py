"""Voice activity from frame energy: where the speaker pauses (numpy only).

A frame is voiced when its RMS level is within ``floor_db`` of the clip's loud level (the 95th percentile of
frame levels), so the measure follows the recording's gain. Gaps shorter than ``min_pause_s`` (stop closures,
short dips between syllables) do not count as pauses. Used by the blink layer (``core.blinks``) to place more
blinks at phrase boundaries and pauses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ActivityConfig:
    floor_db: float = 30.0      # a frame more than this below the loud level is silent
    min_pause_s: float = 0.15   # shorter silent gaps inside speech are not pauses


_FRAMES_PER_BLOCK = 1 << 15


def frame_level_db(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int) -> np.ndarray:
    """RMS level in dBFS of the audio around each animation frame.

    audio: (S,) float in [-1, 1]. Frame ``f`` covers samples ``[f, f + 1) * sample_rate / fps``.
    Returns (n_frames,) float64 (frames past the end of the audio read as -120 dB).
    """
    x = np.asarray(audio).reshape(-1)
    edges = np.round(np.arange(n_frames + 1) * float(sample_rate) / float(fps)).astype(np.int64)
    edges = np.clip(edges, 0, x.size)
    power = np.zeros(n_frames)
    for f0 in range(0, n_frames, _FRAMES_PER_BLOCK):  # float64 per block only: an hour of audio stays small
        f1 = min(n_frames, f0 + _FRAMES_PER_BLOCK)
        seg = np.asarray(x[edges[f0]:edges[f1]], dtype=np.float64)
        starts = edges[f0:f1] - edges[f0]
        full = starts < seg.size
        if full.any():
            power[f0:f1][full] = np.add.reduceat(seg * seg, starts[full]) if seg.size else 0.0
    count = np.maximum(edges[1:] - edges[:-1], 1)
    power = np.where(edges[1:] > edges[:-1], power / count, 0.0)
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def pause_frames(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int,
                 cfg: ActivityConfig = ActivityConfig()) -> np.ndarray:
    """(n_frames,) bool: True on frames inside a pause (a silent stretch of at least ``cfg.min_pause_s``).

    Silence before the first and after the last voiced frame counts as pause.
    """
    level = frame_level_db(audio, sample_rate, fps, n_frames)
    silent = level < np.percentile(level, 95) - cfg.floor_db
    min_len = max(1, int(round(cfg.min_pause_s * fps)))
    out = np.zeros(n_frames, dtype=bool)
    change = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])))
    for start, stop in zip(change[0::2], change[1::2], strict=True):
        if stop - start >= min_len or start == 0 or stop == n_frames:
            out[start:stop] = True
    return out
