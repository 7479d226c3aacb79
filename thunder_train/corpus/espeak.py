"""espeak-ng speech with per-phoneme start times, through the C library (ctypes).

The library is driven in synchronous mode with phoneme events (IPA names). Each call to
:func:`synthesize` returns 22.05 kHz int16 audio and a list of ``(ipa, start_s, end_s)`` phones,
where a phone ends where the next event starts. One process holds one espeak-ng instance.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

import numpy as np

_EVENT_WORD = 1
_EVENT_END = 5
_EVENT_MSG_TERMINATED = 6
_EVENT_PHONEME = 7
_SAMPLE_RATE = 22050
# espeak-ng reports phoneme events late: against pocketsphinx forced alignment of the same audio
# (30 Harvard sentences, 6 US voices), onsets of every phone class came out 10-20 ms late (median
# about 13 ms), while flite and festival showed -5..0 ms. Event times are moved earlier by this much.
EVENT_LATENCY_S = 0.012
# After that shift, /p b m/ onsets were still 12-29 ms late (the start of the lip closure is reported
# with the previous phone); their start moves earlier by this much more (at most half the previous phone).
BILABIAL_LEAD_S = 0.015


class _IdUnion(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", _IdUnion),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass
class SynthParams:
    """espeak-ng prosody controls (espeak units)."""

    rate: int = 175      # words per minute, 80..450
    pitch: int = 50      # base pitch 0..100
    range: int = 50      # pitch range 0..100
    volume: int = 100    # amplitude 0..200


class ESpeak:
    """One espeak-ng engine (process-global state in the C library)."""

    sample_rate = _SAMPLE_RATE

    def __init__(self) -> None:
        path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        self.lib = ctypes.CDLL(path)
        self.lib.espeak_Initialize.restype = ctypes.c_int
        sr = self.lib.espeak_Initialize(2, 0, None, 1 | 2)  # SYNCHRONOUS, phoneme events + IPA
        if sr <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        self.sample_rate = sr
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, str]] = []
        self._cb = _CALLBACK(self._callback)
        self.lib.espeak_SetSynthCallback(self._cb)
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                          ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))

    def _callback(self, wav, n, events) -> int:  # noqa: ANN001 (ctypes signature)
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != 0:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                name = bytes(ev.id.string).split(b"\0")[0].decode("utf-8", "replace")
                self._events.append((ev.type, ev.audio_position, name))
            elif ev.type in (_EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED):
                self._events.append((ev.type, ev.audio_position, ""))
            i += 1
        return 0

    def languages(self) -> list[str]:
        """Identifiers of all installed (non-MBROLA) language voices, e.g. ``gmw/en-US``."""
        arr = self.lib.espeak_ListVoices(None)
        out = []
        i = 0
        while arr[i]:
            ident = arr[i].contents.identifier.decode()
            if not ident.startswith("mb/"):
                out.append(ident)
            i += 1
        return out

    def synthesize(self, text: str, voice: str, params: SynthParams) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
        """Speak ``text`` with ``voice`` (e.g. ``"en-us+f3"``).

        Returns audio ``(S,) int16`` at :attr:`sample_rate` and phones ``[(ipa, start_s, end_s)]``
        covering the audio from 0 to its end (gaps before the first phone are labelled ``"_"``).
        """
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        for key, val in ((1, params.rate), (2, params.volume), (3, params.pitch), (4, params.range)):
            self.lib.espeak_SetParameter(key, int(val), 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8")
        self.lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 1, None, None)
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        dur = len(audio) / self.sample_rate
        phones: list[tuple[str, float, float]] = []
        lat = EVENT_LATENCY_S
        marks = [(max(0.0, t / 1000.0 - lat), name) for typ, t, name in self._events if typ == _EVENT_PHONEME]
        ends = sorted(max(0.0, t / 1000.0 - lat) for typ, t, _ in self._events
                      if typ in (_EVENT_END, _EVENT_MSG_TERMINATED))
        if marks and marks[0][0] > 0:
            phones.append(("_", 0.0, marks[0][0]))
        for k, (t, name) in enumerate(marks):
            nxt = marks[k + 1][0] if k + 1 < len(marks) else max([dur] + [e for e in ends if e > t])
            nxt = min(nxt, dur)
            if nxt > t:
                phones.append((name, t, nxt))
        if phones and phones[-1][2] < dur:
            phones.append(("_", phones[-1][2], dur))
        for k in range(1, len(phones)):
            name, s, e = phones[k]
            if name[:1] in ("p", "b", "m") and phones[k - 1][0] not in ("", "_"):
                pn, ps, pe = phones[k - 1]
                lead = min(BILABIAL_LEAD_S, 0.5 * (pe - ps))
                phones[k - 1] = (pn, ps, pe - lead)
                phones[k] = (name, s - lead, e)
        return audio.astype(np.int16), phones
