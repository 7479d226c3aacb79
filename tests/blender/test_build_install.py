"""The shipped extension zips: built by Blender's own builder, valid, one per platform with the right
onnxruntime wheels, and the Linux zip installs into a fresh headless Blender and generates takes.

The build runs once per session (``python build.py`` into a temp dir; wheels come from ``.cache/wheels``,
downloaded from PyPI on the first run). The install runs in a subprocess with its own
``BLENDER_USER_RESOURCES`` so it never meets the session's development install; this file is also that
subprocess's script (``python test_build_install.py ZIP WAV [generate|no-generate]``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_TAGS = {"linux-x64": "manylinux_2_28_x86_64", "windows-x64": "win_amd64", "macos-arm64": "macosx_14_0_arm64"}
RESULT_PREFIX = "THUNDER_PROBE_RESULT "


@pytest.fixture(scope="session")
def build_mod():
    from tests.conftest import _load_build_module

    return _load_build_module()


@pytest.fixture(scope="session")
def has_model(build_mod) -> bool:
    return any(p.suffix == ".onnx" for p in build_mod.model_files())


@pytest.fixture(scope="session")
def zips(tmp_path_factory, build_mod, has_model) -> dict[str, Path]:
    """platform -> zip, from ``python build.py`` run as a user would (subprocess)."""
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, str(ROOT / "build.py"), "--out", str(out), "--stage", str(out.parent / "stage")]
    if not has_model:
        cmd.append("--allow-no-model")
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, f"build.py failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    platforms = build_mod.read_manifest()["platforms"]
    found = {p: out / build_mod.zip_name(p) for p in platforms}
    assert all(z.exists() for z in found.values()), sorted(os.listdir(out))
    assert sorted(out.glob("*.zip")) == sorted(found.values()), "unexpected extra zips"
    # build.py prints every zip with its size.
    for z in found.values():
        assert z.name in res.stdout and " MB" in res.stdout
    return found


def test_manifest_covers_three_platforms(build_mod):
    assert build_mod.read_manifest()["platforms"] == list(PLATFORM_TAGS)


def test_each_zip_passes_blenders_validator(bpy, build_mod, zips):
    for platform, z in zips.items():
        assert build_mod.extension_cli(["validate", str(z)]) == 0, platform


def _requires(wheel_bytes: bytes) -> list[str]:
    """Run-time (non-extra) requirement names from a wheel's METADATA."""
    import io

    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as wz:
        meta_name = next(n for n in wz.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(wz.read(meta_name).decode())
    names = []
    for req in meta.get_all("Requires-Dist") or []:
        if "extra ==" in req:
            continue
        names.append(req.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("!")[0]
                     .split("~")[0].strip().lower().replace("-", "_"))
    return names


def test_each_zip_bundles_its_platforms_onnxruntime_and_its_dependencies(build_mod, zips):
    for platform, z in zips.items():
        wheels = build_mod.zip_wheels(z)
        tag = PLATFORM_TAGS[platform]
        ort = sorted(w for w in wheels if w.startswith("onnxruntime-"))
        assert ort == [f"onnxruntime-1.31.1-cp311-cp311-{tag}.whl", f"onnxruntime-1.31.1-cp313-cp313-{tag}.whl"], (
            platform, wheels)
        assert not any(w.lower().startswith("numpy-") for w in wheels), f"{platform} bundles numpy"
        # Nothing built for another platform slipped in.
        for w in wheels:
            plat = w.removesuffix(".whl").rsplit("-", 1)[-1]
            assert plat in (tag, "any"), (platform, w)
        bundled = {w.split("-")[0].lower() for w in wheels}
        with zipfile.ZipFile(z) as zf:
            for w in ort:
                deps = set(_requires(zf.read(f"wheels/{w}"))) - {"numpy"}
                assert deps, "onnxruntime METADATA lists no dependencies: parsing failed"
                assert deps <= bundled, f"{platform} {w}: missing {sorted(deps - bundled)}"


def test_each_zip_contains_the_package_and_the_model(build_mod, zips, has_model):
    model_files = sorted(p.name for p in build_mod.model_files())
    for platform, z in zips.items():
        with zipfile.ZipFile(z) as zf:
            names = set(zf.namelist())
            assert {"__init__.py", "blender_manifest.toml", "runtime/generate.py", "core/channels.py"} <= names
            assert not any("__pycache__" in n or n.endswith(".pyc") for n in names), platform
            # the command line and everything only it uses stay out of the extension
            cli_only = {Path(n).name for n in names} & {"cli.py", "audio_file.py", "preview.py", "headless.py"}
            assert not cli_only and not any("thunder_cli" in n for n in names), (platform, cli_only)
            cli_import = re.compile(r"^\s*(from|import)\s+(matplotlib|thunder_cli)\b", re.M)
            assert not [n for n in names if n.endswith(".py") and cli_import.search(zf.read(n).decode())]
            if has_model:
                assert {f"models/{m}" for m in model_files} <= names, platform
                for m in model_files:
                    assert zf.getinfo(f"models/{m}").file_size == (ROOT / "models" / m).stat().st_size
    if not has_model:
        pytest.skip("models/ has no .onnx yet: model files not checked")


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path_factory.mktemp("speech") / "speech.wav"
    text = "Peter picked a bunch of mellow plums, and we ate them by the open window."
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
    return wav


def test_linux_zip_installs_enables_and_generates(build_mod, zips, speech_wav, has_model):
    with tempfile.TemporaryDirectory(prefix="thunder-install-user-") as user:
        env = {**os.environ, "BLENDER_USER_RESOURCES": user, "PYTHONDONTWRITEBYTECODE": "1"}
        args = [str(zips["linux-x64"]), str(speech_wav), "generate" if has_model else "no-generate"]
        res = subprocess.run([sys.executable, __file__, *args],
                             capture_output=True, text=True, env=env, timeout=600, cwd=tempfile.gettempdir())
        lines = [ln for ln in res.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
        assert res.returncode == 0 and lines, f"probe failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        out = json.loads(lines[-1][len(RESULT_PREFIX):])
        user_real = os.path.realpath(user)
    assert out["install"] == ["FINISHED"]
    assert out["enabled"], out
    # onnxruntime is the bundled wheel, unpacked under this Blender's user resources, not the test venv's copy.
    assert out["onnxruntime_file"].startswith(user_real), out["onnxruntime_file"]
    assert out["onnxruntime_version"] == "1.31.1"
    assert "CPUExecutionProvider" in out["providers"]
    assert out["installed_models"] == sorted(p.name for p in build_mod.model_files() if p.suffix == ".onnx"), out
    if not has_model:
        pytest.skip("installed and enabled; models/ has no model yet, so generation was not tried")
    if not out["operators"]["generate"] or not out["operators"]["add_demo_head"]:
        pytest.skip(f"installed and enabled; generate/demo head operators not in the add-on yet: {out['operators']}")
    assert out["generate"] == ["FINISHED"], out.get("generate_error", out)
    assert out["keyed_actions"] >= 1, out
    assert out["max_keys_per_curve"] > 10, out


# ---------------------------------------------------------------- subprocess side
def _action_key_counts(action) -> list[int]:
    counts = []
    for layer in getattr(action, "layers", []):
        for strip in layer.strips:
            for cbag in getattr(strip, "channelbags", []):
                counts += [len(fc.keyframe_points) for fc in cbag.fcurves]
    return counts


# What the zip bundles; the test venv has its own copies, which a real Blender does not.
BUNDLED_TOP_LEVEL = ("onnxruntime", "flatbuffers", "google", "packaging")


class _OnlyBundled:
    """Meta-path finder that resolves the bundled distributions from Blender's extension site-packages
    only, so this process behaves like a Blender without onnxruntime of its own."""

    def __init__(self, site: str) -> None:
        self.site = site

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in BUNDLED_TOP_LEVEL or "." in name:
            return None  # submodules follow their parent package's __path__
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, [self.site])
        if spec is None:
            raise ModuleNotFoundError(f"{name} is not in the extension's bundled wheels", name=name)
        return spec


def probe(zip_path: str, wav: str, mode: str = "generate") -> dict:
    """Install ``zip_path`` into this (fresh) Blender, enable it, generate on ``wav``; report what happened."""
    user = os.environ["BLENDER_USER_RESOURCES"]
    site = os.path.join(user, "extensions", ".local", "lib", "python{}.{}".format(*sys.version_info[:2]),
                        "site-packages")
    sys.meta_path.insert(0, _OnlyBundled(site))
    import bpy

    out: dict = {}
    out["install"] = sorted(bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True))
    module = "bl_ext.user_default.thunder_lipsync"
    out["enabled"] = bpy.context.preferences.addons.get(module) is not None
    import onnxruntime

    out["onnxruntime_file"] = os.path.realpath(onnxruntime.__file__)
    out["onnxruntime_version"] = onnxruntime.__version__
    out["providers"] = onnxruntime.get_available_providers()
    pkg_dir = Path(sys.modules[module].__file__).parent
    out["installed_models"] = sorted(p.name for p in (pkg_dir / "models").glob("*.onnx"))
    out["operators"] = {name: name in dir(bpy.ops.thunder)
                        for name in ("generate", "add_demo_head")}
    if mode == "generate" and all(out["operators"].values()):
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 30, 1.0
        bpy.ops.thunder.add_demo_head()
        se = scene.sequence_editor_create()
        strip = se.strips.new_sound("speech", wav, channel=1, frame_start=1)
        strip.select = True
        se.active_strip = strip
        try:
            out["generate"] = sorted(bpy.ops.thunder.generate())
        except RuntimeError as exc:  # the operator reported an error
            out["generate"], out["generate_error"] = ["ERROR"], str(exc).strip()
        counts = [_action_key_counts(a) for a in bpy.data.actions]
        out["keyed_actions"] = sum(1 for c in counts if c and max(c) > 0)
        out["max_keys_per_curve"] = max((max(c) for c in counts if c), default=0)
    return out


if __name__ == "__main__":
    print(RESULT_PREFIX + json.dumps(probe(*sys.argv[1:4])), flush=True)
