"""``thunder-train eval``: evaluate exported models (and the reference rows) -> metrics.json + Markdown.

    thunder-train eval --corpus data/corpus --judges data/judges \\
        --variant full=models --variant no_m2s=out/ablation/no_m2s --out models/metrics.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .report import to_markdown, write_result
from .run import EvalConfig, SampleFn, evaluate


def onnx_sample_fn(model_dir: str | Path, transcript: bool = False, transcript_seal: bool = True):
    """sample_fn backed by the shipped runtime (onnxruntime) and an exported model directory.

    ``transcript``: the function takes the clip's transcript and its language as fourth and fifth arguments and
    generates with them
    (``devset.evaluate.TextSampleFn``; a transcript the runtime refuses falls back to audio only);
    ``transcript_seal``: also seal the aligned /p b m/ (``GenerateRequest.transcript_seal``, on by default as in
    the runtime)."""
    from thunder_blender.runtime.generate import GenerateRequest, generate
    from thunder_blender.runtime.model import load_model

    model = load_model(model_dir)
    if abs(model.fps - 50.0) > 1e-6:
        raise ValueError(f"{model_dir}: model runs at {model.fps} fps; the evaluation expects 50 fps")

    def sample(audio: np.ndarray, seed: int, emotion: str) -> np.ndarray:
        # The network alone: the runtime's blink/gaze layer (core.blinks, core.gaze) is the same for every
        # variant and is measured on its own (thunder_train.evaluation.blinks).
        req = GenerateRequest(pcm=audio, sample_rate=16000, n_takes=1, take_seeds=(int(seed),), emotion=emotion,
                              eye_layer=False)
        return generate(req, model).weights[0]

    def sample_text(audio: np.ndarray, seed: int, emotion: str, text: str, language: str = "en") -> np.ndarray:
        from thunder_blender.runtime.generate import InputError

        try:
            req = GenerateRequest(pcm=audio, sample_rate=16000, n_takes=1, take_seeds=(int(seed),),
                                  emotion=emotion, eye_layer=False, transcript=text, transcript_language=language,
                                  transcript_seal=transcript_seal)
            return generate(req, model).weights[0]
        except InputError:
            return sample(audio, seed, emotion)

    return sample_text if transcript else sample


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", default="data/corpus", help="corpus root (splits test and real_val are used)")
    p.add_argument("--judges", default="data/judges", help="directory of trained judges (sync_eval.pt, lipreader.pt)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=MODEL_DIR",
                   help="exported model directory to evaluate under NAME (repeatable)")
    p.add_argument("--no-references", action="store_true", help="skip the ground_truth and mean_pose rows")
    p.add_argument("--recipe", default=None, help="recipe whose [evaluation] settings are the defaults")
    p.add_argument("--splits", nargs="+", default=None, help="default: the recipe's")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="take seeds (default: the recipe's)")
    p.add_argument("--max-utts", type=int, default=None, help="utterances per split, random subset (default: the recipe's)")
    p.add_argument("--out", default="models/metrics.json")
    p.add_argument("--markdown", default=None, help="also write the Markdown tables here")


def run(args: argparse.Namespace) -> int:
    variants: dict[str, SampleFn] = {}
    for spec in args.variant:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            print(f"error: --variant expects NAME=MODEL_DIR, got {spec!r}", file=sys.stderr)
            return 2
        variants[name] = onnx_sample_fn(path)
    if not (Path(args.corpus) / "meta.json").exists():
        print(f"error: {args.corpus} is not a corpus (no meta.json)", file=sys.stderr)
        return 2
    from dataclasses import replace

    from thunder_train.recipe import Recipe, RecipeError

    try:
        cfg: EvalConfig = Recipe.load(args.recipe).eval_config()
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    given = {"seeds": args.seeds and tuple(args.seeds), "max_utts": args.max_utts,
             "splits": args.splits and tuple(args.splits)}
    cfg = replace(cfg, **{k: v for k, v in given.items() if v is not None})
    result = evaluate(variants, args.corpus, args.judges, cfg, references=not args.no_references)
    write_result(result, args.out, args.markdown, to_markdown)
    return 0
