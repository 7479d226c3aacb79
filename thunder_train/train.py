"""Generator training: deterministic baseline and diffusion variants (with the frozen M2S / sync judges).

Variants (``TrainConfig.variant``):
  deterministic        regression baseline, same encoder/decoder layers as the denoiser
  diffusion            x0-prediction diffusion
  diffusion_m2s        + THUNDER loss: the one-step x0 estimate goes through the frozen mesh-to-speech
                         network and must reproduce the input audio representation
  diffusion_m2s_sync   + Learn2Talk-style 3D sync-expert loss on the same x0 estimate

Losses (all masked to valid frames), in the normalised performance space:
  x0 MSE (mouth channels weighted ``w_mouth``; lip-shape channels also by ``1 + w_extremum * max(target z-score, 0)``)
  + ``w_vel`` * velocity MSE (same weights)
  + ``w_closure`` * BCE(closure head) + ``w_phone`` * CE(phone head)       (encoder auxiliary heads)
  + ``w_viseme`` * CE(viseme head)                                          (when the encoder has one)
  + ``w_m2s`` * judges.m2s.m2s_loss + ``w_sync`` * judges.sync.sync_loss      (on the denormalised x0)
  + ``w_anchor`` * upper-face MSE to the frozen ``init_from`` model's prediction    (judge variants only)

Phone conditioning: the denoiser sees the crop's phone classes (``core.phones.phone_input``) as a transcript
aligner would give them, or not at all, so one model serves both modes. A crop has no phones with
probability ``phone_drop``; otherwise one random stretch (``phone_span_drop``) is left unknown, as where an
alignment is unsure, and the labels are shifted by up to ``phone_jitter`` frames, an aligner's boundary error.

The judge losses push the mouth towards the audio; through the shared layers they also pull the upper face
(mostly the brows) towards what the audio implies, which costs take-to-take diversity. ``w_anchor`` counters
this: the judge variants fine-tune a trained diffusion model (``init_from``) and keep its upper-face
predictions, on the same noisy input, close to that model's.
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from thunder_blender.core.channels import EMOTIONS, INDEX, MOUTH_INDEX, N_CHANNELS, UPPER_INDEX
from thunder_blender.core.phones import N_PHONE_INPUT, N_PHONES, UNKNOWN
from thunder_train.checkpoint import RunDir, TimeLimitReached, atomic_save, capture, restore
from thunder_train.data import BatchConfig, Batcher, perf_stats
from thunder_train.diffusion import Diffusion
from thunder_train.networks import Generator, NetConfig, count_parameters

VARIANTS = ("deterministic", "diffusion", "diffusion_m2s", "diffusion_m2s_sync")


@dataclass
class TrainConfig:
    """One generator run. Values come from the recipe (``Recipe.train_config``), never from defaults here."""

    variant: str
    steps: int                       # the run ends after this many optimiser steps (and only then)
    lr: float                        # peak learning rate
    warmup: int                      # linear warm-up steps, then cosine decay to 0 at ``steps``
    weight_decay: float
    cond_drop: float                 # emotion -> "auto" (null) with this probability (CFG / auto)
    w_mouth: float
    w_vel: float
    w_closure: float
    closure_pos_weight: float        # closure frames are ~4% of frames: weight positives in the head's BCE
    closure_frame_weight: float      # x0 loss weight of closure frames (lip seals are short and matter)
    w_extremum: float                # mouth x0/vel weight grows by w_extremum per target std above the mean
    w_phone: float
    w_viseme: float                  # viseme head CE (encoders with ``net.viseme_head``)
    phone_drop: float                # crops without phone input (audio-only mode)
    phone_span_drop: float           # crops with phones whose one random stretch is unknown
    phone_jitter: int                # phone labels shifted by up to this many frames (aligner error)
    w_m2s: float
    w_sync: float
    w_anchor: float                  # upper-face anchor to the frozen init_from model (judge variants)
    seed: int
    log_every: int                   # training-loss rows in the log and metrics.jsonl
    eval_every: int                  # development-metric rows (val_fn) in metrics.jsonl
    val_utts: int
    checkpoint_every: int
    keep_checkpoints: int
    threads: int                     # torch intra-op threads (part of bit-exact reproducibility)
    batch: BatchConfig
    net: NetConfig
    m2s_path: str | None = None
    sync_path: str | None = None
    init_from: str | None = None     # start from this generator checkpoint (same architecture)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of optimiser step ``step`` (1-based): linear warm-up, then cosine decay to 0 at cfg.steps."""
    warm = min(1.0, step / max(1, cfg.warmup))
    return cfg.lr * warm * 0.5 * (1 + np.cos(np.pi * min(1.0, step / cfg.steps)))


def _masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, w: torch.Tensor,
                elem: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted mean squared error; mask (B, T) bool or float frame weights, w (C,) channel weights,
    elem (B, T, C) optional element weights. Divided by the total weight, so weights move emphasis
    between elements without changing the loss's scale."""
    m = mask.to(pred.dtype).unsqueeze(-1)
    if elem is None:
        return (((pred - target) ** 2) * w * m).sum() / (m.sum() * w.sum()).clamp_min(1.0)
    wt = elem * w * m
    return (((pred - target) ** 2) * wt).sum() / wt.sum().clamp_min(1.0)


# channels whose peaks the plain loss under-shoots (lip shape: rounding and spreading); jaw and closure
# reach their targets without help and overshoot with it (docs/TRAINING.md, "Levers measured ...")
EXTREMUM_CHANNELS = ("mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft",
                     "mouthSmileRight")


def extremum_weights(x0: torch.Tensor, w_extremum: float) -> torch.Tensor:
    """(B, T, C) loss weights ``1 + w_extremum * max(x0, 0)`` on ``EXTREMUM_CHANNELS``, 1 elsewhere.

    ``x0`` is the normalised target (std units above the channel mean), so a rounded /u/ with pucker two
    std above the mean weighs ``1 + 2 w_extremum``: the MSE minimiser, a weighted conditional mean, moves
    towards the articulation extremes instead of averaging them away.
    """
    w = torch.ones_like(x0)
    if w_extremum > 0:
        idx = [INDEX[n] for n in EXTREMUM_CHANNELS]
        w[..., idx] = 1.0 + w_extremum * x0[..., idx].clamp_min(0.0)
    return w


def channel_weights(w_mouth: float) -> torch.Tensor:
    w = torch.ones(N_CHANNELS)
    w[list(MOUTH_INDEX)] = w_mouth
    return w


def phone_condition(phone: torch.Tensor, mask: torch.Tensor, cfg: TrainConfig,
                    tgen: torch.Generator) -> torch.Tensor:
    """(B, T) int64 phone classes + (B, T) bool valid frames -> (B, T, N_PHONE_INPUT) denoiser phone input,
    with the dropout, unknown stretches and boundary jitter described in the module docstring."""
    B, T = phone.shape
    cls = phone.clone()
    shift = torch.randint(-cfg.phone_jitter, cfg.phone_jitter + 1, (B,), generator=tgen)
    idx = torch.arange(T)[None, :] - shift[:, None]
    inside = (idx >= 0) & (idx < T)
    cls = torch.where(inside, torch.gather(cls, 1, idx.clamp(0, T - 1)), torch.full_like(cls, UNKNOWN))
    cls[~mask] = UNKNOWN
    cls[torch.rand(B, generator=tgen) < cfg.phone_drop] = UNKNOWN
    span = torch.rand(B, generator=tgen) < cfg.phone_span_drop
    length = (torch.rand(B, generator=tgen) * 0.5 * T).long()
    start = (torch.rand(B, generator=tgen) * T).long()
    t = torch.arange(T)[None, :]
    cls[span[:, None] & (t >= start[:, None]) & (t < (start + length)[:, None])] = UNKNOWN
    known = cls >= 0
    out = torch.zeros(B, T, N_PHONE_INPUT)
    out[..., :N_PHONES] = F.one_hot(cls.clamp_min(0), N_PHONES).to(torch.float32) * known[..., None]
    out[..., N_PHONES] = known.to(torch.float32)
    return out


def build_generator(cfg: TrainConfig, utts: list | None) -> Generator:
    gen = Generator(cfg.net, regression=cfg.variant == "deterministic")
    if cfg.init_from:
        ck = torch.load(cfg.init_from, map_location="cpu", weights_only=False)
        gen.load_state_dict(ck["state"])
    elif utts:
        mean, std = perf_stats(utts, seed=cfg.seed)
        gen.perf_mean.copy_(torch.from_numpy(mean))
        gen.perf_std.copy_(torch.from_numpy(std))
    return gen


def generator_loss(gen: Generator, diff: Diffusion, batch: dict, cfg: TrainConfig, tgen: torch.Generator,
                   judges: dict) -> tuple[torch.Tensor, dict]:
    """Total loss (scalar) and its parts as floats. ``judges``: frozen "m2s", "sync", "anchor" models."""
    mask = batch["mask"]
    x0 = gen.normalise(batch["perf"])
    B = x0.shape[0]
    emotion = batch["emotion"].clone()
    intensity = batch["intensity"].clone()
    drop = torch.rand(B, generator=tgen) < cfg.cond_drop
    emotion[drop] = 0
    intensity[drop] = 0.0
    feats = gen.encoder(batch["mel"])
    T = min(feats.shape[1], x0.shape[1])
    feats, x0, mask = feats[:, :T], x0[:, :T], mask[:, :T]
    if gen.regression:
        t = torch.zeros(B, dtype=torch.int64)
        x_t = torch.zeros_like(x0)
    else:
        t = diff.sample_t(B, tgen)
        x_t = diff.q_sample(x0, t, torch.randn(x0.shape, generator=tgen))
    phones = phone_condition(batch["phone"][:, :T], mask, cfg, tgen)
    pred = gen.denoiser(x_t, feats, t, emotion, intensity, phones)
    w = channel_weights(cfg.w_mouth)
    closure = batch["closure"][:, :T]
    fw = mask.to(torch.float32) * (1.0 + (cfg.closure_frame_weight - 1.0) * closure.to(torch.float32))
    ew = extremum_weights(x0, cfg.w_extremum) if cfg.w_extremum > 0 else None
    parts = {"x0": _masked_mse(pred, x0, fw, w, ew)}
    vmask = mask[:, 1:] & mask[:, :-1]
    parts["vel"] = _masked_mse(pred[:, 1:] - pred[:, :-1], x0[:, 1:] - x0[:, :-1], vmask, w,
                               None if ew is None else torch.maximum(ew[:, 1:], ew[:, :-1]))
    c_logit, p_logit = gen.encoder.heads(feats)
    m = mask.to(torch.float32)
    parts["closure"] = (F.binary_cross_entropy_with_logits(
        c_logit, closure.to(torch.float32), reduction="none",
        pos_weight=torch.tensor(cfg.closure_pos_weight)) * m).sum() / m.sum()
    parts["phone"] = (F.cross_entropy(p_logit.transpose(1, 2), batch["phone"][:, :T], reduction="none")
                      * m).sum() / m.sum()
    loss = parts["x0"] + cfg.w_vel * parts["vel"] + cfg.w_closure * parts["closure"] + cfg.w_phone * parts["phone"]
    v_logit = gen.encoder.viseme_logits(feats)
    if v_logit is not None:
        parts["viseme"] = (F.cross_entropy(v_logit.transpose(1, 2), batch["viseme"][:, :T], reduction="none")
                           * m).sum() / m.sum()
        loss = loss + cfg.w_viseme * parts["viseme"]
    if "anchor" in judges:
        ref = judges["anchor"]
        with torch.no_grad():
            ref_pred = ref.denoiser(x_t, ref.encoder(batch["mel"])[:, :T], t, emotion, intensity, phones)
        up = list(UPPER_INDEX)
        parts["anchor"] = _masked_mse(pred[..., up], ref_pred[..., up], mask, torch.ones(len(up)))
        loss = loss + cfg.w_anchor * parts["anchor"]
    if "m2s" in judges or "sync" in judges:
        raw = gen.denormalise(pred)
        mel = batch["mel_clean"][:, : 2 * T]
        if "m2s" in judges:
            from thunder_train.judges.m2s import m2s_loss
            parts["m2s"] = m2s_loss(judges["m2s"], raw, mel, mask)
            loss = loss + cfg.w_m2s * parts["m2s"]
        if "sync" in judges:
            from thunder_train.judges.sync import sync_loss
            parts["sync"] = sync_loss(judges["sync"], raw, mel, mask)
            loss = loss + cfg.w_sync * parts["sync"]
    return loss, {k: float(v.detach()) for k, v in parts.items()}


def load_judges(cfg: TrainConfig) -> dict:
    judges = {}
    if cfg.variant in ("diffusion_m2s", "diffusion_m2s_sync"):
        from thunder_train.judges.m2s import load_m2s
        if not cfg.m2s_path:
            raise ValueError(f"variant {cfg.variant} needs m2s_path")
        judges["m2s"] = load_m2s(cfg.m2s_path)
    if cfg.variant == "diffusion_m2s_sync":
        from thunder_train.judges.sync import load_sync
        if not cfg.sync_path:
            raise ValueError(f"variant {cfg.variant} needs sync_path")
        judges["sync"] = load_sync(cfg.sync_path)
    if judges and cfg.w_anchor > 0:
        if not cfg.init_from:
            raise ValueError("w_anchor needs init_from (the diffusion model whose upper face is kept)")
        anchor, _ = load_checkpoint(cfg.init_from)
        judges["anchor"] = anchor.requires_grad_(False)
    return judges


def train(cfg: TrainConfig, train_utts: list, log=print, val_fn=None, run_dir: str | Path | None = None,
          resume: bool = False, deadline: float | None = None, provenance: dict | None = None,
          val_split: str = "val") -> tuple[Generator, dict]:
    """Train one variant for exactly ``cfg.steps`` optimiser steps.

    run_dir: checkpoints every ``cfg.checkpoint_every`` steps and ``metrics.jsonl`` (``checkpoint.RunDir``).
    resume: continue from the newest checkpoint in ``run_dir`` (a fresh start when there is none); the
    result is the same as that of a run that never stopped.
    deadline: ``time.monotonic()`` value after which the run writes a checkpoint and raises
    ``TimeLimitReached`` (a time limit aborts a run; it never ends one).
    val_fn(gen) -> dict: development metrics, every ``cfg.eval_every`` steps and at the end (``val_split``).
    provenance: recipe settings and hash stored in every checkpoint.
    """
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    random.seed(cfg.seed)
    tgen = torch.Generator().manual_seed(cfg.seed)
    gen = build_generator(cfg, train_utts)
    judges = load_judges(cfg)
    diff = Diffusion()
    batcher = Batcher(train_utts, cfg.batch, seed=cfg.seed)
    opt = torch.optim.AdamW(gen.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rd = RunDir(run_dir, keep=cfg.keep_checkpoints) if run_dir is not None else None
    window = max(cfg.log_every, 100)
    hist: dict[str, list[float]] = {}
    start = 0
    if resume and rd is not None and rd.latest() is not None:
        state = rd.load()
        if _settings(state["extra"].get("train", {})) != _settings(_cfg_dict(cfg)):
            raise ValueError(f"{rd.latest()} was written with other settings than this run's; "
                             "resume with the same recipe or start a new run directory")
        had, has = state["extra"].get("recipe_hash"), (provenance or {}).get("recipe_hash")
        if had != has:
            raise ValueError(f"{rd.latest()} was written with recipe {had}, this run's recipe is {has}; "
                             "a run continues only with the recipe it started with")
        start, extra = restore(state, gen, opt, {"diffusion": tgen})
        batcher.set_state(extra["batcher"])
        hist = extra["hist"]
        rd.truncate_metrics(start)
        log(f"[{cfg.variant}] resumed at step {start} from {rd.latest()}")
    elif rd is not None and rd.latest() is not None:
        raise FileExistsError(f"{rd.path} already holds checkpoints: pass --resume to continue that run "
                              "or choose another output")

    def checkpoint(step: int) -> Path | None:
        if rd is None:
            return None
        return rd.save(capture(step, gen, opt, {"diffusion": tgen}, batcher=batcher.state(), hist=hist,
                               train=_cfg_dict(cfg), **(provenance or {})))

    t0 = time.monotonic()
    log(f"[{cfg.variant}] encoder {count_parameters(gen.encoder):,} + denoiser "
        f"{count_parameters(gen.denoiser):,} parameters; {len(batcher.utts)} utterances; "
        f"augmentation {'on' if batcher.augmenting else 'OFF'}; steps {start + 1}..{cfg.steps}")
    for step in range(start + 1, cfg.steps + 1):
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step)
        gen.train()
        batch = batcher.next()
        loss, parts = generator_loss(gen, diff, batch, cfg, tgen, judges)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), 1.0)
        opt.step()
        for k, v in parts.items():
            hist.setdefault(k, []).append(v)
            del hist[k][:-window]
        if step % cfg.log_every == 0:
            means = {k: float(np.mean(v[-cfg.log_every:])) for k, v in hist.items()}
            log(f"[{cfg.variant}] step {step} " + " ".join(f"{k} {v:.4f}" for k, v in means.items())
                + f" ({time.monotonic() - t0:.0f}s)")
            if rd is not None:
                rd.log_metrics(step, "train", {"lr": lr_at(cfg, step), **means})
        if val_fn is not None and cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
            _validate(gen, val_fn, rd, step, val_split, cfg, log)
        saved = None
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            saved = checkpoint(step)
        if deadline is not None and time.monotonic() > deadline and step < cfg.steps:
            raise TimeLimitReached(f"generator {cfg.variant}", step, cfg.steps, saved or checkpoint(step))
    gen.eval()
    info = {"variant": cfg.variant, "steps": cfg.steps, "augmentation": batcher.augmenting,
            "seconds": round(time.monotonic() - t0, 1), "resumed_from_step": start,
            "final_losses": {k: round(float(np.mean(v[-100:])), 5) for k, v in hist.items()},
            "parameters": {"encoder": count_parameters(gen.encoder), "denoiser": count_parameters(gen.denoiser)}}
    if val_fn is not None:  # logged only when this call trained (a finished run was logged before)
        info["val"] = _validate(gen, val_fn, rd if start < cfg.steps else None, cfg.steps, val_split, cfg, log)
    return gen, info


def _validate(gen: Generator, val_fn, rd: RunDir | None, step: int, split: str, cfg: TrainConfig, log) -> dict:
    val = val_fn(gen)
    log(f"[{cfg.variant}] step {step} {split} {val}")
    if rd is not None:
        rd.log_metrics(step, split, val)
    return val


def save_checkpoint(gen: Generator, cfg: TrainConfig, info: dict, path: str | Path,
                    provenance: dict | None = None) -> Path:
    """The finished model (weights, settings, training record, recipe provenance), written atomically."""
    return atomic_save({"kind": "generator", "variant": cfg.variant, "regression": gen.regression,
                        "net": gen.cfg.to_dict(), "train": _cfg_dict(cfg), "info": info,
                        "state": gen.state_dict(), **(provenance or {})}, path)


PATH_FIELDS = ("m2s_path", "sync_path", "init_from")


def _settings(d: dict) -> dict:
    """A run's settings without the file locations (a run may continue in another directory)."""
    return {k: v for k, v in d.items() if k not in PATH_FIELDS}


def _cfg_dict(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    d["emotions"] = list(EMOTIONS)
    return d


def load_checkpoint(path: str | Path) -> tuple[Generator, dict]:
    ck = torch.load(Path(path), map_location="cpu", weights_only=False)
    if ck.get("kind") != "generator":
        raise ValueError(f"{path} is not a generator checkpoint")
    gen = Generator(NetConfig.from_dict(ck["net"]), regression=ck["regression"])
    gen.load_state_dict(ck["state"])
    gen.eval()
    return gen, ck
