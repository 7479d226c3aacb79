"""Pronunciations and text checks for any language: espeak-ng IPA mapped onto the CMU phone set.

No acoustic aligner for the development set's other languages exists in the registries, so each word is
spelled by espeak-ng (``--ipa=3``, phones separated by ``_``), every IPA phone is replaced by the nearest
CMU phone, and pocketsphinx's en-us model aligns the mapped pronunciations (docs/REAL_SPEECH_SOURCES.md §4,
route 1). ``speech_ratio`` is the transcript-length check: trimmed recording length over the length of
espeak-ng reading the same text.
"""
from __future__ import annotations

import io
import re
import subprocess
import unicodedata

import numpy as np

# espeak-ng voice per language of recorded speech (development set and the corpus's recorded sources)
ESPEAK_VOICE: dict[str, str] = {"en": "en-us", "fr": "fr", "es": "es", "el": "el", "nl": "nl", "sv": "sv",
                                "pt": "pt-br", "cs": "cs", "ca": "ca", "ro": "ro", "ru": "ru", "bg": "bg",
                                "be": "be", "da": "da", "lt": "lt"}

# IPA phone (diacritics removed) -> CMU phones; multi-letter keys are matched first.
IPA_TO_CMU: dict[str, str] = {
    "tʃ": "CH", "dʒ": "JH", "ts": "T S", "dz": "D Z", "tɕ": "CH", "dʑ": "JH", "aɪ": "AY", "aʊ": "AW", "eɪ": "EY",
    "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY", "ɛɪ": "EY", "œy": "OY", "ʌu": "AW", "ɑu": "AW",
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "ɡ": "G", "c": "K", "ɟ": "G", "q": "K",
    "m": "M", "n": "N", "ɲ": "N Y", "ŋ": "NG", "ɱ": "M", "ɳ": "N",
    "f": "F", "v": "V", "ʋ": "V", "w": "W", "ɥ": "W", "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH",
    "ʒ": "ZH", "ɕ": "SH", "ʑ": "ZH", "ʂ": "SH", "ʐ": "ZH", "ç": "HH", "x": "HH", "χ": "HH", "ɣ": "G",
    "ʁ": "R", "r": "R", "ɾ": "R", "ɹ": "R", "ɻ": "R", "l": "L", "ɫ": "L", "ɭ": "L", "ʎ": "L Y", "j": "Y",
    "ʝ": "Y", "h": "HH", "ɦ": "HH", "β": "B", "ɸ": "F",
    "a": "AA", "ɑ": "AA", "ɐ": "AH", "æ": "AE", "e": "EY", "ɛ": "EH", "ə": "AH", "ɜ": "ER", "ɚ": "ER",
    "i": "IY", "ɪ": "IH", "y": "UW", "ʏ": "UH", "ø": "ER", "œ": "ER", "o": "OW", "ɔ": "AO", "u": "UW",
    "ʊ": "UH", "ɒ": "AA", "ʌ": "AH", "ɨ": "IH", "ɯ": "UW", "ɤ": "AH", "ɵ": "ER", "ᵻ": "IH",
    "ε": "EH",  # Greek epsilon: espeak-ng's Danish writes it for /ɛ/
}
_KEYS = sorted(IPA_TO_CMU, key=len, reverse=True)
_DROP = set("ˈˌːˑ'-") | {"\u0303", "\u032a", "\u0329", "\u032f", "\u02b0", "\u02b2", "\u02b7", "\u0361", "\u200d",
                         "\u0325", "\u031e", "\u031d", "\u0320", "\u0308", "\u0306", "\u02de"}


def ipa_phones_to_cmu(ipa: str) -> list[str]:
    """An espeak-ng ``--ipa=3`` string (phones separated by ``_``, words by spaces) -> CMU phones."""
    out: list[str] = []
    for ph in re.split(r"[_\s]+", ipa):
        s = "".join(ch for ch in unicodedata.normalize("NFD", ph) if ch not in _DROP)
        i = 0
        while i < len(s):
            for k in _KEYS:
                if s.startswith(k, i):
                    out += IPA_TO_CMU[k].split()
                    i += len(k)
                    break
            else:
                i += 1  # unmapped symbol (tone marks, stress leftovers)
    return out


def words(text: str) -> list[str]:
    """Lower-case words (letters and digits of any script) of a transcript."""
    return re.findall(r"\w+", text.lower().replace("’", "'"))


def spell(word: str, lang: str) -> list[str]:
    """CMU phones of one word as espeak-ng pronounces it in ``lang`` (empty when espeak gives nothing)."""
    res = subprocess.run(["espeak-ng", "-q", "--ipa=3", "-v", ESPEAK_VOICE[lang], word], capture_output=True,
                         text=True, check=True)
    return ipa_phones_to_cmu(res.stdout.strip())


def espeak_seconds(text: str, lang: str) -> float:
    """Length (s) of espeak-ng reading ``text`` at its default rate, leading/trailing silence trimmed."""
    import soundfile as sf

    # the text goes in on stdin: as an argument, a line that starts with "-" would be read as an option
    res = subprocess.run(["espeak-ng", "--stdout", "--stdin", "-v", ESPEAK_VOICE[lang]], input=text.encode(),
                         capture_output=True, check=True)
    audio, sr = sf.read(io.BytesIO(res.stdout), dtype="float32")
    return trimmed_seconds(audio, sr)


def trimmed_seconds(audio: np.ndarray, sr: int, top_db: float = 35.0, frame: int = 512) -> float:
    """Length (s) between the first and last frame within ``top_db`` of the loudest frame of ``audio`` ``(S,)``."""
    a = np.asarray(audio, np.float64)
    if len(a) < frame:
        return len(a) / sr
    n = len(a) // (frame // 2) - 1
    idx = np.arange(n)[:, None] * (frame // 2) + np.arange(frame)[None]
    rms = np.sqrt((a[idx] ** 2).mean(axis=1) + 1e-12)
    db = 20 * np.log10(rms / rms.max())
    on = np.flatnonzero(db > -top_db)
    return float((on[-1] - on[0] + 1) * (frame // 2) / sr)


def floor_share(phones: list[tuple[str, float, float]], floor_s: float = 0.03) -> float:
    """Share of non-silence phones at pocketsphinx's minimum length (a squeezed alignment), 0..1."""
    d = [e - s for p, s, e in phones if p.upper() not in ("SIL", "+NSN+", "+SPN+")]
    return float(np.mean([x <= floor_s + 1e-6 for x in d])) if d else 1.0


def aligner_tokens(aligner, text: str, lang: str) -> list[str]:  # noqa: ANN001 (corpus.align.Aligner)
    """The pocketsphinx dictionary entries a transcript is aligned with: English words as ``Aligner.tokens``
    spells them; other languages' words as ``<lang>:<word>``, spelled by espeak-ng in that language and mapped
    to CMU phones (added to the aligner once; words espeak-ng cannot spell are left out)."""
    if lang == "en":
        return aligner.tokens(text)
    toks = []
    for w in words(text):
        key = f"{lang}:{w}"
        if aligner.dec.lookup_word(key) is None:
            cmu = spell(w, lang)
            if not cmu:
                continue
            aligner.add_pronunciation(key, cmu)
        toks.append(key)
    return toks
