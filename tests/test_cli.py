"""The ``thunder`` command line without Blender: numpy outputs, bad input, atomic writes, info.

Bad-input tests run the real console entry in a subprocess (they fail before any model is needed).
Output tests run the shipped model and compare every format with the runtime's takes for the same request.
"""
from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from thunder_blender.core import livelink, takes_json
from thunder_blender.core.channels import N_CHANNELS
from thunder_blender.core.resample import resample
from thunder_cli import cli
from thunder_cli.audio_file import read_audio

ROOT = Path(__file__).resolve().parents[1]
DEMO_WAV = ROOT / "thunder_blender" / "assets" / "demo_speech.wav"


def write_wav(path: Path, pcm: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="session")
def short_wav(tmp_path_factory) -> Path:
    """The first 1.6 s of the bundled demo speech."""
    from thunder_cli.audio_file import read_wav

    pcm, rate = read_wav(DEMO_WAV)
    return write_wav(tmp_path_factory.mktemp("audio") / "short.wav", pcm[: int(1.6 * rate)], rate)


@pytest.fixture(scope="session")
def model():
    """The shipped model: the CLI loads the same one by default."""
    from thunder_blender.runtime.model import load_model

    return load_model(providers=["CPUExecutionProvider"])


def expected_takes(wav: Path, model, n_takes: int, seed: int):
    """What ``thunder generate WAV --takes N --seed S`` must write: the runtime's takes for that request."""
    from thunder_blender.runtime.generate import GenerateRequest, generate

    pcm, rate = read_audio(wav)
    return generate(GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=n_takes, seed=seed), model)


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thunder_cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_numpy_formats(model, short_wav, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["generate", str(short_wav), "--takes", "3", "--seed", "5", "--out", str(out),
                     "--name", "clip", "--format", "csv,json,png", "--fps", "30"])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["clip.json", "clip.png", "clip_take_1.csv", "clip_take_2.csv", "clip_take_3.csv"]
    captured = capsys.readouterr()
    assert "Wrote 5 files" in captured.out and "25/25" in captured.err  # summary, progress bar (1 + 3 x 8 steps)

    weights, fps, seeds, doc = takes_json.read(out / "clip.json")
    expected = expected_takes(short_wav, model, 3, 5)
    assert fps == 50.0 and seeds == expected.seeds and doc["model"]["name"] == "thunder-generator"
    np.testing.assert_allclose(weights, expected.weights, atol=1e-5)
    assert doc["audio"]["file"] == "short.wav" and doc["settings"]["seed"] == 5
    assert doc["audio"]["duration"] == pytest.approx(1.6, abs=1e-3)

    perf, times, csv_fps = livelink.read_csv(out / "clip_take_2.csv", fps=30)
    np.testing.assert_allclose(perf, resample(expected.weights[1], 50.0, 30.0), atol=1e-5)
    assert times[-1] == pytest.approx((len(perf) - 1) / 30)
    assert len(perf) == 48  # 1.6 s at 30 fps

    png = (out / "clip.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def _read(path: Path) -> np.ndarray:
    return read_audio(path)[0]


def test_other_audio_formats_are_read_through_ffmpeg(tmp_path):
    from thunder_cli.audio_file import read_audio

    pcm = _read(DEMO_WAV)[:16000]
    wav = write_wav(tmp_path / "a.wav", pcm)
    ogg = tmp_path / "a.ogg"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), str(ogg)], check=True, timeout=60)
    back, rate = read_audio(ogg)
    assert rate == 16000 and abs(len(back) - 16000) < 400
    # Same speech: the envelopes correlate strongly.
    n = min(len(back), len(pcm)) // 320 * 320
    e1 = np.abs(pcm[:n]).reshape(-1, 320).mean(1)
    e2 = np.abs(back[:n]).reshape(-1, 320).mean(1)
    assert np.corrcoef(e1, e2)[0, 1] > 0.9


def _assert_failed_cleanly(res: subprocess.CompletedProcess, message: str) -> None:
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("thunder: error:"), res.stderr
    assert message in lines[0]
    assert "Traceback" not in res.stderr


@pytest.fixture
def bad_inputs(tmp_path) -> dict[str, Path]:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really" * 10)
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0))
    silent = write_wav(tmp_path / "silent.wav", np.zeros(16000))
    zero_bytes = tmp_path / "zero.mp3"
    zero_bytes.write_bytes(b"")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return {"garbage": garbage, "empty": empty, "silent": silent, "zero_bytes": zero_bytes, "file": a_file}


@pytest.mark.parametrize("case, extra, message", [
    ("missing", [], "audio file not found"),
    ("garbage", [], "cannot read audio garbage.wav"),
    ("empty", [], "0 s long"),
    ("zero_bytes", [], "empty (0 bytes)"),
    ("silent", [], "silent"),
    ("ok", ["--emotion", "furious"], "unknown emotion 'furious'"),
    ("ok", ["--format", "glb,mp4"], "unknown format 'mp4'"),
    ("ok", ["--name", "../evil"], "--name must be"),
    ("ok", ["--target", "rig.obj", "--format", "glb"], "target must be"),
    ("ok", ["--target", "missing.blend", "--format", "glb"], "target file not found"),
    ("ok", ["--fps", "0"], "--fps must be"),
    ("ok", ["--mouth-variation", "2"], "mouth variation (mouth temperature) must be between 0 and 1"),
    ("ok", ["--strength", "brows=3"], "strength of brows must be between 0 and 2"),
    ("ok", ["--smooth", "lips=2"], "--smooth: expected REGION=VALUE"),
    ("ok", ["--offset-ms", "5000"], "offset must be between"),
    ("ok", ["--reduce-keys", "--key-tolerance", "0"], "key tolerance must be above 0"),
])
def test_bad_input_exits_with_one_line_and_writes_nothing(case, extra, message, bad_inputs, tmp_path):
    audio = {"missing": tmp_path / "nope.wav", "ok": DEMO_WAV}.get(case) or bad_inputs[case]
    out = tmp_path / "out"
    res = run_cli("generate", str(audio), "--out", str(out), "--format", "csv,json", *extra)
    _assert_failed_cleanly(res, message)
    assert not out.exists()


@pytest.mark.parametrize("where", ["out_is_file", "parent_is_file"])
def test_unwritable_output_dir(where, bad_inputs, tmp_path):
    out = bad_inputs["file"] if where == "out_is_file" else bad_inputs["file"] / "sub"
    res = run_cli("generate", str(DEMO_WAV), "--out", str(out), "--format", "csv")
    _assert_failed_cleanly(res, "output")
    assert bad_inputs["file"].read_text() == "x"


def test_readonly_output_dir(tmp_path):
    """A directory the process cannot write into (a read-only filesystem: /proc) fails cleanly."""
    res = run_cli("generate", str(DEMO_WAV), "--out", "/proc/thunder_out", "--format", "csv")
    _assert_failed_cleanly(res, "output")


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_failure_while_writing_leaves_nothing_partial(exc, model, short_wav, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    (out / "clip.json").write_text("previous run")

    def boom(*a, **k):
        raise exc("interrupted while plotting")

    monkeypatch.setattr("thunder_cli.preview.render", boom)
    argv = ["generate", str(short_wav), "--out", str(out), "--name", "clip", "--format", "json,csv,png"]
    if exc is KeyboardInterrupt:
        assert cli.main(argv) == 130
    else:
        with pytest.raises(RuntimeError):
            cli.main(argv)
    assert sorted(p.name for p in out.iterdir()) == ["clip.json", "keep.txt"]
    assert (out / "clip.json").read_text() == "previous run"


def test_failure_in_a_new_output_dir_removes_it(model, short_wav, tmp_path, monkeypatch):
    monkeypatch.setattr("thunder_cli.preview.render", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    out = tmp_path / "new" / "out"
    assert cli.main(["generate", str(short_wav), "--out", str(out), "--format", "json,png"]) == 130
    assert not out.exists()


def test_progress_bar_draws_in_place():
    import io

    buf = io.StringIO()
    bar = cli.ProgressBar("generating", stream=buf, width=10, live=True)
    bar(1, 4)
    bar(4, 4)
    bar.close()
    assert buf.getvalue() == "\rgenerating [##--------] 1/4\rgenerating [##########] 4/4\n"
    log = io.StringIO()  # not a terminal: only the finished bar
    bar = cli.ProgressBar("generating", stream=log, width=10)
    bar(1, 4)
    bar(4, 4)
    bar.close()
    assert log.getvalue() == "\rgenerating [##########] 4/4\n"


def test_info_reports_providers_and_gpu():
    res = run_cli("info")
    assert res.returncode == 0, res.stderr
    assert "CPUExecutionProvider" in res.stdout
    assert "GPU:" in res.stdout and "model:" in res.stdout


def test_json_file_layout(model, short_wav, tmp_path):
    out = tmp_path / "o"
    assert cli.main(["generate", str(short_wav), "--out", str(out), "--name", "r", "--format", "json",
                     "--takes", "2", "--emotion", "happy", "--intensity", "0.8"]) == 0
    doc = json.loads((out / "r.json").read_text())
    assert doc["format"] == "thunder-takes" and doc["fps"] == 50.0 and len(doc["channels"]) == 55
    assert [t["index"] for t in doc["takes"]] == [1, 2]
    assert len(doc["takes"][0]["frames"]) == doc["n_frames"] == 80
    assert doc["settings"]["emotion"] == "happy" and doc["settings"]["intensity"] == 0.8


def test_shaping_options_reach_the_numpy_outputs(model, short_wav, tmp_path):
    """--mouth-only and --strength change the JSON/CSV values; the controls are recorded in the JSON."""
    from thunder_blender.core.regions import REGION_INDEX

    out = tmp_path / "o"
    assert cli.main(["generate", str(short_wav), "--out", str(out), "--name", "r", "--format", "json,csv",
                     "--takes", "2", "--mouth-only", "--strength", "mouth=2", "--smooth", "head=3",
                     "--offset-ms", "-40", "--reduce-keys"]) == 0
    weights, fps, _, doc = takes_json.read(out / "r.json")
    expected = expected_takes(short_wav, model, 2, 0)
    mouth = list(REGION_INDEX["mouth"])
    rest = [i for i in range(N_CHANNELS) if i not in mouth]
    assert np.all(weights[..., rest] == 0.0)
    np.testing.assert_allclose(weights[..., mouth], np.clip(2 * expected.weights[..., mouth], 0, 1), atol=1e-5)
    assert expected.weights[..., mouth].max() > 0.1
    sh = doc["settings"]["shaping"]
    assert sh["mouth_only"] is True and sh["strength"] == {"mouth": 2.0} and sh["smooth_hz"] == {"head": 3.0}
    assert sh["offset_ms"] == -40.0 and sh["reduce_keys"] is True
    perf, _, _ = livelink.read_csv(out / "r_take_1.csv", fps=30)
    assert np.all(perf[:, rest] == 0.0)


def test_convert_csv_to_json_without_blender(tmp_path, capsys):
    rng = np.random.default_rng(1)
    perf = rng.uniform(0, 1, (50, N_CHANNELS)).astype(np.float32)
    livelink.write_csv(tmp_path / "a.csv", perf, 60.0)
    out = tmp_path / "out"
    assert cli.main(["convert", str(tmp_path / "a.csv"), "--csv-fps", "60", "--out", str(out),
                     "--name", "c", "--format", "json"]) == 0
    weights, fps, _, doc = takes_json.read(out / "c.json")
    assert fps == 60.0 and doc["settings"]["source"] == "Live Link Face CSV"
    np.testing.assert_allclose(weights[0], perf, atol=1e-6)


def test_convert_rejects_a_bad_csv(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    res = run_cli("convert", str(bad), "--out", str(tmp_path / "out"), "--format", "json")
    _assert_failed_cleanly(res, "no Timecode column")
    assert not (tmp_path / "out").exists()


def test_several_audio_files_in_one_run(model, short_wav, tmp_path, capsys):
    other = write_wav(tmp_path / "second.wav", _read(DEMO_WAV)[16000:40000])
    out = tmp_path / "out"
    assert cli.main(["generate", str(short_wav), str(other), "--takes", "2", "--out", str(out),
                     "--format", "json,csv"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{stem}{suffix}" for stem in ("short", "second") for suffix in (".json", "_take_1.csv", "_take_2.csv")])
    assert takes_json.read(out / "second.json")[0].shape == (2, 75, N_CHANNELS)  # 1.5 s at 50 fps
    assert "short.wav: 2 takes of 1.60 s" in capsys.readouterr().out


def test_one_bad_file_among_several_writes_nothing(model, short_wav, bad_inputs, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["generate", str(short_wav), str(bad_inputs["silent"]), "--out", str(out)]) == 2
    assert not out.exists()
    assert cli.main(["generate", str(short_wav), str(short_wav), "--out", str(out)]) == 2  # same stem twice
    assert not out.exists()


@pytest.mark.parametrize("width, channels", [(1, 1), (2, 2), (3, 1), (4, 2)])
def test_pcm_wav_widths_and_channels(width, channels, tmp_path):
    from thunder_cli.audio_file import read_audio

    t = np.arange(8000) / 8000
    x = 0.5 * np.sin(2 * np.pi * 220 * t)
    if width == 1:
        ints = np.round(x * 127 + 128).astype(np.uint8)
        raw = ints
    else:
        scale = 2 ** (8 * width - 1) - 1
        v = np.round(x * scale).astype(np.int64)
        raw = np.stack([(v >> (8 * b)) & 0xFF for b in range(width)], 1).astype(np.uint8)
    frames = np.repeat(raw.reshape(len(x), -1), channels, axis=0).reshape(len(x), -1)
    path = tmp_path / f"w{width}_{channels}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(8000)
        w.writeframes(frames.tobytes())
    pcm, rate = read_audio(path)
    assert rate == 8000 and pcm.shape == (8000,) and pcm.dtype == np.float32
    np.testing.assert_allclose(pcm, x, atol=1.5 / 2 ** (8 * width - 1) + 1e-6)
