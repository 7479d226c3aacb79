"""Voice inventory and the voice-level split (test voices are never heard in training)."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

ESPEAK_DATA = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data")
ENGLISH_DIALECTS = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc",
                    "en-gb-x-gbclan", "en-gb-x-gbcwmd")
# Latin-script languages whose voices read the English text with their own letter-to-sound rules.
OTHER_LANGS = ("af", "an", "ca", "cs", "cy", "da", "de", "eo", "es", "es-419", "et", "eu", "fi", "fr",
               "fr-be", "ga", "hr", "hu", "ia", "id", "is", "it", "lv", "ms", "nb", "nl", "pl", "pt",
               "pt-br", "ro", "sk", "sl", "sq", "sv", "sw", "tr")
_BAD_VARIANT = ("robo", "robot", "whisper", "croak", "demonic", "tweaky", "anxious", " ")
FLITE_VOICES = ("slt", "rms", "awb", "kal16", "kal")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
# fixed held-out voices of the small engines (espeak voices are split by hash)
FIXED_SPLIT = {"flite/awb": "test", "flite/kal": "val", "festival/ked_diphone": "test"}


SYNTH_ENGINES = ("espeak", "flite", "festival")  # the ``source`` of every synthesised utterance


@dataclass(frozen=True)
class Voice:
    """A synthetic speaker: engine + voice name."""

    engine: str   # one of SYNTH_ENGINES
    name: str     # engine's voice name, e.g. "en-us+f3", "slt", "kal_diphone"
    lang: str     # language of the voice's rules ("en", "de", ...)

    @property
    def id(self) -> str:
        return f"{self.engine}/{self.name}"


def espeak_variants() -> list[str]:
    """Usable voice variants (``+f1``..``+f5``, ``+m1``..``+m8``, klatt, named voices; no robot/whisper)."""
    names = sorted(p.name for p in (ESPEAK_DATA / "voices" / "!v").iterdir())
    return [n for n in names if not any(b in n.lower() for b in _BAD_VARIANT)]


def all_voices() -> list[Voice]:
    out: list[Voice] = []
    variants = [""] + espeak_variants()
    for lang in ENGLISH_DIALECTS + OTHER_LANGS:
        for v in variants:
            out.append(Voice("espeak", lang + (f"+{v}" if v else ""), lang.split("-")[0]))
    out += [Voice("flite", v, "en") for v in FLITE_VOICES]
    out += [Voice("festival", v, "en") for v in FESTIVAL_VOICES]
    return out


def _unit(seed: int, key: str) -> float:
    return zlib.crc32(f"{seed}:{key}".encode()) / 2**32


def voice_split(v: Voice, seed: int) -> str:
    """``train`` / ``val`` / ``test`` for a voice (about 8 % val and 8 % test among espeak voices)."""
    if v.id in FIXED_SPLIT:
        return FIXED_SPLIT[v.id]
    if v.engine != "espeak":
        return "train"
    u = _unit(seed, v.id)
    return "test" if u < 0.08 else "val" if u < 0.16 else "train"


def sentence_split(text: str, seed: int) -> str:
    """``train`` / ``val`` / ``test`` for a sentence (5 % val, 5 % test)."""
    u = _unit(seed, "s:" + text.lower())
    return "test" if u < 0.05 else "val" if u < 0.10 else "train"
