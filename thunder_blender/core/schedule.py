"""Numpy diffusion sampler (twin of ``thunder_train/diffusion.py``; same names, same equations).

Variance-preserving diffusion with a cosine schedule (Nichol & Dhariwal 2021, eq. 17) over
``n_train_steps`` steps. The network predicts x0 directly. Sampling:

* ``ddim_timesteps`` / ``ddim_step``: deterministic DDIM (Song et al. 2021, eq. 12 with eta = 0) in a
  few steps; the only randomness is the initial noise, so a take is fully determined by its seed.
* ``ddpm_step``: the ancestral posterior q(x_{t-1} | x_t, x0) (Ho et al. 2020, eqs. 6-7), many steps.
* ``guided``: classifier-free guidance x0 = x0_u + g (x0_c - x0_u) (Ho & Salimans 2022).

Arrays keep any shape; time indices are ints in [0, n_train_steps).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .channels import MOUTH_INDEX


@dataclass(frozen=True)
class ScheduleConfig:
    n_train_steps: int = 1000
    cosine_s: float = 0.008
    max_beta: float = 0.999

    def to_dict(self) -> dict:
        return asdict(self)


def alphas_cumprod(cfg: ScheduleConfig = ScheduleConfig()) -> np.ndarray:
    """abar_t for t = 0..N-1, shape (N,), float64 (cosine schedule, betas clipped at max_beta)."""
    n = cfg.n_train_steps
    s = np.arange(n + 1, dtype=np.float64) / n
    f = np.cos((s + cfg.cosine_s) / (1 + cfg.cosine_s) * np.pi / 2) ** 2
    betas = np.clip(1.0 - f[1:] / f[:-1], 0.0, cfg.max_beta)
    return np.cumprod(1.0 - betas)


def initial_noise(seed: int, n_frames: int, n_channels: int, mouth_temperature: float = 1.0) -> np.ndarray:
    """x_T of one take, (n_frames, n_channels) float32: standard normal from ``default_rng(seed)`` with the
    mouth/jaw channels (``channels.MOUTH_INDEX``) scaled by ``mouth_temperature``.

    A temperature below 1 draws the mouth closer to what the audio implies while the upper face keeps the
    full take-to-take variety of the seed; 1 is plain DDIM.
    """
    x = np.random.default_rng(seed).standard_normal((n_frames, n_channels)).astype(np.float32)
    if mouth_temperature != 1.0:
        x[:, list(MOUTH_INDEX)] *= np.float32(mouth_temperature)
    return x


def q_sample(x0: np.ndarray, t: int, noise: np.ndarray, abar: np.ndarray) -> np.ndarray:
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise (DDPM eq. 4)."""
    a = abar[t]
    return (np.sqrt(a) * x0 + np.sqrt(1.0 - a) * noise).astype(np.float32)


def ddim_timesteps(n_steps: int, cfg: ScheduleConfig = ScheduleConfig()) -> np.ndarray:
    """Descending, evenly spaced time indices ending at 0, shape (n_steps,), int64.

    The first step is always the last index (pure noise), e.g. N=1000, 4 steps -> [999, 666, 333, 0].
    """
    if not 1 <= n_steps <= cfg.n_train_steps:
        raise ValueError(f"n_steps must be in 1..{cfg.n_train_steps}")
    if n_steps == 1:
        return np.array([cfg.n_train_steps - 1], dtype=np.int64)
    return np.round(np.linspace(cfg.n_train_steps - 1, 0, n_steps)).astype(np.int64)


def ddim_step(x_t: np.ndarray, x0: np.ndarray, t: int, t_prev: int, abar: np.ndarray) -> np.ndarray:
    """One deterministic DDIM step from t to t_prev (t_prev < 0 means: return x0)."""
    if t_prev < 0:
        return x0.astype(np.float32)
    a_t, a_p = abar[t], abar[t_prev]
    eps = (x_t - np.sqrt(a_t) * x0) / np.sqrt(1.0 - a_t)
    return (np.sqrt(a_p) * x0 + np.sqrt(1.0 - a_p) * eps).astype(np.float32)


def ddpm_step(x_t: np.ndarray, x0: np.ndarray, t: int, abar: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Ancestral step t -> t-1 with posterior mean/variance (DDPM eqs. 6-7); t == 0 returns x0."""
    if t == 0:
        return x0.astype(np.float32)
    a_t, a_p = abar[t], abar[t - 1]
    beta_t = 1.0 - a_t / a_p
    c0 = np.sqrt(a_p) * beta_t / (1.0 - a_t)
    ct = np.sqrt(1.0 - beta_t) * (1.0 - a_p) / (1.0 - a_t)
    var = beta_t * (1.0 - a_p) / (1.0 - a_t)
    return (c0 * x0 + ct * x_t + np.sqrt(var) * noise).astype(np.float32)


def guided(x0_cond: np.ndarray, x0_uncond: np.ndarray, scale: float) -> np.ndarray:
    """Classifier-free guidance on the x0 estimate; scale 1 returns the conditional estimate."""
    if scale == 1.0:
        return x0_cond
    return (x0_uncond + scale * (x0_cond - x0_uncond)).astype(np.float32)


def sample_ddim(denoise, x_T: np.ndarray, n_steps: int, cfg: ScheduleConfig = ScheduleConfig(),
                on_step=None) -> np.ndarray:
    """Full DDIM loop. ``denoise(x_t, t) -> x0``; ``on_step(i, n)`` after each step. Returns x0."""
    abar = alphas_cumprod(cfg)
    ts = ddim_timesteps(n_steps, cfg)
    x = x_T.astype(np.float32)
    for i, t in enumerate(ts):
        x0 = denoise(x, int(t))
        t_prev = int(ts[i + 1]) if i + 1 < len(ts) else -1
        x = ddim_step(x, x0, int(t), t_prev, abar)
        if on_step is not None:
            on_step(i + 1, len(ts))
    return x


def sample_ddpm(denoise, x_T: np.ndarray, rng: np.random.Generator,
                cfg: ScheduleConfig = ScheduleConfig()) -> np.ndarray:
    """Full ancestral loop over all n_train_steps (benchmark path)."""
    abar = alphas_cumprod(cfg)
    x = x_T.astype(np.float32)
    for t in range(cfg.n_train_steps - 1, -1, -1):
        x0 = denoise(x, t)
        x = ddpm_step(x, x0, t, abar, rng.standard_normal(x.shape).astype(np.float32))
    return x
