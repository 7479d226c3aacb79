"""Gaze: fixations and saccades in place of the model's slow drift (numpy only, seeded by the take's seed).

The model's eyeLook* channels wander slowly; real eyes hold still and jump. This layer keeps where the model
looks on average but re-times it: the take is cut into fixations (log-normal durations, ``cfg.fixation_s``);
each fixation holds one direction (the model's mean gaze over that stretch plus a small random offset,
``cfg.offset``), and neighbouring fixations are joined by a saccade of ``cfg.saccade_s`` (a smoothstep).

Gaze is read from and written back to the eight eyeLook channels as two angles in channel units:
``x > 0`` looks to the character's left (eyeLookOutLeft and eyeLookInRight), ``y > 0`` looks up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .channels import INDEX

GAZE_STREAM = 0x6A2E
_L, _R = "Left", "Right"


@dataclass(frozen=True)
class GazeConfig:
    fixation_s: float = 0.9          # median fixation length
    fixation_sigma: float = 0.5      # log-normal spread
    fixation_range: tuple[float, float] = (0.3, 3.0)
    saccade_s: float = 0.04          # duration of a jump between fixations
    offset: tuple[float, float] = (0.06, 0.04)  # std of the random offset per fixation (x, y), channel units
    limit: float = 0.5               # |x|, |y| never exceed this


def read_gaze(perf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) gaze of a (T, 55) performance, each (T,) float64, averaged over both eyes."""
    p = np.asarray(perf, dtype=np.float64)
    c = {k: p[:, INDEX[k]] for k in INDEX if k.startswith("eyeLook")}
    x = 0.5 * (c["eyeLookOutLeft"] - c["eyeLookInLeft"] + c["eyeLookInRight"] - c["eyeLookOutRight"])
    y = 0.5 * (c["eyeLookUpLeft"] + c["eyeLookUpRight"] - c["eyeLookDownLeft"] - c["eyeLookDownRight"])
    return x, y


def write_gaze(perf: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """Write gaze angles (T,) into the eyeLook channels of ``perf`` (T, 55) in place."""
    right, left = np.clip(x, 0, 1), np.clip(-x, 0, 1)
    up, down = np.clip(y, 0, 1), np.clip(-y, 0, 1)
    perf[:, INDEX["eyeLookOutLeft"]] = right
    perf[:, INDEX["eyeLookInRight"]] = right
    perf[:, INDEX["eyeLookInLeft"]] = left
    perf[:, INDEX["eyeLookOutRight"]] = left
    for side in (_L, _R):
        perf[:, INDEX["eyeLookUp" + side]] = up
        perf[:, INDEX["eyeLookDown" + side]] = down


def fixation_bounds(n_frames: int, fps: float, rng: np.random.Generator, cfg: GazeConfig = GazeConfig()) -> np.ndarray:
    """Frame indices where fixations start (first is 0): (K,) int64, strictly increasing."""
    lo, hi = np.log(cfg.fixation_range[0]), np.log(cfg.fixation_range[1])
    starts = [0]
    t = float(rng.uniform(0.0, cfg.fixation_s))  # uniform phase for the first jump
    while True:
        f = int(round(t * fps))
        if f >= n_frames:
            break
        if f > starts[-1]:
            starts.append(f)
        t += float(np.exp(np.clip(rng.normal(np.log(cfg.fixation_s), cfg.fixation_sigma), lo, hi)))
    return np.array(starts, dtype=np.int64)


def apply_gaze(perf: np.ndarray, fps: float, rng: np.random.Generator,
               cfg: GazeConfig = GazeConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Fixations and saccades from the model's gaze. perf: (T, 55) -> (copy (T, 55), fixation starts (K,))."""
    out = np.array(perf, dtype=np.float32, copy=True)
    n = out.shape[0]
    x, y = read_gaze(out)
    starts = fixation_bounds(n, fps, rng, cfg)
    stops = np.append(starts[1:], n)
    tx = np.array([x[s:e].mean() for s, e in zip(starts, stops, strict=True)])
    ty = np.array([y[s:e].mean() for s, e in zip(starts, stops, strict=True)])
    tx = np.clip(tx + rng.normal(0.0, cfg.offset[0], tx.size), -cfg.limit, cfg.limit)
    ty = np.clip(ty + rng.normal(0.0, cfg.offset[1], ty.size), -cfg.limit, cfg.limit)
    gx = np.repeat(tx, stops - starts)
    gy = np.repeat(ty, stops - starts)
    # saccades: a smoothstep from the previous fixation's direction over saccade_s, ending at the start frame
    m = max(1, int(round(cfg.saccade_s * fps)))
    for k in range(1, starts.size):
        s = int(starts[k])
        a = max(int(starts[k - 1]) + 1, s - m + 1)
        u = (np.arange(a, s + 1) - (s - m)) / m
        w = u * u * (3 - 2 * u)
        gx[a:s + 1] = tx[k - 1] + (tx[k] - tx[k - 1]) * w
        gy[a:s + 1] = ty[k - 1] + (ty[k] - ty[k - 1]) * w
    write_gaze(out, gx, gy)
    return out, starts
