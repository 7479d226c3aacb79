"""Read a speech file into mono float32 samples without Blender's UI.

Order of readers: PCM WAV through the stdlib ``wave`` module; anything else through ffmpeg when it is on
PATH; failing that, Blender's ``aud`` (via the bpy module) in a child process, because ``aud`` aborts the
whole process on a file it cannot decode. Every failure is an ``AudioFileError`` with a one-line message.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from thunder_blender.runtime.generate import format_duration

FFMPEG_RATE = 16000  # ffmpeg decodes straight to the model's rate
BLOCK_FRAMES = 1 << 20  # WAV frames converted at a time


class AudioFileError(ValueError):
    """The audio file is missing, unreadable or empty. Message is user-facing (one line)."""


def _pcm_to_float(raw: bytes, width: int, channels: int) -> np.ndarray:
    """Interleaved little-endian PCM -> (S,) float32 mono in [-1, 1]."""
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    elif width == 4:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / 2.0**31).astype(np.float32)
    else:
        raise AudioFileError(f"unsupported WAV sample width {width} bytes")
    n = len(x) // channels
    return x[: n * channels].reshape(n, channels).mean(axis=1).astype(np.float32)


def read_wav(path: Path, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """PCM WAV -> ((S,) float32 mono, sample rate). Raises wave.Error for non-PCM WAVs.

    Longer than ``max_seconds`` (from the header): AudioFileError before any sample is read. Samples are
    converted a block at a time, so memory stays at the mono float32 result.
    """
    with wave.open(str(path), "rb") as w:
        rate, width, channels, n = w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()
        if rate <= 0:
            raise wave.Error("sample rate 0")
        _check_length(path, n / rate, max_seconds)
        out = np.empty(n, np.float32)
        done = 0
        while done < n:
            block = _pcm_to_float(w.readframes(min(BLOCK_FRAMES, n - done)), width, channels)
            if block.size == 0:
                break
            out[done:done + block.size] = block
            done += block.size
    return out[:done], int(rate)


def _check_length(path: Path, seconds: float, max_seconds: float | None) -> None:
    if max_seconds is not None and seconds > max_seconds:
        raise AudioFileError(f"{path.name} is {format_duration(seconds)} long; the limit is "
                             f"{format_duration(max_seconds)} (split it into shorter files)")


def read_ffmpeg(path: Path, ffmpeg: str, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Any format ffmpeg knows -> ((S,) float32 mono at FFMPEG_RATE, FFMPEG_RATE).

    Decoding stops one second past ``max_seconds``: a longer file is refused without being decoded whole.
    """
    limit = [] if max_seconds is None else ["-t", f"{max_seconds + 1:.3f}"]
    res = subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), *limit, "-vn", "-ac", "1", "-ar", str(FFMPEG_RATE),
         "-f", "f32le", "-"],
        capture_output=True, timeout=3600,
    )
    if res.returncode != 0:
        reason = (res.stderr.decode("utf-8", "replace").strip().splitlines() or ["unknown error"])[-1]
        reason = reason.removeprefix(f"{path}: ")
        raise AudioFileError(f"cannot read audio {path.name}: {reason}")
    pcm = np.frombuffer(res.stdout, "<f4").copy()
    _check_length(path, len(pcm) / FFMPEG_RATE, max_seconds)
    return pcm, FFMPEG_RATE


def read_with_blender(path: Path) -> tuple[np.ndarray, int]:
    """Decode through Blender's ``aud`` in a child Python (a decode failure aborts that process only)."""
    with tempfile.TemporaryDirectory(prefix="thunder-aud-") as tmp:
        out = Path(tmp) / "pcm.npy"
        env = dict(os.environ, BLENDER_USER_RESOURCES=str(Path(tmp) / "user"))
        code = (
            "import sys, numpy as np, bpy, aud\n"
            "s = aud.Sound(sys.argv[1]); d = np.asarray(s.data(), np.float32)\n"
            "d = d.mean(axis=1) if d.ndim == 2 else d\n"
            "np.save(sys.argv[2], d); print(int(s.specs[0]))\n"
        )
        res = subprocess.run([sys.executable, "-c", code, str(path), str(out)], capture_output=True,
                             text=True, timeout=600, env=env)
        if res.returncode != 0 or not out.exists():
            raise AudioFileError(f"cannot read audio {path.name}: not a format Blender can decode")
        return np.load(out), int(res.stdout.strip().splitlines()[-1])


def _blender_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("bpy") is not None


def read_audio(path: str | os.PathLike, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Read a speech file. Returns ((S,) float32 mono samples in [-1, 1], sample rate in Hz).

    A file longer than ``max_seconds`` is refused (AudioFileError) before it is decoded in full.
    """
    p = Path(path)
    if not p.exists():
        raise AudioFileError(f"audio file not found: {p}")
    if not p.is_file():
        raise AudioFileError(f"not a file: {p}")
    if p.stat().st_size == 0:
        raise AudioFileError(f"audio file is empty (0 bytes): {p}")
    pcm: np.ndarray | None = None
    if p.suffix.lower() in (".wav", ".wave"):
        try:
            pcm, rate = read_wav(p, max_seconds)
        except (wave.Error, EOFError) as err:
            pcm, why = None, str(err)
        except OSError as err:
            raise AudioFileError(f"cannot read audio {p.name}: {err.strerror or err}") from None
    if pcm is None:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg:
            pcm, rate = read_ffmpeg(p, ffmpeg, max_seconds)
        elif _blender_available():
            pcm, rate = read_with_blender(p)
            _check_length(p, len(pcm) / rate, max_seconds)
        elif p.suffix.lower() in (".wav", ".wave"):
            raise AudioFileError(f"cannot read WAV {p.name} ({why}); install ffmpeg for non-PCM WAVs")
        else:
            raise AudioFileError(f"cannot read {p.suffix or 'this'} audio without ffmpeg or Blender; "
                                 "convert it to WAV")
    if pcm.size == 0:
        raise AudioFileError(f"audio has no samples (0 s long): {p}")
    if not np.all(np.isfinite(pcm)):
        raise AudioFileError(f"audio contains invalid (NaN/inf) samples: {p}")
    return pcm.astype(np.float32, copy=False), int(rate)
