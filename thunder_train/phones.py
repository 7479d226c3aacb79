"""Synthesiser and aligner phone names -> the articulatory phone classes (``thunder_blender.core.phones``).

Every synthesiser / aligner phone (CMU/ARPAbet, espeak-ng names, festival/flite names) is mapped to one
of the classes by the corpus code. The classes themselves live in core, which the runtime shares.
"""
from __future__ import annotations

from thunder_blender.core.phones import CLASS_INDEX, PHONE_CLASSES

__all__ = ["CLASS_INDEX", "PHONE_CLASSES", "cmu_class", "cmu_classes"]


def cmu_classes(phone: str) -> tuple[int, ...]:
    """Class ids of a CMU phone (stress digits and case ignored) exactly as the corpus labels it
    (``corpus.phonemap.cmu_segments``): two for a diphthong whose halves differ in class (AW open + rounded,
    AY open + mid, OY rounded + mid), one otherwise (AO and OW are rounded, AH is open); unknown phones are
    'alveolar'. The transcript table (``thunder_train.lexicon``) and the evaluations use this, so a transcript
    gives the classes the networks were trained on."""
    from thunder_train.corpus.phonemap import cmu_segments

    out: list[int] = []
    for _, c in cmu_segments(phone):
        if not out or out[-1] != c:
            out.append(c)
    return tuple(out)


def cmu_class(phone: str) -> int:
    """Class id of a CMU phone's first (or only) segment (``cmu_classes``)."""
    return cmu_classes(phone)[0]
