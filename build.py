"""Stage and build the THUNDER extension: validated, per-platform zips made by Blender's own builder.

    python build.py                 # dist/thunder_lipsync-<ver>-<platform>.zip for every platform
    python build.py --no-wheels     # source-only zip (the add-on then needs onnxruntime installed)

Staging puts ``blender_manifest.toml`` next to the package's ``__init__.py`` (Blender requires it there),
copies the shipped model from ``models/`` into ``<stage>/models/`` and the bundled wheels into
``<stage>/wheels/``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "thunder_blender"
MANIFEST = ROOT / "blender_manifest.toml"
MODELS = ROOT / "models"
# Files from models/ that the add-on needs at run time.
MODEL_FILES = ("*.onnx", "*.json")


def _place(src: Path, dst: Path, link: bool) -> None:
    if link:
        dst.symlink_to(src, target_is_directory=src.is_dir())
    elif src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copy2(src, dst)


def stage(dest: Path, link: bool = False, wheels: list[Path] | None = None) -> Path:
    """Lay out the extension source folder at ``dest`` (created fresh). Returns ``dest``.

    ``link=True`` symlinks the package's files (a live development install from the source tree).
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for child in sorted(PACKAGE.iterdir()):
        if child.name in ("__pycache__",) or child.name.endswith(".pyc"):
            continue
        _place(child, dest / child.name, link)
    shutil.copy2(MANIFEST, dest / "blender_manifest.toml")
    model_dir = dest / "models"
    model_dir.mkdir()
    for pattern in MODEL_FILES:
        for f in sorted(MODELS.glob(pattern)):
            _place(f, model_dir / f.name, link)
    if wheels:
        wdir = dest / "wheels"
        wdir.mkdir()
        for w in wheels:
            shutil.copy2(w, wdir / w.name)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "dist")
    ap.add_argument("--stage", type=Path, default=ROOT / "build" / "thunder_lipsync")
    ap.add_argument("--no-wheels", action="store_true")
    args = ap.parse_args(argv)
    stage(args.stage)
    print(f"staged {args.stage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
