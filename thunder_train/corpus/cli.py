"""``thunder-train corpus``: build the training corpus (synthetic speech + aligned real speech)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=float, default=10.0, help="hours of synthetic speech (all splits)")
    parser.add_argument("--out", type=Path, default=Path("data/corpus"), help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="synthesis processes")
    parser.add_argument("--no-real", action="store_true", help="skip the real-speech splits")
    parser.add_argument("--card", type=Path, default=None, help="also write the data card here")
    parser.add_argument("--shard-seconds", type=float, default=900.0, help="audio seconds per shard")


def run(args: argparse.Namespace) -> int:
    from .build import BuildConfig, build

    if args.hours <= 0:
        print(f"error: --hours must be positive, got {args.hours}")
        return 2
    cfg = BuildConfig(out=args.out, hours=args.hours, seed=args.seed, workers=max(1, args.workers),
                      shard_seconds=args.shard_seconds, real=not args.no_real, card=args.card)
    meta = build(cfg)
    print(f"wrote {args.out}: {meta['synthetic_hours']:.2f} h synthetic at {meta['synthetic_speed_x_realtime']}x "
          f"real time; real speech {sum(v['hours'] for k, v in meta['splits'].items() if k.startswith('real')):.2f} h")
    return 0
