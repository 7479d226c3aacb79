"""Survey of the non-speech check (thunder_blender/core/speech_check.py): how many clips of each kind it flags.

    .venv/bin/python tools/speech_check_survey.py [--devset data/devset] [--asterisk /usr/share/asterisk/sounds]

Speech (should never be flagged): the development set (read-only, when present), Asterisk's English, Spanish
and French prompts (the training corpus's recorded speech, when installed), the demo clip, and espeak-ng / flite
speech in several voices (whispered, high-pitched, pitch-shifted with sox, a slow sung melody). Non-speech
(should be flagged): synthetic noise, tones, gated tones, DTMF, busy and ring-back tones, sweeps, chords and a
plucked melody. Prints one line per clip that is misjudged and a count per group.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thunder_blender.core import features  # noqa: E402
from thunder_blender.core.speech_check import nonspeech_reason  # noqa: E402
from thunder_cli.audio_file import read_audio  # noqa: E402

SR = 16000
TEXT = "The quick brown fox jumps over the lazy dog. Please call me back at seven thirty tomorrow morning."


def nonspeech_signals(seconds: float = 6.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic non-speech at 16 kHz: name -> (S,) float."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR

    def gate(on: float, off: float) -> np.ndarray:
        return ((t % (on + off)) < on).astype(float)

    def tone(*freqs: float) -> np.ndarray:
        return sum(np.sin(2 * np.pi * f * t) for f in freqs) * 0.3 / len(freqs)

    out = {f"tone {f} Hz gated 0.2/0.3 s": tone(f) * gate(0.2, 0.3) for f in (440, 1000, 2500, 3500)}
    out["beep 1 kHz 0.1 s each second"] = tone(1000) * gate(0.1, 0.9)
    out["beep 1 kHz gated, noise floor"] = tone(1000) * gate(0.2, 0.3) + 0.003 * rng.standard_normal(len(t))
    out["bleep 1 kHz 0.05/0.05 s"] = tone(1000) * gate(0.05, 0.05)
    out["busy signal 480+620 Hz"] = tone(480, 620) * gate(0.5, 0.5)
    out["ring-back 440+480 Hz"] = tone(440, 480) * gate(2.0, 4.0)
    for name, on, period in (("DTMF 0.1/0.1 s", 0.1, 0.2), ("DTMF 0.07/0.08 s", 0.07, 0.15)):
        x = np.zeros_like(t)
        n_on, n_per = int(on * SR), int(period * SR)
        for s in range(0, len(t) - n_per, n_per):
            lo, hi = rng.choice([697, 770, 852, 941]), rng.choice([1209, 1336, 1477])
            x[s:s + n_on] = tone(lo, hi)[s:s + n_on]
        out[name] = x
    out["square 440 Hz gated"] = 0.2 * np.sign(np.sin(2 * np.pi * 440 * t)) * gate(0.2, 0.3)
    out["tone with vibrato, gated"] = 0.3 * np.sin(2 * np.pi * 1000 * t + 20 * np.sin(2 * np.pi * 6 * t)) * gate(0.3, 0.2)
    out["sine 440 Hz"] = tone(440)
    out["sweep 100-3700 Hz"] = 0.3 * np.sin(2 * np.pi * (100 + 300 * t) * t)
    out["sweep, gated"] = 0.3 * np.sin(2 * np.pi * (200 + 250 * t) * t) * gate(0.3, 0.2)
    out["chord C-E-G"] = tone(261.6, 329.6, 392.0)
    chords = np.zeros_like(t)
    seg = len(t) // 12
    for i in range(12):
        root = 220 * 2 ** (rng.integers(0, 12) / 12)
        chords[i * seg: i * seg + seg // 2] = tone(root, root * 1.26, root * 1.5)[i * seg: i * seg + seg // 2]
    out["chords, gated"] = chords
    melody = np.zeros_like(t)
    seg = len(t) // 24
    tt = t[:seg]
    for i, f0 in enumerate(220 * 2 ** (rng.integers(0, 12, 24) / 12)):
        melody[i * seg:(i + 1) * seg] = sum(0.2 / k * np.sin(2 * np.pi * k * f0 * tt) for k in range(1, 6)) * np.exp(-4 * tt)
    out["plucked melody"] = melody
    out["white noise"] = 0.1 * rng.standard_normal(len(t))
    out["noise bursts"] = 0.1 * rng.standard_normal(len(t)) * gate(0.2, 0.3)
    return out


def synthetic_speech(work: Path) -> dict[str, Path]:
    """espeak-ng and flite clips in several voices, plus sox pitch-shifted copies (when the tools exist)."""
    out: dict[str, Path] = {}
    if shutil.which("espeak-ng"):
        for voice, extra in (("en-us", []), ("en+f3", []), ("en+f5", []), ("en+m3", []), ("en+klatt", []),
                             ("en+whisper", []), ("en+croak", []), ("en+Andrea", []), ("en+Annie", []),
                             ("fr", []), ("de", []), ("es", []), ("pt", []), ("el", []), ("sv", []), ("nl", []),
                             ("en+f5", ["-p", "99"]), ("en+f2", ["-p", "95", "-s", "120"]),
                             ("en+f4", ["-p", "90", "-s", "70"])):
            path = work / f"espeak_{voice}{''.join(extra)}.wav"
            text = "la la la laaa, ooh ooh, aaaah, la la laaa" if "70" in extra else TEXT
            subprocess.run(["espeak-ng", "-v", voice, *extra, "-w", str(path), text], check=True)
            out[path.stem] = path
    if shutil.which("flite"):
        for voice in ("kal", "awb", "slt", "rms"):
            path = work / f"flite_{voice}.wav"
            subprocess.run(["flite", "-voice", voice, "-t", TEXT, "-o", str(path)], check=True)
            out[path.stem] = path
    if shutil.which("sox"):
        for name in [n for n in ("espeak_en-us", "flite_slt") if n in out]:
            for cents in (700, 1200):
                path = work / f"{name}_up{cents}.wav"
                subprocess.run(["sox", str(out[name]), str(path), "pitch", str(cents)], check=True)
                out[path.stem] = path
    return out


def reason(x: np.ndarray, sr: int = SR) -> str | None:
    return nonspeech_reason(features.log_mel(features.to_model_audio(np.asarray(x, np.float32), sr)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", type=Path, default=ROOT / "data" / "devset")
    ap.add_argument("--asterisk", type=Path, default=Path("/usr/share/asterisk/sounds"))
    args = ap.parse_args()
    counts: dict[str, list[int]] = {}

    def judge(group: str, name: str, flagged_expected: bool, why: str | None) -> None:
        c = counts.setdefault(group, [0, 0])
        c[0] += 1
        c[1] += why is not None
        if (why is not None) != flagged_expected:
            print(f"{group}: {name}: {'flagged: ' + why if why else 'not flagged'}")

    for name, x in nonspeech_signals().items():
        judge("non-speech (synthetic)", name, True, reason(x))
    judge("speech: demo clip", "demo_speech.wav", False,
          reason(*read_audio(ROOT / "thunder_blender" / "assets" / "demo_speech.wav")))
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in synthetic_speech(Path(tmp)).items():
            judge("speech: espeak-ng / flite", name, False, reason(*read_audio(path)))
    for lang in ("en", "es", "fr"):  # the training corpus's prompts (other languages are not looked at)
        for path in sorted((args.asterisk / lang).glob("*.g722")):
            judge(f"speech: Asterisk {lang}", path.name, False, reason(*read_audio(path)))
    if (args.devset / "dev").is_dir():
        from thunder_train.devset.evaluate import load_dev

        for rec in load_dev(args.devset):
            judge(f"speech: dev set ({rec.style})", f"{rec.source}/{rec.voice}: {rec.text[:40]}", False,
                  reason(rec.audio.astype(np.float32) / 32768.0))
    print()
    for group, (n, flagged) in counts.items():
        print(f"{group:36s} {n:4d} clips, {flagged:4d} flagged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
