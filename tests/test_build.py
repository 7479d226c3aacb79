"""build.py and the manifest without Blender: wheel names -> pip selections, staged manifest, manifest rules."""
from __future__ import annotations

import re
import tomllib

import pytest

from tests.conftest import _load_build_module

build = _load_build_module()


def test_wheel_name_parsing_and_pip_selection():
    w = build.WheelName.parse("onnxruntime-1.31.1-cp313-cp313-manylinux_2_28_x86_64.whl")
    assert (w.dist, w.version, w.python_tag, w.abi_tag, w.platform_tag) == (
        "onnxruntime", "1.31.1", "cp313", "cp313", "manylinux_2_28_x86_64")
    assert w.pip_download_args() == [
        "--only-binary=:all:", "--no-deps", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.13",
        "--implementation", "cp", "--abi", "cp313", "onnxruntime==1.31.1"]
    pure = build.WheelName.parse("flatbuffers-25.12.19-py2.py3-none-any.whl")
    assert pure.pip_download_args()[2:4] == ["--platform", "any"]
    assert pure.pip_download_args()[-1] == "flatbuffers==25.12.19"
    assert "--abi" not in pure.pip_download_args()
    with pytest.raises(build.BuildError):
        build.WheelName.parse("onnxruntime-1.31.1.tar.gz")


def test_manifest_rules():
    m = build.read_manifest()
    import thunder_blender

    # the version lives in thunder_blender/__init__.py (pyproject reads it from there); the manifest must agree
    assert m["version"] == thunder_blender.__version__
    assert m["blender_version_min"] == "4.2.0"
    assert set(m["permissions"]) == {"files"}, "only file access; no network"
    assert len(m["tagline"]) <= 64 and m["tagline"][-1].isalnum()
    assert m["platforms"] == ["linux-x64", "windows-x64", "macos-arm64"]
    wheels = build.manifest_wheels()
    assert not any(w.dist.lower() == "numpy" for w in wheels), "Blender ships numpy"
    ort = {(w.python_tag, w.platform_tag) for w in wheels if w.dist == "onnxruntime"}
    for plat in ("manylinux_2_28_x86_64", "win_amd64", "macosx_14_0_arm64"):
        assert {("cp311", plat), ("cp313", plat)} <= ort, plat
    assert {w.dist for w in wheels} == {"onnxruntime", "flatbuffers", "packaging", "protobuf"}
    # the bundled onnxruntime is the one the tests run against (requirements.txt pins it)
    import onnxruntime

    assert {w.version for w in wheels if w.dist == "onnxruntime"} == {onnxruntime.__version__}


def test_staged_extension_holds_no_command_line_code(tmp_path):
    dest = build.stage(tmp_path / "stage")
    names = {p.name for p in dest.rglob("*.py")}
    assert "register" in (dest / "__init__.py").read_text() and "generate.py" in names
    assert not names & {"cli.py", "audio_file.py", "preview.py", "headless.py"}, names
    cli_import = re.compile(r"^\s*(from|import)\s+(matplotlib|thunder_cli)\b", re.M)
    assert not [p.name for p in dest.rglob("*.py") if cli_import.search(p.read_text())]


def test_stage_lists_exactly_the_staged_wheels(tmp_path):
    names = [w.filename for w in build.manifest_wheels()]
    fakes = []
    for n in names[:2]:
        f = tmp_path / n
        f.write_bytes(b"not a real wheel")
        fakes.append(f)
    dest = build.stage(tmp_path / "stage", wheels=fakes)
    staged = tomllib.loads((dest / "blender_manifest.toml").read_text())
    assert staged["wheels"] == [f"./wheels/{n}" for n in names[:2]]
    assert sorted(p.name for p in (dest / "wheels").iterdir()) == sorted(names[:2])
    assert (dest / "__init__.py").exists() and (dest / "models").is_dir()
    assert (dest / "LICENSE").read_text().startswith("                    GNU GENERAL PUBLIC LICENSE")
    assert not list(dest.rglob("__pycache__"))
    # Without wheels the staged manifest has no wheels entry at all (Blender would reject missing files).
    bare = build.stage(tmp_path / "bare")
    assert "wheels" not in tomllib.loads((bare / "blender_manifest.toml").read_text())
    assert staged["platforms"] == build.read_manifest()["platforms"]


def test_stage_rejects_unlisted_wheels(tmp_path):
    stray = tmp_path / "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl"
    stray.write_bytes(b"x")
    with pytest.raises(build.BuildError, match="not listed"):
        build.stage(tmp_path / "stage", wheels=[stray])


def test_build_without_model_fails_with_one_line_message(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "MODELS", tmp_path / "no_models")
    with pytest.raises(build.BuildError, match="no model") as err:
        build.build(tmp_path / "dist", tmp_path / "stage")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "dist").exists()


def test_model_files_follow_the_card(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("enc.onnx", "den.onnx", "variant_det.onnx", "metrics.json"):
        (models / name).write_bytes(b"x")
    # Without a card: every .onnx and .json.
    assert [p.name for p in build.model_files(models)] == ["den.onnx", "enc.onnx", "metrics.json",
                                                          "variant_det.onnx"]
    (models / "model.json").write_text('{"files": {"encoder": "enc.onnx", "denoiser": "den.onnx"}}')
    assert [p.name for p in build.model_files(models)] == ["model.json", "den.onnx", "enc.onnx"]
    (models / "MODEL_CARD.md").write_text("provenance and licences")
    assert [p.name for p in build.model_files(models)] == ["model.json", "den.onnx", "enc.onnx", "MODEL_CARD.md"]
    (models / "model.json").write_text('{"files": {"encoder": "enc.onnx", "denoiser": "gone.onnx"}}')
    with pytest.raises(build.BuildError, match="gone.onnx"):
        build.model_files(models)
