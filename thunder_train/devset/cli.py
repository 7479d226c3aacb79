"""``thunder-train devset``: fetch the development set's packages and build ``<out>/dev`` shards + data card."""
from __future__ import annotations

import argparse
from pathlib import Path

from .build import DevsetConfig, build
from .fetch import FetchError


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = DevsetConfig()
    p.add_argument("--out", default=str(d.out), help="output root (split 'dev' and meta.json)")
    p.add_argument("--src", default=str(d.src), help="where packages are downloaded and unpacked")
    p.add_argument("--card", default=str(d.card), help="copy of the data card ('' for none)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the per-speaker subsets and target styles")
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--alignments", default=str(d.alignments),
                   help="committed alignments read instead of aligning again ('' to align every clip)")


def run(args: argparse.Namespace) -> int:
    cfg = DevsetConfig(out=Path(args.out), src=Path(args.src), card=Path(args.card) if args.card else None,
                       seed=args.seed, workers=args.workers,
                       alignments=Path(args.alignments) if args.alignments else None)
    try:
        meta = build(cfg)
    except FetchError as e:
        print(f"error: {e}")
        return 2
    missing = meta["summary"]["missing_styles"]
    if missing:
        print(f"warning: no clips in style groups {missing}")
    return 0
