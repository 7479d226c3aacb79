"""Torch diffusion process (twin of ``thunder_blender/core/schedule.py``; same names, same equations).

Cosine variance-preserving schedule, x0-prediction. Training draws t uniformly, noises the target with
``q_sample`` and regresses x0. The sampling helpers mirror the numpy ones for evaluation in torch.
"""
from __future__ import annotations

import numpy as np
import torch

from thunder_blender.core.schedule import ScheduleConfig, ddim_timesteps
from thunder_blender.core.schedule import alphas_cumprod as _abar_np

__all__ = ["ScheduleConfig", "Diffusion", "ddim_timesteps"]


class Diffusion:
    """Schedule constants as float64 tensors plus q_sample / DDIM / DDPM / guidance in torch."""

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

    def ddim_step(self, x_t: torch.Tensor, x0: torch.Tensor, t: int, t_prev: int) -> torch.Tensor:
        if t_prev < 0:
            return x0
        a_t, a_p = float(self.abar[t]), float(self.abar[t_prev])
        eps = (x_t - np.sqrt(a_t) * x0) / np.sqrt(1.0 - a_t)
        return np.sqrt(a_p) * x0 + np.sqrt(1.0 - a_p) * eps

    def ddpm_step(self, x_t: torch.Tensor, x0: torch.Tensor, t: int, noise: torch.Tensor) -> torch.Tensor:
        if t == 0:
            return x0
        a_t, a_p = float(self.abar[t]), float(self.abar[t - 1])
        beta_t = 1.0 - a_t / a_p
        c0 = np.sqrt(a_p) * beta_t / (1.0 - a_t)
        ct = np.sqrt(1.0 - beta_t) * (1.0 - a_p) / (1.0 - a_t)
        var = beta_t * (1.0 - a_p) / (1.0 - a_t)
        return c0 * x0 + ct * x_t + np.sqrt(var) * noise

    @staticmethod
    def guided(x0_cond: torch.Tensor, x0_uncond: torch.Tensor, scale: float) -> torch.Tensor:
        if scale == 1.0:
            return x0_cond
        return x0_uncond + scale * (x0_cond - x0_uncond)

    @torch.no_grad()
    def sample_ddim(self, denoise, x_T: torch.Tensor, n_steps: int) -> torch.Tensor:
        """``denoise(x_t, t:int) -> x0``; returns the final x0 estimate."""
        ts = ddim_timesteps(n_steps, self.cfg)
        x = x_T
        for i, t in enumerate(ts):
            x0 = denoise(x, int(t))
            t_prev = int(ts[i + 1]) if i + 1 < len(ts) else -1
            x = self.ddim_step(x, x0, int(t), t_prev)
        return x

    @torch.no_grad()
    def sample_ddpm(self, denoise, x_T: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = x_T
        for t in range(self.cfg.n_train_steps - 1, -1, -1):
            x0 = denoise(x, t)
            x = self.ddpm_step(x, x0, t, torch.randn(x.shape, generator=gen, dtype=x.dtype))
        return x
