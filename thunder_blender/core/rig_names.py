"""Shape-key name matching: which shape keys of a rig are driven by which model channels, and how.

Everything a rig can receive is a linear function of the *feature vector* ``FEATURES``: the 52 ARKit
weights followed by the 15 Oculus viseme weights (``core.visemes``, derived from the ARKit mouth). A
``ShapeKeyMapping`` is a matrix from features to the rig's shape keys, built from the key names:

* ARKit names in any usual spelling: ``jawOpen``, ``JawOpen``, ``jaw_open``, ``JAW_OPEN``,
  ``mouthSmile_L`` / ``mouthSmile.L`` / ``mouthSmileL`` / ``mouth_smile_left`` / ``Left_mouthSmile``,
  and namespace prefixes such as ``blendShape1.jawOpen``, ``Face:jawOpen``, ``Mesh|jawOpen``.
* Oculus / Ready Player Me visemes ``viseme_sil ... viseme_U`` (``ih/oh/ou`` accepted for ``I/O/U``).
* VRM expressions (VRM 1.0 ``aa ih ou ee oh blink blinkLeft blinkRight happy angry sad surprised
  lookUp lookDown lookLeft lookRight``; VRM 0.x ``A I U E O Blink Blink_L Blink_R Joy Angry Sorrow``;
  VRoid ``Fcl_MTH_A ... Fcl_EYE_Close_L ... Fcl_ALL_Joy``). When a rig has both ``blinkLeft`` and
  ``blinkRight``, the combined ``blink`` key is left alone (driving all three would double the blink).
* FLAME ``Exp*`` keys, through a linear ARKit->FLAME map (``load_flame_map``).
* A user mapping file (JSON, ``load_user_map``), which overrides everything else:
  ``{"shape_keys": {"MyJaw": {"jawOpen": 1.0}, "Smile": {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5}}}``
  Sources are any names in ``FEATURES`` (ARKit channels or ``viseme_*``).

Precedence for a key: user map > FLAME > ARKit > visemes > VRM. Each shape key is driven at most once.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .channels import ARKIT_52
from .visemes import VISEME_KEYS, VISEMES, visemes_from_arkit

FEATURES: tuple[str, ...] = ARKIT_52 + VISEME_KEYS
FEATURE_INDEX: dict[str, int] = {n: i for i, n in enumerate(FEATURES)}
_N_ARKIT = len(ARKIT_52)

_SIDE_SEP = re.compile(r"^(?P<base>.+?)[._\-\s](?P<side>l|r|left|right)$", re.IGNORECASE)
_SIDE_CAMEL = re.compile(r"^(?P<base>.*[a-z0-9])(?P<side>Left|Right|L|R)$")
_SIDE_PREFIX = re.compile(r"^(?P<side>l|r|left|right)[._\-\s](?P<base>.+)$", re.IGNORECASE)
_NAMESPACE = re.compile(r"^.*[.:|/]")


def _side_word(side: str) -> str:
    return "left" if side.lower() in ("l", "left") else "right"


def _squash(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def normalize(name: str) -> str:
    """Spelling-independent key: ``mouthSmile_L``, ``mouth_smile_left``, ``blendShape1.MouthSmileLeft``
    all give ``mouthsmileleft``."""
    s = name.strip()
    side = ""
    for pat in (_SIDE_SEP, _SIDE_PREFIX, _SIDE_CAMEL):
        m = pat.match(s)
        if m:
            s, side = m.group("base"), _side_word(m.group("side"))
            break
    s = _NAMESPACE.sub("", s)
    return _squash(s) + side


_ARKIT_BY_KEY: dict[str, str] = {normalize(n): n for n in ARKIT_52}
assert len(_ARKIT_BY_KEY) == 52


def match_arkit(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Shape-key name -> ARKit channel, for every name that spells an ARKit channel (first name wins)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for n in names:
        ch = _ARKIT_BY_KEY.get(normalize(n))
        if ch is not None and ch not in used:
            out[n] = ch
            used.add(ch)
    return out


_VISEME_ALIASES = {_squash(v): f"viseme_{v}" for v in VISEMES}
_VISEME_ALIASES.update({"ih": "viseme_I", "oh": "viseme_O", "ou": "viseme_U"})


def match_visemes(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Shape-key name -> ``viseme_*`` feature for Oculus-style viseme keys (``viseme_aa``, ``Viseme_PP``...)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for n in names:
        s = _squash(_NAMESPACE.sub("", n.strip()))
        if not s.startswith("viseme"):
            continue
        feat = _VISEME_ALIASES.get(s[len("viseme"):])
        if feat is not None and feat not in used:
            out[n] = feat
            used.add(feat)
    return out


def _avg(*names: str) -> dict[str, float]:
    return {n: 1.0 / len(names) for n in names}


# VRM expression -> linear combination of features.
VRM_EXPRESSIONS: dict[str, dict[str, float]] = {
    "aa": {"viseme_aa": 1.0}, "ih": {"viseme_I": 1.0}, "ou": {"viseme_U": 1.0},
    "ee": {"viseme_E": 1.0}, "oh": {"viseme_O": 1.0},
    "blink": _avg("eyeBlinkLeft", "eyeBlinkRight"),
    "blinkLeft": {"eyeBlinkLeft": 1.0}, "blinkRight": {"eyeBlinkRight": 1.0},
    "happy": _avg("mouthSmileLeft", "mouthSmileRight"),
    "angry": _avg("browDownLeft", "browDownRight"),
    "sad": _avg("mouthFrownLeft", "mouthFrownRight"),
    "surprised": _avg("eyeWideLeft", "eyeWideRight"),
    "lookUp": _avg("eyeLookUpLeft", "eyeLookUpRight"),
    "lookDown": _avg("eyeLookDownLeft", "eyeLookDownRight"),
    "lookLeft": _avg("eyeLookOutLeft", "eyeLookInRight"),
    "lookRight": _avg("eyeLookInLeft", "eyeLookOutRight"),
}
_VRM_ALIASES: dict[str, str] = {_squash(k): k for k in VRM_EXPRESSIONS}
_VRM_ALIASES.update({
    # VRM 0.x presets
    "a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh", "blinkl": "blinkLeft", "blinkr": "blinkRight",
    "joy": "happy", "sorrow": "sad",
    # VRoid Studio shape keys
    "fclmtha": "aa", "fclmthi": "ih", "fclmthu": "ou", "fclmthe": "ee", "fclmtho": "oh",
    "fcleyeclose": "blink", "fcleyeclosel": "blinkLeft", "fcleyecloser": "blinkRight",
    "fclalljoy": "happy", "fclallangry": "angry", "fclallsorrow": "sad", "fclallsurprised": "surprised",
})


def match_vrm(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Shape-key name -> VRM expression name (keys of ``VRM_EXPRESSIONS``)."""
    out: dict[str, str] = {}
    for n in names:
        expr = _VRM_ALIASES.get(_squash(_NAMESPACE.sub("", n.strip())))
        if expr is not None and expr not in out.values():
            out[n] = expr
    if "blinkLeft" in out.values() and "blinkRight" in out.values():
        out = {k: v for k, v in out.items() if v != "blink"}
    return out


FLAME_EXP = re.compile(r"^Exp\d+$")


def flame_expression_keys(names: list[str] | tuple[str, ...]) -> list[str]:
    """The FLAME expression shape keys (``Exp0``, ``Exp1``...) among ``names``."""
    return [n for n in names if FLAME_EXP.match(n)]


class MappingError(ValueError):
    """A mapping file is unreadable or names unknown channels. The message is user-facing."""


MAX_MAP_WEIGHT = 10.0   # a channel weight in a user or FLAME map (1 = the channel as is)
MAX_JAW_RADIANS = 1.0   # about 57 degrees; FLAME's jaw opens about 0.35


def _check_sources(where: str, combo: object) -> dict[str, float]:
    if not isinstance(combo, dict) or not combo:
        raise MappingError(f"{where}: expected a non-empty object of channel weights")
    for src, w in combo.items():
        if src not in FEATURE_INDEX:
            raise MappingError(f"{where}: unknown channel {src!r} (use ARKit names or viseme_*)")
        if not isinstance(w, (int, float)) or isinstance(w, bool):
            raise MappingError(f"{where}: weight of {src!r} must be a number")
        if not math.isfinite(w) or abs(w) > MAX_MAP_WEIGHT:
            raise MappingError(f"{where}: weight of {src!r} must be a finite number within +-{MAX_MAP_WEIGHT:g}")
    return {k: float(v) for k, v in combo.items()}


def _read_json(path: str | Path, what: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MappingError(f"cannot read {what} {path}: {exc}") from None
    except RecursionError:
        raise MappingError(f"cannot read {what} {path}: nested too deeply") from None
    if not isinstance(data, dict):
        raise MappingError(f"{what} {path}: top level must be a JSON object")
    return data


def load_user_map(path: str | Path) -> dict[str, dict[str, float]]:
    """Read a user mapping file: ``{"shape_keys": {key name: {feature: weight}}}``."""
    data = _read_json(path, "mapping file")
    keys = data.get("shape_keys")
    if not isinstance(keys, dict) or not keys:
        raise MappingError(f"mapping file {path}: needs a non-empty \"shape_keys\" object")
    return {str(k): _check_sources(f"mapping file {path}, key {k!r}", v) for k, v in keys.items()}


@dataclass(frozen=True)
class FlameMap:
    """Linear ARKit->FLAME map: expression keys as feature combinations plus jaw-bone angles (radians)."""

    expressions: dict[str, dict[str, float]]
    jaw_open_radians: float = 0.35
    jaw_lateral_radians: float = 0.08
    jaw_forward: float = 0.0
    description: str = ""


def load_flame_map(path: str | Path) -> FlameMap:
    """Read an ARKit->FLAME map JSON (see ``assets/flame_map_example.json``)."""
    data = _read_json(path, "FLAME map")
    exprs = data.get("expressions")
    if not isinstance(exprs, dict):
        raise MappingError(f"FLAME map {path}: needs an \"expressions\" object")
    parsed = {str(k): _check_sources(f"FLAME map {path}, {k!r}", v) for k, v in exprs.items()}
    bad = [k for k in parsed if not FLAME_EXP.match(k)]
    if bad:
        raise MappingError(f"FLAME map {path}: expression keys must look like Exp<n>, got {bad[0]!r}")
    jaw = data.get("jaw", {})
    try:
        angles = (float(jaw.get("open_radians", 0.35)), float(jaw.get("lateral_radians", 0.08)),
                  float(jaw.get("forward", 0.0)))
    except (TypeError, ValueError, AttributeError):
        raise MappingError(f"FLAME map {path}: jaw angles must be numbers") from None
    if not all(math.isfinite(a) and abs(a) <= MAX_JAW_RADIANS for a in angles):
        raise MappingError(f"FLAME map {path}: jaw angles must be finite and within +-{MAX_JAW_RADIANS:g} radians")
    return FlameMap(parsed, *angles, str(data.get("description", "")))


@dataclass(frozen=True)
class ShapeKeyMapping:
    """Features -> shape-key values.

    targets: K shape-key names; matrix: (K, len(FEATURES)); origin: per target, one of
    ``"arkit" "viseme" "vrm" "flame" "user"``.
    """

    targets: tuple[str, ...]
    matrix: np.ndarray
    origin: tuple[str, ...]
    unmatched: tuple[str, ...] = field(default=())

    def evaluate(self, weights: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Performance (T, 55) (or (T, 52+)) -> shape-key values (T, K)."""
        w = np.asarray(weights, dtype=np.float32)
        feats = np.zeros((w.shape[0], len(FEATURES)), dtype=np.float32)
        feats[:, :_N_ARKIT] = w[:, :_N_ARKIT]
        if np.any(self.matrix[:, _N_ARKIT:]):
            feats[:, _N_ARKIT:] = visemes_from_arkit(w[:, :_N_ARKIT])
        return (feats @ self.matrix.T.astype(np.float32)).astype(np.float32)

    def count(self, origin: str) -> int:
        return sum(1 for o in self.origin if o == origin)

    def arkit_channels(self) -> set[str]:
        """ARKit channels driven one-to-one (for coverage reports)."""
        out = set()
        for row, o in zip(self.matrix, self.origin, strict=True):
            if o == "arkit":
                out.add(FEATURES[int(np.argmax(row))])
        return out


def build_mapping(
    names: list[str] | tuple[str, ...],
    user_map: dict[str, dict[str, float]] | None = None,
    flame_map: FlameMap | None = None,
) -> ShapeKeyMapping:
    """Match shape-key ``names`` (in order) to features; see the module docstring for the rules."""
    rows: dict[str, tuple[dict[str, float], str]] = {}
    for n, combo in (user_map or {}).items():
        if n in names:
            rows[n] = (combo, "user")
    if flame_map is not None:
        for n, combo in flame_map.expressions.items():
            if n in names and n not in rows:
                rows[n] = (combo, "flame")
    free = [n for n in names if n not in rows]
    for n, ch in match_arkit(free).items():
        rows[n] = ({ch: 1.0}, "arkit")
    free = [n for n in names if n not in rows]
    for n, feat in match_visemes(free).items():
        rows[n] = ({feat: 1.0}, "viseme")
    free = [n for n in names if n not in rows]
    for n, expr in match_vrm(free).items():
        rows[n] = (VRM_EXPRESSIONS[expr], "vrm")
    targets = tuple(n for n in names if n in rows)
    matrix = np.zeros((len(targets), len(FEATURES)), dtype=np.float32)
    for i, n in enumerate(targets):
        for src, w in rows[n][0].items():
            matrix[i, FEATURE_INDEX[src]] = w
    unmatched = tuple(n for n in names if n not in rows and n.lower() not in ("basis", "reference"))
    return ShapeKeyMapping(targets, matrix, tuple(rows[n][1] for n in targets), unmatched)


def coverage_lines(mapping: ShapeKeyMapping) -> list[str]:
    """Human-readable coverage, e.g. ``["ARKit: 52/52 shape keys", "Oculus visemes: 15/15"]``."""
    lines = []
    n_ark = mapping.count("arkit")
    if n_ark:
        lines.append(f"ARKit: {n_ark}/52 shape keys")
    n_vis = mapping.count("viseme")
    if n_vis:
        lines.append(f"Oculus visemes: {n_vis}/{len(VISEMES)}")
    n_vrm = mapping.count("vrm")
    if n_vrm:
        lines.append(f"VRM expressions: {n_vrm}")
    n_fl = mapping.count("flame")
    if n_fl:
        lines.append(f"FLAME Exp keys: {n_fl} driven by the example map")
    n_user = mapping.count("user")
    if n_user:
        lines.append(f"User map: {n_user} shape keys")
    if not lines:
        lines.append("No shape keys recognised")
    return lines
