"""``thunder-train export``: generator checkpoint -> models/{encoder,denoiser}.onnx + model.json.

    thunder-train export --checkpoint data/runs/diffusion_m2s.pt --out models --steps 8 \
        --metrics models/metrics.json --status release
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARITY_TOL = 1e-4


def export_checkpoint(checkpoint: Path, out: Path, steps: int = 8, metrics: Path | None = None,
                      status: str = "release", closure_seal: bool = False, mouth_temperature: float = 1.0,
                      log=print) -> dict:
    from thunder_train.export import build_card, export_onnx, parity
    from thunder_train.train import load_checkpoint

    gen, ck = load_checkpoint(checkpoint)
    paths = export_onnx(gen, out)
    err = parity(gen, out)
    if err > PARITY_TOL:
        raise RuntimeError(f"ONNX parity failed: max abs diff {err:.2e} > {PARITY_TOL}")
    summary = {}
    if metrics is not None and metrics.is_file():
        summary = json.loads(metrics.read_text()).get("summary", {})
    info = ck.get("info", {})
    training = {"variant": ck["variant"], "steps": info.get("steps"), "seconds": info.get("seconds"),
                "corpus": info.get("corpus"), "augmentation": info.get("augmentation"),
                "val": info.get("val"), "init_from": ck["train"].get("init_from"),
                "resumed_from_step": info.get("resumed_from_step")}
    # the recipe as used (settings, hash) travels from the checkpoint into the card's provenance
    provenance = {k: ck[k] for k in ("recipe", "recipe_hash", "recipe_smoke", "recipe_overrides") if k in ck}
    card = build_card(gen, steps=steps, training=training, repo=ROOT, status=status, closure_seal=closure_seal,
                      mouth_temperature=mouth_temperature, metrics_summary=summary, **provenance,
                      onnx_parity_max_abs=float(f"{err:.3g}"),
                      size_bytes={k: p.stat().st_size for k, p in paths.items()})
    card.write(out / "model.json")
    log(f"exported {checkpoint} -> {out} (parity {err:.2e}, "
        f"{sum(card.info['size_bytes'].values()) / 1e6:.2f} MB)")
    return card


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--out", type=Path, default=ROOT / "models")
    p.add_argument("--recipe", type=Path, default=None, help="recipe whose [export] settings are the defaults")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps written to the card (default: the recipe's)")
    p.add_argument("--metrics", type=Path, default=None, help="metrics.json whose summary goes into the card")
    p.add_argument("--status", default=None, help="default: the recipe's")
    p.add_argument("--closure-seal", action="store_true", help="runtime seals lips where the closure head fires")
    p.add_argument("--mouth-temperature", type=float, default=None,
                   help="scale of the initial noise on the mouth channels, 0 = mouth from the audio alone "
                        "(default: the recipe's)")


def run(args: argparse.Namespace) -> int:
    import sys

    from thunder_train.recipe import Recipe, RecipeError

    try:
        ex = Recipe.load(args.recipe).data["export"]
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def pick(given, key):
        return ex[key] if given is None else given

    export_checkpoint(args.checkpoint, args.out, pick(args.steps, "ddim_steps"), args.metrics,
                      pick(args.status, "status"), args.closure_seal, pick(args.mouth_temperature, "mouth_temperature"))
    return 0
