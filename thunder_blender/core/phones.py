"""Articulatory phone classes and the denoiser's optional phone input.

The classes are the labels the corpus writes per frame, the classes of the encoder's phone head (model card
``phone_classes``) and the units a transcript is aligned in. Class ids are stable: they are stored in shards.

A model whose card has ``phone_input`` takes, beside the audio features, one row per 50 fps frame: the aligned
class one-hot and a "known" flag (``phone_input``). A row of zeros means "no transcript here", so one model
serves audio-only and transcript-assisted generation.
"""
from __future__ import annotations

import numpy as np

PHONE_CLASSES: tuple[str, ...] = (
    "sil",          # 0 silence / pause: mouth closed and relaxed
    "bilabial",     # 1 p b m: lips sealed (mouthClose / jaw nearly shut)
    "labiodental",  # 2 f v: lower lip tucked under upper teeth
    "rounded",      # 3 uw uh ow ao w, end of aw, start of oy (rounded vowels and glides): pucker / funnel
    "open",         # 4 aa ae ah, start of aw ay: jaw open
    "mid",          # 5 eh ey ih iy er ax, end of ay oy: mid/front vowels, spread lips
    "dental",       # 6 th dh
    "alveolar",     # 7 t d n s z l r
    "postalveolar", # 8 sh zh ch jh: slightly funnelled
    "dorsal",       # 9 k g ng hh y: back consonants
)
CLASS_INDEX: dict[str, int] = {n: i for i, n in enumerate(PHONE_CLASSES)}
N_PHONES = len(PHONE_CLASSES)
N_PHONE_INPUT = N_PHONES + 1   # one-hot + "known" flag
UNKNOWN = -1                   # class id of a frame without an aligned phone


def phone_input(classes: np.ndarray) -> np.ndarray:
    """(..., T) int class ids (``UNKNOWN`` where no phone is aligned) -> (..., T, N_PHONE_INPUT) float32."""
    c = np.asarray(classes)
    if c.size and (c.min() < UNKNOWN or c.max() >= N_PHONES):
        raise ValueError(f"phone class ids must be in {UNKNOWN}..{N_PHONES - 1}")
    out = np.zeros(c.shape + (N_PHONE_INPUT,), np.float32)
    known = c >= 0
    out[..., :N_PHONES][known] = np.eye(N_PHONES, dtype=np.float32)[c[known]]
    out[..., N_PHONES] = known
    return out
