"""``thunder-train all``: retrain everything from scratch and write the shipped model.

    thunder-train all --out models                 # corpus, judges, 6 generator runs, eval, export
    thunder-train all --out models --resume --max-hours 2.8   # one session of a long retraining
    thunder-train all --out /tmp/m --smoke         # minutes-long check of the whole chain (CI)

Every setting comes from the recipe (``thunder_train/recipe.toml``, ``--recipe``, ``--set KEY=VALUE``;
``--smoke`` merges its [smoke] tables). Stages (intermediate files under ``--work``, default ``data/pipeline``):
  1. corpus      ``thunder_train.corpus.build`` (skipped when ``--corpus`` already holds the recipe's corpus,
                 rebuilt with --rebuild; a corpus built with other settings is an error)
  2. judges      ``thunder_train.judges.train_all.train_all_judges`` (M2S, sync experts, lip reader)
  3. generators  the recipe's runs in order (``[generator.runs.*]``): a diffusion base model and its
                 continuation ``diffusion``; then, from ``diffusion`` with equal step budgets: +M2S+sync and
                 +M2S (judges frozen, upper face anchored to ``diffusion``) and the control ``diffusion_long``
                 (the same steps, no judges); last the deterministic baseline. Step checkpoints in
                 ``work/runs/<run>.ckpt``.
  4. export      every variant to ONNX (parity-checked) in ``work/variants/<name>``
  5. evaluation  ``thunder_train.evaluation.run.evaluate`` over the exported models -> metrics.json
  6. ship        the chosen variant's ONNX + model.json, metrics.json and MODEL_CARD.md into ``--out``

``--resume`` continues a stopped pipeline: finished stages and runs (same recipe hash) are kept and the
unfinished run continues from its newest checkpoint. ``--max-hours`` is a session time limit: past it the
running stage writes a checkpoint and the command exits with status 3 (see docs/TRAINING.md).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train_cli

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from thunder_blender.runtime.card import ModelCard  # noqa: E402
from thunder_train.checkpoint import TimeLimitReached, atomic_write_text  # noqa: E402
from thunder_train.recipe import Recipe, RecipeError  # noqa: E402

SHIP_ORDER = ("diffusion_m2s_sync", "diffusion_m2s", "diffusion")


@dataclass
class PipelineConfig:
    out: Path
    recipe: Recipe
    work: Path = Path("data/pipeline")
    corpus: Path = Path("data/corpus")
    rebuild: bool = False
    judges: Path | None = None
    resume: bool = False
    deadline: float | None = None    # time.monotonic() value: the session's time limit
    devset: Path | None = Path("data/devset")   # recorded voices never trained on (training curves, evaluation)


def _log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def corpus_mismatch(meta: dict, want) -> list[str]:
    """Settings in which a built corpus (its meta.json) differs from the recipe's BuildConfig ``want``, or labels
    older than this code writes (``corpus.build.LABELS``)."""
    from thunder_train.corpus.build import LABELS

    # corpora built before real_sources existed hold the Asterisk prompts only; before "labels", version 1
    sources = meta.get("real_sources", ["asterisk"] if meta.get("splits", {}).get("real_train") else [])
    have = {"seed": meta.get("seed"), "hours": meta.get("hours_requested"), "real_sources": sorted(sources),
            "labels": meta.get("labels", 1)}
    need = {"seed": want.seed, "hours": want.hours,
            "real_sources": sorted(want.real_sources) if want.real else [], "labels": LABELS}
    return [f"{k} {have[k]} (recipe: {need[k]})" for k in need if have[k] != need[k]]


def stage_corpus(cfg: PipelineConfig) -> Path:
    from thunder_train.corpus.build import build

    want = cfg.recipe.build_config(cfg.corpus)
    meta_path = cfg.corpus / "meta.json"
    if meta_path.is_file() and not cfg.rebuild:
        diff = corpus_mismatch(json.loads(meta_path.read_text()), want)
        if diff:
            raise SystemExit(f"corpus {cfg.corpus} was built with other settings: {', '.join(diff)}; "
                             "pass --rebuild or another --corpus")
        _log(f"corpus: using existing {cfg.corpus} (seed {want.seed}, {want.hours} h)")
        return cfg.corpus
    _log(f"corpus: building {want.hours} h into {cfg.corpus} (seed {want.seed})")
    build(want, log=_log)
    return cfg.corpus


def stage_judges(cfg: PipelineConfig, corpus: Path) -> dict[str, Path]:
    from thunder_train.judges import PATHS

    out = cfg.work / "judges"
    if cfg.judges is not None:
        # reuse judges trained earlier by `thunder-train` (snapshot copied so they cannot change mid-run)
        out.mkdir(parents=True, exist_ok=True)
        for f in list(PATHS.values()) + ["judges.json"]:
            shutil.copy2(cfg.judges / f, out / f)
        _log(f"judges: reusing {cfg.judges} (copied to {out})")
        return {name: out / f for name, f in PATHS.items()}
    from thunder_train.judges.train_all import train_all_judges

    return train_all_judges(corpus, out, cfg.recipe, deadline=cfg.deadline, log=_log)


def finished_run(path: Path, recipe: Recipe) -> dict | None:
    """The training record of a finished run at ``path`` when it was trained with this recipe, else None."""
    record = path.with_suffix(".json")
    if not path.is_file() or not record.is_file():
        return None
    info = json.loads(record.read_text())
    return info if info.get("recipe_hash") == recipe.hash else None


def stage_generators(cfg: PipelineConfig, corpus: Path, judges: dict[str, Path]) -> dict[str, Path]:
    from thunder_train.train_cli import run_training

    runs = cfg.work / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    if not cfg.resume and any(runs.glob("*.ckpt/step_*.pt")):
        raise SystemExit(f"{runs} holds step checkpoints of earlier runs: pass --resume to continue them (finished "
                         "runs of the same recipe are kept), or use another --work")
    ckpts: dict[str, Path] = {}
    info: dict[str, dict] = {}
    for name, run in cfg.recipe.runs.items():
        path = runs / f"{name}.pt"
        done = finished_run(path, cfg.recipe) if cfg.resume else None
        if done is not None:
            _log(f"generators: {name} already finished with recipe {cfg.recipe.hash}, kept")
            info[name] = done
        else:
            init = ckpts[run["init"]] if run["init"] else None
            c = cfg.recipe.train_config(name, m2s_path=str(judges["m2s_mouth"]), sync_path=str(judges["sync_loss"]),
                                        init_from=str(init) if init else None)
            info[name] = run_training(c, corpus, path, log=_log, recipe=cfg.recipe, ckpt_dir=runs / f"{name}.ckpt",
                                      resume=cfg.resume, deadline=cfg.deadline, devset=cfg.devset)
        ckpts[name] = path
        atomic_write_text(runs / "training.json", json.dumps(info, indent=1, default=str) + "\n")
    return ckpts


def stage_export(cfg: PipelineConfig, ckpts: dict[str, Path], corpus: Path) -> dict[str, Path]:
    """Every run but the base to ONNX, each card with the viseme split fitted to its own mouth
    (``thunder_train.viseme_split``)."""
    from thunder_train.export_cli import export_checkpoint
    from thunder_train.viseme_split import write_split

    ex = cfg.recipe.data["export"]
    dirs = {}
    for name, ck in ckpts.items():
        if name == "diffusion_base":
            continue
        d = cfg.work / "variants" / name
        export_checkpoint(ck, d, steps=ex["ddim_steps"], status=ex["status"], mouth_temperature=ex["mouth_temperature"],
                          log=_log)
        write_split(d, corpus, log=_log)
        dirs[name] = d
    return dirs


def add_card_variant(dirs: dict[str, Path], name: str, suffix: str, **card_changes) -> str:
    """Same weights as ``name`` with other runtime settings in its card (an extra evaluation row).

    ``_sealed``: closure_seal=True (lips sealed where the closure head fires); ``_rest``: silence_rest=True
    (the mouth rests where the phone head hears silence, ``core.rest``); ``_tau1``: mouth_temperature=1
    (plain DDIM, the mouth channels' initial noise not scaled down).
    """
    src = dirs[name]
    dst = src.parent / f"{name}{suffix}"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    ModelCard.read(dst / "model.json").with_changes(**card_changes).write(dst / "model.json")
    dirs[f"{name}{suffix}"] = dst
    return f"{name}{suffix}"


def prefer_sealed(metrics: dict, name: str) -> bool:
    """Ship the sealed variant when it seals more p/b/m intervals without losing lip PCC (> 0.01) on any split."""
    from thunder_train.model_card import _mean

    better = False
    for split in metrics.get("counts", {}):
        a = _mean(metrics, "closure", name, split, "bilabial_sealed")
        b = _mean(metrics, "closure", f"{name}_sealed", split, "bilabial_sealed")
        pa = _mean(metrics, "ablation", name, split, "lip_pcc")
        pb = _mean(metrics, "ablation", f"{name}_sealed", split, "lip_pcc")
        if None in (a, b, pa, pb):
            continue
        if pb < pa - 0.01:
            return False
        better = better or b > a
    return better


def prefer_rest(metrics: dict, name: str) -> bool:
    """Ship ``name``'s silence-rest copy when, on the development set overall, it closes the mouth in more
    silence frames without any other mouth rate or the lip PCC falling by more than 0.01."""
    groups = (metrics.get("devset") or {}).get("groups", {})
    a, b = groups.get(name, {}).get("overall"), groups.get(f"{name}_rest", {}).get("overall")
    if not a or not b:
        return False

    def mean(row: dict, key: str) -> float | None:
        return (row.get(key) or {}).get("mean")

    keys = ("arkit.bilabial_sealed", "arkit.rounded_lips", "arkit.open_jaw", "lip_pcc_vs_target")
    if any(None in (mean(a, k), mean(b, k)) or mean(b, k) < mean(a, k) - 0.01 for k in keys):
        return False
    sa, sb = mean(a, "arkit.silent_closed"), mean(b, "arkit.silent_closed")
    return sa is not None and sb is not None and sb > sa


def stage_eval(cfg: PipelineConfig, corpus: Path, dirs: dict[str, Path]) -> dict:
    from thunder_train.evaluation.cli import onnx_sample_fn
    from thunder_train.evaluation.run import evaluate

    ecfg = cfg.recipe.eval_config()
    variants = {name: onnx_sample_fn(d) for name, d in dirs.items()}
    metrics = evaluate(variants, corpus, cfg.work / "judges", ecfg, log=_log)
    if cfg.devset is not None and (cfg.devset / "dev").is_dir():
        from thunder_train.devset.evaluate import DevEvalConfig, evaluate_devset

        # the baseline with each clip's transcript; the shipped model's +text row follows the ship decision
        # (stage_text_eval)
        text = {f"{n}+text": onnx_sample_fn(dirs[n], transcript=True) for n in ("deterministic",) if n in dirs}
        metrics["devset"] = evaluate_devset(variants, cfg.devset, DevEvalConfig(seeds=tuple(ecfg.seeds)),
                                            log=_log, text_variants=text)
        meta = cfg.devset / "meta.json"
        if meta.is_file():
            metrics["devset"]["devset"] = {k: v for k, v in json.loads(meta.read_text())["summary"].items()
                                           if k in ("clips", "hours", "speakers", "languages")}
    else:
        _log(f"evaluation: no development set at {cfg.devset} (`thunder-train devset` builds it); skipped")
    return metrics


def stage_text_eval(cfg: PipelineConfig, dirs: dict[str, Path], shipped: str, metrics: dict) -> None:
    """The shipped variant on the development set with each clip's transcript in its language (the words
    aligned at run time): row ``<shipped>+text`` added to ``metrics["devset"]``."""
    if not metrics.get("devset"):
        return
    from thunder_train.devset.evaluate import DevEvalConfig, evaluate_devset
    from thunder_train.evaluation.cli import onnx_sample_fn

    res = evaluate_devset({}, cfg.devset, DevEvalConfig(seeds=tuple(cfg.recipe.eval_config().seeds)),
                          target_row=False, log=_log,
                          text_variants={f"{shipped}+text": onnx_sample_fn(dirs[shipped], transcript=True)})
    metrics["devset"]["groups"].update(res["groups"])


def choose(cfg: PipelineConfig, dirs: dict[str, Path]) -> str:
    ship = cfg.recipe.data["export"]["ship"]
    if ship != "auto":
        return ship
    return next(v for v in SHIP_ORDER if v in dirs)


def stage_ship(cfg: PipelineConfig, dirs: dict[str, Path], metrics: dict, shipped: str) -> None:
    from thunder_train.model_card import summarise, write_model_card

    cfg.out.mkdir(parents=True, exist_ok=True)
    metrics = dict(metrics)
    metrics["shipped_variant"] = shipped
    metrics["summary"] = summarise(metrics, shipped)
    (cfg.out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    src = dirs[shipped]
    for f in ("encoder.onnx", "denoiser.onnx"):
        shutil.copy2(src / f, cfg.out / f)
    card = ModelCard.read(src / "model.json").with_changes(metrics_summary=metrics["summary"], variant=shipped)
    card.write(cfg.out / "model.json")
    write_model_card(cfg.out, card.to_dict(), metrics, cfg.work)
    if metrics.get("devset"):
        from thunder_train.devset.evaluate import to_markdown
        from thunder_train.evaluation.report import write_result

        write_result(metrics["devset"], cfg.out / "devset_metrics.json", cfg.out / "devset_metrics.md", to_markdown)
    _log(f"shipped {shipped} -> {cfg.out}")


def run_pipeline(cfg: PipelineConfig) -> dict:
    t0 = time.monotonic()
    timings = {}

    def timed(name, fn, *a):
        t = time.monotonic()
        out = fn(*a)
        timings[name] = round(time.monotonic() - t, 1)
        _log(f"stage {name}: {timings[name]} s")
        return out

    corpus = timed("corpus", stage_corpus, cfg)
    judges = timed("judges", stage_judges, cfg, corpus)
    ckpts = timed("generators", stage_generators, cfg, corpus, judges)
    dirs = timed("export", stage_export, cfg, ckpts, corpus)
    shipped = choose(cfg, dirs)
    sealed = add_card_variant(dirs, shipped, "_sealed", closure_seal=True)
    for name in (shipped, sealed):
        add_card_variant(dirs, name, "_rest", silence_rest=True)
    if cfg.recipe.data["export"]["mouth_temperature"] != 1.0:
        for name in ("diffusion", shipped):
            if name in dirs:
                add_card_variant(dirs, name, "_tau1", mouth_temperature=1.0)
    metrics = timed("evaluation", stage_eval, cfg, corpus, dirs)
    metrics["timings_s"] = timings
    # kept before the ship decision: the evaluation is the longest stage after training
    (cfg.work / "metrics_evaluated.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    if prefer_sealed(metrics, shipped):
        shipped = sealed
    if prefer_rest(metrics, shipped):
        shipped = f"{shipped}_rest"
    timed("text evaluation", stage_text_eval, cfg, dirs, shipped, metrics)
    metrics["ship_rule"] = ("main variant diffusion_m2s_sync; its closure-sealed copy is shipped instead when it "
                            "seals more p/b/m intervals without losing more than 0.01 lip PCC on any split; then "
                            "its silence-rest copy when, on the development set overall, it closes more silence "
                            "frames without any other mouth rate or the lip PCC falling by more than 0.01")
    timed("ship", stage_ship, cfg, dirs, metrics, shipped)
    _log(f"pipeline done in {time.monotonic() - t0:.0f} s")
    return metrics


def add_arguments(p: argparse.ArgumentParser) -> None:
    from thunder_train.train_cli import add_recipe_arguments

    p.add_argument("--out", type=Path, required=True, help="where the shipped model goes (e.g. models)")
    p.add_argument("--work", type=Path, default=None, help="intermediate files (default data/pipeline)")
    p.add_argument("--corpus", type=Path, default=None, help="corpus root (built there when missing)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the corpus even if it exists")
    p.add_argument("--judges", type=Path, default=None,
                   help="reuse judges trained earlier (directory of m2s_mouth.pt, sync_loss.pt, ...)")
    p.add_argument("--devset", type=Path, default=Path("data/devset"),
                   help="development set (training curves and evaluation; skipped when missing)")
    p.add_argument("--max-hours", type=float, default=None,
                   help="session time limit: past it, checkpoint and exit with status 3 (continue with --resume)")
    add_recipe_arguments(p)


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    from thunder_train.train_cli import load_recipe

    recipe = load_recipe(args)
    work = args.work or (args.out / "_work" if args.smoke else Path("data/pipeline"))
    corpus = args.corpus or (work / "corpus" if args.smoke else Path("data/corpus"))
    hours = args.max_hours if args.max_hours is not None else (
        args.max_minutes / 60.0 if args.max_minutes is not None else None)
    return PipelineConfig(out=args.out, recipe=recipe, work=work, corpus=corpus, rebuild=args.rebuild,
                          judges=args.judges, resume=args.resume, devset=None if args.smoke else args.devset,
                          deadline=None if hours is None else time.monotonic() + 3600.0 * hours)


def run(args: argparse.Namespace) -> int:
    from thunder_train.train_cli import EXIT_TIME_LIMIT, deterministic_process

    try:
        cfg = config_from_args(args)
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    deterministic_process()
    try:
        run_pipeline(cfg)
    except TimeLimitReached as e:
        print(f"STOPPED: {e}", file=sys.stderr, flush=True)
        return EXIT_TIME_LIMIT
    return 0
