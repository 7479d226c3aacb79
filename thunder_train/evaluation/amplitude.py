"""Articulator peak amplitude at each phone's extremum: generated against target.

For every phone segment that drives an articulator, the articulator's extremum is taken over the
segment's frames (widened by ``slack`` frames each side, the same window for both sides), and the
ratio generated / target is reported per articulator:

=========  ===========================================  ==============================================
name       segments (pose keys)                         value
=========  ===========================================  ==============================================
jaw        open and mid vowels (ɑ æ ʌ ɛ e ə ɚ ɔ o)      max jawOpen
closure    bilabial                                     depth of the seal: max aperture in the
                                                        +-``context`` frames around the segment minus
                                                        min aperture in it (aperture = jawOpen - mouthClose)
funnel     o ɔ u ʊ w                                    max mouthFunnel
pucker     u ʊ w y ø                                    max mouthPucker
spread     i ɪ e                                        max of mean(mouthStretch L/R, mouthSmile L/R)
=========  ===========================================  ==============================================

``summary`` gives, per articulator, the number of segments, the ratio of summed peaks
(sum generated / sum target) and the median of per-segment ratios (segments whose target peak is below
``min_target`` are left out of the median).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from thunder_blender.core.channels import INDEX

Segment = tuple[str, int, float, float]

ROUNDED_POSES = ("o", "ɔ", "u", "ʊ", "w")


def _ch(name: str) -> Callable[[np.ndarray], np.ndarray]:
    i = INDEX[name]
    return lambda p: p[:, i]


def aperture(perf: np.ndarray) -> np.ndarray:
    """Lip aperture in ARKit weights: jawOpen - mouthClose, ``(F,)``."""
    return perf[:, INDEX["jawOpen"]] - perf[:, INDEX["mouthClose"]]


def spread(perf: np.ndarray) -> np.ndarray:
    names = ("mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight")
    return perf[:, [INDEX[n] for n in names]].mean(1)


# name -> (pose keys, value of a frame, kind)
ARTICULATORS: dict[str, tuple[tuple[str, ...], Callable[[np.ndarray], np.ndarray], str]] = {
    "jaw": (("ɑ", "æ", "ʌ", "ɛ", "e", "ə", "ɚ", "ɔ", "o"), _ch("jawOpen"), "max"),
    "closure": (("bilabial",), aperture, "depth"),
    "funnel": (ROUNDED_POSES, _ch("mouthFunnel"), "max"),
    "pucker": (("u", "ʊ", "w", "y", "ø"), _ch("mouthPucker"), "max"),
    "spread": (("i", "ɪ", "e"), spread, "max"),
}


def segment_frames(s: float, e: float, n_frames: int, fps: float, slack: int) -> tuple[int, int]:
    """Frame range [a, b) of frames whose span overlaps [s, e), widened by ``slack`` each side."""
    a = int(np.floor(s * fps)) - slack
    b = int(np.ceil(e * fps)) + slack
    return max(a, 0), min(max(b, a + 1), n_frames)


def segment_peaks(gen: np.ndarray, tgt: np.ndarray, segments: list[Segment], fps: float = 50.0,
                  slack: int = 1, context: int = 5) -> dict[str, list[tuple[float, float]]]:
    """(generated, target) extremum per segment and articulator. ``gen``, ``tgt``: ``(F, >=52)``."""
    n = min(len(gen), len(tgt))
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in ARTICULATORS}
    for pose, _, s, e in segments:
        for name, (poses, value, kind) in ARTICULATORS.items():
            if pose not in poses:
                continue
            a, b = segment_frames(s, e, n, fps, slack)
            if b <= a:
                continue
            vg, vt = value(gen[:n]), value(tgt[:n])
            if kind == "max":
                out[name].append((float(vg[a:b].max()), float(vt[a:b].max())))
            else:
                ca, cb = max(a - context, 0), min(b + context, n)
                out[name].append((float(vg[ca:cb].max() - vg[a:b].min()), float(vt[ca:cb].max() - vt[a:b].min())))
    return out


def merge(into: dict[str, list], more: dict[str, list]) -> dict[str, list]:
    for k, v in more.items():
        into.setdefault(k, []).extend(v)
    return into


def summary(peaks: dict[str, list[tuple[float, float]]], min_target: float = 0.05) -> dict[str, dict]:
    """Per articulator: n, ratio of sums, median per-segment ratio, mean generated and target peaks."""
    out = {}
    for name, pairs in peaks.items():
        if not pairs:
            continue
        g, t = np.array(pairs, np.float64).T
        ok = t >= min_target
        out[name] = {"n": int(len(g)), "ratio_of_sums": round(float(g.sum() / max(t.sum(), 1e-9)), 3),
                     "median_ratio": round(float(np.median(g[ok] / t[ok])), 3) if ok.any() else None,
                     "mean_generated": round(float(g.mean()), 3), "mean_target": round(float(t.mean()), 3)}
    return out
