"""Naming schemes users bring: each rig is named the way its tool names it, and >= 95 % of its
ARKit-equivalent keys must reach the right channel (FLAME padding, VRM and VRoid rest shapes too)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from thunder_blender.core.channels import ARKIT_52, N_CHANNELS
from thunder_blender.core.flame import flame_key_index
from thunder_blender.core.rig_names import (
    CC4_EXTENDED,
    build_mapping,
    flame_expression_keys,
    flame_pose_keys,
    load_flame_map,
    match_arkit,
    match_visemes,
    match_vrm,
)
from thunder_blender.core.visemes import VISEMES, SpeechCues


def _words(name: str) -> list[str]:
    return re.sub(r"([a-z])([A-Z])", r"\1 \2", name).split()


def _cc4_explus(i: int, name: str) -> str:
    # ExPlus: ``A01_Brow_Inner_Up``, ``A14_Eye_Blink_Left``, ``A50_Mouth_Stretch_Left``; every word capitalised
    return f"A{i + 1:02d}_" + "_".join(w[:1].upper() + w[1:] for w in _words(name))


_EXPLUS_ORDER = (  # Character Creator's ExPlus numbering of the ARKit set
    "browInnerUp browDownLeft browDownRight browOuterUpLeft browOuterUpRight eyeLookUpLeft eyeLookUpRight "
    "eyeLookDownLeft eyeLookDownRight eyeLookOutLeft eyeLookInLeft eyeLookInRight eyeLookOutRight eyeBlinkLeft "
    "eyeBlinkRight eyeSquintLeft eyeSquintRight eyeWideLeft eyeWideRight cheekPuff cheekSquintLeft "
    "cheekSquintRight noseSneerLeft noseSneerRight jawOpen jawForward jawLeft jawRight mouthFunnel mouthPucker "
    "mouthLeft mouthRight mouthRollUpper mouthRollLower mouthShrugUpper mouthShrugLower mouthClose "
    "mouthSmileLeft mouthSmileRight mouthFrownLeft mouthFrownRight mouthDimpleLeft mouthDimpleRight "
    "mouthUpperUpLeft mouthUpperUpRight mouthLowerDownLeft mouthLowerDownRight mouthPressLeft mouthPressRight "
    "mouthStretchLeft mouthStretchRight tongueOut").split()


def _lr(name: str, left: str, right: str) -> str:
    if name.endswith("Left"):
        return name[:-4] + left
    if name.endswith("Right"):
        return name[:-5] + right
    return name


SCHEMES = {
    # ARKit spellings and prefixes seen in exports
    "arkit_prefix_ARKit_": lambda: {f"ARKit_{n}": n for n in ARKIT_52},
    "arkit_prefix_BS_": lambda: {f"BS_{n[0].upper() + n[1:]}": n for n in ARKIT_52},
    "arkit_fbx_namespace": lambda: {f"blendShape1.{n}": n for n in ARKIT_52},
    "arkit_maya_namespace": lambda: {f"Face:{_lr(n, '_L', '_R')}": n for n in ARKIT_52},
    "arkit_dot_LR": lambda: {_lr(n, ".L", ".R"): n for n in ARKIT_52},
    # Character Creator 4 / iClone
    "cc4_explus": lambda: {_cc4_explus(i, n): n for i, n in enumerate(_EXPLUS_ORDER)},
    "cc4_extended": lambda: dict(CC4_EXTENDED),
    # Daz FACS names: facs_bs_ blend shapes, Genesis 9 facs_ctrl_ face controls (and the Mesh__ prefix)
    "facs_bs": lambda: {"facs_bs_" + _lr(n[0].upper() + n[1:], "_L", "_R"): n for n in ARKIT_52},
    "daz_genesis9": lambda: {"Genesis9__facs_ctrl_" + n[0].upper() + n[1:]: n for n in ARKIT_52},
    # Faceit generates the ARKit set under its own names
    "faceit": lambda: {n: n for n in ARKIT_52},
    # MetaHuman-style ARKit curves exported to FBX (PascalCase, Live Link Face curve names, FBX namespace)
    "metahuman_fbx": lambda: {f"head_lod0_mesh.{n[0].upper() + n[1:]}": n for n in ARKIT_52},
    "metahuman_ctrl": lambda: {f"CTRL_expressions_{n}": n for n in ARKIT_52},
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_scheme_matches_95_percent_of_its_arkit_keys(scheme):
    names = SCHEMES[scheme]()
    got = match_arkit(list(names))
    right = sum(1 for n, ch in names.items() if got.get(n) == ch)
    assert right / len(names) >= 0.95, sorted(set(names) - {n for n in names if got.get(n) == names[n]})
    # and nothing is matched to a wrong channel
    assert all(got[n] == names[n] for n in got)


def test_cc4_explus_numbering_covers_the_52_and_names_a50_stretch():
    assert sorted(_EXPLUS_ORDER) == sorted(ARKIT_52)
    names = SCHEMES["cc4_explus"]()
    assert "A50_Mouth_Stretch_Left" in names and "A01_Brow_Inner_Up" in names and "A52_Tongue_Out" in names


def test_cc4_split_keys_are_all_driven_by_their_channel():
    names = ["Mouth_Funnel_Up_L", "Mouth_Funnel_Up_R", "Mouth_Funnel_Down_L", "Mouth_Funnel_Down_R",
             "Cheek_Puff_L", "Cheek_Puff_R", "Mouth_Smile_L"]
    got = match_arkit(names)
    assert [got[n] for n in names[:4]] == ["mouthFunnel"] * 4
    assert got["Cheek_Puff_L"] == got["Cheek_Puff_R"] == "cheekPuff" and got["Mouth_Smile_L"] == "mouthSmileLeft"
    # a plain ARKit name is still driven once (the first spelling wins)
    assert list(match_arkit(["jawOpen", "JawOpen"])) == ["jawOpen"]


def test_non_arkit_names_are_not_mistaken():
    assert match_arkit(["Basis", "A", "Blink", "Fcl_MTH_A", "viseme_aa", "Exp001", "Pose12", "Shape003",
                        "A99_Custom_Thing", "BS_Wink"]) == {}


def test_oculus_rpm_visemes_all_15_on_head_and_teeth():
    names = [f"viseme_{v}" for v in VISEMES]
    assert len(match_visemes(names)) == 15
    m = build_mapping(names + ["mouthOpen", "mouthSmile"])  # RPM also carries these two
    assert m.count("viseme") == 15


def test_vrm_1_0_and_0_x_and_vroid_rest_shapes():
    vrm1 = ["aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "angry", "sad", "relaxed",
            "surprised", "neutral", "lookUp", "lookDown", "lookLeft", "lookRight"]
    got = match_vrm(vrm1)
    assert got["neutral"] == "neutral" and "relaxed" not in got and "blink" not in got
    assert len(got) == len(vrm1) - 2
    vrm0 = ["A", "I", "U", "E", "O", "Blink", "Blink_L", "Blink_R", "Joy", "Angry", "Sorrow", "Neutral"]
    assert len(match_vrm(vrm0)) == len(vrm0) - 1  # Blink left alone beside Blink_L/R
    vroid = ["Fcl_MTH_A", "Fcl_MTH_I", "Fcl_MTH_U", "Fcl_MTH_E", "Fcl_MTH_O", "Fcl_MTH_Close", "Fcl_MTH_Neutral",
             "Fcl_EYE_Close", "Fcl_EYE_Close_L", "Fcl_EYE_Close_R", "Fcl_ALL_Joy", "Fcl_ALL_Angry",
             "Fcl_ALL_Sorrow", "Fcl_ALL_Surprised"]
    got = match_vrm(vroid)
    assert got["Fcl_MTH_Close"] == "mouthClose" and got["Fcl_MTH_Neutral"] == "neutral"
    m = build_mapping(vroid)
    perf = np.zeros((1, N_CHANNELS), np.float32)
    probs = np.zeros((1, 10), np.float32)
    probs[0, 1] = 1.0  # bilabial: the mouth closes, the vowels rest
    out = dict(zip(m.targets, m.evaluate(perf, SpeechCues(probs))[0], strict=True))
    assert out["Fcl_MTH_Close"] > 0.95 and sum(out[f"Fcl_MTH_{v}"] for v in "AIUEO") < 0.05
    probs[0] = 0.0
    probs[0, 0] = 1.0  # silence: neutral mouth
    out = dict(zip(m.targets, m.evaluate(perf, SpeechCues(probs))[0], strict=True))
    assert out["Fcl_MTH_Neutral"] > 0.95 and out["Fcl_MTH_Close"] < 0.05


@pytest.mark.parametrize("pad", [0, 2, 3])
def test_flame_keys_in_any_zero_padding(pad):
    names = [f"Shape{i:0{pad}d}" for i in range(5)] + [f"Exp{i:0{pad}d}" for i in range(50)] + \
        [f"Pose{i:0{pad}d}" for i in range(1, 37)]
    assert len(flame_expression_keys(names)) == 50
    poses = flame_pose_keys(names)
    assert len(poses) == 36 and poses[f"Pose{1:0{pad}d}"] == 0 and poses[f"Pose{36:0{pad}d}"] == 35
    fmap = load_flame_map("thunder_blender/assets/flame_map_example.json")
    m = build_mapping(names, flame_map=fmap)
    assert m.count("flame") == len(fmap.expressions)
    driven = {flame_key_index(n, "exp") for n, o in zip(m.targets, m.origin, strict=True) if o == "flame"}
    assert driven == {flame_key_index(k, "exp") for k in fmap.expressions}
    assert not [n for n in m.unmatched if not n.startswith("Exp")]
