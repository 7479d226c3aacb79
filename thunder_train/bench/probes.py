"""Benchmark probes that need a fresh process (cold imports, peak memory, a fresh Blender).

Run by ``common.run_probe`` as ``python -m thunder_train.bench.probes NAME [ARGS]`` with
``BLENDER_USER_RESOURCES`` set to a temp dir; each prints one JSON line (``common.emit``).
Probes that need something not landed yet report ``{"status": "n/a", "reason": ...}``.
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import ROOT, emit, na, peak_rss_mb, read_wav, reset_peak_rss, rss_mb

EXTENSION_ID = "thunder_lipsync"
DEV_REPO = "thunder_bench"
ADDON_MODULE = f"bl_ext.{DEV_REPO}.{EXTENSION_ID}"


def _import_bpy() -> tuple[object, float]:
    assert os.environ.get("BLENDER_USER_RESOURCES"), "probes run with their own Blender user dir"
    t0 = time.perf_counter()
    import bpy

    return bpy, time.perf_counter() - t0


def _enable_dev_addon(bpy) -> tuple[object, float]:
    """Install the add-on from the source tree (symlinked stage, as the test harness does) and enable it.

    Returns (module, seconds spent in ``addon_utils.enable``)."""
    import importlib.util

    import addon_utils

    spec = importlib.util.spec_from_file_location("thunder_build", ROOT / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    repo_dir = Path(tempfile.mkdtemp(prefix="thunder-bench-ext-"))
    build.stage(repo_dir / EXTENSION_ID, link=True)
    bpy.context.preferences.extensions.repos.new(
        name=DEV_REPO, module=DEV_REPO, custom_directory=str(repo_dir), source="USER")
    addon_utils.extensions_refresh(ensure_wheels=False, addon_modules_pending=[ADDON_MODULE])
    t0 = time.perf_counter()
    mod = addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=None)
    dt = time.perf_counter() - t0
    if mod is None:
        raise RuntimeError(f"could not enable {ADDON_MODULE}")
    return mod, dt


def probe_enable() -> dict:
    bpy, import_s = _import_bpy()
    heavy_before = {m for m in ("onnxruntime",) if m in sys.modules}
    _, enable_s = _enable_dev_addon(bpy)
    return {"bpy_import_s": import_s, "enable_s": enable_s,
            "onnxruntime_imported_by_enable": "onnxruntime" in sys.modules and not heavy_before}


def _arkit_mesh(bpy):
    """A plain grid with a Basis and the 52 ARKit shape keys (when the demo head is not available)."""
    from thunder_blender.core.channels import ARKIT_52

    bpy.ops.mesh.primitive_grid_add(x_subdivisions=20, y_subdivisions=20)
    obj = bpy.context.active_object
    obj.shape_key_add(name="Basis")
    for name in ARKIT_52:
        obj.shape_key_add(name=name, from_mix=False)
    return obj


def _target(bpy, pkg) -> tuple[object, str]:
    try:
        demo = importlib.import_module(f"{pkg}.blender.demo_head")
        return demo.build_demo_head(bpy.context), "demo head"
    except (ImportError, AttributeError):
        return _arkit_mesh(bpy), "grid with 52 ARKit shape keys (demo head not available)"


def _synthetic_takes(pkg, n_takes: int, seconds: float, fps: float = 50.0):
    gen = importlib.import_module(f"{pkg}.runtime.generate")
    rng = np.random.default_rng(0)
    t = int(round(seconds * fps))
    w = rng.uniform(0.0, 1.0, size=(n_takes, t, 55)).astype(np.float32)
    w[..., 52:] = rng.uniform(-0.2, 0.2, size=(n_takes, t, 3))
    return gen.Takes(weights=w, fps=fps, seeds=tuple(range(n_takes)))


def probe_keyframes(n_takes: str = "8", seconds: str = "10") -> dict:
    """Bulk ``keyframes.write_takes`` vs per-key ``keyframe_insert`` for the same takes, in one process."""
    n, secs = int(n_takes), float(seconds)
    bpy, _ = _import_bpy()
    mod, _ = _enable_dev_addon(bpy)
    pkg = mod.__name__
    try:
        kf = importlib.import_module(f"{pkg}.blender.keyframes")
        write_takes = kf.write_takes
    except (ImportError, AttributeError) as exc:
        return na(f"keyframes.write_takes not available ({exc})")
    from thunder_blender.core import resample

    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    obj, target = _target(bpy, pkg)
    takes = _synthetic_takes(pkg, n, secs)
    t0 = time.perf_counter()
    actions = write_takes(obj, takes, 1, 30.0)
    bulk_s = time.perf_counter() - t0
    bulk_keys = _count_keys(actions)

    # The same values, one keyframe_insert per key (what a naive add-on does).
    key = obj.data.shape_keys
    names = [kb.name for kb in key.key_blocks[1:]]
    from thunder_blender.core.channels import ARKIT_52

    cols = [ARKIT_52.index(nm) for nm in names if nm in ARKIT_52]
    blocks = [key.key_blocks[nm] for nm in names if nm in ARKIT_52]
    t0 = time.perf_counter()
    n_inserts = 0
    for i in range(n):
        vals = resample.resample(takes.weights[i], takes.fps, 30.0)
        key_ad = key.animation_data_create()
        key_ad.action = bpy.data.actions.new(f"naive_take{i + 1}")
        obj_ad = obj.animation_data_create()
        obj_ad.action = bpy.data.actions.new(f"naive_head{i + 1}")
        for f in range(vals.shape[0]):
            frame = 1 + f
            for kb, c in zip(blocks, cols, strict=True):
                kb.value = float(vals[f, c])
                kb.keyframe_insert("value", frame=frame)
            obj.rotation_euler = (float(vals[f, 53]), float(vals[f, 54]), float(vals[f, 52]))
            obj.keyframe_insert("rotation_euler", frame=frame)
            n_inserts += len(blocks) + 3
    naive_s = time.perf_counter() - t0
    return {"target": target, "takes": n, "seconds": secs, "scene_fps": 30,
            "channels_mapped": len(blocks), "bulk_s": bulk_s, "bulk_keys": bulk_keys,
            "keyframe_insert_s": naive_s, "keyframe_insert_keys": n_inserts,
            "speedup": naive_s / bulk_s if bulk_s > 0 else None}


def _count_keys(actions) -> int:
    total = 0
    for act in actions or []:
        for layer in getattr(act, "layers", []):
            for strip in layer.strips:
                for cbag in getattr(strip, "channelbags", []):
                    total += sum(len(fc.keyframe_points) for fc in cbag.fcurves)
    return total


def probe_first_generation(wav: str, n_takes: str = "4") -> dict:
    """Fresh Blender: enable, demo head, sound strip, one generation (model load included); peak RSS."""
    bpy, import_s = _import_bpy()
    mod, enable_s = _enable_dev_addon(bpy)
    pkg = mod.__name__
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    ops = dir(bpy.ops.thunder)
    baseline = rss_mb()
    can_reset = reset_peak_rss()
    result: dict = {"bpy_import_s": import_s, "enable_s": enable_s, "rss_before_mb": baseline}
    if "generate" in ops and "add_demo_head" in ops:
        bpy.ops.thunder.add_demo_head()
        se = scene.sequence_editor_create()
        strip = se.strips.new_sound("speech", wav, channel=1, frame_start=1)
        strip.select = True
        se.active_strip = strip
        props = bpy.ops.thunder.generate.get_rna_type().properties.keys()
        kwargs = {k: int(n_takes) for k in ("n_takes", "takes", "num_takes") if k in props}
        settings = getattr(scene, "thunder", None)
        for k in ("n_takes", "takes", "num_takes"):
            if settings is not None and hasattr(settings, k):
                setattr(settings, k, int(n_takes))
        t0 = time.perf_counter()
        status = sorted(bpy.ops.thunder.generate(**kwargs))
        result["first_generation_s"] = time.perf_counter() - t0
        result["path"] = "bpy.ops.thunder.generate (demo head, sound strip)"
        result["status"] = status
        result["keys_written"] = _count_keys(bpy.data.actions)
    else:
        try:
            model_mod = importlib.import_module(f"{pkg}.runtime.model")
            gen = importlib.import_module(f"{pkg}.runtime.generate")
            pcm, sr = read_wav(Path(wav))
            t0 = time.perf_counter()
            model = model_mod.load_model()
            takes = gen.generate(gen.GenerateRequest(pcm=pcm, sample_rate=sr, n_takes=int(n_takes)), model)
            result["first_generation_s"] = time.perf_counter() - t0
            result["path"] = "runtime load_model + generate inside Blender (operator not available yet)"
            result["frames"] = int(np.shape(takes.weights)[1])
        except Exception as exc:  # noqa: BLE001  (ModelError, missing modules...)
            return na(f"nothing to generate with in Blender yet ({type(exc).__name__}: {exc})")
    if can_reset:
        result["peak_rss_during_generation_mb"] = peak_rss_mb()
    result["peak_rss_process_mb"] = _ru_maxrss_mb()
    return result


def _ru_maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def probe_runtime_rss(wav: str, n_takes: str = "4") -> dict:
    """Without Blender: peak RSS of loading the model and generating (the CLI's runtime path)."""
    t0 = time.perf_counter()
    try:
        from thunder_blender.runtime import generate as gen
        from thunder_blender.runtime.model import load_model
    except ImportError as exc:
        return na(f"runtime not importable ({exc})")
    import_s = time.perf_counter() - t0
    pcm, sr = read_wav(Path(wav))
    before = rss_mb()
    try:
        t0 = time.perf_counter()
        model = load_model()
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        gen.generate(gen.GenerateRequest(pcm=pcm, sample_rate=sr, n_takes=int(n_takes)), model)
        gen_s = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001  (ModelError, not implemented...)
        return na(f"runtime cannot generate yet ({type(exc).__name__}: {exc})")
    return {"import_s": import_s, "model_load_s": load_s, "first_generate_s": gen_s,
            "rss_before_load_mb": before, "peak_rss_mb": peak_rss_mb()}


def probe_head_load() -> dict:
    """Demo head asset: first ``core.head.load_demo_head()`` in a fresh process, then the Blender object."""
    try:
        from thunder_blender.core import head
    except ImportError as exc:
        return na(f"core.head not available ({exc})")
    t0 = time.perf_counter()
    h = head.load_demo_head()
    load_s = time.perf_counter() - t0
    out: dict = {"load_demo_head_s": load_s, "vertices": int(np.shape(h.vertices)[0]),
                 "shape_keys": len(h.shape_names)}
    asset = Path(inspect.getfile(head)).parent.parent / "assets" / "demo_head.npz"
    if asset.exists():
        out["asset_mb"] = asset.stat().st_size / 1e6
    bpy, _ = _import_bpy()
    mod, _ = _enable_dev_addon(bpy)
    try:
        demo = importlib.import_module(f"{mod.__name__}.blender.demo_head")
    except ImportError as exc:
        out["build_demo_head_s"] = f"n/a: {exc}"
        return out
    t0 = time.perf_counter()
    demo.build_demo_head(bpy.context)
    out["build_demo_head_s"] = time.perf_counter() - t0
    return out


PROBES = {
    "enable": probe_enable,
    "keyframes": probe_keyframes,
    "first_generation": probe_first_generation,
    "runtime_rss": probe_runtime_rss,
    "head_load": probe_head_load,
}


def main(argv: list[str]) -> int:
    name, args = argv[0], argv[1:]
    try:
        result = PROBES[name](*args)
    except Exception as exc:  # noqa: BLE001  (reported as n/a; the traceback goes to stderr)
        import traceback

        traceback.print_exc()
        result = na(f"{type(exc).__name__}: {exc}")
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
