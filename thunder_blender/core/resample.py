"""Resample a performance from the model's frame rate to a scene's frame rate, keeping brief extremes.

Frame ``f`` of a sequence at ``fps`` is the pose at time ``f / fps`` (the start of the frame it covers,
as in docs/ARCHITECTURE.md). Output frame ``j`` at ``dst_fps`` is computed at source position
``j * src_fps / dst_fps`` from the integer ``j`` alone, so there is no accumulated phase drift over long clips,
and fractional rates (29.97 = 30000/1001) are handled like any other.

Plain interpolation at a low scene rate can skip a short event entirely: at 12 fps a scene frame lands
every 83 ms, so a 40 ms lip closure (two 50 fps frames) can fall between two scene frames and never be seen.
``resample`` therefore starts from linear interpolation and then, per channel, makes sure every significant
local extremum of the source (a peak or a trough, plateaus included) is shown by a scene frame whose window
``[j - 1/2, j + 1/2)`` contains one of its samples, so it lands at most half a scene frame from where it
happened. Extremes are placed from the most prominent down; a frame that shows one is locked. Only when
more extremes than scene frames crowd into one stretch (e.g. a peak and a trough inside one 83 ms window
at 12 fps) can the weaker one be dropped. Since the choice uses the sample times only, a closure that is a
peak of mouthClose and a trough of jawOpen at the same source frames lands on the same scene frame.
"""
from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def n_output_frames(n_src: int, src_fps: float, dst_fps: float) -> int:
    """Number of scene frames covering ``n_src`` source frames (same duration, at least 1)."""
    return max(1, int(round(n_src * float(dst_fps) / float(src_fps))))


def _extremum_runs(x: np.ndarray, min_prominence: float, reach: int = 1) -> tuple[np.ndarray, ...]:
    """Local extrema of ``x`` as runs ``(start, stop, value, prominence)`` arrays, peaks and troughs together.

    x: (T,) float64. Runs of equal values are treated as one sample (plateaus). A run is a peak (trough)
    when it is higher (lower) than the runs on both sides. Its prominence is measured at the scale of a scene
    frame: the smaller of the drops to the lowest (highest) sample within ``reach`` samples on each side
    (a side that runs off the clip counts as an infinite drop). With ``reach = 1`` this is the step to the
    neighbours; ``resample`` uses ``reach = ceil(src_fps / dst_fps)``, so a smooth peak that plain
    interpolation would shave off at a low scene rate still counts.
    """
    n = x.shape[0]
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(x[1:], x[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    if starts.size < 2:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty, empty
    vals = x[starts]
    stops = np.empty_like(starts)
    stops[:-1] = starts[1:]
    stops[-1] = n
    reach = max(1, int(reach))
    n_win = n + reach + 1  # win_min[i] = min of the padded signal over [i, i + reach) = y[i - reach:i]
    step = vals[1:] - vals[:-1]
    parts = []
    for sign in (1.0, -1.0):
        y = sign * vals
        left = np.empty_like(y)
        left[0], left[1:] = np.inf, sign * step
        right = np.empty_like(y)
        right[-1], right[:-1] = np.inf, -sign * step
        k = np.flatnonzero((left > 0) & (right > 0))
        ypad = np.full(n + 2 * reach, -np.inf)
        ypad[reach:reach + n] = sign * x
        win_min = ypad[:n_win].copy()
        for r in range(1, reach):
            np.minimum(win_min, ypad[r:r + n_win], out=win_min)
        drop_left = y[k] - win_min[starts[k]]
        drop_right = y[k] - win_min[stops[k] + reach]
        prom = np.minimum(drop_left, drop_right)
        keep = prom >= min_prominence
        parts.append((starts[k][keep], stops[k][keep], vals[k][keep], prom[keep]))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))


def _place_extremes(col: np.ndarray, out: np.ndarray, ratio: float, min_prominence: float) -> None:
    """Write unrepresented extrema of ``col`` (T,) onto ``out`` (M,) in place.

    Runs are visited from the most prominent (and, on ties, the briefest) down. A run is represented when
    a scene frame whose window holds one of its samples already shows its value; that frame is then locked
    so a later, weaker extreme cannot overwrite it. Otherwise the run's value goes onto the free frame of
    its windows nearest to the run's centre, which is then locked.
    """
    m = out.shape[0]
    start, stop, value, prom = _extremum_runs(col, min_prominence, math.ceil(ratio - 1e-9))
    if start.size == 0:
        return
    order = np.lexsort((start, stop - start, -prom))
    start, stop, value = start[order], stop[order], value[order]
    # Scene frames whose windows hold one of a run's samples: a contiguous range [a, b].
    a_all = np.floor(start / ratio + 0.5).astype(np.int64)
    b_all = np.minimum(np.floor((stop - 1) / ratio + 0.5).astype(np.int64), m - 1)
    centre_all = 0.5 * (start + stop - 1) / ratio
    vals = out.tolist()  # plain Python scalars: this loop is sequential (locks), so avoid numpy per step
    locked = bytearray(m)
    for a, b, v, centre in zip(a_all.tolist(), b_all.tolist(), value.tolist(), centre_all.tolist(), strict=True):
        if a == b:  # the common case: one window
            if abs(vals[a] - v) <= 1e-9:
                locked[a] = 1
            elif not locked[a]:
                vals[a] = v
                locked[a] = 1
            continue
        if a > b:
            continue
        shown = [j for j in range(a, b + 1) if abs(vals[j] - v) <= 1e-9]
        if shown:
            if len(shown) == 1:
                locked[shown[0]] = 1
            continue
        best, dist = -1, math.inf
        for j in range(a, b + 1):
            if not locked[j] and abs(j - centre) < dist:
                best, dist = j, abs(j - centre)
        if best >= 0:
            vals[best] = v
            locked[best] = 1
    out[:] = vals


def resample(
    x: npt.ArrayLike,
    src_fps: float,
    dst_fps: float,
    n_out: int | None = None,
    preserve_extremes: bool = True,
    min_prominence: float = 0.01,
) -> FloatArray:
    """Resample a performance in time.

    x: (T, C) values at ``src_fps``. Returns (M, C) float32 at ``dst_fps`` with
    ``M = n_out`` or ``n_output_frames(T, src_fps, dst_fps)``; positions past the last source frame
    hold the last value. ``preserve_extremes`` puts every local extreme (prominence >= ``min_prominence``)
    on the nearest scene frame (see the module docstring).
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"expected a (T, C) array, got shape {a.shape}")
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError("frame rates must be positive")
    t_src, n_ch = a.shape
    if t_src == 0:
        raise ValueError("cannot resample an empty performance")
    m = n_output_frames(t_src, src_fps, dst_fps) if n_out is None else int(n_out)
    if float(src_fps) == float(dst_fps) and m == t_src:
        return a.astype(np.float32)
    ratio = float(src_fps) / float(dst_fps)
    pos = np.arange(m, dtype=np.float64) * ratio  # source position of each output frame
    grid = np.arange(t_src, dtype=np.float64)
    out = np.empty((m, n_ch), dtype=np.float64)
    for c in range(n_ch):
        out[:, c] = np.interp(pos, grid, a[:, c])
    if preserve_extremes and t_src > 1:
        for c in range(n_ch):
            _place_extremes(a[:, c], out[:, c], ratio, min_prominence)
    return out.astype(np.float32)


def scene_fps(fps: int, fps_base: float) -> float:
    """Blender's effective frame rate (``render.fps / render.fps_base``)."""
    return float(fps) / float(fps_base)
