"""Map synthesiser / aligner phone names to articulation targets.

Every phone becomes one or two *segments* ``(pose_key, class_id)``: diphthongs split into two
halves with their own mouth pose. ``class_id`` indexes ``thunder_train.phones.PHONE_CLASSES``;
``pose_key`` names a mouth pose in ``articulation.POSES`` (finer than the class, e.g. ``i`` vs ``ɑ``);
consonant keys without a pose of their own (``alveolar.s``) are drawn with their class's pose. Every pose key
also names one Oculus viseme (``POSE_VISEME``), the label of the encoder's viseme head.
Inputs: espeak-ng IPA event names (any language), CMU / festival "radio" names (flite, festival,
pocketsphinx).
"""
from __future__ import annotations

import unicodedata

from thunder_blender.core.visemes import VISEMES
from thunder_train.phones import CLASS_INDEX

# IPA base symbol -> (class, pose key). Pose keys are vowels for vowels, the class name (or the class name and
# the viseme's sound, ``alveolar.s``) otherwise.
_IPA: dict[str, tuple[str, str]] = {}


def _add(chars: str, cls: str, pose: str | None = None) -> None:
    for ch in chars.split():
        _IPA[ch] = (cls, pose or cls)


_add("p b m ɓ ʙ β", "bilabial")   # β: Spanish b/v between vowels, drawn with the lips together (M B P)
_add("f v ʋ ɱ ɸ", "labiodental")
_add("w ʍ ɥ", "rounded", "w")
_add("u ʉ", "rounded", "u")
_add("ʊ", "rounded", "ʊ")
_add("o ɵ", "rounded", "o")
_add("ɔ ɒ ɞ", "rounded", "ɔ")
_add("y ʏ", "rounded", "y")
_add("ø œ ɶ", "rounded", "ø")
_add("a ä ɑ", "open", "ɑ")
_add("æ", "open", "æ")
_add("ɐ ʌ", "open", "ʌ")
_add("i", "mid", "i")
_add("ɪ ɨ ᵻ ɯ", "mid", "ɪ")
_add("e ɘ ɤ", "mid", "e")
_add("ɛ ɜ", "mid", "ɛ")
_add("ə", "mid", "ə")
_add("ɚ ɝ", "mid", "ɚ")          # r-coloured: drawn as ə, its viseme is RR
_add("A", "open", "ɑ")
_add("ε E", "mid", "ɛ")
_add("I", "mid", "ɪ")
_add("O", "rounded", "ɔ")
_add("U", "rounded", "ʊ")
_add("θ ð", "dental")
_add("t d ɾ ʈ ɖ", "alveolar")                     # stops and taps: viseme DD
_add("n l ɫ ɬ ɮ ɺ ɳ ɭ", "alveolar", "alveolar.n")  # nasal and laterals: nn
_add("s z", "alveolar", "alveolar.s")              # sibilants: SS
_add("r ɹ ɻ ɽ", "alveolar", "alveolar.r")          # r: RR
_add("ʃ ʒ ɕ ʑ ʂ ʐ", "postalveolar")
_add("k g ɡ ŋ x ɣ h ɦ ʎ ɲ ç ʝ q ɢ ʁ ʀ χ ħ ʕ ʔ ɰ c ɟ ʜ ʢ ɧ", "dorsal")
_add("j", "dorsal", "dorsal.j")                    # the glide of "yes": drawn as dorsal, viseme I

# pose key -> Oculus viseme (``core.visemes.VISEMES``), as the OVR LipSync phone table assigns them
POSE_VISEME: dict[str, str] = {
    "sil": "sil", "bilabial": "PP", "labiodental": "FF", "dental": "TH", "alveolar": "DD", "alveolar.n": "nn",
    "alveolar.s": "SS", "alveolar.r": "RR", "postalveolar": "CH", "dorsal": "kk", "dorsal.j": "I",
    "w": "U", "u": "U", "ʊ": "U", "y": "U", "o": "O", "ɔ": "O", "ø": "O", "ɑ": "aa", "æ": "aa", "ʌ": "aa",
    "i": "I", "ɪ": "I", "e": "E", "ɛ": "E", "ə": "E", "ɚ": "RR",
}
assert set(POSE_VISEME.values()) == set(VISEMES)
VISEME_ID: dict[str, int] = {v: i for i, v in enumerate(VISEMES)}


def pose_viseme(pose: str) -> int:
    """Viseme id (``VISEMES`` index) of a segment's pose key; a class-name key stands for its class's viseme."""
    return VISEME_ID[POSE_VISEME[pose]]


_AFFRICATES = {"tʃ": ("postalveolar", "postalveolar"), "dʒ": ("postalveolar", "postalveolar"),
               "tɕ": ("postalveolar", "postalveolar"), "dʑ": ("postalveolar", "postalveolar"),
               "ʈʂ": ("postalveolar", "postalveolar"), "ts": ("alveolar", "alveolar.s"),
               "dz": ("alveolar", "alveolar.s"), "pf": ("bilabial", "bilabial")}
_SILENCE = {"", "_", "_:", "_!", "||", "|", "pau", "sil", "sp", "h#", "#", "brth", "ssil"}
_STRIP = set("ˈˌːˑ-_'!^;~=.|") | {"\u0303", "\u0329", "\u032f", "\u0361", "\u02b0", "\u02b2", "\u02b7", "\u0325",
                                   "\u0324", "\u0330", "\u031a", "\u02de", "\u0348", "\u0339", "\u031c",
                                   "\u031d", "\u031e", "\u031f", "\u0320", "\u0308", "\u033a", "\u033b"}

# CMU / ARPAbet (also festival "radio" phones and flite) -> IPA-like string.
_CMU_IPA: dict[str, str] = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AX": "ə", "AXR": "ɚ", "AY": "aɪ", "EH": "ɛ",
    "ER": "ɝ", "EY": "eɪ", "IH": "ɪ", "IX": "ɨ", "IY": "i", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ", "UW": "u",
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "DX": "ɾ", "EL": "l", "EM": "m", "EN": "n", "F": "f", "G": "g",
    "HH": "h", "JH": "dʒ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "NX": "ŋ", "P": "p", "R": "ɹ",
    "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "V": "v", "W": "w", "WH": "ʍ", "Y": "j", "Z": "z", "ZH": "ʒ",
}

CMU_PHONES: tuple[str, ...] = tuple(_CMU_IPA)  # every CMU / ARPAbet phone name this map knows (silences aside)

UNKNOWN: dict[str, int] = {}  # phone name -> count of unmapped uses (reported in the data card)


def _base(name: str) -> str:
    s = unicodedata.normalize("NFD", name)
    return "".join(ch for ch in s if ch not in _STRIP and not ch.isdigit())


def ipa_segments(name: str) -> list[tuple[str, int]]:
    """Segments ``[(pose_key, class_id)]`` of one espeak-ng IPA phoneme (1 or 2 entries)."""
    if name.strip() in _SILENCE:
        return [("sil", CLASS_INDEX["sil"])]
    s = _base(name)
    if not s:
        return [("sil", CLASS_INDEX["sil"])]
    for aff, (cls, pose) in _AFFRICATES.items():
        if s.startswith(aff):
            return [(pose, CLASS_INDEX[cls])]
    chars = [ch for ch in s if ch in _IPA]
    if not chars:
        UNKNOWN[name] = UNKNOWN.get(name, 0) + 1
        return [("alveolar", CLASS_INDEX["alveolar"])]
    first = _IPA[chars[0]]
    out = [(first[1], CLASS_INDEX[first[0]])]
    # a vowel followed by a different vowel / glide quality: diphthong, second half gets its own pose
    if len(chars) > 1 and first[0] in ("open", "mid", "rounded"):
        second = _IPA[chars[1]]
        if second[0] in ("open", "mid", "rounded") and second[1] != first[1]:
            out.append((second[1], CLASS_INDEX[second[0]]))
        elif chars[1] in ("ɹ", "r", "ɻ"):  # r-coloured vowel
            out.append(("ɚ", CLASS_INDEX["mid"]))
    return out


def cmu_segments(name: str) -> list[tuple[str, int]]:
    """Segments of a CMU / festival / flite phone name (stress digits and case ignored)."""
    key = name.strip().upper().rstrip("012")
    if key.lower() in _SILENCE or key in ("SIL", "PAU", "SP", "+NSN+", "+SPN+", "NSN", "SPN"):
        return [("sil", CLASS_INDEX["sil"])]
    ipa = _CMU_IPA.get(key)
    if ipa is None:
        UNKNOWN[name] = UNKNOWN.get(name, 0) + 1
        return [("alveolar", CLASS_INDEX["alveolar"])]
    segs = ipa_segments(ipa)
    if key == "AH":  # flite/CMU use AH for both stressed /ʌ/ and schwa
        segs = [("ʌ", CLASS_INDEX["open"])]
    return segs


def expand(phones: list[tuple[str, float, float]], kind: str) -> list[tuple[str, int, float, float]]:
    """Phones ``[(name, start_s, end_s)]`` -> segments ``[(pose_key, class_id, start_s, end_s)]``.

    ``kind`` is ``"ipa"`` (espeak-ng) or ``"cmu"``. Diphthongs are split at 55 % of their duration.
    Adjacent silences are merged.
    """
    fn = ipa_segments if kind == "ipa" else cmu_segments
    out: list[tuple[str, int, float, float]] = []
    for name, s, e in phones:
        if e <= s:
            continue
        segs = fn(name)
        if len(segs) == 2:
            m = s + 0.55 * (e - s)
            parts = [(segs[0], s, m), (segs[1], m, e)]
        else:
            parts = [(segs[0], s, e)]
        for (pose, cid), a, b in parts:
            if out and pose == "sil" and out[-1][0] == "sil":
                out[-1] = (pose, cid, out[-1][2], b)
            else:
                out.append((pose, cid, a, b))
    return out
