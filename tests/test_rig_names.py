"""Shape-key name matching (ARKit spellings, visemes, VRM, FLAME, user JSON) and the viseme derivation."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from thunder_blender.core.channels import ARKIT_52, INDEX, N_CHANNELS
from thunder_blender.core.rig_names import (
    FEATURES,
    MappingError,
    build_mapping,
    coverage_lines,
    flame_expression_keys,
    load_flame_map,
    load_user_map,
    match_arkit,
    match_visemes,
    match_vrm,
    normalize,
)
from thunder_blender.core.visemes import VISEME_KEYS, VISEMES, prototype_vector, visemes_from_arkit

ASSET = "thunder_blender/assets/flame_map_example.json"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _side_suffix(name: str, left: str, right: str) -> str:
    if name.endswith("Left"):
        return name[:-4] + left
    if name.endswith("Right"):
        return name[:-5] + right
    return name


STYLES = {
    "camel": lambda n: n,
    "pascal": lambda n: n[0].upper() + n[1:],
    "snake": _snake,
    "upper_snake": lambda n: _snake(n).upper(),
    "underscore_LR": lambda n: _side_suffix(n, "_L", "_R"),
    "dot_LR": lambda n: _side_suffix(n, ".L", ".R"),
    "bare_LR": lambda n: _side_suffix(n, "L", "R"),
    "maya_prefix": lambda n: "blendShape1." + n,
    "namespace": lambda n: "Face:" + _side_suffix(n, "_L", "_R"),
    "prefix_side": lambda n: ("L_" + n[:-4]) if n.endswith("Left") else ("R_" + n[:-5]) if n.endswith("Right") else n,
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_arkit_spelling_maps_all_52(style):
    names = [STYLES[style](n) for n in ARKIT_52]
    m = match_arkit(names)
    assert len(m) == 52, sorted(set(ARKIT_52) - set(m.values()))
    assert all(m[STYLES[style](n)] == n for n in ARKIT_52)


def test_mixed_spellings_on_one_mesh_are_fully_mapped():
    explicit = {"jawOpen": "JawOpen", "jawForward": "jaw_forward", "mouthSmileLeft": "mouthSmile_L"}
    names = ["Basis"]
    for i, n in enumerate(ARKIT_52):
        style = ("pascal", "snake", "underscore_LR")[i % 3]
        names.append(explicit.get(n, STYLES[style](n)))
    mapping = build_mapping(names)
    assert mapping.count("arkit") == 52
    assert coverage_lines(mapping) == ["ARKit: 52/52 shape keys"]
    assert mapping.unmatched == ()


def test_normalize_examples_and_non_matches():
    assert normalize("mouthSmile_L") == normalize("mouth_smile_left") == normalize("MouthSmileLeft")
    assert normalize("blendShape1.jawOpen") == normalize("JAW_OPEN") == "jawopen"
    assert normalize("jaw_left") == normalize("jawLeft") != normalize("jawOpen")
    assert match_arkit(["Key 1", "smile", "mouthRoll", "eyeBlink"]) == {}


def test_evaluate_routes_channels_to_the_right_keys():
    names = ["jaw_open", "MouthSmile_R", "eyeBlinkLeft"]
    mapping = build_mapping(names)
    perf = np.zeros((3, N_CHANNELS), dtype=np.float32)
    perf[:, INDEX["jawOpen"]] = [0.1, 0.5, 0.9]
    perf[:, INDEX["mouthSmileRight"]] = 0.3
    perf[:, INDEX["mouthSmileLeft"]] = 0.8  # must not leak into the right key
    out = mapping.evaluate(perf)
    np.testing.assert_allclose(out[:, 0], [0.1, 0.5, 0.9], atol=1e-6)
    np.testing.assert_allclose(out[:, 1], 0.3, atol=1e-6)
    np.testing.assert_allclose(out[:, 2], 0.0, atol=1e-6)


def test_viseme_only_mesh_gets_viseme_keys():
    names = ["Basis"] + list(VISEME_KEYS)
    mapping = build_mapping(names)
    assert mapping.count("viseme") == 15 and mapping.count("arkit") == 0
    assert "Oculus visemes: 15/15" in coverage_lines(mapping)
    assert set(match_visemes(["Viseme_PP", "viseme_ih", "VISEME_OU"]).values()) == {
        "viseme_PP", "viseme_I", "viseme_U"}
    perf = np.zeros((2, N_CHANNELS), dtype=np.float32)
    perf[1, :52] = prototype_vector("aa")
    out = mapping.evaluate(perf)
    col = {n: i for i, n in enumerate(mapping.targets)}
    assert out[0, col["viseme_sil"]] == pytest.approx(1.0)
    assert out[1, col["viseme_aa"]] > 0.9 and out[1, col["viseme_sil"]] < 0.1


def test_each_viseme_prototype_maps_back_to_itself():
    x = np.stack([prototype_vector(v) for v in VISEMES])
    w = visemes_from_arkit(x)
    assert w.shape == (15, 15)
    assert np.all(np.argmax(w, axis=1) == np.arange(15))
    assert np.all(np.diag(w) > 0.8)
    assert np.all(w >= -1e-6) and np.all(w.sum(axis=1) <= 1.0 + 1e-5)


def test_vrm_names_and_blink_rule():
    m = match_vrm(["aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy"])
    assert set(m.values()) == {"aa", "ih", "ou", "ee", "oh", "blinkLeft", "blinkRight", "happy"}
    assert match_vrm(["Fcl_MTH_A", "Fcl_EYE_Close"]) == {"Fcl_MTH_A": "aa", "Fcl_EYE_Close": "blink"}
    mapping = build_mapping(["A", "I", "U", "E", "O", "Blink"])
    assert mapping.count("vrm") == 6
    perf = np.zeros((1, N_CHANNELS), dtype=np.float32)
    perf[0, INDEX["eyeBlinkLeft"]] = perf[0, INDEX["eyeBlinkRight"]] = 1.0
    assert mapping.evaluate(perf)[0, mapping.targets.index("Blink")] == pytest.approx(1.0)


def test_user_map_overrides_and_bad_files(tmp_path):
    good = tmp_path / "map.json"
    good.write_text(json.dumps({"shape_keys": {"Mouth_A": {"jawOpen": 0.5, "viseme_aa": 0.5},
                                               "jawOpen": {"mouthClose": 1.0}}}))
    user = load_user_map(good)
    mapping = build_mapping(["Mouth_A", "jawOpen", "mouthClose"], user_map=user)
    assert mapping.origin == ("user", "user", "arkit")
    row = mapping.matrix[mapping.targets.index("jawOpen")]
    assert row[FEATURES.index("mouthClose")] == 1.0 and row[FEATURES.index("jawOpen")] == 0.0
    bad_channel = tmp_path / "bad.json"
    bad_channel.write_text(json.dumps({"shape_keys": {"X": {"jawOpn": 1}}}))
    with pytest.raises(MappingError, match="unknown channel 'jawOpn'"):
        load_user_map(bad_channel)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(MappingError, match="cannot read"):
        load_user_map(broken)
    with pytest.raises(MappingError, match="cannot read"):
        load_user_map(tmp_path / "missing.json")


def test_flame_example_map_loads_and_drives_exp_keys():
    fmap = load_flame_map(ASSET)
    assert fmap.expressions and 0.0 < fmap.jaw_open_radians < 0.6
    assert "illustrative" in fmap.description.lower()
    names = ["Shape0", "Exp0", "Exp1", "Exp2", "Pose1"] + [f"Exp{i}" for i in range(3, 50)]
    assert flame_expression_keys(names)[:3] == ["Exp0", "Exp1", "Exp2"]
    mapping = build_mapping(names, flame_map=fmap)
    assert mapping.count("flame") == len([k for k in fmap.expressions if k in names]) > 0
    # identity keys are left alone and Pose correctives follow the joints: neither is "unmatched"
    assert "Shape0" not in mapping.unmatched and "Pose1" not in mapping.unmatched
    assert "Exp49" in mapping.unmatched  # not in the example map
    perf = np.zeros((2, N_CHANNELS), dtype=np.float32)
    perf[1, :52] = 0.5
    out = mapping.evaluate(perf)
    assert np.all(out[0] == 0.0) and np.any(out[1] != 0.0)


def test_all_channel_names_are_valid_sources():
    assert FEATURES[:52] == ARKIT_52 and len(FEATURES) == 67


@pytest.mark.parametrize("text, message", [
    ('{"shape_keys": {"Smile": {"mouthSmileLeft": NaN}}}', "finite"),
    ('{"shape_keys": {"Smile": {"mouthSmileLeft": Infinity}}}', "finite"),
    ('{"shape_keys": {"Smile": {"mouthSmileLeft": 1e9}}}', "finite"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_user_maps_with_impossible_values_are_refused(tmp_path, text, message):
    p = tmp_path / "map.json"
    p.write_text(text)
    with pytest.raises(MappingError, match=message):
        load_user_map(p)


@pytest.mark.parametrize("jaw", ['{"open_radians": NaN}', '{"open_radians": 1e9}', '{"lateral_radians": -Infinity}'])
def test_flame_maps_with_impossible_jaw_angles_are_refused(tmp_path, jaw):
    p = tmp_path / "flame.json"
    p.write_text('{"expressions": {"Exp000": {"jawOpen": 1.0}}, "jaw": ' + jaw + "}")
    with pytest.raises(MappingError, match="jaw angles must be finite"):
        load_flame_map(p)
