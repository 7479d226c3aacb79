"""Live Link Face CSV: exact column layout, timecodes, eye angles, round trip, bad files."""
from __future__ import annotations

import io

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


@pytest.mark.parametrize("fps", [30.0, 50.0, 60.0, 29.97])
def test_round_trip(fps, tmp_path):
    perf = _perf(int(fps * 2.5), seed=int(fps))
    path = tmp_path / "take.csv"
    livelink.write_csv(path, perf, fps)
    back, times, fps_read = livelink.read_csv(path, fps=fps)
    assert back.shape == perf.shape
    np.testing.assert_allclose(back, perf, atol=1e-6)
    np.testing.assert_allclose(times, np.arange(len(perf)) / fps, atol=1e-6)
    assert fps_read == fps


@pytest.mark.parametrize("fps", [24.0, 30.0, 50.0, 60.0])
def test_fps_inferred_from_timecodes(fps):
    buf = io.StringIO()
    livelink.write_csv(buf, _perf(int(fps * 1.5)), fps)
    buf.seek(0)
    _, times, fps_read = livelink.read_csv(buf)
    assert fps_read == fps
    assert times[int(fps)] == pytest.approx(1.0)


def test_timecode_format():
    assert livelink.format_timecode(0.0, 60) == "00:00:00:00.000"
    assert livelink.format_timecode(61 / 30, 30) == "00:00:02:01.000"
    assert livelink.format_timecode(3723 + 0.5, 50) == "01:02:03:25.000"
    assert livelink.format_timecode(0.025, 30) == "00:00:00:00.750"
    assert livelink.parse_timecode("14:03:52:28.207") == (14 * 3600 + 3 * 60 + 52, pytest.approx(28.207))


def test_rows_are_well_formed():
    buf = io.StringIO()
    livelink.write_csv(buf, _perf(5), 60.0)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 6
    for line in lines[1:]:
        cells = line.split(",")
        assert len(cells) == 63 and cells[1] == "61"


def test_eye_angles_follow_eye_look_channels():
    perf = np.zeros((4, N_CHANNELS), np.float32)
    perf[0, INDEX["eyeLookOutLeft"]] = 1.0   # left eye turns to the subject's left
    perf[1, INDEX["eyeLookInRight"]] = 1.0   # right eye turns to the subject's left too
    perf[2, INDEX["eyeLookUpLeft"]] = 0.5
    perf[3, INDEX["eyeLookDownRight"]] = 1.0
    eyes = livelink.eye_angles(perf)
    assert eyes[0, 0] == pytest.approx(livelink.EYE_YAW_MAX) and eyes[0, 3] == 0
    assert eyes[1, 3] == pytest.approx(livelink.EYE_YAW_MAX) and eyes[1, 0] == 0
    assert eyes[2, 1] == pytest.approx(0.5 * livelink.EYE_PITCH_MAX)
    assert eyes[3, 4] == pytest.approx(-livelink.EYE_PITCH_MAX)
    assert np.all(eyes[:, [2, 5]] == 0)


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
