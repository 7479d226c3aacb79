"""Articulation model: phone segments -> mouth/jaw channels (ARKit-52), with guaranteed lip closures.

Model (documented in docs/DATA_CARD.md):
1. Each segment has a target pose (``POSES``; ARKit weights) and, per channel group (see below), a
   dominance strength (``DOMINANCE``), in the spirit of Cohen & Massaro's coarticulation model:
   ``D_i(t) = a_i * exp(-|t - c_i| / w_i)`` with ``w_i`` wider before the segment centre
   (anticipation) than after it. A channel's value is the dominance-weighted mean of the targets.
   Three channel groups have their own dominances: jaw; lips (closing, pressing, rolling, raising and
   lowering the lips), where bilabials and labiodentals dominate; and lip shape (rounding and
   spreading), which vowels, /w/ and postalveolars specify and other consonants (bilabials included)
   barely do, so vowel rounding spreads over neighbouring consonants, earlier before the vowel than
   after it (anticipatory rounding), and rounded vowels reach their targets in connected speech.
2. The trajectory is evaluated on a 400 Hz grid and box-averaged into frames of ``1/fps`` s
   (frame f covers [f/fps, (f+1)/fps)).
3. Vowel jaw opening is scaled by the segment's loudness relative to the utterance, and by the
   speaker style (jaw scale, lip-rounding scale, spread, coarticulation width).
4. Closure guarantee, applied last at the output rate: every bilabial segment gets the frames that
   overlap it by at least half a frame (at least the frame of largest overlap), and on those frames
   the lips are sealed: ``mouthClose = jawOpen`` (ARKit: lips together with the jaw slightly open),
   lip-opening channels (funnel, lower-down, upper-up, tongue) set to 0. Silences longer than
   0.12 s are closed and relaxed away from their edges. So closures survive any frame rate and the
   smoothing in step 2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thunder_blender.core.channels import ARKIT_52, INDEX, N_CHANNELS
from thunder_train.phones import CLASS_INDEX

Segment = tuple[str, int, float, float]  # (pose_key, class_id, start_s, end_s)

JAW = ("jawOpen", "jawForward")
# channels the phones drive (relaxed in silences; emotion channels such as smile/frown are left alone)
ARTICULATORS = ("jawOpen", "jawForward", "mouthFunnel", "mouthPucker", "mouthLowerDownLeft", "mouthLowerDownRight",
                "mouthUpperUpLeft", "mouthUpperUpRight", "mouthStretchLeft", "mouthStretchRight", "mouthRollLower",
                "mouthRollUpper", "tongueOut")
# channels that move the lips apart; zero on sealed frames
LIP_OPENING = ("mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
               "mouthUpperUpRight", "tongueOut")


def _p(**kw: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in kw.items():
        if k.endswith("_"):  # symmetric pair
            out[k[:-1] + "Left"] = v
            out[k[:-1] + "Right"] = v
        else:
            out[k] = v
    return out


POSES: dict[str, dict[str, float]] = {
    "sil": _p(jawOpen=0.03, mouthClose=0.03),
    "bilabial": _p(jawOpen=0.10, mouthClose=0.10, mouthPress_=0.25, mouthRollLower=0.08, mouthRollUpper=0.06),
    "labiodental": _p(jawOpen=0.12, mouthRollLower=0.45, mouthUpperUp_=0.18, mouthClose=0.04),
    "dental": _p(jawOpen=0.16, tongueOut=0.22, mouthLowerDown_=0.08, mouthStretch_=0.08),
    "alveolar": _p(jawOpen=0.15, mouthStretch_=0.10, mouthLowerDown_=0.05),
    "postalveolar": _p(jawOpen=0.14, mouthFunnel=0.40, mouthPucker=0.20, mouthUpperUp_=0.10),
    "dorsal": _p(jawOpen=0.22, mouthStretch_=0.06, mouthLowerDown_=0.05),
    "w": _p(jawOpen=0.10, mouthPucker=0.75, mouthFunnel=0.30),
    "u": _p(jawOpen=0.14, mouthPucker=0.70, mouthFunnel=0.35),
    "ʊ": _p(jawOpen=0.20, mouthPucker=0.45, mouthFunnel=0.35),
    "o": _p(jawOpen=0.30, mouthFunnel=0.55, mouthPucker=0.35),
    "ɔ": _p(jawOpen=0.42, mouthFunnel=0.45, mouthPucker=0.15, mouthLowerDown_=0.10),
    "y": _p(jawOpen=0.14, mouthPucker=0.65, mouthFunnel=0.20),
    "ø": _p(jawOpen=0.26, mouthPucker=0.50, mouthFunnel=0.35),
    "ɑ": _p(jawOpen=0.62, mouthLowerDown_=0.22, mouthUpperUp_=0.06, mouthStretch_=0.05),
    "æ": _p(jawOpen=0.52, mouthStretch_=0.25, mouthLowerDown_=0.25, mouthUpperUp_=0.08),
    "ʌ": _p(jawOpen=0.45, mouthLowerDown_=0.15, mouthStretch_=0.08),
    "i": _p(jawOpen=0.14, mouthStretch_=0.35, mouthSmile_=0.18, mouthLowerDown_=0.05),
    "ɪ": _p(jawOpen=0.20, mouthStretch_=0.25, mouthSmile_=0.10, mouthLowerDown_=0.08),
    "e": _p(jawOpen=0.27, mouthStretch_=0.28, mouthSmile_=0.10, mouthLowerDown_=0.12),
    "ɛ": _p(jawOpen=0.36, mouthStretch_=0.20, mouthLowerDown_=0.15),
    "ə": _p(jawOpen=0.25, mouthLowerDown_=0.08),
}
POSES["ɚ"] = POSES["ə"]  # r-coloured schwa: the same mouth (its own key only for its viseme label)
for _pose in POSES.values():
    assert all(k in INDEX for k in _pose), _pose

# dominance strength per class: (jaw group, lips group, lip-shape group)
# The lip-shape group (rounding: funnel, pucker; spreading: stretch, smile) is specified by vowels, /w/ and
# the English postalveolars; other consonants leave it to their neighbours (a /t/ or /m/ before /u/ is made
# with rounded lips: anticipatory rounding), so their shape dominance is weak. Closing the lips (bilabial
# dominance in the lips group) and rounding them are compatible: pucker is kept on sealed frames.
DOMINANCE: dict[str, tuple[float, float, float]] = {
    "sil": (0.6, 0.6, 0.3), "bilabial": (0.8, 3.0, 0.3), "labiodental": (0.7, 2.5, 0.4),
    "rounded": (1.2, 1.6, 5.0), "open": (1.6, 0.9, 1.0), "mid": (1.2, 0.8, 2.0), "dental": (0.6, 0.6, 0.3),
    "alveolar": (0.5, 0.25, 0.15), "postalveolar": (0.6, 1.4, 1.4), "dorsal": (0.5, 0.2, 0.15),
}
# per-pose overrides of the lip-shape dominance: schwa is the most coarticulated vowel; rounding is what
# /w/ is made of, and it is short
SHAPE_DOMINANCE_POSE: dict[str, float] = {"ə": 0.4, "ɚ": 0.4, "w": 8.0}
_CLASS_NAMES = {v: k for k, v in CLASS_INDEX.items()}
_VOWELS = (CLASS_INDEX["open"], CLASS_INDEX["mid"], CLASS_INDEX["rounded"])
_MOUTH_ARKIT = tuple(i for i, n in enumerate(ARKIT_52) if n.startswith(("jaw", "mouth")) or n in ("cheekPuff", "tongueOut"))
_JAW_IDX = np.array([INDEX[n] for n in JAW])
# lip shape: rounding and spreading
SHAPE = ("mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight")
_SHAPE_IDX = np.array([INDEX[n] for n in SHAPE])
_LIP_IDX = np.array([i for i in _MOUTH_ARKIT if ARKIT_52[i] not in JAW + SHAPE])


@dataclass
class ArticulationStyle:
    """Per-speaker articulation style (sampled once per voice)."""

    jaw_scale: float = 1.0       # multiplies jaw opening of vowels
    round_scale: float = 1.0     # multiplies pucker / funnel
    spread_scale: float = 1.0    # multiplies stretch / smile of front vowels
    width: float = 1.0           # coarticulation width (x segment half-duration)
    anticipation: float = 1.6    # how much wider the dominance is before a centre than after it
    loudness_gain: float = 0.04  # jaw factor per dB of segment loudness above the utterance median

    @staticmethod
    def sample(rng: np.random.Generator) -> ArticulationStyle:
        return ArticulationStyle(
            jaw_scale=float(rng.uniform(0.75, 1.3)), round_scale=float(rng.uniform(0.75, 1.25)),
            spread_scale=float(rng.uniform(0.6, 1.3)), width=float(rng.uniform(0.8, 1.4)),
            anticipation=float(rng.uniform(1.2, 2.2)), loudness_gain=float(rng.uniform(0.02, 0.06)),
        )


def _targets(segs: list[Segment], style: ArticulationStyle, seg_db: np.ndarray) -> np.ndarray:
    """Target pose per segment: ``(N, 55)``."""
    tgt = np.zeros((len(segs), N_CHANNELS), np.float32)
    med = float(np.median(seg_db)) if len(seg_db) else 0.0
    for k, (pose, cid, _, _) in enumerate(segs):
        for name, v in POSES.get(pose, POSES[_CLASS_NAMES[cid]] if _CLASS_NAMES[cid] in POSES else {}).items():
            if name in ("mouthPucker", "mouthFunnel"):
                v *= style.round_scale
            elif name.startswith(("mouthStretch", "mouthSmile")):
                v *= style.spread_scale
            tgt[k, INDEX[name]] = v
        if cid in _VOWELS:
            loud = 1.0 + style.loudness_gain * float(np.clip(seg_db[k] - med, -8, 6))
            tgt[k, INDEX["jawOpen"]] *= style.jaw_scale * loud
    return np.clip(tgt, 0.0, 1.0)


def segment_loudness(segs: list[Segment], audio: np.ndarray, sr: int) -> np.ndarray:
    """RMS level in dB of each segment's audio: ``(N,)``."""
    out = np.zeros(len(segs), np.float32)
    for k, (_, _, s, e) in enumerate(segs):
        x = audio[int(s * sr): max(int(e * sr), int(s * sr) + 1)].astype(np.float64)
        out[k] = 10 * np.log10(np.mean(x * x) + 1e-10) if len(x) else -100.0
    return out


def closure_frames(segs: list[Segment], n_frames: int, fps: float) -> np.ndarray:
    """Frames where the lips must be sealed: ``(F,) bool`` (one or more per bilabial segment)."""
    mask = np.zeros(n_frames, bool)
    bil = CLASS_INDEX["bilabial"]
    for _, cid, s, e in segs:
        if cid != bil:
            continue
        f0, f1 = int(np.floor(s * fps)), int(np.ceil(e * fps))
        fr = np.arange(max(f0, 0), min(max(f1, f0 + 1), n_frames))
        if len(fr) == 0:
            continue
        ov = np.minimum(e, (fr + 1) / fps) - np.maximum(s, fr / fps)
        keep = fr[ov >= 0.5 / fps]
        mask[keep if len(keep) else fr[[int(np.argmax(ov))]]] = True
    return mask


def _frame_labels(segs: list[Segment], labels: list[int], n_frames: int, fps: float) -> np.ndarray:
    """Per frame, the label of the segment covering the frame centre (0 outside every segment): ``(F,) int8``."""
    out = np.zeros(n_frames, np.int8)
    centres = (np.arange(n_frames) + 0.5) / fps
    starts = np.array([s for _, _, s, _ in segs])
    if len(segs):
        k = np.clip(np.searchsorted(starts, centres, side="right") - 1, 0, len(segs) - 1)
        ends = np.array([e for _, _, _, e in segs])
        out = np.where(centres < ends[k], np.asarray(labels, np.int8)[k], 0).astype(np.int8)
    return out


def frame_classes(segs: list[Segment], n_frames: int, fps: float) -> np.ndarray:
    """Phone class per frame (the segment covering the frame centre): ``(F,) int8``."""
    return _frame_labels(segs, [c for _, c, _, _ in segs], n_frames, fps)


def frame_visemes(segs: list[Segment], n_frames: int, fps: float) -> np.ndarray:
    """Viseme id per frame (``core.visemes.VISEMES``; ``phonemap.pose_viseme`` of the segment covering the frame
    centre, ``sil`` outside every segment): ``(F,) int8``."""
    from .phonemap import pose_viseme

    return _frame_labels(segs, [pose_viseme(p) for p, _, _, _ in segs], n_frames, fps)


def articulate(segs: list[Segment], n_frames: int, fps: float, style: ArticulationStyle,
               seg_db: np.ndarray | None = None, grid_hz: float = 400.0) -> np.ndarray:
    """Mouth and jaw channels for ``segs``: ``(F, 55)`` float32 (non-mouth channels 0).

    Closures and silences are *not* yet enforced; call :func:`enforce_closures` after any other
    layer that touches mouth channels.
    """
    perf = np.zeros((n_frames, N_CHANNELS), np.float32)
    if not segs or n_frames == 0:
        return perf
    seg_db = np.zeros(len(segs), np.float32) if seg_db is None else seg_db
    tgt = _targets(segs, style, seg_db)                              # (N, 55)
    s = np.array([a for _, _, a, _ in segs])
    e = np.array([b for _, _, _, b in segs])
    c = 0.5 * (s + e)
    half = np.maximum(0.5 * (e - s), 0.015)
    names = [_CLASS_NAMES[cid] for _, cid, _, _ in segs]
    dom = np.array([DOMINANCE[n] for n in names])                    # (N, 3)
    dom[:, 2] = [SHAPE_DOMINANCE_POSE.get(p, d) for (p, _, _, _), d in zip(segs, dom[:, 2], strict=True)]
    sub = max(1, int(round(grid_hz / fps)))
    t = (np.arange(n_frames * sub) + 0.5) / (fps * sub)              # (T,)
    d = t[:, None] - c[None, :]                                      # (T, N)
    w_after = half * style.width * 1.2 + 0.012
    w_before = w_after * style.anticipation
    w = np.where(d < 0, w_before[None, :], w_after[None, :])
    inside = np.abs(d) <= half[None, :]
    base = np.exp(-np.maximum(np.abs(d) - half[None, :], 0) / w) * np.where(inside, 1.0, 0.8)
    grid = np.zeros((len(t), N_CHANNELS), np.float64)
    for g, idx in enumerate((_JAW_IDX, _LIP_IDX, _SHAPE_IDX)):
        dw = base * dom[None, :, g] + 1e-9                           # (T, N)
        grid[:, idx] = (dw @ tgt[:, idx]) / dw.sum(1, keepdims=True)
    perf[:] = grid.reshape(n_frames, sub, N_CHANNELS).mean(1)
    return perf


def enforce_closures(perf: np.ndarray, segs: list[Segment], fps: float,
                     min_silence: float = 0.12, edge: float = 0.05) -> np.ndarray:
    """Seal the lips on bilabial closure frames and close/relax long silences (in place and returned).

    ``perf``: ``(F, 55)``. Returns ``perf``; the closure mask is :func:`closure_frames`.
    """
    n = len(perf)
    jaw, close = INDEX["jawOpen"], INDEX["mouthClose"]
    opening = [INDEX[k] for k in LIP_OPENING]
    # silence interiors: relaxed closed mouth
    sil = CLASS_INDEX["sil"]
    centres = (np.arange(n) + 0.5) / fps
    for _, cid, s, e in segs:
        if cid != sil or e - s < min_silence:
            continue
        a, b = s + (edge if s > 0 else 0.0), e - (edge if e < (n - 1) / fps else 0.0)
        fr = np.nonzero((centres >= a) & (centres < b))[0]
        if len(fr):
            perf[np.ix_(fr, [INDEX[k] for k in ARTICULATORS])] *= 0.3
            perf[fr, jaw] = np.minimum(perf[fr, jaw], POSES["sil"]["jawOpen"])
            perf[fr, close] = perf[fr, jaw]
            perf[np.ix_(fr, opening)] = 0.0
    mask = closure_frames(segs, n, fps)
    idx = np.nonzero(mask)[0]
    if len(idx):
        # neighbours move halfway towards the seal so the closure is not a one-frame jump
        nb = np.setdiff1d(np.clip(np.concatenate([idx - 1, idx + 1]), 0, n - 1), idx)
        perf[np.ix_(nb, opening)] *= 0.5
        perf[nb, close] = np.maximum(perf[nb, close], 0.5 * perf[nb, jaw])
        perf[idx, jaw] = np.minimum(perf[idx, jaw], 0.3)
        perf[idx, close] = perf[idx, jaw]
        perf[np.ix_(idx, opening)] = 0.0
        for k in ("mouthPressLeft", "mouthPressRight"):
            perf[idx, INDEX[k]] = np.maximum(perf[idx, INDEX[k]], 0.15)
    np.clip(perf[:, :52], 0.0, 1.0, out=perf[:, :52])
    return perf


def lips_sealed(perf: np.ndarray, tol: float = 0.05) -> np.ndarray:
    """Channel-level lip seal test: ``(F,) bool``.

    Sealed when ``jawOpen - mouthClose <= tol`` and every lip-opening channel (funnel, lower-down,
    upper-up, tongueOut) is at most ``tol``. ``perf``: ``(F, 55)`` or ``(F, 52)``.
    """
    gap = perf[:, INDEX["jawOpen"]] - perf[:, INDEX["mouthClose"]]
    opening = perf[:, [INDEX[k] for k in LIP_OPENING]].max(1)
    return (gap <= tol) & (opening <= tol)
