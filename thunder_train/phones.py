"""Synthesiser and aligner phone names -> the articulatory phone classes (``thunder_blender.core.phones``).

Every synthesiser / aligner phone (CMU/ARPAbet, espeak-ng names, festival/flite names) is mapped to one
of the classes by the corpus code. The classes themselves live in core, which the runtime shares.
"""
from __future__ import annotations

from thunder_blender.core.phones import CLASS_INDEX, PHONE_CLASSES

__all__ = ["CLASS_INDEX", "CMU_TO_CLASS", "PHONE_CLASSES", "cmu_class"]

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
