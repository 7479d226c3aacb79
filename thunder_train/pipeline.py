"""``thunder-train all``: retrain everything from scratch and write the shipped model.

    thunder-train all --out models                 # corpus, judges, 5 generator variants, eval, export
    thunder-train all --out /tmp/m --smoke         # minutes-long check of the whole chain (CI)

Stages (intermediate files under ``--work``, default ``data/pipeline``):
  1. corpus      ``thunder_train.corpus.build`` (skipped when ``--corpus`` already holds one, unless --rebuild)
  2. judges      ``thunder_train.judges.train_all.train_all_judges`` (M2S, sync experts, lip reader)
  3. generators  deterministic baseline; a diffusion base model and its continuation ``diffusion``; then,
                 from ``diffusion`` with equal step budgets: +M2S and +M2S+sync (judges frozen, upper face
                 anchored to ``diffusion``) and the control ``diffusion_long`` (the same steps, no judges)
  4. export      every variant to ONNX (parity-checked) in ``work/variants/<name>``
  5. evaluation  ``thunder_train.evaluation.run.evaluate`` over the exported models -> metrics.json
  6. ship        the chosen variant's ONNX + model.json, metrics.json and MODEL_CARD.md into ``--out``
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train_cli

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

from thunder_blender.runtime.card import ModelCard  # noqa: E402

SHIP_ORDER = ("diffusion_m2s_sync", "diffusion_m2s", "diffusion")


@dataclass
class PipelineConfig:
    out: Path
    work: Path = Path("data/pipeline")
    corpus: Path = Path("data/corpus")
    hours: float = 12.0
    rebuild: bool = False
    judges: Path | None = None
    smoke: bool = False
    det_minutes: float = 8.0
    base_minutes: float = 9.0
    cont_minutes: float = 9.0
    cont_steps: int | None = 450     # equal step budget for every continuation (cont_minutes is then a cap)
    mouth_temperature: float = 0.0   # written into every exported card (the runtime's sampler)
    w_anchor: float = 20.0           # upper-face anchor of the judge variants (TrainConfig.w_anchor)
    batch: int = 16
    eval_utts: int = 40
    eval_seeds: tuple[int, ...] = (0, 1, 2, 3)
    steps: int = 8
    ship: str = "auto"
    status: str = "release"


def _log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def stage_corpus(cfg: PipelineConfig) -> Path:
    if (cfg.corpus / "meta.json").is_file() and not cfg.rebuild:
        _log(f"corpus: using existing {cfg.corpus}")
        return cfg.corpus
    from thunder_train.corpus.build import BuildConfig, build

    _log(f"corpus: building {cfg.hours} h into {cfg.corpus}")
    # the smoke run skips the recorded-speech alignment (minutes of pocketsphinx) to stay CI-sized
    build(BuildConfig(out=cfg.corpus, hours=cfg.hours, seed=0, workers=2, real=not cfg.smoke), log=_log)
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

    return train_all_judges(corpus, out, smoke=cfg.smoke, log=_log)


def stage_generators(cfg: PipelineConfig, corpus: Path, judges: dict[str, Path]) -> dict[str, Path]:
    from thunder_train.data import BatchConfig
    from thunder_train.train import TrainConfig
    from thunder_train.train_cli import run_training

    runs = cfg.work / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    base = TrainConfig(batch=BatchConfig(batch=cfg.batch), m2s_path=str(judges["m2s_mouth"]),
                       sync_path=str(judges["sync_loss"]), steps=40 if cfg.smoke else 100_000,
                       log_every=10 if cfg.smoke else 100)
    val_utts = 4 if cfg.smoke else 40
    ckpts: dict[str, Path] = {}
    info: dict[str, dict] = {}

    def one(name: str, variant: str, minutes: float, init: Path | None = None, w_anchor: float = 0.0) -> None:
        steps = cfg.cont_steps if init and cfg.cont_steps else base.steps
        c = replace(base, variant=variant, max_seconds=60.0 * minutes, init_from=str(init) if init else None,
                    steps=steps, warmup=10 if init else base.warmup, lr=base.lr * (0.5 if init else 1.0),
                    w_anchor=w_anchor)
        path = runs / f"{name}.pt"
        info[name] = run_training(c, corpus, path, log=_log, val_utts=val_utts)
        ckpts[name] = path

    one("deterministic", "deterministic", cfg.det_minutes)
    one("diffusion_base", "diffusion", cfg.base_minutes)
    one("diffusion", "diffusion", cfg.cont_minutes, init=ckpts["diffusion_base"])
    # THUNDER: fine-tune the diffusion model with the frozen judges, its upper face anchored to that model
    for v in ("diffusion_m2s", "diffusion_m2s_sync"):
        one(v, v, cfg.cont_minutes, init=ckpts["diffusion"], w_anchor=cfg.w_anchor)
    # control: the same number of further steps without the judges
    one("diffusion_long", "diffusion", cfg.cont_minutes, init=ckpts["diffusion"])
    (runs / "training.json").write_text(json.dumps(info, indent=1, default=str) + "\n")
    return ckpts


def stage_export(cfg: PipelineConfig, ckpts: dict[str, Path]) -> dict[str, Path]:
    from thunder_train.export_cli import export_checkpoint

    dirs = {}
    for name, ck in ckpts.items():
        if name == "diffusion_base":
            continue
        d = cfg.work / "variants" / name
        export_checkpoint(ck, d, steps=cfg.steps, status=cfg.status, mouth_temperature=cfg.mouth_temperature,
                          log=_log)
        dirs[name] = d
    return dirs


def add_card_variant(dirs: dict[str, Path], name: str, suffix: str, **card_changes) -> str:
    """Same weights as ``name`` with other runtime settings in its card (an extra evaluation row).

    ``_sealed``: closure_seal=True (lips sealed where the closure head fires); ``_tau1``: mouth_temperature=1
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


def stage_eval(cfg: PipelineConfig, corpus: Path, dirs: dict[str, Path]) -> dict:
    from thunder_train.evaluation.cli import onnx_sample_fn
    from thunder_train.evaluation.run import EvalConfig, evaluate

    ecfg = EvalConfig(seeds=cfg.eval_seeds, max_utts=cfg.eval_utts)
    variants = {name: onnx_sample_fn(d) for name, d in dirs.items()}
    return evaluate(variants, corpus, cfg.work / "judges", ecfg, log=_log)


def choose(cfg: PipelineConfig, dirs: dict[str, Path]) -> str:
    if cfg.ship != "auto":
        return cfg.ship
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
    dirs = timed("export", stage_export, cfg, ckpts)
    shipped = choose(cfg, dirs)
    sealed = add_card_variant(dirs, shipped, "_sealed", closure_seal=True)
    if cfg.mouth_temperature != 1.0:
        for name in ("diffusion", shipped):
            if name in dirs:
                add_card_variant(dirs, name, "_tau1", mouth_temperature=1.0)
    metrics = timed("evaluation", stage_eval, cfg, corpus, dirs)
    metrics["timings_s"] = timings
    if prefer_sealed(metrics, shipped):
        shipped = sealed
    metrics["ship_rule"] = ("main variant diffusion_m2s_sync; its closure-sealed copy is shipped instead when it "
                            "seals more p/b/m intervals without losing more than 0.01 lip PCC on any split")
    timed("ship", stage_ship, cfg, dirs, metrics, shipped)
    _log(f"pipeline done in {time.monotonic() - t0:.0f} s")
    return metrics


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="where the shipped model goes (e.g. models)")
    p.add_argument("--work", type=Path, default=None, help="intermediate files (default data/pipeline)")
    p.add_argument("--corpus", type=Path, default=None, help="corpus root (built there when missing)")
    p.add_argument("--hours", type=float, default=12.0)
    p.add_argument("--rebuild", action="store_true", help="rebuild the corpus even if it exists")
    p.add_argument("--judges", type=Path, default=None,
                   help="reuse judges trained earlier (directory of m2s_mouth.pt, sync_loss.pt, ...)")
    p.add_argument("--smoke", action="store_true", help="a few minutes end to end (tiny corpus, short runs)")
    p.add_argument("--det-minutes", type=float, default=8.0)
    p.add_argument("--base-minutes", type=float, default=9.0)
    p.add_argument("--cont-minutes", type=float, default=9.0, help="time budget of each continuation")
    p.add_argument("--cont-steps", type=int, default=450,
                   help="equal step budget for each continuation (same batches; --cont-minutes becomes a cap)")
    p.add_argument("--ship", default="auto", help="variant to ship (default: diffusion_m2s_sync)")
    p.add_argument("--status", default="release")


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    work = args.work or (args.out / "_work" if args.smoke else Path("data/pipeline"))
    if args.smoke:
        return PipelineConfig(out=args.out, work=work, corpus=args.corpus or work / "corpus", hours=0.05,
                              rebuild=args.rebuild, smoke=True, det_minutes=0.25, base_minutes=0.25,
                              cont_minutes=0.15, cont_steps=20, batch=4, eval_utts=3, eval_seeds=(0, 1), steps=4,
                              ship=args.ship, status="smoke")
    return PipelineConfig(out=args.out, work=work, corpus=args.corpus or Path("data/corpus"), hours=args.hours,
                          rebuild=args.rebuild, judges=args.judges, det_minutes=args.det_minutes, base_minutes=args.base_minutes,
                          cont_minutes=args.cont_minutes, cont_steps=args.cont_steps, ship=args.ship,
                          status=args.status)


def run(args: argparse.Namespace) -> int:
    run_pipeline(config_from_args(args))
    return 0
