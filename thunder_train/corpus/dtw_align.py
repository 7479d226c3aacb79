"""Alignment without an acoustic model: DTW between a recording and an espeak-ng rendition of its text.

The transcript is synthesised with espeak-ng (phone start times known exactly). Both signals are
turned into mean- and variance-normalised MFCCs (10 ms hop); DTW finds the monotonic warping path
between them, and every espeak phone boundary is mapped through the path to a time in the recording.
"""
from __future__ import annotations

import numpy as np

SR = 16000
HOP = 160


def _mfcc(x: np.ndarray) -> np.ndarray:
    """``(T, 20)`` normalised MFCCs (T = frames at 100 Hz)."""
    import librosa

    m = librosa.feature.mfcc(y=x.astype(np.float32), sr=SR, n_mfcc=20, n_fft=400, hop_length=HOP, n_mels=40)
    m = m[1:]  # drop energy-like c0
    d = librosa.feature.delta(m)
    f = np.concatenate([m, d]).T
    return (f - f.mean(0)) / (f.std(0) + 1e-6)


def dtw_align(audio: np.ndarray, text: str, voice: str, espeak=None) -> list[tuple[str, float, float]]:
    """IPA phones ``[(name, start_s, end_s)]`` of ``audio`` ``(S,)`` (16 kHz float) for ``text``.

    ``voice`` is an espeak-ng voice of the text's language (e.g. ``"fr"``).
    """
    import librosa
    from scipy.signal import resample_poly

    from .espeak import SynthParams

    eng = espeak or _engine()
    syn, phones = eng.synthesize(text, voice, SynthParams())
    if not phones or len(syn) == 0:
        raise RuntimeError("espeak produced nothing")
    ref = resample_poly(syn.astype(np.float32) / 32768.0, 320, 441).astype(np.float32)
    a, b = _mfcc(ref), _mfcc(audio)
    if len(a) < 2 or len(b) < 2:
        raise RuntimeError("audio too short")
    _, wp = librosa.sequence.dtw(X=a.T, Y=b.T, metric="euclidean", step_sizes_sigma=np.array([[1, 1], [0, 1], [1, 0]]),
                                 weights_mul=np.array([1.0, 1.0, 1.0]))
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
