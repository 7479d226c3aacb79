"""``python -m thunder_train.bench --out bench.json``: run the benchmark, write JSON, print the table."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .common import MODEL_DIR_ENV
from .report import table
from .suite import SuiteConfig, quick_config, run_suite


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m thunder_train.bench", description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("bench.json"))
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and shorter clips (development)")
    ap.add_argument("--only", default="", help="comma-separated parts, e.g. generation,keyframes")
    ap.add_argument("--merge", action="store_true",
                    help="with --only: replace just those parts in an existing --out file (each merged part "
                         "records the machine's load while it ran)")
    ap.add_argument("--model-dir", type=Path, default=None,
                    help="benchmark the exported model in this folder instead of the shipped one")
    args = ap.parse_args(argv)
    if args.model_dir is not None:
        os.environ[MODEL_DIR_ENV] = str(args.model_dir.resolve())
    cfg = quick_config() if args.quick else SuiteConfig()
    if args.only:
        cfg = SuiteConfig(**{**cfg.__dict__, "only": tuple(s.strip() for s in args.only.split(",") if s.strip())})
    results = run_suite(cfg)
    results["config"] = {"quick": args.quick, "only": list(cfg.only),
                         "model_dir": str(args.model_dir) if args.model_dir else "shipped (models/)"}
    if args.merge and cfg.only and args.out.is_file():
        old = json.loads(args.out.read_text())
        for part in cfg.only:
            if part in results:
                old[part] = {**results[part], "measured": {"utc": results["created_utc"], **results["machine"]}} \
                    if isinstance(results[part], dict) else results[part]
        old.setdefault("config", {})["merged_parts"] = sorted(set(old["config"].get("merged_parts", []))
                                                              | set(cfg.only))
        results = old
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
