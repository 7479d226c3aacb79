"""Live Link Face CSV: exact column layout, timecodes, eye angles, round trip, bad files."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest

from thunder_blender.core import livelink
from thunder_blender.core.channels import ARKIT_52, INDEX, N_CHANNELS


def _perf(t: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    perf = rng.uniform(0, 1, (t, N_CHANNELS)).astype(np.float32)
    perf[:, 52:] = rng.uniform(-0.3, 0.3, (t, 3))
    return perf


def test_header_is_the_apps_layout():
    cols = livelink.LLF_COLUMNS
    assert len(cols) == 2 + 61 and livelink.BLEND_SHAPE_COUNT == 61
    assert cols[:4] == ("Timecode", "BlendShapeCount", "EyeBlinkLeft", "EyeLookDownLeft")
    # The app lists JawRight before JawLeft and MouthRight before MouthLeft.
    assert cols.index("JawRight") + 1 == cols.index("JawLeft")
    assert cols.index("MouthRight") + 1 == cols.index("MouthLeft") == cols.index("MouthSmileLeft") - 1
    assert cols[-10:] == ("TongueOut", "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch",
                          "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
    assert {c.lower() for c in livelink.LLF_BLENDSHAPES} == {n.lower() for n in ARKIT_52}
    assert all(c[0].isupper() for c in cols)


FPS_LIST = [24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 60.0]  # every --fps the docs list


@pytest.mark.parametrize("fps", FPS_LIST)
def test_round_trip(fps, tmp_path):
    perf = _perf(int(fps * 2.5), seed=int(fps))
    path = tmp_path / "take.csv"
    livelink.write_csv(path, perf, fps)
    take = livelink.read_take(path)
    assert take.perf.shape == perf.shape and take.dropped == 0 and take.timecode_base == 60
    np.testing.assert_allclose(take.perf, perf, atol=1e-9)  # 10 decimals
    # .fff resolves 1/60000 s: times within half of that.
    np.testing.assert_allclose(take.times, np.arange(len(perf)) / fps, atol=1e-5)
    assert take.fps == fps  # the row rate comes back from the timecode spacing


def test_timecode_format():
    # FF counts 1/60 s frames whatever the file's rate; .fff is the rest of that frame.
    assert livelink.format_timecode(0.0) == "00:00:00:00.000"
    assert livelink.format_timecode(1 / 30) == "00:00:00:02.000"
    assert livelink.format_timecode(61 / 30) == "00:00:02:02.000"
    assert livelink.format_timecode(3723 + 0.5) == "01:02:03:30.000"
    assert livelink.format_timecode(1 / 24) == "00:00:00:02.500"
    assert livelink.format_timecode(3 / 25) == "00:00:00:07.200"
    assert livelink.format_timecode(0.99999999) == "00:00:01:00.000"  # no FF 60 / .1000
    assert livelink.format_timecode(0.5, base=30) == "00:00:00:15.000"
    assert livelink.parse_timecode("14:03:52:28.207") == (14 * 3600 + 3 * 60 + 52, pytest.approx(28.207))


@pytest.mark.parametrize("fps", FPS_LIST)
def test_app_number_and_timecode_format(fps):
    buf = io.StringIO()
    perf = _perf(int(fps * 1.5), seed=2)
    perf[0, :5] = [1e-9, -1e-12, 3.2e-7, 1.0, 0.0]  # would be exponent form / "-0" / "1" with %g
    livelink.write_csv(buf, perf, fps)
    lines = buf.getvalue().split("\n")
    assert lines[-1] == "" and "\r" not in buf.getvalue()
    for line in lines[1:-1]:
        tc, count, *values = line.split(",")
        assert re.fullmatch(r"00:00:0\d:[0-5]\d\.\d{3}", tc), tc
        assert count == "61" and len(values) == 61
        for v in values:
            assert re.fullmatch(r"-?\d+\.\d{10}", v), v
            assert v != "-0.0000000000"
    assert lines[1].split(",")[2:7] == ["0.0000000010", "0.0000000000", "0.0000003200", "1.0000000000",
                                        "0.0000000000"]


def test_rows_are_well_formed():
    buf = io.StringIO()
    livelink.write_csv(buf, _perf(5), 60.0)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 6
    for line in lines[1:]:
        cells = line.split(",")
        assert len(cells) == 63 and cells[1] == "61"


def test_eye_angles_have_the_apps_sign_and_scale():
    perf = np.zeros((5, N_CHANNELS), np.float32)
    perf[0, INDEX["eyeLookInLeft"]] = 1.0    # left eye turns toward the nose: the subject's right
    perf[1, INDEX["eyeLookOutRight"]] = 1.0  # right eye turns outward: the subject's right too
    perf[2, INDEX["eyeLookUpLeft"]] = 0.5
    perf[3, INDEX["eyeLookDownRight"]] = 1.0
    perf[4, [INDEX["eyeLookOutLeft"], INDEX["eyeLookInRight"]]] = 0.5  # both toward the subject's left
    eyes = livelink.eye_angles(perf)
    assert eyes[0, 0] == pytest.approx(0.60) and eyes[0, 3] == 0
    assert eyes[1, 3] == pytest.approx(0.60) and eyes[1, 0] == 0
    assert eyes[2, 1] == pytest.approx(-0.5 * 0.53)  # looking up is negative pitch
    assert eyes[3, 4] == pytest.approx(0.53)         # looking down is positive pitch
    np.testing.assert_allclose(eyes[4, [0, 3]], [-0.30, -0.30])
    assert np.all(eyes[:, [2, 5]] == 0)


# ---- A capture with the app's features, built here (no third-party capture is copied) ----------------

APP_START = (14, 3, 52)  # the app stamps the phone's time of day


def _app_capture(n: int = 150, drop: tuple[int, ...] = (40, 41, 42, 97), seed: int = 4):
    """(csv text, true perf (n, 55), dropped row mask): 60 fps rows on the app's 60-base timecode, a start
    mid-second, fixed 10-decimal numbers, eye angles following the eyeLook channels the way the app's do,
    head rotation off (zeros), and ``timecode,0`` lines where tracking was lost."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 60.0
    perf = np.zeros((n, N_CHANNELS))
    for c in range(52):  # smooth curves, so interpolating over a dropped frame is meaningful
        perf[:, c] = 0.5 + 0.45 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t + rng.uniform(0, 6.3))
    look = {k: perf[:, INDEX[k]] for k in ("eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
                                          "eyeLookDownLeft", "eyeLookInRight", "eyeLookOutRight",
                                          "eyeLookUpRight", "eyeLookDownRight")}
    eyes = np.stack([0.60 * (look["eyeLookInLeft"] - look["eyeLookOutLeft"]),
                     0.53 * (look["eyeLookDownLeft"] - look["eyeLookUpLeft"]), np.zeros(n),
                     0.60 * (look["eyeLookOutRight"] - look["eyeLookInRight"]),
                     0.53 * (look["eyeLookDownRight"] - look["eyeLookUpRight"]), np.zeros(n)], 1)
    by_name = {c.lower(): i for i, c in enumerate(ARKIT_52)}
    start = APP_START[0] * 3600 + APP_START[1] * 60 + APP_START[2] + 28.207 / 60
    lines = [",".join(livelink.LLF_COLUMNS)]
    for i in range(n):
        abs_t = start + t[i]
        whole = int(abs_t)
        pos = (abs_t - whole) * 60
        tc = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}:{int(pos):02d}.{(pos % 1) * 1000:03.0f}"
        if i in drop:
            lines.append(f"{tc},0")
            continue
        shapes = [perf[i, by_name[c.lower()]] for c in livelink.LLF_BLENDSHAPES]
        values = shapes + [0.0, 0.0, 0.0] + list(eyes[i])
        lines.append(",".join([tc, "61"] + [f"{v:.10f}" for v in values]))
    mask = np.zeros(n, bool)
    mask[list(drop)] = True
    return "\n".join(lines) + "\n", perf.astype(np.float32), mask


def test_app_capture_with_dropped_lines_is_read_and_filled():
    text, truth, dropped = _app_capture()
    assert sum(line.count(",") == 1 for line in text.splitlines()) == 4  # the "timecode,0" lines
    take = livelink.read_take(io.StringIO(text))
    assert take.dropped == 4 and take.timecode_base == 60 and take.fps == 60.0
    np.testing.assert_allclose(take.times, np.arange(len(truth)) / 60, atol=1e-5)
    np.testing.assert_allclose(take.perf[~dropped], truth[~dropped], atol=1e-7)  # float32
    # Filled rows: linear in time between the tracked neighbours.
    for c in (INDEX["jawOpen"], INDEX["eyeBlinkLeft"]):
        np.testing.assert_allclose(take.perf[40:43, c], truth[39, c] + (truth[43, c] - truth[39, c])
                                   * np.array([1, 2, 3]) / 4, atol=1e-6)
        assert take.perf[97, c] == pytest.approx((truth[96, c] + truth[98, c]) / 2, abs=1e-6)
    # Our eye angles from the read eyeLook channels are the file's eye columns (the app's convention).
    rows = [line.split(",") for line in text.splitlines()[1:]]
    file_eyes = np.array([[float(v) for v in r[-6:]] for r, d in zip(rows, dropped, strict=True) if not d])
    np.testing.assert_allclose(livelink.eye_angles(take.perf)[~dropped], file_eyes, atol=1e-6)


def test_leading_and_trailing_dropped_lines_hold_the_nearest_frame():
    text, truth, _ = _app_capture(n=20, drop=(0, 1, 19))
    take = livelink.read_take(io.StringIO(text))
    assert take.dropped == 3
    np.testing.assert_allclose(take.perf[0], truth[2], atol=1e-7)
    np.testing.assert_allclose(take.perf[19], truth[18], atol=1e-7)


def test_only_dropped_lines_is_an_error():
    text = ",".join(livelink.LLF_COLUMNS) + "\n00:00:00:00.000,0\n00:00:00:01.000,0\n"
    with pytest.raises(livelink.LiveLinkFormatError, match="dropped-tracking"):
        livelink.read_take(io.StringIO(text))


def test_thirty_base_file_is_recognised():
    """A file whose FF never reaches 30 over more than a second is on a 30 base (as Epic's importer
    assumes for the app's 30 fps recordings)."""
    lines = [",".join(livelink.LLF_COLUMNS)]
    for i in range(45):
        lines.append(",".join([livelink.format_timecode(i / 30, base=30), "61"]
                              + [f"{v:.10f}" for v in np.zeros(61)]))
    take = livelink.read_take(io.StringIO("\n".join(lines) + "\n"))
    assert take.timecode_base == 30 and take.fps == 30.0
    np.testing.assert_allclose(take.times, np.arange(45) / 30, atol=1e-5)


# ---- How other readers see our files: re-implementations of their timecode logic ----------------------

def _epic_rows(text: str):
    """Rows as Epic's importer takes them: it stops at the first line whose field count differs from the
    header's."""
    lines = text.splitlines()
    n_cols = len(lines[0].split(","))
    for line in lines[1:]:
        cells = line.split(",")
        if len(cells) != n_cols:
            return
        h, m, s, ff = cells[0].split(":")
        yield int(h) * 3600 + int(m) * 60 + int(s), float(ff)


def epic_legacy_times(text: str) -> np.ndarray:
    """Epic's older importer: sample time = h:m:s + FF / 60."""
    abs_t = np.array([s + ff / 60.0 for s, ff in _epic_rows(text)])
    return abs_t - abs_t[0]


def epic_current_times(text: str) -> np.ndarray:
    """Epic's current importer: the rate is 60 if any frame number exceeds 30, else 30; time = FF / rate."""
    rows = list(_epic_rows(text))
    rate = 60.0 if any(ff > 30.0 for _, ff in rows) else 30.0
    abs_t = np.array([s + ff / rate for s, ff in rows])
    return abs_t - abs_t[0]


def row_index_times(text: str, fps: float) -> np.ndarray:
    """Importers that ignore the timecode and key row i at frame i."""
    return np.arange(len(text.splitlines()) - 1) / fps


@pytest.mark.parametrize("fps", FPS_LIST)
def test_take_duration_under_each_reader(fps):
    n = int(round(5.8 * fps))  # the demo clip's length
    buf = io.StringIO()
    livelink.write_csv(buf, _perf(n, seed=7), fps)
    text = buf.getvalue()
    expected = np.arange(n) / fps
    for times in (epic_legacy_times(text), epic_current_times(text), row_index_times(text, fps),
                  livelink.read_take(io.StringIO(text)).times):
        assert len(times) == n
        np.testing.assert_allclose(times, expected, atol=1e-5)  # every row, not only the last


def test_a_file_rate_timecode_base_is_misread_by_epic():
    """Control: FF counted at the file's own rate (our former format) is read 0.39 s short by Epic's older
    importer at 30 fps and with the wrong timing within each second by its current one at 25 fps, so the
    test above can fail."""
    def file_rate_csv(n: int, fps: float) -> str:
        lines = [",".join(livelink.LLF_COLUMNS)]
        for i in range(n):
            lines.append(",".join([livelink.format_timecode(i / fps, base=int(fps)), "61"] + ["0.0"] * 61))
        return "\n".join(lines) + "\n"

    legacy = epic_legacy_times(file_rate_csv(174, 30.0))
    assert legacy[-1] == pytest.approx(5 + 23 / 60)  # 5.38 s instead of 5.77 s
    current = epic_current_times(file_rate_csv(145, 25.0))
    assert np.abs(current - np.arange(145) / 25).max() > 0.1


def test_reads_reordered_and_partial_columns():
    text = ("Timecode,BlendShapeCount,jawOpen,HeadYaw,EyeBlinkLeft\n"
            "10:00:00:00.000,61,0.5,0.1,0.25\n"
            "10:00:00:01.000,61,0.75,0.2,0\n")
    perf, times, _ = livelink.read_csv(io.StringIO(text), fps=60)
    assert perf.shape == (2, N_CHANNELS)
    assert perf[1, INDEX["jawOpen"]] == pytest.approx(0.75)
    assert perf[0, INDEX["headYaw"]] == pytest.approx(0.1)
    assert perf[0, INDEX["eyeBlinkLeft"]] == pytest.approx(0.25)
    assert np.count_nonzero(perf[:, :52]) == 3
    np.testing.assert_allclose(times, [0, 1 / 60])


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("a,b,c\n1,2,3\n", "no Timecode column"),
    ("Timecode,BlendShapeCount,Foo\n00:00:00:00.000,61,1\n", "no ARKit blendshape columns"),
    ("Timecode,JawOpen\n", "header only"),
    ("Timecode,JawOpen\n00:00:00,0.5\n", "bad Timecode"),
    ("Timecode,JawOpen\n00:00:00:00.000,abc\n", "non-numeric"),
    ("Timecode,JawOpen\n00:00:00:00.000\n", "fields"),
])
def test_bad_files_give_one_line_reasons(text, message):
    with pytest.raises(livelink.LiveLinkFormatError, match=message) as err:
        livelink.read_csv(io.StringIO(text))
    assert "\n" not in str(err.value)


def test_write_rejects_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match="55"):
        livelink.write_csv(tmp_path / "x.csv", np.zeros((3, 52)), 30)
    assert not (tmp_path / "x.csv").exists()


def test_convert_imports_a_capture_with_dropped_lines(tmp_path, capsys):
    """``thunder convert`` (no Blender format needed) takes the app capture and reports the filled frames."""
    from thunder_blender.core import takes_json
    from thunder_cli import cli

    text, truth, dropped = _app_capture()
    src = tmp_path / "20261130_MySlate_1_iPhone.csv"
    src.write_text(text)
    out = tmp_path / "out"
    assert cli.main(["convert", str(src), "--out", str(out), "--name", "c", "--format", "json"]) == 0
    assert f"{src.name}: filled 4 dropped-tracking frames by interpolation" in capsys.readouterr().err
    weights, fps, _, _ = takes_json.read(out / "c.json")
    assert fps == 60.0 and weights.shape == (1, len(truth), N_CHANNELS)
    np.testing.assert_allclose(weights[0][~dropped], truth[~dropped], atol=1e-6)


def test_convert_reads_a_former_file_rate_csv_with_an_explicit_base(tmp_path):
    """Our CSVs from before the 60 base counted FF at the file's rate: --timecode-base 25 reads them."""
    from thunder_blender.core import takes_json
    from thunder_cli import cli

    perf = _perf(60, seed=3)
    lines = [",".join(livelink.LLF_COLUMNS)]
    order = [livelink._CHANNEL_OF[c.lower()] for c in livelink.LLF_BLENDSHAPES + livelink.LLF_HEAD]
    for i in range(60):
        values = list(perf[i, order]) + [0.0] * 6
        lines.append(",".join([livelink.format_timecode(i / 25, base=25), "61"] + [f"{v:.7g}" for v in values]))
    src = tmp_path / "old.csv"
    src.write_text("\n".join(lines) + "\n")
    assert livelink.read_take(src).timecode_base == 30  # the guess cannot know: 25 is not the app's
    out = tmp_path / "out"
    assert cli.main(["convert", str(src), "--timecode-base", "25", "--out", str(out), "--name", "c",
                     "--format", "json"]) == 0
    weights, fps, _, _ = takes_json.read(out / "c.json")
    assert fps == 25.0 and weights.shape == (1, 60, N_CHANNELS)
    np.testing.assert_allclose(weights[0], perf, atol=1e-6)
