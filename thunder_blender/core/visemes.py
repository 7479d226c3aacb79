"""Oculus / Ready Player Me visemes: from the audio's speech cues and the take's mouth, or from the mouth alone.

Rigs that only have the 15 Oculus (OVR LipSync) visemes, as Ready Player Me avatars do (``viseme_sil viseme_PP
... viseme_U``), and VRM's aa/ih/ou/ee/oh are driven by ``visemes_from_phones`` whenever the take carries the
audio's ``SpeechCues`` (``runtime.generate.Takes.cues``: the encoder's phone-class posteriors and the audio's
sibilance): the class says which viseme, the sibilance and the take's mouth split classes that hold several
visemes, and the mouth supplies the closures. Measured on held-out recorded speech
(``thunder_train.evaluation.viseme_eval``, docs/RIGS.md) it is far closer to the spoken phones than the
projection below, which remains the fallback for performances without cues (e.g. an imported CSV).

``visemes_from_arkit``, the hand-made mapping from the ARKit mouth:

1. Each non-silent viseme ``v`` has a prototype mouth pose ``p_v`` over the ARKit mouth channels
   (``PROTOTYPES`` below; written by hand from the usual articulation of each viseme class, not fitted
   to data).
2. For each frame, the mouth vector ``m`` (the ARKit mouth channels of that frame) is explained as a
   non-negative mix of prototypes: ``w = argmin_{w >= 0} ||P w - m||^2 + ridge ||w||^2``, solved by
   projected gradient descent (fixed iteration count, vectorised over frames, deterministic).
3. If the weights sum to more than 1 they are scaled to sum to 1; ``viseme_sil = 1 - sum(w)``.

A prototype pose maps back to its own viseme (weight ~1) and a neutral mouth maps to ``viseme_sil``.
The mapping is linear-ish and smooth in time when the ARKit curves are, so keys do not chatter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .channels import ARKIT_52, INDEX
from .phones import PHONE_CLASSES
from .resample import resample

VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U",
)
VISEME_KEYS: tuple[str, ...] = tuple(f"viseme_{v}" for v in VISEMES)


def _sym(name: str, value: float) -> dict[str, float]:
    return {f"{name}Left": value, f"{name}Right": value}


# Hand-made prototype mouth poses (ARKit weights). Illustrative articulation, not fitted to any data set.
PROTOTYPES: dict[str, dict[str, float]] = {
    "PP": {"mouthClose": 0.25, "jawOpen": 0.05, "mouthRollLower": 0.25, "mouthRollUpper": 0.2,
           **_sym("mouthPress", 0.5)},
    "FF": {"mouthRollLower": 0.6, "jawOpen": 0.08, **_sym("mouthUpperUp", 0.3)},
    "TH": {"tongueOut": 0.5, "jawOpen": 0.18, **_sym("mouthStretch", 0.1)},
    "DD": {"jawOpen": 0.22, "mouthShrugUpper": 0.25, **_sym("mouthStretch", 0.15)},
    "kk": {"jawOpen": 0.3, **_sym("mouthStretch", 0.3), **_sym("mouthLowerDown", 0.1)},
    "CH": {"mouthFunnel": 0.5, "mouthPucker": 0.2, "jawOpen": 0.15, "mouthShrugLower": 0.2},
    "SS": {"jawOpen": 0.08, **_sym("mouthStretch", 0.45), **_sym("mouthSmile", 0.15)},
    "nn": {"jawOpen": 0.15, "mouthShrugUpper": 0.1, **_sym("mouthUpperUp", 0.15)},
    "RR": {"mouthFunnel": 0.35, "mouthPucker": 0.35, "jawOpen": 0.12, "mouthRollUpper": 0.25},
    "aa": {"jawOpen": 0.7, **_sym("mouthLowerDown", 0.3), **_sym("mouthUpperUp", 0.1)},
    "E": {"jawOpen": 0.35, **_sym("mouthStretch", 0.35), **_sym("mouthSmile", 0.2)},
    "I": {"jawOpen": 0.2, **_sym("mouthSmile", 0.5), **_sym("mouthDimple", 0.2)},
    "O": {"jawOpen": 0.45, "mouthFunnel": 0.6, "mouthPucker": 0.1},
    "U": {"jawOpen": 0.12, "mouthPucker": 0.8, "mouthFunnel": 0.3},
}
assert set(PROTOTYPES) == set(VISEMES[1:])

_COLS: tuple[str, ...] = tuple(sorted({n for p in PROTOTYPES.values() for n in p}, key=ARKIT_52.index))
_COL_INDEX = np.array([INDEX[n] for n in _COLS], dtype=np.int64)
# P: (C, 14) prototype matrix over the mouth channels it uses.
_P = np.array([[PROTOTYPES[v].get(c, 0.0) for v in VISEMES[1:]] for c in _COLS], dtype=np.float64)
_RIDGE = 1e-3
_GRAM = _P.T @ _P + _RIDGE * np.eye(_P.shape[1])
_STEP = 1.0 / float(np.linalg.eigvalsh(_GRAM).max())


def visemes_from_arkit(arkit: npt.ArrayLike, iterations: int = 400) -> npt.NDArray[np.float32]:
    """ARKit weights (T, >=52) in ``ARKIT_52`` order -> viseme weights (T, 15) in ``VISEMES`` order."""
    a = np.asarray(arkit, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] < len(ARKIT_52):
        raise ValueError(f"expected (T, 52+) ARKit weights, got shape {a.shape}")
    m = np.clip(a[:, _COL_INDEX], 0.0, None)  # (T, C)
    b = m @ _P  # (T, 14) = P^T m per frame
    w = np.zeros((a.shape[0], _P.shape[1]))
    for _ in range(iterations):
        w = np.maximum(w - _STEP * (w @ _GRAM - b), 0.0)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 1.0, w / np.maximum(total, 1e-12), w)
    sil = 1.0 - w.sum(axis=1, keepdims=True)
    return np.concatenate([sil, w], axis=1).astype(np.float32)


def prototype_vector(viseme: str) -> npt.NDArray[np.float32]:
    """(52,) ARKit weights of a viseme's prototype pose (zeros for ``sil``)."""
    v = np.zeros(len(ARKIT_52), dtype=np.float32)
    for name, val in PROTOTYPES.get(viseme, {}).items():
        v[INDEX[name]] = val
    return v



# Encoder phone classes (model card ``phone_classes``) -> the viseme(s) they stand for. Classes that hold two
# visemes are split by the ARKit mouth of the take (``_split``); the alveolar class (t d n s z l r) is one pose
# in the model's articulation targets, so its visemes are told apart only by the mouth shape the take has.
_CLASS_VISEME: dict[str, str] = {"sil": "sil", "bilabial": "PP", "labiodental": "FF", "open": "aa",
                                 "dental": "TH", "postalveolar": "CH", "dorsal": "kk"}
_V = {v: i for i, v in enumerate(VISEMES)}


SIBILANT_DB = -1.8  # sibilance above this: /s z/ (set on training-split Asterisk prompts, not real_val)
STOP_DB = -4.9     # the DD / nn boundary (nasals and liquids are darker than stops; same prompts)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _smooth(x: np.ndarray, radius: int) -> np.ndarray:
    """Centered moving average over time of (T, C)."""
    if radius <= 0 or x.shape[0] < 2:
        return x
    k = np.ones(2 * radius + 1) / (2 * radius + 1)
    pad = np.pad(x, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(pad[:, c], k, mode="valid") for c in range(x.shape[1])], axis=1)


SIBILANCE_BANDS = (slice(0, 30), slice(60, 80))  # log-mel bins: below ~1.1 kHz, above ~3.9 kHz (80 bins, 8 kHz)


def sibilance(log_mel: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Log-mel frames (Tm, 80) at 100 fps -> (Tm // 2,) at the model's 50 fps: mean log energy of the high bands
    minus the low bands. /s z/ put their energy high (median about 0 here), /t d n l r/ low (about -5 to -7)."""
    m = np.asarray(log_mel, np.float64)
    lo, hi = SIBILANCE_BANDS
    d = m[:, hi].mean(axis=1) - m[:, lo].mean(axis=1)
    n = len(d) // 2
    return d[: 2 * n].reshape(n, 2).mean(axis=1).astype(np.float32)


@dataclass(frozen=True)
class VisemeSplit:
    """How ``visemes_from_phones`` splits the two vowel classes that hold two visemes, from the take's mouth:
    the share of E in the mid class is ``sigmoid(e[0] + e[1] jawOpen + e[2] smile + e[3] stretch)`` (the rest is
    I) and the share of O in the rounded class ``sigmoid(o[0] + o[1] jawOpen + o[2] pucker + o[3] funnel)`` (the
    rest is U); smile, stretch: the mean of the left and right channels. ``DEFAULT_SPLIT`` is a jaw threshold
    from the articulation targets (I/U below 0.235/0.24 jawOpen); a model card can carry a split fitted to that
    model's own mouth (``thunder_train.viseme_split``)."""

    e: tuple[float, float, float, float]
    o: tuple[float, float, float, float]

    @classmethod
    def from_dict(cls, d: dict) -> VisemeSplit:
        """``{"e": [4 numbers], "o": [4 numbers]}``; ValueError otherwise."""
        try:
            e, o = (tuple(float(x) for x in d[k]) for k in ("e", "o"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a viseme split needs 'e' and 'o' lists of 4 numbers ({exc})") from None
        if len(e) != 4 or len(o) != 4 or not all(np.isfinite(e + o)) or max(map(abs, e + o)) > 1e4:
            raise ValueError("a viseme split needs 'e' and 'o' lists of 4 finite numbers")
        return cls(e, o)

    def to_dict(self) -> dict:
        return {"e": [float(x) for x in self.e], "o": [float(x) for x in self.o]}

    def shares(self, arkit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T,) share of E in the mid class and (T,) share of O in the rounded class. arkit: (T, >=52)."""
        a = np.asarray(arkit, np.float64)
        jaw = a[:, INDEX["jawOpen"]]
        smile = 0.5 * (a[:, INDEX["mouthSmileLeft"]] + a[:, INDEX["mouthSmileRight"]])
        stretch = 0.5 * (a[:, INDEX["mouthStretchLeft"]] + a[:, INDEX["mouthStretchRight"]])
        e = _sigmoid(self.e[0] + self.e[1] * jaw + self.e[2] * smile + self.e[3] * stretch)
        o = _sigmoid(self.o[0] + self.o[1] * jaw + self.o[2] * a[:, INDEX["mouthPucker"]]
                     + self.o[3] * a[:, INDEX["mouthFunnel"]])
        return e, o


DEFAULT_SPLIT = VisemeSplit(e=(-0.235 / 0.03, 1 / 0.03, 0.0, 0.0), o=(-0.24 / 0.03, 1 / 0.03, 0.0, 0.0))


# share of an aligned transcript phone in the cues (the rest: the encoder's posteriors, which keep the
# within-class detail the sibilance and the take's mouth split further)
TRANSCRIPT_WEIGHT = 0.85


# The visemes each phone class holds (the corpus labels a viseme head is trained on, ``thunder_train.corpus.
# phonemap.POSE_VISEME``, stay within these): a transcript's aligned class keeps the viseme head's split within it.
CLASS_VISEMES: dict[str, tuple[str, ...]] = {
    "sil": ("sil",), "bilabial": ("PP",), "labiodental": ("FF",), "rounded": ("O", "U"), "open": ("aa",),
    "mid": ("E", "I", "RR"), "dental": ("TH",), "alveolar": ("DD", "nn", "SS", "RR"), "postalveolar": ("CH",),
    "dorsal": ("kk", "I"),
}
assert tuple(CLASS_VISEMES) == PHONE_CLASSES
# (10, 15): 1 where a class holds a viseme
_CLASS_MASK = np.array([[v in CLASS_VISEMES[c] for v in VISEMES] for c in PHONE_CLASSES], np.float64)


@dataclass(frozen=True)
class SpeechCues:
    """What the audio says about the mouth, per frame, shared by every take of it.

    phone_probs: (T, 10) phone-class posteriors (``PHONE_CLASSES``); sibilance: (T,) or None (``sibilance``);
    split: how the take's mouth splits E/I and O/U (``VisemeSplit``, the model card's when it has one);
    viseme_probs: (T, 15) viseme posteriors (``VISEMES``) of an encoder with a viseme head, or None.
    ``visemes`` turns them and a take's mouth into viseme weights."""

    phone_probs: np.ndarray
    sibilance: np.ndarray | None = None
    split: VisemeSplit = DEFAULT_SPLIT
    viseme_probs: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.phone_probs.shape[0])

    def visemes(self, arkit: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Viseme weights (T, 15) for a take's ARKit weights (T, >=52): from the viseme posteriors when the
        model has them (``visemes_from_head``), else from the phone classes (``visemes_from_phones``)."""
        if self.viseme_probs is not None:
            return visemes_from_head(self.viseme_probs, arkit)
        return visemes_from_phones(self.phone_probs, arkit, sibilance_db=self.sibilance, split=self.split)

    def with_transcript(self, frames: np.ndarray, weight: float = TRANSCRIPT_WEIGHT) -> SpeechCues:
        """The cues where a transcript is aligned: ``frames`` (T,) class ids (``UNKNOWN`` = not aligned) replace
        the posteriors by ``weight`` x the aligned class's one-hot + (1 - weight) x the posteriors. Viseme
        posteriors become ``weight`` x the posteriors kept within the aligned class's visemes (renormalised;
        ``CLASS_VISEMES``) + (1 - weight) x the posteriors."""
        p = np.asarray(self.phone_probs, np.float32).copy()
        f = np.asarray(frames)[: len(p)]
        known = np.flatnonzero(f >= 0)
        p[known] *= 1.0 - weight
        p[known, f[known]] += weight
        v = self.viseme_probs
        if v is not None:
            v = np.asarray(v, np.float64).copy()
            mask = _CLASS_MASK[f[known]]
            inside = v[known] * mask + 1e-6 * mask
            v[known] = (1.0 - weight) * v[known] + weight * inside / inside.sum(axis=1, keepdims=True)
            v = v.astype(np.float32)
        return SpeechCues(p, self.sibilance, self.split, v)

    def resampled(self, src_fps: float, dst_fps: float, n_out: int) -> SpeechCues:
        """The cues at another frame rate (linear, no extreme preservation: these are not animation)."""
        def rs(x: np.ndarray) -> np.ndarray:
            return resample(np.asarray(x, np.float32), src_fps, dst_fps, n_out, preserve_extremes=False)

        p = rs(self.phone_probs)
        s = None if self.sibilance is None else rs(np.asarray(self.sibilance, np.float32)[:, None])[:, 0]
        v = None if self.viseme_probs is None else rs(self.viseme_probs)
        return SpeechCues(p, s, self.split, v)


def lips_sealed_arkit(arkit: np.ndarray, tol: float = 0.05) -> np.ndarray:
    """How sealed the lips of each frame are, in [0, 1] (T,): 1 when ``mouthClose`` has caught up with
    ``jawOpen`` (ARKit's lips-together pose) and no lip-opening channel is on."""
    a = np.asarray(arkit, np.float64)
    gap = np.clip(a[:, INDEX["jawOpen"]] - a[:, INDEX["mouthClose"]], 0.0, None)
    opening = a[:, [INDEX[n] for n in ("mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight",
                                          "mouthUpperUpLeft", "mouthUpperUpRight")]].max(axis=1)
    return np.clip(1.0 - np.maximum(gap, opening) / tol, 0.0, 1.0) * (a[:, INDEX["mouthClose"]] > 0.02)


def visemes_from_phones(phone_probs: npt.ArrayLike, arkit: npt.ArrayLike, smooth: int = 1,
                        sharpen: float = 2.0, sibilance_db: npt.ArrayLike | None = None,
                        split: VisemeSplit = DEFAULT_SPLIT) -> npt.NDArray[np.float32]:
    """Phone-class posteriors (T, 10) + the take's ARKit weights (T, >=52) -> viseme weights (T, 15).

    1. The posteriors (softmax of the encoder's ``phone_logits``, classes ``PHONE_CLASSES``) are averaged over
       ``2 * smooth + 1`` frames and sharpened (power ``sharpen``, renormalised).
    2. Each class gives its weight to its viseme. Two-viseme classes are split by the take's mouth:
       rounded -> O (jaw open) / U (jaw nearly shut); mid -> E (jaw open) / I (spread, jaw nearly shut), by
       ``split`` (``VisemeSplit``);
       alveolar -> SS / RR / DD / nn: with ``sibilance_db`` (T,), SS by the audio's high-band energy and DD / nn
       by it too (stops' bursts are brighter than nasals); without it, by the mouth (spread lips -> SS, rounded
       -> RR, jaw -> DD / nn).
    3. Closures come from the mouth: where the take's lips are sealed (``lips_sealed_arkit``) PP takes at least
       that much weight; every other viseme is scaled down to make room, so the vowels rest on /p b m/.
    """
    p, a = _sharpened(phone_probs, arkit, len(PHONE_CLASSES), "phone", smooth, sharpen)
    c = {n: p[:, i] for i, n in enumerate(PHONE_CLASSES)}
    jaw = a[:, INDEX["jawOpen"]]
    spread = 0.5 * (a[:, INDEX["mouthStretchLeft"]] + a[:, INDEX["mouthStretchRight"]])
    rnd = 0.5 * (a[:, INDEX["mouthPucker"]] + a[:, INDEX["mouthFunnel"]])
    w = np.zeros((p.shape[0], len(VISEMES)))
    for cls, vis in _CLASS_VISEME.items():
        w[:, _V[vis]] += c[cls]
    e_share, o_share = split.shares(a)
    w[:, _V["O"]] += c["rounded"] * o_share
    w[:, _V["U"]] += c["rounded"] * (1.0 - o_share)
    w[:, _V["E"]] += c["mid"] * e_share
    w[:, _V["I"]] += c["mid"] * (1.0 - e_share)
    if sibilance_db is not None:
        sib = _smooth(np.asarray(sibilance_db, np.float64).reshape(-1, 1), smooth)[:, 0]
        if sib.shape[0] != p.shape[0]:
            raise ValueError(f"sibilance must be ({p.shape[0]},), got {sib.shape}")
        ss = _sigmoid((sib - SIBILANT_DB) / 1.0)
        rr = (1.0 - ss) * _sigmoid((rnd - 0.25) / 0.05)
        rest = 1.0 - ss - rr
        dd = rest * _sigmoid((sib - STOP_DB) / 0.7)
    else:
        ss = _sigmoid((spread - 0.12) / 0.03)
        rr = (1.0 - ss) * _sigmoid((rnd - 0.25) / 0.05)
        rest = 1.0 - ss - rr
        dd = rest * _sigmoid((jaw - 0.15) / 0.03)
    w[:, _V["SS"]] += c["alveolar"] * ss
    w[:, _V["RR"]] += c["alveolar"] * rr
    w[:, _V["DD"]] += c["alveolar"] * dd
    w[:, _V["nn"]] += c["alveolar"] * (rest - dd)
    return _rest_on_seal(w, a)


def _rest_on_seal(w: np.ndarray, arkit: np.ndarray) -> npt.NDArray[np.float32]:
    """Viseme weights (T, 15) whose rows sum to 1, with PP raised to at least how sealed the take's lips are
    (``lips_sealed_arkit``, outside silence); every other viseme is scaled down to make room."""
    seal = lips_sealed_arkit(arkit)
    pp = np.maximum(w[:, _V["PP"]], seal * (1.0 - w[:, _V["sil"]]))
    others = 1.0 - w[:, _V["PP"]]
    scale = np.where(others > 1e-9, (1.0 - pp) / np.maximum(others, 1e-9), 0.0)
    w = w * scale[:, None]
    w[:, _V["PP"]] = pp
    return w.astype(np.float32)


def visemes_from_head(viseme_probs: npt.ArrayLike, arkit: npt.ArrayLike, smooth: int = 1,
                      sharpen: float = 2.0) -> npt.NDArray[np.float32]:
    """Viseme posteriors (T, 15) of an encoder's viseme head + the take's ARKit weights (T, >=52) -> viseme
    weights (T, 15): the posteriors averaged over ``2 * smooth + 1`` frames, sharpened (power ``sharpen``,
    renormalised), and PP raised where the take's lips are sealed, as in ``visemes_from_phones``."""
    v, a = _sharpened(viseme_probs, arkit, len(VISEMES), "viseme", smooth, sharpen)
    return _rest_on_seal(v, a)


def _sharpened(probs: npt.ArrayLike, arkit: npt.ArrayLike, n: int, what: str, smooth: int,
               sharpen: float) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors (T, n) averaged over ``2 * smooth + 1`` frames, to the power ``sharpen``, renormalised, and the
    ARKit weights (T, >=52) as float64; ValueError on other shapes."""
    p = np.asarray(probs, np.float64)
    a = np.asarray(arkit, np.float64)
    if p.ndim != 2 or p.shape[1] != n or a.ndim != 2 or a.shape[0] != p.shape[0]:
        raise ValueError(f"expected {what} posteriors (T, {n}) and ARKit (T, 52+), got {p.shape} and {a.shape}")
    p = _smooth(p, smooth) ** sharpen
    return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12), a
