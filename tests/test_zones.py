"""The package's zones: core is numpy only, runtime adds onnxruntime, only blender/ imports bpy,
nothing shipped imports the training side (torch, librosa, thunder_train) or the command line (thunder_cli),
and the command line uses the shipped package but never the training side."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "thunder_blender"

ALLOWED_THIRD_PARTY = {
    "core": {"numpy"},
    "runtime": {"numpy", "onnxruntime"},
    "blender": {"numpy", "onnxruntime", "bpy", "aud", "bpy_extras", "mathutils", "addon_utils", "gpu", "blf"},
    "top": set(),  # __init__.py: importable without Blender, numpy or onnxruntime
}
CLI_ALLOWED = {"numpy", "onnxruntime", "matplotlib", "bpy", "thunder_blender"}


def _zone(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0] if len(rel) > 1 and rel[0] in ("core", "runtime", "blender") else "top"


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_each_file_imports_only_what_its_zone_allows():
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    files = sorted(PKG.rglob("*.py"))
    assert len(files) >= 4
    for f in files:
        zone = _zone(f)
        extra = _imported_roots(f) - stdlib - ALLOWED_THIRD_PARTY[zone] - {"thunder_blender"}
        if extra:
            offenders.append(f"{f.relative_to(ROOT)} ({zone}): {sorted(extra)}")
    assert not offenders, "zone violations:\n" + "\n".join(offenders)


def test_command_line_never_imports_the_training_side():
    stdlib = set(sys.stdlib_module_names)
    files = sorted((ROOT / "thunder_cli").rglob("*.py"))
    assert len(files) >= 4
    offenders = [f"{f.relative_to(ROOT)}: {sorted(extra)}" for f in files
                 if (extra := _imported_roots(f) - stdlib - CLI_ALLOWED - {"thunder_cli"})]
    assert not offenders, offenders


def test_core_and_runtime_import_with_bpy_torch_librosa_blocked():
    code = (
        "import sys, pkgutil, importlib\n"
        "for m in ('bpy', 'torch', 'librosa', 'thunder_train', 'aud'):\n"
        "    sys.modules[m] = None\n"
        "import thunder_blender, thunder_blender.core, thunder_blender.runtime\n"
        "n = 0\n"
        "for pkg in (thunder_blender.core, thunder_blender.runtime):\n"
        "    for info in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(pkg.__name__ + '.' + info.name); n += 1\n"
        "import thunder_blender.core.channels\n"
        "assert 'bpy' not in sys.modules or sys.modules['bpy'] is None\n"
        "print('imported', n)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("imported")


def test_top_level_package_imports_without_blender():
    code = "import sys; sys.modules['bpy'] = None; import thunder_blender; print(thunder_blender.__version__)"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
