"""Evaluation metrics on head vertices and mouth signals (numpy only, units stated per function).

Conventions: vertex arrays are metres, (T, V, 3); scalar mouth signals are millimetres, (T,).
"""
from __future__ import annotations

import itertools

import numpy as np


def lve_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Lip vertex error: per frame the maximum L2 error over the given (lip) vertices, averaged over frames.

    pred, gt: (T, L, 3) metres (lip vertices only). Returns millimetres.
    """
    err = np.linalg.norm(pred - gt, axis=-1).max(axis=-1)
    return float(err.mean() * 1000.0)


def pcc(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two (T,) signals; 0 when either is constant (no shared variation).

    Constant means a range within float32 rounding of the signal's magnitude (1e-6 relative): a constant
    pose posed through the head mesh can differ in the last bits between frames, and the correlation of
    that rounding noise means nothing.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if any(np.ptp(x) <= 1e-6 * (np.abs(x).max() + 1e-12) for x in (a, b)):
        return 0.0
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 1e-12 else 0.0


def ccc(a: np.ndarray, b: np.ndarray) -> float:
    """Lin's concordance correlation of two (T,) signals (penalises offset and scale, unlike PCC)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    cov = np.mean((a - a.mean()) * (b - b.mean()))
    den = a.var() + b.var() + (a.mean() - b.mean()) ** 2
    return float(2 * cov / den) if den > 1e-12 else 1.0


def dtw(a: np.ndarray, b: np.ndarray) -> float:
    """Dynamic time warping distance between (T,) and (U,) signals, absolute-difference cost, steps
    (1,0), (0,1), (1,1); total cost of the best alignment divided by len(b) (units of the signals)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("dtw needs non-empty signals")
    prev = np.cumsum(np.abs(a[0] - b))
    for i in range(1, len(a)):
        c = np.abs(a[i] - b)
        m = np.minimum(prev, np.concatenate([[np.inf], prev[:-1]]))  # from (i-1, j) or (i-1, j-1)
        cs = np.cumsum(c)
        # row[j] = min_k<=j (m[k] + sum_{l=k..j} c[l]): the (i, j-1) steps as a running minimum
        prev = cs + np.minimum.accumulate(m - cs + c)
    return float(prev[-1] / len(b))


def dynamics_mm(verts: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Per-vertex motion dynamics: std over time of the displacement norm from the template.

    verts: (T, U, 3), template: (U, 3) metres -> (U,) millimetres.
    """
    return np.linalg.norm(verts - template[None], axis=-1).std(axis=0) * 1000.0


def fdd_mm(pred: np.ndarray, gt: np.ndarray, template: np.ndarray) -> float:
    """Upper-face dynamics deviation (CodeTalker's FDD): mean over upper-face vertices of
    |dynamics(gt) - dynamics(pred)|. pred, gt: (T, U, 3); template (U, 3) metres. Returns mm."""
    return float(np.abs(dynamics_mm(gt, template) - dynamics_mm(pred, template)).mean())


def pair_distance_mm(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames and vertices of the L2 distance between two (T, U, 3) trajectories, in mm."""
    t = min(len(a), len(b))
    return float(np.linalg.norm(a[:t] - b[:t], axis=-1).mean() * 1000.0)


def sample_diversity_mm(takes: list[np.ndarray]) -> list[float]:
    """S-DIV: distances between every pair of takes of the same audio (list of (T, U, 3) arrays).

    Returns one value per unordered pair (empty with fewer than two takes); identical takes give 0.
    """
    return [pair_distance_mm(a, b) for a, b in itertools.combinations(takes, 2)]


def lse(dist_per_offset: np.ndarray) -> tuple[float, float, int]:
    """SyncNet-style scores from a (2N + 1,) curve of mean embedding distance per offset -N..N.

    Returns (LSE-D = distance at offset 0, LSE-C = median - min over offsets, best offset in frames).
    """
    d = np.asarray(dist_per_offset, np.float64)
    n = (len(d) - 1) // 2
    return float(d[n]), float(np.median(d) - d.min()), int(np.argmin(d)) - n


def mean_std(values: list[float]) -> dict:
    """{"mean", "std", "n"} of finite values (population std; std 0 for a single value)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    if len(v) == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std()), "n": int(len(v))}
