"""Articulatory phone classes: the labels the corpus writes per frame and the evaluation scores on.

Every synthesiser / aligner phone (CMU/ARPAbet, espeak-ng names, festival/flite names) is mapped
to one of these classes by the corpus code. Class ids are stable: they are stored in shards.
"""
from __future__ import annotations

PHONE_CLASSES: tuple[str, ...] = (
    "sil",          # 0 silence / pause: mouth closed and relaxed
    "bilabial",     # 1 p b m: lips sealed (mouthClose / jaw nearly shut)
    "labiodental",  # 2 f v: lower lip tucked under upper teeth
    "rounded",      # 3 uw uh ow w oy (rounded vowels and glides): pucker / funnel
    "open",         # 4 aa ae ah ao aw ay: jaw open
    "mid",          # 5 eh ey ih iy er ax: mid/front vowels, spread lips
    "dental",       # 6 th dh
    "alveolar",     # 7 t d n s z l r
    "postalveolar", # 8 sh zh ch jh: slightly funnelled
    "dorsal",       # 9 k g ng hh y: back consonants
)
CLASS_INDEX: dict[str, int] = {n: i for i, n in enumerate(PHONE_CLASSES)}

# CMU / ARPAbet (pocketsphinx, flite) -> class.
CMU_TO_CLASS: dict[str, str] = {
    "SIL": "sil", "PAU": "sil", "SP": "sil", "H#": "sil", "+NSN+": "sil", "+SPN+": "sil",
    "P": "bilabial", "B": "bilabial", "M": "bilabial",
    "F": "labiodental", "V": "labiodental",
    "UW": "rounded", "UH": "rounded", "OW": "rounded", "W": "rounded", "OY": "rounded",
    "AA": "open", "AE": "open", "AH": "open", "AO": "open", "AW": "open", "AY": "open",
    "EH": "mid", "EY": "mid", "IH": "mid", "IY": "mid", "ER": "mid", "AX": "mid", "AXR": "mid",
    "IX": "mid",
    "TH": "dental", "DH": "dental",
    "T": "alveolar", "D": "alveolar", "N": "alveolar", "S": "alveolar", "Z": "alveolar",
    "L": "alveolar", "R": "alveolar", "DX": "alveolar", "EL": "alveolar", "EN": "alveolar",
    "SH": "postalveolar", "ZH": "postalveolar", "CH": "postalveolar", "JH": "postalveolar",
    "K": "dorsal", "G": "dorsal", "NG": "dorsal", "HH": "dorsal", "Y": "dorsal",
}


def cmu_class(phone: str) -> int:
    """Class id of a CMU phone (stress digits and case ignored); unknown phones map to 'alveolar'."""
    key = phone.upper().rstrip("012")
    return CLASS_INDEX[CMU_TO_CLASS.get(key, "alveolar")]
