"""Stage and build the THUNDER extension: validated, per-platform zips made by Blender's own builder.

    python build.py                 # dist/thunder_lipsync-<ver>-<platform>.zip for every manifest platform
    python build.py --no-wheels     # one source-only zip (the add-on then needs onnxruntime installed)

Staging puts ``blender_manifest.toml`` next to the package's ``__init__.py`` (Blender requires it there),
copies the shipped model from ``models/`` into ``<stage>/models/`` and the bundled wheels into
``<stage>/wheels/``. The wheels are the exact files the manifest lists; missing ones are fetched once with
``pip download --only-binary=:all: --no-deps`` (platform, Python version and ABI read from each file name)
into ``.cache/wheels`` and reused afterwards. Validation and packing are Blender's own
(``bl_pkg.bl_extension_cli``, the code behind ``blender --command extension``), reached through ``import bpy``
with ``BLENDER_USER_RESOURCES`` pointing at a temp dir so no user configuration is touched.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "thunder_blender"
MANIFEST = ROOT / "blender_manifest.toml"
MODELS = ROOT / "models"
WHEEL_CACHE = ROOT / ".cache" / "wheels"
# Files from models/ that the add-on needs at run time when there is no card naming them.
MODEL_FILES = ("*.onnx", "*.json")
MODEL_CARD = "model.json"
# Shipped next to the model when present: provenance, licences and limits of the model.
MODEL_DOCS = ("MODEL_CARD.md",)

_WHEELS_BLOCK = re.compile(r"^wheels\s*=\s*\[.*?\]\s*?$", re.MULTILINE | re.DOTALL)


class BuildError(RuntimeError):
    """A build step failed; the message is one line for the user."""


class WheelName(NamedTuple):
    """The parts of a wheel file name ``{dist}-{version}(-{build})?-{python}-{abi}-{platform}.whl``.

    (A NamedTuple, not a dataclass: tests/conftest.py loads this file without registering it in sys.modules.)
    """

    filename: str
    dist: str
    version: str
    python_tag: str
    abi_tag: str
    platform_tag: str

    @classmethod
    def parse(cls, filename: str) -> "WheelName":
        parts = Path(filename).name.removesuffix(".whl").split("-")
        if not filename.endswith(".whl") or len(parts) not in (5, 6):
            raise BuildError(f"not a wheel file name: {filename!r}")
        return cls(Path(filename).name, parts[0], parts[1], *parts[-3:])

    def pip_download_args(self) -> list[str]:
        """Arguments for ``pip download`` that select exactly this file from the index."""
        tag = self.python_tag.split(".")[-1]  # "py2.py3" -> "py3"; "cp313" -> "cp313"
        digits = tag[2:]
        pyver = f"{digits[0]}.{digits[1:]}" if len(digits) > 1 else "3.11"
        args = ["--only-binary=:all:", "--no-deps", "--platform", self.platform_tag, "--python-version", pyver]
        if self.abi_tag != "none":
            args += ["--implementation", tag[:2], "--abi", self.abi_tag]
        return args + [f"{self.dist}=={self.version}"]


def read_manifest(path: Path = MANIFEST) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def manifest_wheels(path: Path = MANIFEST) -> list[WheelName]:
    """The wheels the manifest lists (``./wheels/<file>``), parsed."""
    return [WheelName.parse(w.rsplit("/", 1)[-1]) for w in read_manifest(path).get("wheels", [])]


def fetch_wheels(wheels: list[WheelName], cache: Path = WHEEL_CACHE, quiet: bool = False) -> list[Path]:
    """Return the cached file of every wheel, downloading the missing ones from the package index."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    for w in wheels:
        dst = cache / w.filename
        if not dst.exists():
            if not quiet:
                print(f"downloading {w.filename}", flush=True)
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                       "-d", tmp, *w.pip_download_args()]
                res = subprocess.run(cmd, capture_output=True, text=True)
                got = sorted(Path(tmp).glob("*.whl"))
                if res.returncode != 0 or [g.name for g in got] != [w.filename]:
                    detail = res.stderr.strip().splitlines()[-1:] or [f"got {[g.name for g in got]}"]
                    raise BuildError(f"could not download {w.filename}: {detail[0]}")
                os.replace(got[0], dst)
        paths.append(dst)
    return paths


def model_files(models: Path | None = None) -> list[Path]:
    """The model files to ship: the card ``model.json``, the files its ``files`` entry names and
    MODEL_CARD.md (other artefacts in models/, e.g. ablation variants, stay out); without a card, every
    *.onnx and *.json."""
    models = MODELS if models is None else models
    card_path = models / MODEL_CARD
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text())
        except ValueError as exc:
            raise BuildError(f"{card_path} is not valid JSON ({exc})") from exc
        named = [models / f for f in sorted(set((card.get("files") or {}).values()))]
        missing = [str(p) for p in named if not p.is_file()]
        if missing:
            raise BuildError(f"model files named in {card_path.name} are missing: {', '.join(missing)}")
        docs = [models / d for d in MODEL_DOCS if (models / d).is_file()]
        return [card_path, *named, *docs]
    return sorted({f for pattern in MODEL_FILES for f in models.glob(pattern)})


def _place(src: Path, dst: Path, link: bool) -> None:
    if link:
        dst.symlink_to(src, target_is_directory=src.is_dir())
    elif src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copy2(src, dst)


def staged_manifest_text(wheel_names: list[str]) -> str:
    """The manifest with its ``wheels`` list reduced to the files actually staged (none: no list)."""
    text = MANIFEST.read_text()
    if not wheel_names:
        return _WHEELS_BLOCK.sub("", text)
    listed = {w.filename for w in manifest_wheels()}
    unknown = sorted(set(wheel_names) - listed)
    if unknown:
        raise BuildError(f"wheels not listed in blender_manifest.toml: {', '.join(unknown)}")
    body = "".join(f'  "./wheels/{n}",\n' for n in wheel_names)
    return _WHEELS_BLOCK.sub(lambda _m: f"wheels = [\n{body}]", text)


def stage(dest: Path, link: bool = False, wheels: list[Path] | None = None, models: Path | None = None) -> Path:
    """Lay out the extension source folder at ``dest`` (created fresh). Returns ``dest``.

    ``link=True`` symlinks the package's files (a live development install from the source tree).
    ``wheels``: wheel files to bundle; the staged manifest lists exactly these.
    ``models``: the folder holding the model to ship (default ``models/``).
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for child in sorted(PACKAGE.iterdir()):
        if child.name in ("__pycache__",) or child.name.endswith(".pyc"):
            continue
        _place(child, dest / child.name, link)
    wheels = list(wheels or [])
    (dest / "blender_manifest.toml").write_text(staged_manifest_text([w.name for w in wheels]))
    _place(ROOT / "LICENSE", dest / "LICENSE", link)
    model_dir = dest / "models"
    model_dir.mkdir()
    for f in model_files(models):
        _place(f, model_dir / f.name, link)
    if wheels:
        wdir = dest / "wheels"
        wdir.mkdir()
        for w in wheels:
            shutil.copy2(w, wdir / w.name)
    return dest


def extension_cli(args: list[str]) -> int:
    """Run Blender's extension command line (``blender --command extension ARGS``) through bpy."""
    if "bpy" not in sys.modules:
        os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="thunder-build-user-"))
    import bpy  # noqa: F401  (makes Blender's bundled add-ons, bl_pkg among them, importable)
    from bl_pkg import bl_extension_cli

    return bl_extension_cli.cli_extension_handler(list(args))


def zip_name(platform: str | None = None) -> str:
    m = read_manifest()
    suffix = f"-{platform.replace('-', '_')}" if platform else ""
    return f"{m['id']}-{m['version']}{suffix}.zip"


def build(out: Path, stage_dir: Path, with_wheels: bool = True, allow_no_model: bool = False,
          models: Path | None = None) -> list[Path]:
    """Stage, validate and build. Returns the zips written to ``out`` (one per platform with wheels)."""
    models = MODELS if models is None else models
    if not allow_no_model and not any(f.suffix == ".onnx" for f in model_files(models)):
        raise BuildError(f"no model in {models} (*.onnx); train and export one first (make train)")
    wheels = fetch_wheels(manifest_wheels()) if with_wheels else []
    stage(stage_dir, wheels=wheels, models=models)
    if extension_cli(["validate", str(stage_dir)]) != 0:
        raise BuildError(f"Blender's validator rejected {stage_dir}")
    out.mkdir(parents=True, exist_ok=True)
    platforms = read_manifest().get("platforms", []) if with_wheels else []
    expected = [out / zip_name(p) for p in platforms] or [out / zip_name()]
    for z in expected:
        z.unlink(missing_ok=True)
    args = ["build", "--source-dir", str(stage_dir), "--output-dir", str(out)]
    if platforms:
        args.append("--split-platforms")
    if extension_cli(args) != 0 or not all(z.exists() for z in expected):
        raise BuildError(f"Blender's builder failed for {stage_dir}")
    return expected


def zip_wheels(zip_path: Path) -> list[str]:
    """Names of the wheel files inside a built extension zip."""
    with zipfile.ZipFile(zip_path) as zf:
        return sorted(Path(n).name for n in zf.namelist() if n.startswith("wheels/") and n.endswith(".whl"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "dist")
    ap.add_argument("--stage", type=Path, default=ROOT / "build" / "thunder_lipsync")
    ap.add_argument("--no-wheels", action="store_true", help="one zip without bundled onnxruntime")
    ap.add_argument("--allow-no-model", action="store_true", help="build even if models/ has no .onnx")
    ap.add_argument("--models", type=Path, default=None, help="ship the model in this folder (default models/)")
    args = ap.parse_args(argv)
    try:
        zips = build(args.out, args.stage, with_wheels=not args.no_wheels, allow_no_model=args.allow_no_model,
                     models=args.models)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    for z in zips:
        print(f"{z}  {z.stat().st_size / 1e6:.1f} MB  ({len(zip_wheels(z))} wheels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
