"""Audio that does not look like speech gets a warning (never a refusal); speech never does."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_cli import DEMO_WAV, run_cli, write_wav
from thunder_blender.core import features
from thunder_blender.core.speech_check import nonspeech_reason
from thunder_cli.audio_file import read_audio

SR = 16000
T = np.arange(SR * 4) / SR
RNG = np.random.default_rng(0)
NOISES = {
    "white noise": (RNG.standard_normal(len(T)) * 0.1, "noise"),
    "noise bursts": (RNG.standard_normal(len(T)) * 0.1 * ((T * 3) % 1 < 0.3), "noise"),
    "sine": (0.3 * np.sin(2 * np.pi * 440 * T), "steady"),
    "chirp": (0.3 * np.sin(2 * np.pi * (200 + 300 * T) * T), "steady"),
    "mains hum": (0.3 * np.sin(2 * np.pi * 50 * T) + 0.1 * np.sin(2 * np.pi * 150 * T), "steady"),
    "chord": (sum(0.1 * np.sin(2 * np.pi * f * T) for f in (261.6, 329.6, 392.0)), "steady"),
}


def _reason(x: np.ndarray, sr: int = SR) -> str | None:
    return nonspeech_reason(features.log_mel(features.to_model_audio(np.asarray(x, np.float32), sr)))


@pytest.mark.parametrize("name", sorted(NOISES))
def test_noise_and_tones_are_flagged(name):
    x, kind = NOISES[name]
    reason = _reason(x)
    assert reason is not None
    assert ("noise" in reason) == (kind == "noise")


def test_speech_is_not_flagged():
    pcm, sr = read_audio(DEMO_WAV)
    assert _reason(pcm, sr) is None
    # the same speech over light noise and band-limited like a phone line is still speech
    noisy = pcm + 0.01 * np.random.default_rng(1).standard_normal(len(pcm)).astype(np.float32)
    assert _reason(noisy, sr) is None
    phone = features.resample(features.resample(pcm, sr, 8000), 8000, sr)
    assert _reason(phone, sr) is None


def test_the_command_line_warns_and_still_writes(tmp_path):
    wav = write_wav(tmp_path / "hum.wav", NOISES["mains hum"][0])
    res = run_cli("generate", str(wav), "--takes", "1", "--out", str(tmp_path / "o"), "--format", "json")
    assert res.returncode == 0, res.stderr
    warnings = [x for x in res.stderr.splitlines() if x.startswith("thunder: warning: hum.wav: ")]
    assert len(warnings) == 1 and "does not look like speech" in warnings[0]
    assert (tmp_path / "o" / "takes.json").exists()
    res = run_cli("generate", str(DEMO_WAV), "--takes", "1", "--out", str(tmp_path / "s"), "--format", "json")
    assert res.returncode == 0 and "warning" not in res.stderr
