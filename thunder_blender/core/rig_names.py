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
  ``neutral`` (or ``relaxed`` when there is no ``neutral``) follows ``viseme_sil`` and ``Fcl_MTH_Close``
  follows ``viseme_PP``, so the mouth rests in silence and closes on /p b m/.
* Other tools' spellings of the ARKit set: CC4 / iClone ExPlus ``A01_Brow_Inner_Up ... A52_Tongue_Out``,
  CC4 Extended ``Mouth_Smile_L``, ``Eye_L_Look_L``..., Daz ``facs_bs_`` / ``facs_ctrl_`` names (with the
  ``Mesh__`` prefix of Daz exports), ``ARKit_`` / ``BS_`` tags, MetaHuman-style ``CTRL_expressions_`` curves.
* FLAME ``Exp*`` keys, through a linear ARKit->FLAME map (``load_flame_map``).
* A user mapping file (JSON, ``load_user_map``), which overrides everything else:
  ``{"shape_keys": {"MyJaw": {"jawOpen": 1.0}, "Smile": {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5}}}``
  Sources are any names in ``FEATURES`` (ARKit channels or ``viseme_*``).

* Edits made in the panel's mapping list (``EditRow``: channel, gain, on/off per key; ``apply_edits``).

Precedence for a key: panel edits > user map > FLAME > ARKit > visemes > VRM; a key switched off in the panel
is left alone. Each shape key is driven at most once. Viseme features come from the audio's phone-class
posteriors when the take has them (``ShapeKeyMapping.evaluate``).
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
from .flame import flame_key_index
from .visemes import VISEME_KEYS, VISEMES, SpeechCues, visemes_from_arkit

FEATURES: tuple[str, ...] = ARKIT_52 + VISEME_KEYS
FEATURE_INDEX: dict[str, int] = {n: i for i, n in enumerate(FEATURES)}
_N_ARKIT = len(ARKIT_52)

# Tool prefixes in front of an ARKit-style name: CC4/iClone ExPlus numbering (``A01_``), Daz FACS
# (``facs_bs_``, ``facs_ctrl_``, ``facs_jnt_``), and generic ``ARKit_`` / ``BS_`` / ``blendShape_`` tags.
_TOOL_PREFIX = re.compile(
    r"^(?:a\d{2}[_\-\s]|facs[_\-](?:bs|ctrl|jnt|cbs)[_\-]|arkit[_\-\s]|bs[_\-\s]|blendshapes?\d*[_\-\s]|"
    r"shapekey[_\-\s]|sk[_\-\s]|ctrl[_\-]expressions?[_\-])", re.IGNORECASE)
_MESH_PREFIX = re.compile(r"^.*__(?=.)")  # Daz glTF/FBX exports: ``Genesis9__facs_bs_...``
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
    s = _NAMESPACE.sub("", _MESH_PREFIX.sub("", s))
    s = _TOOL_PREFIX.sub("", s) or s
    return _squash(s) + side


_ARKIT_BY_KEY: dict[str, str] = {normalize(n): n for n in ARKIT_52}
assert len(_ARKIT_BY_KEY) == 52


def _cc4_extended() -> dict[str, str]:
    """Character Creator 4 "Extended" facial profile names (``Mouth_Smile_L``, ``Eye_L_Look_L``...) -> ARKit."""
    out: dict[str, str] = {}
    for side, lr in (("L", "Left"), ("R", "Right")):
        out.update({
            f"Brow_Raise_Outer_{side}": f"browOuterUp{lr}", f"Brow_Drop_{side}": f"browDown{lr}",
            f"Eye_Blink_{side}": f"eyeBlink{lr}", f"Eye_Squint_{side}": f"eyeSquint{lr}",
            f"Eye_Wide_{side}": f"eyeWide{lr}", f"Eye_{side}_Look_Up": f"eyeLookUp{lr}",
            f"Eye_{side}_Look_Down": f"eyeLookDown{lr}", f"Nose_Sneer_{side}": f"noseSneer{lr}",
            f"Cheek_Raise_{side}": f"cheekSquint{lr}", f"Mouth_Smile_{side}": f"mouthSmile{lr}",
            f"Mouth_Frown_{side}": f"mouthFrown{lr}", f"Mouth_Dimple_{side}": f"mouthDimple{lr}",
            f"Mouth_Press_{side}": f"mouthPress{lr}", f"Mouth_Stretch_{side}": f"mouthStretch{lr}",
            f"Mouth_Up_Upper_{side}": f"mouthUpperUp{lr}", f"Mouth_Down_Lower_{side}": f"mouthLowerDown{lr}",
        })
    out.update({
        "Eye_L_Look_L": "eyeLookOutLeft", "Eye_L_Look_R": "eyeLookInLeft",
        "Eye_R_Look_L": "eyeLookInRight", "Eye_R_Look_R": "eyeLookOutRight", "Cheek_Puff_L": "cheekPuff",
        "Jaw_Open": "jawOpen", "Jaw_Forward": "jawForward", "Jaw_L": "jawLeft", "Jaw_R": "jawRight",
        "Mouth_L": "mouthLeft", "Mouth_R": "mouthRight", "Mouth_Close": "mouthClose",
        "Mouth_Roll_In_Upper": "mouthRollUpper", "Mouth_Roll_In_Lower": "mouthRollLower",
        "Mouth_Shrug_Upper": "mouthShrugUpper", "Mouth_Shrug_Lower": "mouthShrugLower",
        "Tongue_Out": "tongueOut",
    })
    for part in _CC4_SPLIT:
        for side in ("L", "R"):
            out[f"{part}_{side}"] = _CC4_SPLIT[part]
    return out


# CC4 splits a few ARKit shapes into left/right or quadrant keys; each part is driven by the whole channel.
_CC4_SPLIT: dict[str, str] = {"Brow_Raise_Inner": "browInnerUp", "Cheek_Puff": "cheekPuff",
                              "Mouth_Funnel_Up": "mouthFunnel", "Mouth_Funnel_Down": "mouthFunnel",
                              "Mouth_Pucker_Up": "mouthPucker", "Mouth_Pucker_Down": "mouthPucker"}


CC4_EXTENDED: dict[str, str] = _cc4_extended()
# Alias spellings (normalised) that are not an ARKit name in another spelling.
_ALIASES: dict[str, str] = {normalize(k): v for k, v in CC4_EXTENDED.items() if normalize(k) not in _ARKIT_BY_KEY}
_ALIASES.update({"eyeclosedleft": "eyeBlinkLeft", "eyeclosedright": "eyeBlinkRight", "mouthclosed": "mouthClose"})
# aliases of which a rig has several for one channel (all of them are driven)
_SPLIT_KEYS: frozenset[str] = frozenset(normalize(f"{p}_{s}") for p in _CC4_SPLIT for s in ("L", "R"))


def match_arkit(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Shape-key name -> ARKit channel, for every name that spells an ARKit channel (first name wins)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for n in names:
        key = normalize(n)
        ch = _ARKIT_BY_KEY.get(key) or _ALIASES.get(key)
        tag = key if key in _SPLIT_KEYS else ch
        if ch is not None and tag not in used:
            out[n] = ch
            used.add(tag)
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
    # rest shapes: the mouth at rest in silence, the lips closed on /p b m/
    "neutral": {"viseme_sil": 1.0}, "relaxed": {"viseme_sil": 1.0}, "mouthClose": {"viseme_PP": 1.0},
}
_VRM_ALIASES: dict[str, str] = {_squash(k): k for k in VRM_EXPRESSIONS}
_VRM_ALIASES.update({
    # VRM 0.x presets
    "a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh", "blinkl": "blinkLeft", "blinkr": "blinkRight",
    "joy": "happy", "sorrow": "sad",
    # VRoid Studio shape keys
    "fclmtha": "aa", "fclmthi": "ih", "fclmthu": "ou", "fclmthe": "ee", "fclmtho": "oh",
    "fcleyeclose": "blink", "fcleyeclosel": "blinkLeft", "fcleyecloser": "blinkRight",
    "fclmthclose": "mouthClose", "fclmthneutral": "neutral", "fclallneutral": "neutral",
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
    if "neutral" in out.values():  # both rest the mouth in silence; driving both would double it
        out = {k: v for k, v in out.items() if v != "relaxed"}
    return out


def flame_expression_keys(names: list[str] | tuple[str, ...]) -> list[str]:
    """The FLAME expression shape keys (``Exp0``, ``Exp001``... any zero-padding) among ``names``."""
    return [n for n in names if flame_key_index(n, "exp") is not None]


def flame_pose_keys(names: list[str] | tuple[str, ...]) -> dict[str, int]:
    """FLAME pose-corrective keys among ``names``: name -> column of ``core.flame.pose_correctives``
    (``Pose1`` -> 0 ... ``Pose36`` -> 35, any zero-padding)."""
    out = {}
    for n in names:
        i = flame_key_index(n, "pose")
        if i is not None and 1 <= i <= 36 and i - 1 not in out.values():
            out[n] = i - 1
    return out


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
    look_radians: float = 0.35  # eye-bone turn at eyeLook* = 1 (about 20 degrees)
    fitted: bool = False  # made by ``thunder flame-map`` (fitted to the user's rig), not hand-written


def load_flame_map(path: str | Path) -> FlameMap:
    """Read an ARKit->FLAME map JSON (see ``assets/flame_map_example.json``)."""
    data = _read_json(path, "FLAME map")
    exprs = data.get("expressions")
    if not isinstance(exprs, dict):
        raise MappingError(f"FLAME map {path}: needs an \"expressions\" object")
    parsed = {str(k): _check_sources(f"FLAME map {path}, {k!r}", v) for k, v in exprs.items()}
    bad = [k for k in parsed if flame_key_index(k, "exp") is None]
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
    eyes = data.get("eyes", {})
    try:
        look = float(eyes.get("look_radians", 0.35)) if isinstance(eyes, dict) else float("nan")
    except (TypeError, ValueError):
        look = float("nan")
    if not (math.isfinite(look) and 0.0 <= look <= MAX_JAW_RADIANS):
        raise MappingError(f"FLAME map {path}: eyes.look_radians must be a number within 0..{MAX_JAW_RADIANS:g}")
    return FlameMap(parsed, *angles, str(data.get("description", "")), look, bool(data.get("fitted", False)))


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

    def evaluate(self, weights: npt.ArrayLike, cues: SpeechCues | None = None) -> npt.NDArray[np.float32]:
        """Performance (T, 55) (or (T, 52+)) -> shape-key values (T, K).

        cues: the audio's ``SpeechCues`` for the same T frames; the viseme features come from them
        (``SpeechCues.visemes``) when given, else from the ARKit mouth alone (``visemes_from_arkit``)."""
        w = np.asarray(weights, dtype=np.float32)
        feats = np.zeros((w.shape[0], len(FEATURES)), dtype=np.float32)
        feats[:, :_N_ARKIT] = w[:, :_N_ARKIT]
        if np.any(self.matrix[:, _N_ARKIT:]):
            if cues is not None:
                feats[:, _N_ARKIT:] = cues.visemes(w[:, :_N_ARKIT])
            else:
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


@dataclass(frozen=True)
class EditRow:
    """One row of the mapping edited in the panel (stored on the mesh object).

    channel: a ``FEATURES`` name, or "" to keep the detected driver; gain multiplies the driver;
    enabled False leaves the key alone."""

    target: str
    channel: str = ""
    gain: float = 1.0
    enabled: bool = True


def apply_edits(names: list[str] | tuple[str, ...], detected: ShapeKeyMapping,
                edits: list[EditRow] | tuple[EditRow, ...]) -> tuple[dict[str, dict[str, float]], set[str], list[str]]:
    """Panel edits -> (user map entries, disabled keys, problems) to pass to ``build_mapping``. Rows naming a
    key the mesh no longer has, or an unknown channel, are reported in ``problems`` and ignored."""
    user: dict[str, dict[str, float]] = {}
    off: set[str] = set()
    problems: list[str] = []
    for r in edits:
        if r.target not in names:
            problems.append(f"mapping row {r.target!r}: no such shape key")
            continue
        if not r.enabled:
            off.add(r.target)
            continue
        if r.channel and r.channel not in FEATURE_INDEX:
            problems.append(f"mapping row {r.target!r}: unknown channel {r.channel!r}")
            continue
        gain = float(np.clip(r.gain, -MAX_MAP_WEIGHT, MAX_MAP_WEIGHT))
        if r.channel:
            user[r.target] = {r.channel: gain}
        elif gain != 1.0 and r.target in detected.targets:
            row = detected.matrix[detected.targets.index(r.target)]
            user[r.target] = {FEATURES[i]: float(row[i]) * gain for i in np.flatnonzero(row)}
    return user, off, problems


def driver_text(row: np.ndarray) -> str:
    """A mapping row (len(FEATURES),) as text: ``jawOpen`` or ``0.5*mouthSmileLeft + 0.5*mouthSmileRight``."""
    return " + ".join(FEATURES[i] if row[i] == 1 else f"{float(row[i]):g}*{FEATURES[i]}" for i in np.flatnonzero(row))


def mapping_table(mapping: ShapeKeyMapping, edits: list[EditRow] | tuple[EditRow, ...] = ()) -> list[tuple[str, str, str, str]]:
    """The table the panel and ``thunder mapping`` show: (target, driver, origin, state) per shape key, driven
    ones first in key order, then disabled and unmatched keys."""
    off = {r.target for r in edits if not r.enabled}
    out = [(t, driver_text(row), o, "on") for t, row, o in zip(mapping.targets, mapping.matrix, mapping.origin,
                                                                strict=True)]
    out += [(t, "", "edited", "off") for t in sorted(off) if t not in mapping.targets]
    out += [(t, "", "unmatched", "not driven") for t in mapping.unmatched if t not in off]
    return out


def build_mapping(
    names: list[str] | tuple[str, ...],
    user_map: dict[str, dict[str, float]] | None = None,
    flame_map: FlameMap | None = None,
    disabled: set[str] | frozenset[str] = frozenset(),
    edited: dict[str, dict[str, float]] | None = None,
) -> ShapeKeyMapping:
    """Match shape-key ``names`` (in order) to features; see the module docstring for the rules.

    ``edited``: the panel's edits (``apply_edits``), above the mapping file; ``disabled``: keys left alone."""
    rows: dict[str, tuple[dict[str, float], str]] = {}
    for n, combo in (edited or {}).items():
        if n in names and n not in disabled:
            rows[n] = (combo, "edited")
    for n, combo in (user_map or {}).items():
        if n in names and n not in rows and n not in disabled:
            rows[n] = (combo, "user")
    if flame_map is not None:
        by_index = {flame_key_index(n, "exp"): n for n in reversed(names) if flame_key_index(n, "exp") is not None}
        for k, combo in flame_map.expressions.items():
            n = by_index.get(flame_key_index(k, "exp"))
            if n is not None and n not in rows and n not in disabled:
                rows[n] = (combo, "flame")
    free = [n for n in names if n not in rows and n not in disabled]
    for n, ch in match_arkit(free).items():
        rows[n] = ({ch: 1.0}, "arkit")
    free = [n for n in names if n not in rows and n not in disabled]
    for n, feat in match_visemes(free).items():
        rows[n] = ({feat: 1.0}, "viseme")
    free = [n for n in names if n not in rows and n not in disabled]
    for n, expr in match_vrm(free).items():
        rows[n] = (VRM_EXPRESSIONS[expr], "vrm")
    targets = tuple(n for n in names if n in rows)
    matrix = np.zeros((len(targets), len(FEATURES)), dtype=np.float32)
    for i, n in enumerate(targets):
        for src, w in rows[n][0].items():
            matrix[i, FEATURE_INDEX[src]] = w
    flame_own = set()
    if flame_map is not None:  # identity (Shape*) keys stay as they are; Pose* keys follow the joints
        flame_own = {n for n in names if flame_key_index(n, "shape") is not None} | set(flame_pose_keys(names))
    unmatched = tuple(n for n in names if n not in rows and n not in flame_own and n not in disabled
                      and n.lower() not in ("basis", "reference"))
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
        lines.append(f"FLAME Exp keys: {n_fl} driven by the map")
    n_user = mapping.count("user")
    if n_user:
        lines.append(f"User map: {n_user} shape keys")
    n_edit = mapping.count("edited")
    if n_edit:
        lines.append(f"Edited in the panel: {n_edit} shape keys")
    if not lines:
        lines.append("No shape keys recognised")
    return lines
