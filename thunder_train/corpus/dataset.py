"""Reading a built corpus: ``load_split(root, split) -> list[Utterance]``."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .shards import SPLITS, read_shard


@dataclass
class Utterance:
    """One utterance of the corpus (see docs/ARCHITECTURE.md, "Corpus shards")."""

    audio: np.ndarray        # (S,) float32 in [-1, 1], 16 kHz, S = F * 320
    perf: np.ndarray         # (F, 55) float32 at 50 fps
    phone_class: np.ndarray  # (F,) int8, thunder_train.phones.PHONE_CLASSES ids
    closure: np.ndarray      # (F,) bool, frames where the lips must be sealed
    emotion: int             # index in core.channels.EMOTIONS (never 0)
    intensity: float         # 0..1
    voice: str
    lang: str
    source: str
    text: str
    segments: list[tuple[str, int, float, float]]  # (pose key, class id, start s, end s)
    viseme: np.ndarray | None = None  # (F,) int8 viseme ids (core.visemes.VISEMES) from the segments' pose keys

    def __post_init__(self) -> None:
        if self.viseme is None:
            from .articulation import frame_visemes
            from .synth import FPS

            self.viseme = frame_visemes(self.segments, len(self.perf), FPS)


def load_meta(root: str | Path) -> dict:
    """The corpus's meta.json (fps, sample rate, seed, sources, splits)."""
    return json.loads((Path(root) / "meta.json").read_text())


def shard_paths(root: str | Path, split: str) -> list[Path]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if not Path(root).is_dir():
        raise FileNotFoundError(f"no corpus at {root}; build one with `thunder-train corpus`")
    return sorted((Path(root) / split).glob("shard_*.npz"))


def load_split(root: str | Path, split: str) -> list[Utterance]:
    """All utterances of ``split`` under ``root`` in storage order (empty if the split was not built)."""
    out: list[Utterance] = []
    for path in shard_paths(root, split):
        for r in read_shard(path):
            out.append(Utterance(
                audio=r.audio.astype(np.float32) / 32768.0, perf=r.perf, phone_class=r.phone_class,
                closure=r.closure, emotion=r.emotion, intensity=r.intensity, voice=r.voice, lang=r.lang,
                source=r.source, text=r.text, segments=r.segments))
    return out
