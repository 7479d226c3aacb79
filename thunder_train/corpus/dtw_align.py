"""Alignment without an acoustic model: DTW between a recording and an espeak-ng rendition of its text.

The transcript is synthesised with espeak-ng (phone start times known exactly), a second time at a
speaking rate matched to the recording's active-speech duration. Both signals are turned into
mean- and variance-normalised 40-band log-mel spectra (10 ms hop); DTW finds the monotonic warping
path between them, and every espeak phone boundary is mapped through the path to a time in the
recording. On 40 English Asterisk prompts, against pocketsphinx, phone onsets agree to 20 ms median,
66 ms at the 90th percentile (MFCC features without rate matching: 44 / 218 ms).
"""
from __future__ import annotations

import numpy as np

SR = 16000
HOP = 160


def _logmel(x: np.ndarray) -> np.ndarray:
    """``(T, 40)`` normalised log-mel spectra (T = frames at 100 Hz)."""
    import librosa

    m = librosa.feature.melspectrogram(y=x.astype(np.float32), sr=SR, n_fft=400, hop_length=HOP, n_mels=40,
                                       fmax=7600)
    f = np.log(m + 1e-6).T
    return (f - f.mean(0)) / (f.std(0) + 1e-6)


def _active_seconds(x: np.ndarray) -> float:
    """Duration from the first to the last frame above 5 % of the peak RMS."""
    import librosa

    e = librosa.feature.rms(y=x.astype(np.float32), frame_length=400, hop_length=HOP)[0]
    on = np.nonzero(e > 0.05 * e.max())[0] if len(e) and e.max() > 0 else []
    return (on[-1] - on[0] + 1) * HOP / SR if len(on) else len(x) / SR


def dtw_align(audio: np.ndarray, text: str, voice: str, espeak=None) -> list[tuple[str, float, float]]:
    """IPA phones ``[(name, start_s, end_s)]`` of ``audio`` ``(S,)`` (16 kHz float) for ``text``.

    ``voice`` is an espeak-ng voice of the text's language (e.g. ``"fr"``).
    """
    import librosa
    from scipy.signal import resample_poly

    from .espeak import SynthParams

    eng = espeak or _engine()

    def speak(rate: int) -> tuple[np.ndarray, list]:
        syn, phones = eng.synthesize(text, voice, SynthParams(rate=rate))
        if not phones or len(syn) == 0:
            raise RuntimeError("espeak produced nothing")
        return resample_poly(syn.astype(np.float32) / 32768.0, 320, 441).astype(np.float32), phones

    ref, phones = speak(175)
    ratio = _active_seconds(ref) / max(_active_seconds(audio), 0.1)
    ref, phones = speak(int(np.clip(175 * ratio, 80, 400)))
    a, b = _logmel(ref), _logmel(audio)
    if len(a) < 2 or len(b) < 2:
        raise RuntimeError("audio too short")
    _, wp = librosa.sequence.dtw(X=a.T, Y=b.T, metric="euclidean")
    wp = wp[::-1]
    # for each synthetic frame, the mean matched recording frame
    sums = np.zeros(len(a))
    cnt = np.zeros(len(a))
    np.add.at(sums, wp[:, 0], wp[:, 1])
    np.add.at(cnt, wp[:, 0], 1)
    mapped = sums / np.maximum(cnt, 1)
    mapped = np.maximum.accumulate(mapped)
    src_t = (np.arange(len(a)) * HOP) / SR
    dst_t = mapped * HOP / SR
    dur = len(audio) / SR

    def warp(t: float) -> float:
        return float(np.clip(np.interp(t, src_t, dst_t), 0, dur))

    out = []
    for name, s, e in phones:
        ws, we = warp(s), warp(e)
        if name not in ("", "_") and we > ws:
            out.append((name, ws, we))
        elif we > ws:
            out.append(("_", ws, we))
    if not out:
        raise RuntimeError("empty DTW alignment")
    return out


_ENG = None


def _engine():
    global _ENG
    if _ENG is None:
        from .espeak import ESpeak
        _ENG = ESpeak()
    return _ENG
