"""Blinks: a stochastic layer seeded by the take's seed, and the statistics used to check it (numpy only).

Why a layer and not the model: the diffusion sampler loses sparse, brief events. Measured on recorded speech
the shipped model blinks a few times a minute, mostly partially (models/MODEL_CARD.md), against 12-25 full
blinks a minute for people speaking. Blinks carry no lip-sync information, so they are drawn here.

The process, per take (``blink_events``):

* a take draws its own base rate, uniform in ``cfg.rate_per_min`` (takes differ, as people do);
* onsets follow a Poisson process whose intensity is raised ``1 + cfg.pause_boost`` times on pause frames
  and around phrase boundaries (``core.activity.pause_frames``, widened by ``cfg.boundary_s``), normalised
  so the mean rate over the take stays the base rate: blinks cluster at pauses without changing the count;
* consecutive blinks are at least ``cfg.refractory_s`` apart (onset to onset, after the previous blink);
* the first onset is placed at a uniform phase of the first mean interval, so a take shorter than a few
  seconds still blinks once;
* each blink lasts ``cfg.duration_s`` (log-normal, clipped), closes fast, holds shut for at least one frame
  and opens more slowly; its peak is ``>= cfg.min_peak`` (full closure); left and right share the timing
  exactly (a few percent of amplitude difference, both still closed).

``apply_blinks`` combines the layer with what the model generated: the model's own eyeBlink channels keep
only their slow part (a running median over ``cfg.baseline_s``, capped at ``cfg.baseline_cap``: lid level
for emotions), and the layer is laid on top with ``max``. The model's brief partial closures are removed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .channels import INDEX

BLINK_LEFT, BLINK_RIGHT = INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]
LOOK_DOWN = (INDEX["eyeLookDownLeft"], INDEX["eyeLookDownRight"])


@dataclass(frozen=True)
class BlinkConfig:
    rate_per_min: tuple[float, float] = (15.0, 22.0)  # a take's base rate is drawn uniformly in this range
    pause_boost: float = 3.0         # onset intensity x (1 + boost) in pauses / at phrase boundaries
    boundary_s: float = 0.25         # pause frames are widened by this much on both sides
    refractory_s: float = 0.5        # minimum time from the end of a blink to the next onset
    duration_s: float = 0.24         # median blink duration (onset to fully open)
    duration_sigma: float = 0.2      # log-normal spread of the duration
    duration_range: tuple[float, float] = (0.15, 0.36)
    attack: float = 0.3              # share of the duration spent closing
    min_peak: float = 0.95           # peaks are drawn in [min_peak, 1]
    asymmetry: float = 0.02          # left/right amplitude difference (relative), timing identical
    look_down: float = 0.15          # eyes roll down slightly while the lid is shut
    baseline_s: float = 0.7          # running-median window that strips the model's own blinks
    baseline_cap: float = 0.4        # the kept model lid level never exceeds this


@dataclass(frozen=True)
class Blink:
    """One blink: onset and duration in seconds, peak closure (left, right)."""

    onset: float
    duration: float
    peak_left: float
    peak_right: float


def take_rng(seed: int, stream: int) -> np.random.Generator:
    """The generator of one stochastic layer of a take: a function of the take's seed and the layer only."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, int(stream)])


BLINK_STREAM = 0xB11


def blink_events(n_frames: int, fps: float, pause: np.ndarray | None, rng: np.random.Generator,
                 cfg: BlinkConfig = BlinkConfig()) -> list[Blink]:
    """Draw the blinks of one take. pause: (n_frames,) bool or None (uniform intensity)."""
    dur_total = n_frames / float(fps)
    rate = float(rng.uniform(*cfg.rate_per_min)) / 60.0  # per second
    mean_gap = 1.0 / rate
    weight = np.ones(n_frames)
    if pause is not None and np.any(pause):
        widen = int(round(cfg.boundary_s * fps))
        p = np.asarray(pause, dtype=bool)
        if widen > 0:
            k = np.ones(2 * widen + 1)
            p = np.convolve(p.astype(np.float64), k, mode="same") > 0
        weight += cfg.pause_boost * p
    weight /= weight.mean()
    # warped time: cum[f] is the expected number of mean intervals before frame f, in seconds
    cum = np.concatenate([[0.0], np.cumsum(weight) / fps])
    times = np.arange(n_frames + 1) / fps
    lo, hi = np.log(cfg.duration_range[0]), np.log(cfg.duration_range[1])
    mean_d = float(np.clip(cfg.duration_s, *cfg.duration_range))
    free = max(mean_gap - cfg.refractory_s - mean_d, 0.05)  # mean random part of an interval
    out: list[Blink] = []
    warped = float(rng.uniform(0.0, mean_gap))  # uniform phase: a short take still blinks
    earliest = 0.0
    while True:
        t = float(np.interp(warped, cum, times))
        t = max(t, earliest)
        d = float(np.exp(np.clip(rng.normal(np.log(cfg.duration_s), cfg.duration_sigma), lo, hi)))
        if t + d > dur_total:
            break
        peak = float(rng.uniform(cfg.min_peak, 1.0))
        a = float(rng.uniform(-cfg.asymmetry, cfg.asymmetry))
        out.append(Blink(t, d, min(1.0, peak * (1 + a)), min(1.0, peak * (1 - a))))
        earliest = t + d + cfg.refractory_s
        warped = float(np.interp(earliest, times, cum)) + float(rng.exponential(free))
    return out


def blink_curve(n_frames: int, fps: float, onset: float, duration: float, attack: float) -> np.ndarray:
    """(n_frames,) closure 0..1 of one blink sampled at frame times ``f / fps``.

    Closes with a sine ease over ``attack * duration``, stays shut for the frame after, then opens over the
    rest of the duration. At least one frame lands on full closure whatever the frame rate.
    """
    t = np.arange(n_frames) / float(fps)
    close_t = attack * duration
    hold = 1.0 / float(fps)  # one frame shut: a sample always lands on the closed lid
    open_t = max(duration - close_t - hold, 1e-3)
    u_close = (t - onset) / close_t
    u_open = (t - onset - close_t - hold) / open_t
    y = np.zeros(n_frames)
    rising = (u_close >= 0) & (u_close < 1)
    y[rising] = np.sin(0.5 * np.pi * u_close[rising]) ** 2
    shut = (u_close >= 1) & (u_open <= 0)
    y[shut] = 1.0
    falling = (u_open > 0) & (u_open < 1)
    y[falling] = np.cos(0.5 * np.pi * u_open[falling]) ** 2
    return y


def running_median(x: np.ndarray, width: int) -> np.ndarray:
    """(T,) running median over ``width`` frames (odd, edges padded with the edge value)."""
    width = max(1, int(width) | 1)
    if width == 1 or x.shape[0] < 2:
        return x.astype(np.float64)
    h = width // 2
    pad = np.pad(np.asarray(x, dtype=np.float64), h, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(pad, width), axis=1)


def apply_blinks(perf: np.ndarray, fps: float, pause: np.ndarray | None, rng: np.random.Generator,
                 cfg: BlinkConfig = BlinkConfig()) -> tuple[np.ndarray, list[Blink]]:
    """Replace the model's blinks by the layer's. perf: (T, 55) -> (copy (T, 55), the blinks drawn)."""
    out = np.array(perf, dtype=np.float32, copy=True)
    n = out.shape[0]
    events = blink_events(n, fps, pause, rng, cfg)
    width = int(round(cfg.baseline_s * fps))
    left = np.zeros(n)
    right = np.zeros(n)
    for b in events:
        y = blink_curve(n, fps, b.onset, b.duration, cfg.attack)
        left = np.maximum(left, b.peak_left * y)
        right = np.maximum(right, b.peak_right * y)
    for ch, layer in ((BLINK_LEFT, left), (BLINK_RIGHT, right)):
        base = np.minimum(running_median(out[:, ch], width), cfg.baseline_cap)
        out[:, ch] = np.maximum(base, layer)
    both = 0.5 * (left + right)
    for ch in LOOK_DOWN:
        out[:, ch] = np.clip(out[:, ch] + cfg.look_down * both, 0.0, 1.0)
    return out, events


# -- statistics --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BlinkStats:
    """Blinks found in a (T, 55) performance: per blink onset/duration (s), peaks and the left-right lag."""

    onsets: np.ndarray       # (B,) s, left eye crossing ``threshold`` upward
    durations: np.ndarray    # (B,) s, time above ``floor`` around the blink (left eye)
    peaks_left: np.ndarray   # (B,)
    peaks_right: np.ndarray  # (B,)
    lag: np.ndarray          # (B,) s, |left - right| upward crossing time of ``threshold``
    seconds: float

    @property
    def rate_per_min(self) -> float:
        return 60.0 * len(self.onsets) / self.seconds if self.seconds > 0 else 0.0


def _crossings(x: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Upward and downward crossing positions (fractional frames, linear interpolation) of ``level``."""
    above = x >= level
    up = np.flatnonzero(~above[:-1] & above[1:])
    down = np.flatnonzero(above[:-1] & ~above[1:])
    up_pos = up + (level - x[up]) / (x[up + 1] - x[up])
    down_pos = down + (x[down] - level) / (x[down] - x[down + 1])
    return up_pos, down_pos


def measure_blinks(perf: np.ndarray, fps: float, threshold: float = 0.5, floor: float = 0.1) -> BlinkStats:
    """Blinks of a performance: each excursion of eyeBlinkLeft above ``threshold`` is one blink.

    Duration is the time the lid spends above ``floor`` around it (interpolated crossings); the peak is the
    maximum of each eye within that span; the lag compares the two eyes' ``threshold`` crossings (a blink the
    right eye does not make gets an infinite lag). An excursion already open at the start or still open at the
    end of the clip is not counted.
    """
    p = np.asarray(perf, dtype=np.float64)
    left, right = p[:, BLINK_LEFT], p[:, BLINK_RIGHT]
    n = p.shape[0]
    ups, _ = _crossings(left, threshold)
    f_up, f_down = _crossings(left, floor)
    r_up, _ = _crossings(right, threshold)
    onsets, durs, pl, pr, lag = [], [], [], [], []
    for u in ups:
        starts = f_up[f_up <= u]
        ends = f_down[f_down > u]
        if starts.size == 0 or ends.size == 0:
            continue
        s, e = float(starts[-1]), float(ends[0])
        lo, hi = int(np.floor(s)), min(n, int(np.ceil(e)) + 1)
        onsets.append(u / fps)
        durs.append((e - s) / fps)
        pl.append(float(left[lo:hi].max()))
        pr.append(float(right[lo:hi].max()))
        near = r_up[(r_up >= s - 1) & (r_up <= e + 1)]
        lag.append(float(np.min(np.abs(near - u))) / fps if near.size else np.inf)
    return BlinkStats(np.array(onsets), np.array(durs), np.array(pl), np.array(pr), np.array(lag), n / float(fps))
