"""Torch side of the diffusion process: the training schedule's constants, t sampling and ``q_sample``.

Training draws t uniformly, noises the target with ``q_sample`` and regresses x0. Sampling (evaluation,
export checks) uses the one sampler, ``thunder_blender.core.schedule.DDIMSampler``, whose ``step`` works on
torch tensors too.
"""
from __future__ import annotations

import torch

from thunder_blender.core.schedule import ScheduleConfig
from thunder_blender.core.schedule import alphas_cumprod as _abar_np

__all__ = ["ScheduleConfig", "Diffusion"]


class Diffusion:
    """Schedule constants as float64 tensors plus t sampling and q_sample in torch."""

    def __init__(self, cfg: ScheduleConfig | None = None):
        cfg = cfg or ScheduleConfig()
        self.cfg = cfg
        self.abar = torch.from_numpy(_abar_np(cfg))  # (N,) float64

    def sample_t(self, batch: int, gen: torch.Generator) -> torch.Tensor:
        """(B,) int64 uniform time indices."""
        return torch.randint(0, self.cfg.n_train_steps, (batch,), generator=gen)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; x0 (B, T, C), t (B,) or int."""
        a = self.abar[t].to(x0.dtype)
        if a.ndim == 1:
            a = a[:, None, None]
        return a.sqrt() * x0 + (1.0 - a).sqrt() * noise
