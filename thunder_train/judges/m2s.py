"""Mesh-to-speech (M2S) judge: animation -> audio representation (THUNDER's analysis-by-audio-synthesis).

Input: the performance (B, T, 55) at 50 fps, of which only the mouth/jaw channels
(``core.channels.MOUTH_INDEX``, ``inputs="mouth"``) or all 55 channels (``inputs="all"``, the ablation) are
used. Output: the speaker-normalised log-mel pooled to 50 fps (B, T, 80), see ``audio_target``.
Trained on ground-truth corpus performances, then frozen; the generator is trained through it with
``m2s_loss``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from thunder_blender.core.channels import MOUTH_INDEX, N_CHANNELS

from .data import N_MELS, THREADS, Item, _log, crop_batch, load_items, mask_to_mel, normalise_torch
from .nets import TemporalNet, fit, load_judge, save_judge


@dataclass
class M2SConfig:
    """Values: ``thunder_train/recipe.toml`` [judges.m2s] (``Recipe.m2s_config``)."""

    inputs: str                  # "mouth" (MOUTH_INDEX channels) or "all" (55 channels)
    hidden: int
    kernel: int
    dilations: tuple[int, ...]
    dropout: float
    crop: int                    # training crop, frames at 50 fps
    batch: int
    steps: int                   # optimiser steps (warm-up then cosine over exactly these)
    lr: float
    max_items: int | None
    seed: int


class M2S(nn.Module):
    """(B, T, 55) performance -> (B, T, 80) predicted speaker-normalised log-mel at 50 fps."""

    def __init__(self, cfg: M2SConfig):
        super().__init__()
        if cfg.inputs not in ("mouth", "all"):
            raise ValueError(f"M2S inputs must be 'mouth' or 'all', got {cfg.inputs!r}")
        self.cfg = cfg
        self.channels = list(MOUTH_INDEX) if cfg.inputs == "mouth" else list(range(N_CHANNELS))
        self.net = TemporalNet(len(self.channels), N_MELS, cfg.hidden, cfg.kernel, tuple(cfg.dilations), cfg.dropout)

    def forward(self, perf: torch.Tensor) -> torch.Tensor:
        return self.net(perf[..., self.channels])


def audio_target(mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Audio representation the M2S predicts.

    mel: (B, Tm, 80) raw log-mel at 100 fps (or already normalised; normalising twice is harmless).
    mask: optional (B, T) bool of valid 50 fps frames (padding excluded from the statistics).
    Returns (B, Tm // 2, 80): per-utterance normalised log-mel averaged over frame pairs (50 fps).
    """
    tm = mel.shape[1] - mel.shape[1] % 2
    mel = mel[:, :tm]
    mmask = None if mask is None else mask_to_mel(mask, tm)
    norm = normalise_torch(mel, mmask)
    return 0.5 * (norm[:, 0::2] + norm[:, 1::2])


def m2s_loss(m2s: nn.Module, x0: torch.Tensor, mel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean squared error between M2S(x0) and the audio target; differentiable w.r.t. x0.

    x0: (B, T, 55) predicted clean performance; mel: (B, Tm, 80) raw log-mel at 100 fps;
    mask: (B, T) bool valid frames. The M2S should be frozen (``load_m2s``).
    """
    with torch.no_grad():
        target = audio_target(mel, mask)
    t = min(x0.shape[1], target.shape[1], mask.shape[1])
    pred = m2s(x0[:, :t])
    m = mask[:, :t].to(pred.dtype).unsqueeze(-1)
    err = ((pred - target[:, :t]) ** 2 * m).sum()
    return err / (m.sum() * pred.shape[-1]).clamp_min(1.0)


def _delay(perf: np.ndarray, k: int) -> np.ndarray:
    """(T, 55) -> (T, 55) delayed by k frames (first frame repeated)."""
    return np.concatenate([np.repeat(perf[:1], k, axis=0), perf[:-k]]) if k > 0 else perf


def _eval_loss(model: M2S, items: list[Item], shuffle: bool = False, seed: int = 0, delay: int = 0) -> float:
    """Mean per-frame MSE over whole items (optionally with each performance's frames shuffled in time,
    or delayed by ``delay`` frames against the audio)."""
    rng = np.random.default_rng(seed)
    tot, n = 0.0, 0
    with torch.no_grad():
        for it in items:
            perf = it.perf[rng.permutation(len(it.perf))] if shuffle else _delay(it.perf, delay)
            x = torch.from_numpy(perf)[None]
            mel = torch.from_numpy(it.mel)[None]
            mask = torch.ones(1, len(it.perf), dtype=torch.bool)
            tot += float(m2s_loss(model, x, mel, mask)) * len(it.perf)
            n += len(it.perf)
    return tot / max(n, 1)


def train_m2s_items(train: list[Item], val: list[Item], cfg: M2SConfig, log=_log, deadline: float | None = None) -> tuple[M2S, dict]:
    """Train an M2S on prepared items; returns the frozen model and its validation numbers."""
    torch.manual_seed(cfg.seed)
    model = M2S(cfg)

    def step_loss(model, rng):
        perf, mel, _, mask = crop_batch(train, rng, cfg.batch, cfg.crop)
        return m2s_loss(model, perf, mel, mask), ""

    metrics = fit(model, cfg, step_loss, f"m2s[{cfg.inputs}]", log, deadline=deadline)
    if val:
        # Target variance is ~1 per bin after normalisation (pair averaging lowers it a little), so
        # 1 - mse is roughly the explained variance; the shuffled-frame loss is the chance level.
        metrics["val_mse"] = _eval_loss(model, val)
        metrics["val_mse_shuffled_perf"] = _eval_loss(model, val, shuffle=True, seed=cfg.seed)
        for k in (2, 5, 10):  # 40, 100, 200 ms late: how sharply the loss sees a sync error
            metrics[f"val_mse_delay{k}"] = _eval_loss(model, val, delay=k)
    return model, metrics


def save_m2s(model: M2S, path: str | Path, metrics: dict | None = None) -> Path:
    return save_judge("m2s", model, path, metrics)


def load_m2s(path: str | Path) -> M2S:
    """Load a trained M2S checkpoint as a frozen module (eval mode, parameters without gradients)."""
    return load_judge(path, "m2s", "an M2S", M2S, M2SConfig)


def train_m2s(corpus_root: str | Path, out_path: str | Path, cfg: M2SConfig | None = None,
              inputs: str | None = None, items: tuple[list[Item], list[Item]] | None = None,
              log=_log) -> Path:
    """Train an M2S on the corpus's train (+ real_train) split, validate on val, save to ``out_path``.

    inputs: "mouth" | "all" overrides ``cfg.inputs``. ``items`` = (train, val) reuses prepared data.
    """
    if cfg is None:
        from thunder_train.recipe import Recipe

        cfg = Recipe.load().m2s_config(inputs or "mouth")
    elif inputs is not None:
        cfg = M2SConfig(**{**asdict(cfg), "inputs": inputs})
    torch.set_num_threads(THREADS)
    if items is None:
        train = load_items(corpus_root, ("train", "real_train"), cfg.max_items, cfg.seed)
        val = load_items(corpus_root, ("val",), 300, cfg.seed)
    else:
        train, val = items
    model, metrics = train_m2s_items(train, val, cfg, log=log)
    log(f"m2s[{cfg.inputs}] {metrics}")
    return save_m2s(model, out_path, metrics)
