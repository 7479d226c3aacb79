"""The command line under faults: files in the way, other runs' files, bad numbers, a full disk, a closed
pipe, Ctrl-C at any moment, and a fresh home directory that must stay empty."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_cli import DEMO_WAV, ROOT, _assert_failed_cleanly, model, run_cli, short_wav  # noqa: F401
from thunder_cli import cli


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _previous_run(out: Path) -> dict[str, bytes]:
    out.mkdir(parents=True)
    for name in ("clip.json", "clip_take_1.csv", "notes.txt"):
        (out / name).write_text(f"earlier {name}")
    return _tree(out)


def test_a_directory_in_the_way_loses_nothing(short_wav, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    before = _previous_run(out)
    (out / "clip.png").mkdir()
    res = run_cli("generate", str(short_wav), "--out", str(out), "--name", "clip", "--format", "json,csv,png")
    _assert_failed_cleanly(res, "a directory or special file of that name is in the way")
    assert _tree(out) == before and sorted(p.name for p in out.iterdir()) == sorted([*before, "clip.png"])


def test_a_failure_while_placing_puts_the_earlier_files_back(short_wav, tmp_path, monkeypatch, model):  # noqa: F811
    out = tmp_path / "out"
    before = _previous_run(out)
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 4:  # after the first new file is in place and the second old one is set aside
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(cli.os, "replace", replace)
    assert cli.main(["generate", str(short_wav), "--out", str(out), "--name", "clip", "--format", "json,csv"]) == 2
    assert _tree(out) == before and len(calls) > 4  # the failing move, then the restores


def test_cleanup_removes_only_what_this_run_created(short_wav, tmp_path, monkeypatch, model):  # noqa: F811
    out = tmp_path / "new" / "out"

    def other_run_writes_then_ctrl_c(path, *a, **k):
        (out / "B.json").write_text("another run's output")
        raise KeyboardInterrupt

    monkeypatch.setattr("thunder_cli.preview.render", other_run_writes_then_ctrl_c)
    assert cli.main(["generate", str(short_wav), "--out", str(out), "--format", "json,png"]) == 130
    assert sorted(p.name for p in out.iterdir()) == ["B.json"]
    out2 = tmp_path / "alone" / "deeper"
    monkeypatch.setattr("thunder_cli.preview.render", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert cli.main(["generate", str(short_wav), "--out", str(out2), "--format", "json,png"]) == 130
    assert not (tmp_path / "alone").exists()  # both directories it created, and nothing else


def test_a_full_disk_is_one_line_and_writes_nothing(short_wav, tmp_path, monkeypatch, capsys, model):  # noqa: F811
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("thunder_blender.core.takes_json.write", full)
    out = tmp_path / "out"
    assert cli.main(["generate", str(short_wav), "--out", str(out), "--format", "json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "thunder: error: No space left on device; nothing was written"
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (("--seed", "-1"), "--seed must be 0 or more"),
    (("--name", "n" * 300), "--name is too long"),
])
def test_bad_numbers_and_names(short_wav, tmp_path, args, message):  # noqa: F811
    res = run_cli("generate", str(short_wav), "--out", str(tmp_path / "o"), "--format", "json", *args)
    _assert_failed_cleanly(res, message)
    assert res.returncode == 2 and not (tmp_path / "o").exists()


def test_a_closed_pipe_ends_quietly():
    res = subprocess.run(f"{sys.executable} -m thunder_cli info | head -1", shell=True, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.stdout.startswith("thunder ") and len(res.stdout.splitlines()) == 1
    assert "Traceback" not in res.stderr and "Error" not in res.stderr, res.stderr


def _isolated_env(tmp_path: Path) -> dict[str, str]:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("BLENDER_USER_RESOURCES", "XDG_CACHE_HOME",
                                                            "MPLCONFIGDIR", "ORT_DISABLE_TELEMETRY")}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    return env


def test_nothing_is_written_outside_out_and_nothing_stays_in_temp(tmp_path):
    env = _isolated_env(tmp_path)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "thunder_cli", "generate", str(DEMO_WAV), "--takes", "2", "--out",
                          str(out), "--format", "glb,fbx,blend,csv,json,png"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(list(out.iterdir())) == 8
    assert not list((tmp_path / "home").rglob("*")), "written to HOME (onnxruntime telemetry, Blender cache...)"
    assert not list((tmp_path / "tmp").rglob("*")), "left in the temp dir"


def test_ctrl_c_at_any_moment_exits_130_or_finishes_and_leaves_nothing(tmp_path):
    """SIGINT at 20 moments across a glb+fbx+blend run: exit 130, or 0 if it had finished; never a crash,
    never a traceback from this project's code, never leftovers."""
    env = _isolated_env(tmp_path)
    cmd = [sys.executable, "-m", "thunder_cli", "generate", str(DEMO_WAV), "--takes", "2", "--format",
           "glb,fbx,blend"]
    t0 = time.perf_counter()
    full = subprocess.run(cmd + ["--out", str(tmp_path / "full")], cwd=ROOT, env=env, capture_output=True,
                          timeout=600)
    span = time.perf_counter() - t0
    assert full.returncode == 0
    outcomes = []
    for k in range(20):
        out = tmp_path / f"o{k}"
        proc = subprocess.Popen(cmd + ["--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        time.sleep(0.05 + span * k / 20)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=600)
        outcomes.append(proc.returncode)
        text = err.decode(errors="replace")
        # Python's own start-up (before the package's first statement) handles a Ctrl-C itself: a traceback with
        # no frame of this project's packages and exit 1, or, before the interpreter has installed its handler (a
        # loaded machine takes longer than the first 50 ms to get there), death by SIGINT with nothing printed;
        # either way nothing is written. Anything later is ours to handle. Start-up runs the virtual
        # environment's site hooks, which live under ROOT too (.venv, the editable install's finder): only
        # frames of the project's packages count as its code.
        own_frames = [f'File "{ROOT / pkg}' for pkg in ("thunder_cli", "thunder_blender", "thunder_train")]
        in_python_startup = ("Traceback" in text and not any(f in text for f in own_frames)) or (
            proc.returncode == -signal.SIGINT and not text.strip())
        assert proc.returncode in (0, 130) or in_python_startup, (k, proc.returncode, text[-1500:])
        if proc.returncode == 0:
            assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (tmp_path / "full").iterdir())
        else:
            assert not out.exists(), (k, sorted(out.rglob("*")))
            assert in_python_startup or "Traceback" not in text, text[-1500:]
        assert not list((tmp_path / "tmp").rglob("*")), (k, "temp files left")
    assert 130 in outcomes, outcomes  # the sweep did interrupt runs in flight


def _valid_csv(tmp_path: Path) -> tuple[Path, list[str]]:
    import numpy as np

    from thunder_blender.core import livelink
    from thunder_blender.core.channels import N_CHANNELS

    rng = np.random.default_rng(4)
    perf = rng.uniform(0, 1, (90, N_CHANNELS)).astype(np.float32)
    perf[:, 52:] = rng.uniform(-0.3, 0.3, (90, 3))
    path = tmp_path / "take.csv"
    livelink.write_csv(path, perf, 30.0)
    return path, path.read_text().splitlines()


def _corrupt(lines: list[str], case: str) -> list[str]:
    rows = [r.split(",") for r in lines[1:]]
    if case in ("nan", "inf", "1e30"):
        rows[10][5] = case
    elif case == "shuffled":
        rows[20], rows[40] = rows[40], rows[20]
    elif case == "frame 693":
        for k, r in enumerate(rows):
            r[0] = f"10:00:00:{k * 8:02d}.000"
    elif case == "hour -1":
        rows[0][0] = "-1:00:00:00.000"
    elif case == "23 h gap":
        h, m, s, f = rows[50][0].split(":")
        for r in rows[50:]:
            r[0] = r[0].replace(f"{h}:", f"{(int(h) + 23) % 24:02d}:", 1)
    return [lines[0]] + [",".join(r) for r in rows]


@pytest.mark.parametrize("case, message", [
    ("nan", "not a finite number"), ("inf", "not a finite number"), ("1e30", "outside 0..1"),
    ("shuffled", "goes backwards"), ("frame 693", "not below the timecode base"), ("hour -1", "bad Timecode"),
    ("23 h gap", "gap of"),
])
def test_convert_refuses_corrupt_captures(tmp_path, case, message):
    path, lines = _valid_csv(tmp_path)
    path.write_text("\n".join(_corrupt(lines, case)) + "\n")
    res = run_cli("convert", str(path), "--out", str(tmp_path / "out"), "--format", "json")
    _assert_failed_cleanly(res, message)
    assert res.returncode == 2 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["0", "nan", "1e9", "-30"])
def test_convert_refuses_impossible_csv_rates(tmp_path, value):
    path, _ = _valid_csv(tmp_path)
    res = run_cli("convert", str(path), "--csv-fps", value, "--out", str(tmp_path / "out"), "--format", "json")
    _assert_failed_cleanly(res, "--csv-fps must be between 1 and 240")
    assert res.returncode == 2


def test_convert_json_is_strict_json(tmp_path):
    import json

    path, _ = _valid_csv(tmp_path)
    out = tmp_path / "out"
    res = run_cli("convert", str(path), "--out", str(out), "--name", "c", "--format", "json")
    assert res.returncode == 0, res.stderr
    json.loads((out / "c.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def test_long_audio_is_refused_before_decoding_and_blender_formats_have_their_own_limit(tmp_path):
    import wave

    from thunder_blender.runtime.generate import MAX_SECONDS

    def silent_header_wav(path: Path, seconds: float) -> Path:
        """A WAV whose header says ``seconds`` (8 kHz) but whose data is never read past the header."""
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x10\x00" * int(8000 * seconds))
        return path

    hour = silent_header_wav(tmp_path / "hour.wav", MAX_SECONDS + 5)
    res = run_cli("generate", str(hour), "--out", str(tmp_path / "o"), "--format", "json")
    _assert_failed_cleanly(res, "hour.wav is 1 h 00 min 05 s long; the limit is 1 h 00 min 00 s")
    eleven = silent_header_wav(tmp_path / "eleven.wav", 660)
    for formats in ("fbx,json", "glb,blend"):
        res = run_cli("generate", str(eleven), "--out", str(tmp_path / "o"), "--format", formats)
        _assert_failed_cleanly(res, "too long for fbx and blend")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("change, message", [
    ({"perf_mean": [0.0] * 54}, "perf_mean must hold 55"),
    ({"schedule": "steps0"}, "steps 0 out of range"),
    ({"fps": 0}, "fps do not match"),
    ({"window": {"frames": 0, "overlap": 0}}, "window of 0 frames"),
    ({"window": {"frames": 300, "overlap": 400}}, "window overlap 400"),
    ({"files": "swapped"}, "is not the encoder graph"),
])
def test_a_bad_model_card_is_one_line(short_wav, tmp_path, change, message):  # noqa: F811
    import json
    import shutil

    models = tmp_path / "m"
    shutil.copytree(ROOT / "models", models, ignore=shutil.ignore_patterns("*.md", "metrics.json"))
    card = json.loads((models / "model.json").read_text())
    for k, v in change.items():
        if v == "steps0":
            card["schedule"]["steps"] = 0
        elif v == "swapped":
            card["files"] = {"encoder": card["files"]["denoiser"], "denoiser": card["files"]["encoder"]}
        else:
            card[k] = v
    (models / "model.json").write_text(json.dumps(card))
    res = run_cli("generate", str(short_wav), "--model", str(models), "--out", str(tmp_path / "o"), "--format", "json")
    _assert_failed_cleanly(res, message)
    assert res.returncode == 2 and not (tmp_path / "o").exists()


def test_ctrl_c_while_the_package_is_imported_is_kept_and_a_library_import_leaves_sigint_alone():
    """``python -m thunder_cli`` catches Ctrl-C from the package's first statement: one pressed before the
    launcher has run marks the run as interrupted instead of raising. Imported as a library, SIGINT is untouched."""
    early = ("import sys; sys.argv[:1] = ['-m']; import os, signal, thunder_cli; os.kill(os.getpid(), signal.SIGINT); "
             "import time; time.sleep(0.05); from thunder_cli import launch; "
             "print(launch.INTERRUPT.is_set())")
    res = subprocess.run([sys.executable, "-c", early], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "True", (res.returncode, res.stdout, res.stderr[-800:])
    lib = ("import signal, thunder_cli.cli; "
           "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)")
    res = subprocess.run([sys.executable, "-c", lib], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "True", (res.returncode, res.stdout, res.stderr[-800:])
