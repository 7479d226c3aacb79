"""Generation entry point shared by the add-on and the CLI: audio in, N takes out.

Contract (the add-on and the CLI depend only on this module and ``runtime.model``):

    model = load_model()                       # runtime.model; model dir from the card
    takes = generate(GenerateRequest(pcm=pcm, sample_rate=16000, n_takes=4, seed=7), model,
                     progress=lambda done, total: ..., cancel=threading.Event())
    takes.weights   # (N, T, 55) float32 at takes.fps, channels core.channels.CHANNELS
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.channels import CHANNELS, EMOTIONS


class GenerationCancelled(Exception):
    """Raised by generate() when its cancel event is set; nothing is returned."""


class InputError(ValueError):
    """Unusable input (empty, silent, too long, wrong emotion name...). Message is user-facing."""


@dataclass(frozen=True)
class GenerateRequest:
    """Everything generation needs, snapshotted on the caller's thread (no Blender objects).

    pcm: (S,) float32 mono samples in [-1, 1] at ``sample_rate`` (resampled to the model's rate inside).
    take_seeds: explicit per-take seeds (re-roll of one take); default derives N seeds from ``seed``.
    """

    pcm: np.ndarray
    sample_rate: int = 16000
    n_takes: int = 4
    seed: int = 0
    emotion: str = "auto"
    intensity: float = 0.5
    guidance: float = 1.0
    head_motion: bool = True
    take_seeds: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.emotion not in EMOTIONS:
            raise InputError(f"unknown emotion {self.emotion!r}; choose one of {', '.join(EMOTIONS)}")
        if self.n_takes < 1:
            raise InputError("number of takes must be at least 1")


@dataclass
class Takes:
    """Generated takes.

    weights: (N, T, 55) float32 at ``fps``; ARKit weights in [0, 1], head rotation in radians.
    seeds: the seed of each take (re-rolling take i with seeds[i] reproduces it exactly).
    """

    weights: np.ndarray
    fps: float
    seeds: tuple[int, ...]
    channels: tuple[str, ...] = CHANNELS
    settings: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.weights.shape[1] / self.fps


ProgressFn = Callable[[int, int], None]


def generate(request: GenerateRequest, model, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> Takes:
    raise NotImplementedError("generation lands with the model")
