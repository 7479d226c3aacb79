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


def _gate(on: float, off: float) -> np.ndarray:
    return ((T % (on + off)) < on).astype(float)


def _dtmf(rng: np.random.Generator) -> np.ndarray:
    """Random DTMF digits, 0.1 s on / 0.1 s off."""
    x = np.zeros_like(T)
    n = int(0.1 * SR)
    for s in range(0, len(T) - 2 * n, 2 * n):
        lo, hi = rng.choice([697, 770, 852, 941]), rng.choice([1209, 1336, 1477])
        x[s:s + n] = 0.15 * (np.sin(2 * np.pi * lo * T[s:s + n]) + np.sin(2 * np.pi * hi * T[s:s + n]))
    return x


GATED = {
    "beeps 1 kHz 0.2/0.3 s": 0.3 * np.sin(2 * np.pi * 1000 * T) * _gate(0.2, 0.3),
    "beeps 3 kHz 0.2/0.3 s over a noise floor": 0.3 * np.sin(2 * np.pi * 3000 * T) * _gate(0.2, 0.3)
    + 0.003 * RNG.standard_normal(len(T)),
    "busy signal 480+620 Hz": 0.15 * (np.sin(2 * np.pi * 480 * T) + np.sin(2 * np.pi * 620 * T)) * _gate(0.5, 0.5),
    "DTMF digits": _dtmf(np.random.default_rng(2)),
    "gated square wave": 0.2 * np.sign(np.sin(2 * np.pi * 440 * T)) * _gate(0.2, 0.3),
}


@pytest.mark.parametrize("name", sorted(GATED))
def test_gated_tones_beeps_and_dtmf_are_flagged(name):
    reason = _reason(GATED[name])
    assert reason is not None and "tones, beeps" in reason


@pytest.mark.parametrize("voice, options", [
    ("en-us", []), ("en+f3", []), ("en+whisper", []), ("fr", []), ("en+f5", ["-p", "99"]),
    ("en+f4", ["-p", "90", "-s", "70"]),  # slow and high: the nearest espeak-ng gets to singing
])
def test_synthetic_speech_in_several_voices_is_not_flagged(tmp_path, voice, options):
    import shutil
    import subprocess

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng missing (tools/ensure_system_deps.sh)")
    wav = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", voice, *options, "-w", str(wav),
                    "Please call me back at seven thirty tomorrow morning, thank you."], check=True)
    assert _reason(*read_audio(wav)) is None


def test_speech_framed_by_beeps_is_still_speech():
    """A voicemail-style recording (a beep, then speech) is speech: the beep is a small part of it."""
    pcm, sr = read_audio(DEMO_WAV)
    x = features.to_model_audio(pcm, sr)
    beep = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(int(0.3 * SR)) / SR)).astype(np.float32)
    assert _reason(np.concatenate([beep, np.zeros(SR // 2, np.float32), x])) is None
