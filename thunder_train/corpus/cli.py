"""``thunder-train corpus``: build the training corpus (synthetic speech + aligned real speech)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", type=Path, default=None, help="recipe file (default thunder_train/recipe.toml)")
    parser.add_argument("--smoke", action="store_true", help="the recipe's [smoke] corpus (what `all --smoke` builds)")
    parser.add_argument("--hours", type=float, default=None,
                        help="hours of synthetic speech, all splits (default: the recipe's)")
    parser.add_argument("--out", type=Path, default=Path("data/corpus"), help="output directory")
    parser.add_argument("--seed", type=int, default=None, help="corpus seed (default: derived from the recipe's root seed)")
    parser.add_argument("--workers", type=int, default=2, help="synthesis processes")
    parser.add_argument("--no-real", action="store_true", help="skip the real-speech splits")
    parser.add_argument("--card", type=Path, default=None, help="also write the data card here")
    parser.add_argument("--shard-seconds", type=float, default=None, help="audio seconds per shard (default: the recipe's)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from thunder_train.recipe import Recipe, RecipeError

    from .build import build

    if args.hours is not None and args.hours <= 0:
        print(f"error: --hours must be positive, got {args.hours}")
        return 2
    try:
        cfg = Recipe.load(args.recipe, smoke=args.smoke).build_config(args.out, workers=max(1, args.workers), card=args.card)
    except RecipeError as e:
        print(f"error: {e}")
        return 2
    given = {"hours": args.hours, "seed": args.seed, "shard_seconds": args.shard_seconds}
    cfg = replace(cfg, **{k: v for k, v in given.items() if v is not None})
    if args.no_real:
        cfg = replace(cfg, real=False)
    meta = build(cfg)
    print(f"wrote {args.out}: {meta['synthetic_hours']:.2f} h synthetic at {meta['synthetic_speed_x_realtime']}x "
          f"real time; real speech {sum(v['hours'] for k, v in meta['splits'].items() if k.startswith('real')):.2f} h")
    return 0
