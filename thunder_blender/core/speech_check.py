"""Does the audio look like speech? A warning, never a refusal: noise, tones, beeps and music without pauses
still animate the mouth (the model reads any sound), so the user is told.

Three measures on the log-mel of the active frames, those within 40 dB of the loudest:

* **spectral flatness**, its 20th percentile over active frames: noise is flat in every frame (white 0.77,
  pink 0.41), speech has peaky (voiced) frames even over a noisy background (0.12 at most). A low percentile
  rather than the median, so speech that is mostly pauses over room noise still counts as speech;
* **spectral shape change**, the median over pairs of consecutive loud frames (within 20 dB of the loudest,
  so a line's noise floor between beeps does not count) of how much the shape of
  the spectrum (log-mel minus the frame's level) changes, weighted by where the energy is: a tone, chord,
  beep, DTMF digit or busy signal has the same shape from frame to frame while it sounds, whether it is
  gated on and off or not (0.025 at most); articulation changes speech all the time (0.07 or more;
  the development set 0.2 or more; sung and sustained vowels included). Only the level changes at a gate, and the measure ignores the level;
* **spread of the frame energy** in log units: continuous sound without pauses (hum, a chord, a sweep) stays
  level (below 0.8); speech rises and falls by syllable and pause (2.0 or more).

Measured with tools/speech_check_survey.py. Speech, none flagged: the 250 development-set clips, the 989
spoken Asterisk prompts in English, Spanish and French, the demo clip and 27 espeak-ng and flite clips
(several voices, whispered, high-pitched, pitch-shifted by up to an octave, a slow sung melody). Flagged: the
15 Asterisk prompts that are tones (beep, two-tone, conference join/leave), and 17 of 21 synthetic signals:
noise, noise bursts, steady and gated tones from 440 Hz to 3.5 kHz (with or without a noise floor), 50 ms
bleeps, a busy signal, DTMF digits, a gated square wave, a sweep, a chord and a plucked melody. Not caught: a
tone with vibrato, two tones close enough to beat (a 440 + 480 Hz ring-back tone), a gated sweep and gated
chords.
"""
from __future__ import annotations

import numpy as np

FLATNESS_NOISE = 0.2
FLATNESS_QUANTILE = 0.2
SHAPE_CHANGE_STEADY = 0.05
LEVEL_SPREAD_STEADY = 1.0
ACTIVE_RANGE = np.log(1e4)  # 40 dB below the loudest frame
LOUD_RANGE = np.log(1e2)  # 20 dB: the shape change is measured while the sound is on, not on a noise floor


def shape_change(log_mel: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(P,) energy-weighted change of the spectral shape between consecutive active frames.

    log_mel: (T, n_mels) natural-log power; active: (T,) bool. The shape is the log-mel minus the frame's
    log level; each band's absolute change is weighted by its share of the power (mean of the two frames),
    so bands at the noise floor do not count."""
    shape = log_mel - np.logaddexp.reduce(log_mel, axis=1, keepdims=True)
    both = active[1:] & active[:-1]
    share = 0.5 * (np.exp(shape[1:][both]) + np.exp(shape[:-1][both]))
    return (share * np.abs(shape[1:][both] - shape[:-1][both])).sum(axis=1)


def nonspeech_reason(log_mel: np.ndarray) -> str | None:
    """``log_mel``: (T, n_mels) natural-log mel power (``features.log_mel``). None if it looks like speech,
    else why not (a short phrase for a warning)."""
    mel = np.asarray(log_mel, np.float64)
    if len(mel) < 20:
        return None
    level = np.logaddexp.reduce(mel, axis=1)
    active = level > level.max() - ACTIVE_RANGE
    p = np.exp(mel[active] - mel[active].max(axis=1, keepdims=True))
    flatness = float(np.quantile(np.exp(np.log(p + 1e-30).mean(axis=1)) / p.mean(axis=1), FLATNESS_QUANTILE))
    if flatness > FLATNESS_NOISE:
        return f"it sounds like noise (spectral flatness {flatness:.2f}; speech stays below 0.15)"
    change = shape_change(mel, level > level.max() - LOUD_RANGE)
    if change.size >= 10 and float(np.median(change)) < SHAPE_CHANGE_STEADY:
        return ("its spectrum keeps the same shape while it sounds, like tones, beeps or dial tones "
                f"(shape change {float(np.median(change)):.3f}; speech 0.07 or more)")
    spread = float(level.std())
    if spread < LEVEL_SPREAD_STEADY:
        return f"its level never drops, as speech does between syllables and words (spread {spread:.2f})"
    return None
