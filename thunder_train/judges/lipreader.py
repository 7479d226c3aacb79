"""Independent lip reader: mouth channels -> phone class per frame (``thunder_train.phones.PHONE_CLASSES``).

Trained only on ground-truth performances and used only for evaluation (never as a training loss), so
its accuracy on generated animation measures how readable the lips are to a judge the generator never saw.
Context: +-7 frames (0.3 s total) of the mouth/jaw channels.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from thunder_blender.core.channels import MOUTH_INDEX
from thunder_train.phones import PHONE_CLASSES

from .data import THREADS, Item, _log, crop_batch, load_items, mouth
from .nets import TemporalNet, fit, load_judge, save_judge


@dataclass
class LipReaderConfig:
    """Values: ``thunder_train/recipe.toml`` [judges.lipreader] (``Recipe.lipreader_config``)."""

    hidden: int
    kernel: int
    dilations: tuple[int, ...]   # (1, 2, 4): receptive field 1 + 2 * 7 = 15 frames
    dropout: float
    crop: int
    batch: int
    steps: int
    lr: float
    max_items: int | None
    seed: int


class LipReader(nn.Module):
    """(B, T, 55) performance -> (B, T, n_classes) phone-class logits."""

    def __init__(self, cfg: LipReaderConfig):
        super().__init__()
        self.cfg = cfg
        self.net = TemporalNet(len(MOUTH_INDEX), len(PHONE_CLASSES), cfg.hidden, cfg.kernel,
                               tuple(cfg.dilations), cfg.dropout)

    def forward(self, perf: torch.Tensor) -> torch.Tensor:
        return self.net(mouth(perf))


def predict(model: LipReader, perf: np.ndarray) -> np.ndarray:
    """(T, 55) performance -> (T,) predicted phone-class ids."""
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(perf, dtype=np.float32))[None])[0]
    return logits.argmax(-1).numpy()


def accuracy(model: LipReader, items: list[Item]) -> dict:
    """Frame accuracy over all frames and over speech (non-silence) frames, plus the majority-class rate."""
    hit, n, hit_sp, n_sp = 0, 0, 0, 0
    counts = np.zeros(len(PHONE_CLASSES))
    for it in items:
        pred = predict(model, it.perf)
        ok = pred == it.phone_class
        sp = it.phone_class != 0
        hit += int(ok.sum())
        n += len(ok)
        hit_sp += int(ok[sp].sum())
        n_sp += int(sp.sum())
        counts += np.bincount(it.phone_class, minlength=len(PHONE_CLASSES))
    return {"frame_acc": hit / max(n, 1), "speech_frame_acc": hit_sp / max(n_sp, 1),
            "majority_rate": float(counts.max() / max(counts.sum(), 1)), "n_frames": n}


def train_lipreader_items(train: list[Item], val: list[Item], cfg: LipReaderConfig, log=_log, deadline: float | None = None
                          ) -> tuple[LipReader, dict]:
    torch.manual_seed(cfg.seed)
    model = LipReader(cfg)

    def step_loss(model, rng):
        perf, _, phone, mask = crop_batch(train, rng, cfg.batch, cfg.crop)
        logits = model(perf)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), phone.reshape(-1), reduction="none")
        m = mask.reshape(-1).float()
        return (ce * m).sum() / m.sum().clamp_min(1.0), ""

    metrics = fit(model, cfg, step_loss, "lipreader", log, clip=None, deadline=deadline)
    if val:
        metrics["val"] = accuracy(model, val)
    return model, metrics


def save_lipreader(model: LipReader, path: str | Path, metrics: dict | None = None) -> Path:
    return save_judge("lipreader", model, path, metrics)


def load_lipreader(path: str | Path) -> LipReader:
    return load_judge(path, "lipreader", "a lip-reader", LipReader, LipReaderConfig)


def train_lipreader(corpus_root: str | Path, out_path: str | Path, cfg: LipReaderConfig | None = None,
                    items: tuple[list[Item], list[Item]] | None = None, log=_log) -> Path:
    """Train on ground-truth train (+ real_train) performances, validate on val; save to ``out_path``."""
    if cfg is None:
        from thunder_train.recipe import Recipe

        cfg = Recipe.load().lipreader_config()
    torch.set_num_threads(THREADS)
    if items is None:
        train = load_items(corpus_root, ("train", "real_train"), cfg.max_items, cfg.seed)
        val = load_items(corpus_root, ("val",), 300, cfg.seed)
    else:
        train, val = items
    model, metrics = train_lipreader_items(train, val, cfg, log=log)
    log(f"lipreader {metrics}")
    return save_lipreader(model, out_path, metrics)
