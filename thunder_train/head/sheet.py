"""Contact sheet of the demo head: the neutral face and every ARKit shape key at weight 1, rendered with
Cycles (CPU) through bpy, labelled, in one PNG.

    python -m thunder_train.head.sheet --out out/head_sheet.png [--size 220] [--samples 12] [--only jawOpen,...]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _setup_scene(bpy, size: int, samples: int, view: str, focus: str = "face"):
    from mathutils import Vector

    from thunder_blender.blender.compat import node_tree
    from thunder_blender.blender.demo_head import build_demo_head

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    obj = build_demo_head(bpy.context)
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 3
    scene.render.resolution_x = size
    scene.render.resolution_y = int(size * 1.2)
    scene.render.image_settings.file_format = "PNG"
    world = bpy.data.worlds.new("sheet")
    world.color = (0.35, 0.37, 0.40)
    bg = node_tree(world).nodes.get("Background")
    bg.inputs["Color"].default_value = (0.35, 0.37, 0.40, 1.0)
    bg.inputs["Strength"].default_value = 0.6
    scene.world = world
    target, dist = {"face": (Vector((0.0, -0.03, -0.008)), 0.42), "mouth": (Vector((0.0, -0.05, -0.045)), 0.22),
                    "eyes": (Vector((0.0, -0.03, 0.028)), 0.30), "head": (Vector((0.0, 0.01, 0.0)), 0.75)}[focus]
    yaw = {"front": 0.0, "three_quarter": math.radians(28), "profile": math.radians(80)}[view]
    cam_pos = target + Vector((math.sin(yaw) * dist, -math.cos(yaw) * dist, 0.05))
    cam_data = bpy.data.cameras.new("sheet_cam")
    cam_data.lens = 85
    cam = bpy.data.objects.new("sheet_cam", cam_data)
    scene.collection.objects.link(cam)
    cam.location = cam_pos
    cam.rotation_euler = (target - cam_pos).to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    for name, loc, energy, sz in (("key", (0.35, -0.6, 0.35), 14.0, 0.4), ("fill", (-0.5, -0.4, 0.0), 5.0, 0.6),
                                  ("rim", (0.0, 0.5, 0.4), 8.0, 0.3)):
        ld = bpy.data.lights.new(name, "AREA")
        ld.energy, ld.size = energy, sz
        lo = bpy.data.objects.new(name, ld)
        lo.location = loc
        lo.rotation_euler = (target - Vector(loc)).to_track_quat("-Z", "Y").to_euler()
        scene.collection.objects.link(lo)
    return scene, obj


def render_tiles(names: list[str], size: int = 220, samples: int = 12, view: str = "three_quarter",
                 focus: str = "face") -> list:
    """Render the head once per entry of ``names`` ("neutral" or a shape key at weight 1). Returns a list of
    (H, W, 4) float32 RGBA arrays, top row first. Needs only bpy and numpy."""
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="thunder-sheet-"))
    import bpy
    import numpy as np

    scene, obj = _setup_scene(bpy, size, samples, view, focus)
    keys = obj.data.shape_keys.key_blocks
    images = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(names):
            for k in keys[1:]:
                k.value = 0.0
            if name != "neutral":
                keys[name].value = 1.0
            scene.render.filepath = os.path.join(tmp, f"{i:02d}.png")
            bpy.ops.render.render(write_still=True)
            img = bpy.data.images.load(scene.render.filepath)
            w, h = img.size
            px = np.empty(w * h * 4, np.float32)
            img.pixels.foreach_get(px)
            bpy.data.images.remove(img)
            images.append(px.reshape(h, w, 4)[::-1])
    return images


def render_sheet(out: Path, size: int = 220, samples: int = 12, only: list[str] | None = None,
                 view: str = "three_quarter", cols: int = 9, focus: str = "face") -> Path:
    """Render the neutral face and the chosen shape keys (default: all 52) into one labelled PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from thunder_blender.core.channels import ARKIT_52

    names = ["neutral"] + [n for n in ARKIT_52 if only is None or n in only]
    images = render_tiles(names, size, samples, view, focus)
    rows = math.ceil(len(images) / cols)
    h, w = images[0].shape[:2]
    fig = plt.figure(figsize=(cols * w / 100, rows * (h + 18) / 100), dpi=100)
    for i, (img, name) in enumerate(zip(images, names, strict=True)):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(np.clip(img, 0, 1))
        ax.set_title(name, fontsize=8, pad=2)
        ax.axis("off")
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - 0.18 / rows, wspace=0.02, hspace=0.12)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m thunder_train.head.sheet", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("out/head_sheet.png"))
    p.add_argument("--size", type=int, default=220, help="width of one tile in pixels")
    p.add_argument("--samples", type=int, default=12, help="Cycles samples per tile")
    p.add_argument("--view", choices=("front", "three_quarter", "profile"), default="three_quarter")
    p.add_argument("--only", default="", help="comma-separated shape keys (default: all 52)")
    p.add_argument("--cols", type=int, default=9)
    p.add_argument("--focus", choices=("face", "mouth", "eyes", "head"), default="face", help="what the camera frames")
    args = p.parse_args(argv)
    only = [s for s in args.only.split(",") if s] or None
    t0 = time.perf_counter()
    out = render_sheet(args.out, args.size, args.samples, only, args.view, args.cols, args.focus)
    print(f"wrote {out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
