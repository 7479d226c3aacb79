"""``thunder-train devset-eval``: the shipped model (and other exported models) on the development set.

    thunder-train devset-eval --devset data/devset --variant shipped=models \\
        --out models/devset_metrics.json --markdown models/devset_metrics.md
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..evaluation.report import write_result
from .evaluate import DevEvalConfig, evaluate_devset, to_markdown


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devset", default="data/devset", help="root built by `thunder-train devset`")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=MODEL_DIR",
                   help="exported model directory (ONNX runtime) to evaluate under NAME (repeatable; "
                        "default: shipped=models)")
    p.add_argument("--seeds", nargs="+", type=int, default=list(DevEvalConfig().seeds), help="take seeds")
    p.add_argument("--emotion", default=DevEvalConfig().emotion, help="emotion passed to the generator")
    p.add_argument("--no-target", action="store_true", help="skip the articulation-target reference row")
    p.add_argument("--out", default="models/devset_metrics.json")
    p.add_argument("--markdown", default="models/devset_metrics.md")


def run(args: argparse.Namespace) -> int:
    from thunder_train.evaluation.cli import onnx_sample_fn

    specs = args.variant or ["shipped=models"]
    variants = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            print(f"error: --variant expects NAME=MODEL_DIR, got {spec!r}", file=sys.stderr)
            return 2
        variants[name] = onnx_sample_fn(path)
    cfg = DevEvalConfig(seeds=tuple(args.seeds), emotion=args.emotion)
    try:
        result = evaluate_devset(variants, args.devset, cfg, target_row=not args.no_target)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    meta = Path(args.devset) / "meta.json"
    if meta.exists():
        result["devset"] = {k: v for k, v in json.loads(meta.read_text())["summary"].items()
                            if k in ("clips", "hours", "speakers", "languages")}
    result["models"] = dict(s.partition("=")[::2] for s in specs)
    write_result(result, args.out, args.markdown, to_markdown)
    return 0
