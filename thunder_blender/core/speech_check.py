"""Does the audio look like speech? A warning, never a refusal: noise, steady tones, hum and music without
pauses still animate the mouth (the model reads any sound), so the user is told.

Three measures on the log-mel of the frames within 40 dB of the loudest (speech has pauses, formant
transitions and a peaky spectrum):

* spectral flatness, median over frames: noise is flat (white 0.77, pink 0.41); speech 0.02 at most;
* spectral flux, mean frame-to-frame change of the mean-removed log-mel: steady tones, hum and chords
  barely change (< 0.1); speech changes constantly (0.55 or more);
* spread of the frame energy in log units: continuous sound without pauses stays level (< 0.8); speech
  rises and falls by syllable and pause (2.0 or more).

Measured on the demo clip and 45 Asterisk prompts in English, Spanish and French (speech: every one passes)
against synthetic white and pink noise, noise bursts, a sine, a chirp, mains hum and a sustained chord
(every one flagged), and two Asterisk prompt files that are tones, not speech (both flagged). Gated beeps are
not caught.
"""
from __future__ import annotations

import numpy as np

FLATNESS_NOISE = 0.2
FLUX_STEADY = 0.35
LEVEL_SPREAD_STEADY = 1.0
ACTIVE_RANGE = np.log(1e4)  # 40 dB below the loudest frame


def nonspeech_reason(log_mel: np.ndarray) -> str | None:
    """``log_mel``: (T, n_mels) natural-log mel power (``features.log_mel``). None if it looks like speech,
    else why not (a short phrase for a warning)."""
    mel = np.asarray(log_mel, np.float64)
    if len(mel) < 20:
        return None
    level = np.logaddexp.reduce(mel, axis=1)
    active = level > level.max() - ACTIVE_RANGE
    p = np.exp(mel[active] - mel[active].max(axis=1, keepdims=True))
    flatness = float(np.median(np.exp(np.log(p + 1e-30).mean(axis=1)) / p.mean(axis=1)))
    if flatness > FLATNESS_NOISE:
        return f"it sounds like noise (spectral flatness {flatness:.2f}; speech stays below 0.05)"
    centred = mel - mel.mean(axis=0)
    flux = float(np.abs(np.diff(centred, axis=0)).mean())
    if flux < FLUX_STEADY:
        return f"its spectrum hardly changes, like a steady tone, hum or chord (spectral flux {flux:.2f})"
    spread = float(level.std())
    if spread < LEVEL_SPREAD_STEADY:
        return f"its level never drops, as speech does between syllables and words (spread {spread:.2f})"
    return None
