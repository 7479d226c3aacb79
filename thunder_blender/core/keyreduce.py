"""Key reduction: bake curves to few linear keys within a maximum error (numpy only).

Keys sit on sampled frames and keep their sampled values; between keys a curve is linear, as Blender
evaluates LINEAR keys. For every curve the error against the sampled values is at most ``tol`` on every
frame. Frames in ``keep`` (e.g. sealed lip closures) always get a key on the curves marked in ``keep_curves``.

Greedy, all curves at once: from the last key, the next key is pushed as far as a straight line can reach
while passing within ``tol`` of every sample in between. Feasibility is tracked as an interval of slopes (each
sample in between narrows it), so one pass over the frames suffices: O(T) numpy steps over all curves.
"""
from __future__ import annotations

import numpy as np

DEFAULT_TOLERANCE = 0.01


def reduce_keys(values: np.ndarray, tol: float = DEFAULT_TOLERANCE, keep: np.ndarray | None = None,
                keep_curves: np.ndarray | None = None) -> np.ndarray:
    """Which samples to key. values: (T, K) curves sampled on frames 0..T-1.

    keep: (T,) bool frames that must be keyed on the curves ``keep_curves`` ((K,) bool; default all), or
    (T, K) bool per curve (then ANDed with ``keep_curves``). Curves are independent: reducing several takes'
    curves in one call (stacked along K) gives the same keys as one call per take, faster.
    Returns (T, K) bool; the first and last frames are always keyed. ``tol <= 0`` keys every frame.
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"expected (T, K) values, got shape {y.shape}")
    t_len, k_len = y.shape
    mask = np.zeros((t_len, k_len), dtype=bool)
    if t_len == 0:
        return mask
    if tol <= 0 or t_len <= 2:
        mask[:] = True
        return mask
    mask[0] = True
    mask[-1] = True
    curves = np.ones(k_len, dtype=bool) if keep_curves is None else np.asarray(keep_curves, dtype=bool)
    if keep is None:
        forced = np.zeros((t_len, k_len), dtype=bool)
    else:
        kp = np.asarray(keep, dtype=bool)
        forced = (kp[:, None] if kp.ndim == 1 else kp) & curves[None, :]
    forced_rows = forced.any(axis=1)
    mask |= forced
    tol = float(tol) * (1.0 - 1e-9)  # keep the bound strict under rounding
    anchor = np.zeros(k_len, dtype=np.int64)
    ya = y[0].copy()
    lo = np.full(k_len, -np.inf)
    hi = np.full(k_len, np.inf)
    cols = np.arange(k_len)
    for k in range(1, t_len):
        yk = y[k]
        dt = k - anchor
        s = (yk - ya) / dt
        broken = (s < lo) | (s > hi)
        if broken.any():  # the line cannot reach frame k: key the previous frame, restart from it
            b = cols[broken]
            mask[k - 1, b] = True
            anchor[b] = k - 1
            ya[b] = y[k - 1, b]
            lo[b] = -np.inf
            hi[b] = np.inf
            dt = k - anchor
        np.maximum(lo, (yk - tol - ya) / dt, out=lo)
        np.minimum(hi, (yk + tol - ya) / dt, out=hi)
        if forced_rows[k]:
            f = forced[k]
            anchor[f] = k
            ya[f] = yk[f]
            lo[f] = -np.inf
            hi[f] = np.inf
    return mask


def max_error(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(K,) largest |linear interpolation of the kept keys - values| per curve (a check of the bound)."""
    y = np.asarray(values, dtype=np.float64)
    t = np.arange(y.shape[0])
    return np.array([np.abs(np.interp(t, t[mask[:, c]], y[mask[:, c], c]) - y[:, c]).max()
                     for c in range(y.shape[1])])
