"""3D sync experts (SyncNet / Learn2Talk SyncNet3D style): audio window vs mouth window embeddings.

An audio window of 0.2 s (20 mel frames at 100 fps) and a mouth window of the same 0.2 s (10 frames at
50 fps, ``core.channels.MOUTH_INDEX`` channels) are embedded into unit vectors; in sync they are close.
Both encoders are fully convolutional without padding, so one pass over a sequence gives the embedding
of every window: position ``p`` = perf frames [p, p + W) = mel frames [2p, 2p + 2W).

Training is contrastive over time offsets: for each audio window, the candidates are the mouth windows of
the same clip shifted by -K..K frames plus the aligned windows of the other clips in the batch; the
true (unshifted) one must win (softmax over cosine similarities / temperature).

Two copies are trained: the *loss* expert (seed 0, one half of the data) for ``sync_loss`` and the *eval*
expert (seed 1, the other half) for LSE-D / LSE-C only (``data.voice_half``: voices alternate within
each source, a single-voice source is split by utterance).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from thunder_blender.core.channels import MOUTH_INDEX

from .data import N_MELS, Item, _log, crop_batch, mask_to_mel, mouth, normalise_torch
from .nets import fit, load_judge, save_judge

WINDOW = 10  # frames at 50 fps (0.2 s)


@dataclass
class SyncConfig:
    """Values: ``thunder_train/recipe.toml`` [judges.sync] (``Recipe.sync_config``)."""

    hidden: int
    emb: int
    max_shift: int             # training negatives: same-clip shifts of +-max_shift frames
    temperature: float
    crop: int
    batch: int
    steps: int
    lr: float
    seed: int


def _stack(c_in: int, hidden: int, emb: int, first: nn.Module) -> nn.Sequential:
    """Valid (unpadded) convolutions over 50 fps positions with kernels 3, 3, 3, 4 (window 10 frames)."""
    layers: list[nn.Module] = [first, nn.GELU()]
    for k in (3, 3, 3, 4):
        layers += [nn.Conv1d(hidden, hidden, k), nn.GroupNorm(1, hidden), nn.GELU()]
    layers.append(nn.Conv1d(hidden, emb, 1))
    return nn.Sequential(*layers)


class SyncExpert(nn.Module):
    def __init__(self, cfg: SyncConfig):
        super().__init__()
        self.cfg = cfg
        # audio: 100 fps -> 50 fps with a kernel-2 stride-2 conv, then the same window stack
        self.audio = _stack(N_MELS, cfg.hidden, cfg.emb, nn.Conv1d(N_MELS, cfg.hidden, 2, stride=2))
        self.mouth = _stack(len(MOUTH_INDEX), cfg.hidden, cfg.emb, nn.Conv1d(len(MOUTH_INDEX), cfg.hidden, 1))

    def embed_audio(self, mel_norm: torch.Tensor) -> torch.Tensor:
        """(B, Tm, 80) normalised log-mel -> (B, Tm // 2 - W + 1, E) unit embeddings."""
        return F.normalize(self.audio(mel_norm.transpose(1, 2)).transpose(1, 2), dim=-1)

    def embed_mouth(self, perf: torch.Tensor) -> torch.Tensor:
        """(B, T, 55) performance -> (B, T - W + 1, E) unit embeddings."""
        return F.normalize(self.mouth(mouth(perf).transpose(1, 2)).transpose(1, 2), dim=-1)


def _window_mask(mask: torch.Tensor) -> torch.Tensor:
    """(B, T) valid frames -> (B, T - W + 1) windows lying fully inside the valid frames."""
    return mask.float().unfold(1, WINDOW, 1).min(dim=-1).values > 0.5


def _shift_logits(a: torch.Tensor, v: torch.Tensor, k: int, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Similarities of audio window p with mouth windows p + o, o in [-k, k].

    a, v: (B, P, E). Returns logits (B, P - 2k, 2k + 1) for positions p in [k, P - k) and those positions.
    """
    p = a.shape[1]
    pos = torch.arange(k, p - k)
    cand = torch.stack([v[:, pos + o] for o in range(-k, k + 1)], dim=2)      # (B, P', 2k+1, E)
    logits = (a[:, pos].unsqueeze(2) * cand).sum(-1) / tau
    return logits, pos


def contrastive_loss(expert: SyncExpert, perf: torch.Tensor, mel_norm: torch.Tensor, mask: torch.Tensor,
                     k: int, tau: float, cross_batch: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Offset-contrastive loss and the fraction of windows whose true offset wins; perf (B,T,55),
    mel_norm (B,2T,80) normalised, mask (B,T)."""
    a = expert.embed_audio(mel_norm)
    v = expert.embed_mouth(perf)
    n = min(a.shape[1], v.shape[1])
    a, v = a[:, :n], v[:, :n]
    wmask = _window_mask(mask)[:, :n]
    logits, pos = _shift_logits(a, v, k, tau)
    if cross_batch and a.shape[0] > 1:
        other = torch.einsum("bpe,cpe->bpc", a[:, pos], v[:, pos]) / tau            # (B, P', B)
        eye = torch.eye(a.shape[0], dtype=torch.bool).unsqueeze(1)
        other = other.masked_fill(eye, float("-inf"))
        logits = torch.cat([logits, other], dim=-1)
    valid = wmask[:, pos]
    for o in range(-k, k + 1):  # candidate windows must be valid too
        valid = valid & wmask[:, pos + o]
    target = torch.full(logits.shape[:2], k, dtype=torch.long)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none")
    ce = ce.reshape(valid.shape)
    vf = valid.float()
    loss = (ce * vf).sum() / vf.sum().clamp_min(1.0)
    acc = ((logits.argmax(-1) == k).float() * vf).sum() / vf.sum().clamp_min(1.0)
    return loss, acc


def sync_loss(expert: SyncExpert, x0: torch.Tensor, mel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sync training loss for the generator (differentiable w.r.t. x0; the expert should be frozen).

    x0: (B, T, 55); mel: (B, Tm, 80) raw log-mel at 100 fps; mask: (B, T) bool.
    -log p(true offset) among the generated mouth windows shifted by -K..K frames (same clip only).
    """
    t = min(x0.shape[1], mel.shape[1] // 2, mask.shape[1])
    with torch.no_grad():
        mel_norm = normalise_torch(mel[:, : 2 * t], mask_to_mel(mask[:, :t], 2 * t))
    k = expert.cfg.max_shift
    if t - WINDOW + 1 <= 2 * k:
        return x0.sum() * 0.0
    loss, _ = contrastive_loss(expert, x0[:, :t], mel_norm, mask[:, :t], k, expert.cfg.temperature,
                               cross_batch=False)
    return loss


def offset_distances(expert: SyncExpert, perf: np.ndarray, mel_norm: np.ndarray, max_offset: int = 15
                     ) -> np.ndarray | None:
    """Mean embedding distance per audio-visual offset for one clip.

    perf: (T, 55); mel_norm: (2T, 80) normalised. Returns (2 * max_offset + 1,) mean Euclidean distance
    between unit embeddings (range 0..2) of audio window p and mouth window p + o, over the positions p
    where every offset is available; None when the clip is too short.
    """
    with torch.no_grad():
        a = expert.embed_audio(torch.from_numpy(np.ascontiguousarray(mel_norm))[None])[0]
        v = expert.embed_mouth(torch.from_numpy(np.ascontiguousarray(perf, dtype=np.float32))[None])[0]
    n = min(a.shape[0], v.shape[0])
    if n <= 2 * max_offset + 1:
        return None
    pos = torch.arange(max_offset, n - max_offset)
    d = [torch.linalg.vector_norm(a[pos] - v[pos + o], dim=-1).mean() for o in range(-max_offset, max_offset + 1)]
    return torch.stack(d).numpy().astype(np.float64)


def train_sync_items(train: list[Item], val: list[Item], cfg: SyncConfig, log=_log, deadline: float | None = None) -> tuple[SyncExpert, dict]:
    torch.manual_seed(cfg.seed)
    model = SyncExpert(cfg)

    def step_loss(model, rng):
        perf, mel, _, mask = crop_batch(train, rng, cfg.batch, cfg.crop)
        mel = normalise_torch(mel, mask_to_mel(mask, mel.shape[1]))
        loss, acc = contrastive_loss(model, perf, mel, mask, cfg.max_shift, cfg.temperature)
        return loss, f" acc {acc.item():.3f}"

    metrics = fit(model, cfg, step_loss, f"sync[seed {cfg.seed}]", log, deadline=deadline)
    if val:
        metrics.update(evaluate_sync(model, val))
    return model, metrics


def evaluate_sync(model: SyncExpert, items: list[Item], max_offset: int = 15) -> dict:
    """Window-level accuracy (true offset wins among +-max_shift same-clip shifts) and clip-level
    offset accuracy (argmin of the mean distance curve over +-max_offset is 0, or within 1 frame)."""
    accs, exact, near, lse_d, lse_c = [], [], [], [], []
    with torch.no_grad():
        for it in items:
            t = len(it.perf)
            mask = torch.ones(1, t, dtype=torch.bool)
            if t - WINDOW + 1 > 2 * model.cfg.max_shift:
                _, acc = contrastive_loss(model, torch.from_numpy(it.perf)[None], torch.from_numpy(it.mel)[None],
                                          mask, model.cfg.max_shift, model.cfg.temperature, cross_batch=False)
                accs.append(float(acc))
            d = offset_distances(model, it.perf, it.mel, max_offset)
            if d is not None:
                best = int(np.argmin(d)) - max_offset
                exact.append(best == 0)
                near.append(abs(best) <= 1)
                lse_d.append(d[max_offset])
                lse_c.append(float(np.median(d) - d.min()))
    return {"window_acc": float(np.mean(accs)) if accs else None,
            "chance_window_acc": 1.0 / (2 * model.cfg.max_shift + 1),
            "clip_offset_acc": float(np.mean(exact)) if exact else None,
            "clip_offset_acc_1": float(np.mean(near)) if near else None,
            "lse_d": float(np.mean(lse_d)) if lse_d else None,
            "lse_c": float(np.mean(lse_c)) if lse_c else None,
            "n_clips": len(exact)}


def save_sync(model: SyncExpert, path: str | Path, metrics: dict | None = None) -> Path:
    return save_judge("sync", model, path, metrics)


def load_sync(path: str | Path) -> SyncExpert:
    """Load a sync expert as a frozen module."""
    return load_judge(path, "sync", "a sync-expert", SyncExpert, SyncConfig)
