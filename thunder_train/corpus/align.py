"""English forced alignment with pocketsphinx (phone level), and phone-sequence matching.

``align(audio, text)`` returns CMU phones with start/end times (10 ms resolution). Out-of-vocabulary
words get a pronunciation from espeak-ng (en-us), converted from IPA to CMU phones.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

_IPA_CMU: dict[str, str] = {
    "aɪə": "AY ER", "aɪ": "AY", "aʊ": "AW", "ɔɪ": "OY", "oʊ": "OW", "əʊ": "OW", "eɪ": "EY", "tʃ": "CH", "dʒ": "JH",
    "ɛɹ": "EH R", "ɪɹ": "IH R", "ʊɹ": "UH R", "ɔɹ": "AO R", "ɑɹ": "AA R", "ɜɹ": "ER", "əɹ": "ER", "iə": "IH AH",
    "ð": "DH", "θ": "TH", "ə": "AH", "ɐ": "AH", "ʌ": "AH", "æ": "AE", "ɑ": "AA", "a": "AA", "o": "OW", "ɔ": "AO",
    "ɒ": "AA", "ɛ": "EH", "e": "EY", "ɪ": "IH", "ᵻ": "IH", "i": "IY", "ʊ": "UH", "u": "UW", "ɜ": "ER", "ɚ": "ER",
    "ɝ": "ER", "ɹ": "R", "r": "R", "l": "L", "ɫ": "L", "n": "N", "m": "M", "ŋ": "NG", "p": "P", "b": "B", "t": "T",
    "d": "D", "ɾ": "D", "k": "K", "g": "G", "ɡ": "G", "f": "F", "v": "V", "s": "S", "z": "Z", "ʃ": "SH",
    "ʒ": "ZH", "h": "HH", "j": "Y", "w": "W", "ʔ": "T", "x": "K", "ç": "HH",
}
_KEYS = sorted(_IPA_CMU, key=len, reverse=True)


def ipa_to_cmu(names: list[str]) -> list[str]:
    """Convert espeak-ng IPA phoneme names to CMU phones (greedy longest match)."""
    out: list[str] = []
    for name in names:
        s = "".join(ch for ch in unicodedata.normalize("NFD", name) if ch.isalpha() or ch in "ɾʔ")
        i = 0
        while i < len(s):
            for k in _KEYS:
                if s.startswith(k, i):
                    out += _IPA_CMU[k].split()
                    i += len(k)
                    break
            else:
                i += 1
    return out


def words_of(text: str) -> list[str]:
    """Lower-case words for alignment (punctuation dropped, apostrophes kept)."""
    text = text.lower().replace("’", "'")
    return [w.strip("'") for w in re.findall(r"[a-z']+", text) if w.strip("'")]


class Aligner:
    """pocketsphinx forced aligner for 16 kHz English speech."""

    def __init__(self, fresh: bool = False) -> None:
        """``fresh``: new decoders for every clip (slower by about 0.4 s per clip, but a clip's alignment
        then never depends on the clips aligned before it)."""
        self.fresh = fresh
        self._added: dict[str, str] = {}  # words added to the dictionary -> CMU phones
        self._espeak = None
        self._decoders: dict[bool, object] = {}

    def _decoder(self, wide: bool):  # noqa: ANN202 (pocketsphinx Decoder)
        """The default decoder, or the one with much wider beams (slower) for when the default search loses
        the path; created on first use with every added word."""
        if wide not in self._decoders:
            from pocketsphinx import Decoder

            beams = {"beam": 1e-60, "wbeam": 1e-40, "pbeam": 1e-60} if wide else {}
            dec = Decoder(samprate=16000, loglevel="FATAL", **beams)
            items = list(self._added.items())
            for i, (w, pron) in enumerate(items):
                dec.add_word(w, pron, i == len(items) - 1)  # rebuild the search once, after the last
            self._decoders[wide] = dec
        return self._decoders[wide]

    @property
    def dec(self):  # noqa: ANN201 (pocketsphinx Decoder)
        return self._decoder(False)

    def _new_decoders(self) -> None:
        """Drop both decoders (recreated on next use).

        Decoder state carries over between utterances: a failed alignment leaves a decoder unusable
        ("Failed to set up sub-word alignment", then "Failed to stop utterance processing" on every later
        clip), and even after a successful one the next clip can fail where a fresh decoder aligns it.
        """
        self._decoders.clear()

    def _ensure_word(self, w: str) -> bool:
        if self.dec.lookup_word(w) is not None:
            return True
        from .espeak import ESpeak, SynthParams

        if self._espeak is None:
            self._espeak = ESpeak()
        _, phones = self._espeak.synthesize(w, "en-us", SynthParams())
        cmu = ipa_to_cmu([p for p, _, _ in phones if p not in ("", "_")])
        if not cmu:
            return False
        self.add_pronunciation(w, cmu)
        return True

    @staticmethod
    def _run(dec, pcm: bytes, words: str):  # noqa: ANN001, ANN205 (pocketsphinx objects)
        dec.set_align_text(words)
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        dec.set_alignment()
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        al = dec.get_alignment()
        if al is None:
            raise RuntimeError("phone alignment failed")
        return al

    def add_pronunciation(self, word: str, cmu: list[str]) -> None:
        """Add (or keep) dictionary entry ``word`` -> CMU phones, in both decoders."""
        if word not in self._added and self.dec.lookup_word(word) is None:
            self._added[word] = " ".join(cmu)
            for dec in self._decoders.values():
                dec.add_word(word, " ".join(cmu), True)

    def align(self, audio: np.ndarray, text: str) -> list[tuple[str, float, float]]:
        """CMU phones ``[(phone, start_s, end_s)]`` of ``audio`` ``(S,)`` float in [-1, 1] at 16 kHz.

        Raises ``RuntimeError`` when pocketsphinx cannot align the text.
        """
        return self.align_words(audio, self.tokens(text))

    def tokens(self, text: str) -> list[str]:
        """The English words of ``text`` that the dictionary has or espeak-ng can spell (added once)."""
        return [w for w in words_of(text) if self._ensure_word(w)]

    def align_words(self, audio: np.ndarray, words: list[str]) -> list[tuple[str, float, float]]:
        """As ``align`` for words that are all in the dictionary (see ``add_pronunciation``)."""
        out = [(p.name, p.start / 100.0, (p.start + p.duration) / 100.0) for w in self._alignment(audio, words)
               for p in w]
        if not out:
            raise RuntimeError("empty alignment")
        return out

    def word_times(self, audio: np.ndarray, words: list[str]) -> list[tuple[str, float, float]]:
        """Words ``[(word, start_s, end_s)]`` of the same alignment as ``align_words`` (pauses included as
        ``<sil>``/``sil``; pronunciation variants keep their ``(2)`` suffix)."""
        return [(w.name, w.start / 100.0, (w.start + w.duration) / 100.0) for w in self._alignment(audio, words)]

    def _alignment(self, audio: np.ndarray, words: list[str]):  # noqa: ANN202 (pocketsphinx Alignment)
        if not words:
            raise RuntimeError("no alignable words")
        # light fixed dither: digitally silent pauses (exact zeros) derail pocketsphinx's feature normalisation
        dither = np.random.default_rng(0).standard_normal(len(audio)) * 1e-4
        pcm = (np.clip(audio + dither, -1, 1) * 32767).astype(np.int16).tobytes()
        if self.fresh:
            self._new_decoders()
        al = None
        for wide in (False, True):
            try:
                al = self._run(self._decoder(wide), pcm, " ".join(words))
                break
            except RuntimeError:
                self._new_decoders()
        if al is None:
            raise RuntimeError("phone alignment failed")
        return al


def match_onsets(ref: list[tuple[int, float]], hyp: list[tuple[int, float]], gap: float = 1.0) -> np.ndarray:
    """Onset differences (s) of class-matched segments after a global sequence alignment.

    ``ref``/``hyp``: ``[(class_id, onset_s)]``. Needleman-Wunsch on class ids (match 2, mismatch -1,
    gap -``gap``); returns ``hyp_onset - ref_onset`` for every matched pair ``(M,)``.
    """
    n, m = len(ref), len(hyp)
    score = np.zeros((n + 1, m + 1))
    score[:, 0] = -gap * np.arange(n + 1)
    score[0, :] = -gap * np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            s = 2.0 if ref[i - 1][0] == hyp[j - 1][0] else -1.0
            score[i, j] = max(score[i - 1, j - 1] + s, score[i - 1, j] - gap, score[i, j - 1] - gap)
    i, j, diffs = n, m, []
    while i > 0 and j > 0:
        s = 2.0 if ref[i - 1][0] == hyp[j - 1][0] else -1.0
        if score[i, j] == score[i - 1, j - 1] + s:
            if s > 0:
                diffs.append(hyp[j - 1][1] - ref[i - 1][1])
            i, j = i - 1, j - 1
        elif score[i, j] == score[i - 1, j] - gap:
            i -= 1
        else:
            j -= 1
    return np.array(diffs[::-1])
