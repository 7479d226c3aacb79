"""Shard files: ``<root>/<split>/shard_XXXXX.npz`` (layout in docs/ARCHITECTURE.md)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SPLITS: tuple[str, ...] = ("train", "val", "test", "real_train", "real_val")


@dataclass
class Record:
    """One utterance as stored (audio at 16 kHz int16, performance at the corpus fps)."""

    audio: np.ndarray        # (S,) int16, S = F * sr / fps
    perf: np.ndarray         # (F, 55) float32
    phone_class: np.ndarray  # (F,) int8
    closure: np.ndarray      # (F,) bool
    emotion: int
    intensity: float
    voice: str
    lang: str
    source: str
    text: str
    segments: list[tuple[str, int, float, float]] = field(default_factory=list)  # (pose, class, start, end)
    unmapped: dict[str, int] = field(default_factory=dict)  # phone names with no mapping (not stored)
    style: str = ""          # style group of a development-set clip ("" elsewhere)


def write_shard(path: Path, recs: list[Record]) -> None:
    """Write records into one compressed npz shard."""
    def offsets(lengths: list[int]) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    path.parent.mkdir(parents=True, exist_ok=True)
    segs = [s for r in recs for s in r.segments]
    np.savez_compressed(
        path,
        audio=np.concatenate([r.audio for r in recs]).astype(np.int16),
        audio_offsets=offsets([len(r.audio) for r in recs]),
        perf=np.concatenate([r.perf for r in recs]).astype(np.float32),
        perf_offsets=offsets([len(r.perf) for r in recs]),
        phone_class=np.concatenate([r.phone_class for r in recs]).astype(np.int8),
        closure=np.concatenate([r.closure for r in recs]).astype(bool),
        emotion=np.array([r.emotion for r in recs], np.int8),
        intensity=np.array([r.intensity for r in recs], np.float32),
        voice=np.array([r.voice for r in recs]), lang=np.array([r.lang for r in recs]),
        source=np.array([r.source for r in recs]), text=np.array([r.text for r in recs]),
        style=np.array([r.style for r in recs]),
        seg_offsets=offsets([len(r.segments) for r in recs]),
        seg_pose=np.array([s[0] for s in segs] or [""]),
        seg_class=np.array([s[1] for s in segs], np.int8),
        seg_time=np.array([[s[2], s[3]] for s in segs], np.float64).reshape(-1, 2),
    )


def read_shard(path: Path) -> list[Record]:
    """Records of one shard."""
    with np.load(path, allow_pickle=False) as f:
        z = {k: f[k] for k in f.files}  # each NpzFile access decompresses again: read every array once
    ao, po, so = z["audio_offsets"], z["perf_offsets"], z["seg_offsets"]
    pose = [str(x) for x in z["seg_pose"]]
    cls = z["seg_class"].astype(int).tolist()
    t0, t1 = z["seg_time"][:, 0].tolist(), z["seg_time"][:, 1].tolist()
    out = []
    for i in range(len(z["emotion"])):
        segs = list(zip(pose[so[i]:so[i + 1]], cls[so[i]:so[i + 1]], t0[so[i]:so[i + 1]], t1[so[i]:so[i + 1]],
                        strict=True))
        out.append(Record(
            audio=z["audio"][ao[i]:ao[i + 1]], perf=z["perf"][po[i]:po[i + 1]],
            phone_class=z["phone_class"][po[i]:po[i + 1]], closure=z["closure"][po[i]:po[i + 1]],
            emotion=int(z["emotion"][i]), intensity=float(z["intensity"][i]), voice=str(z["voice"][i]),
            lang=str(z["lang"][i]), source=str(z["source"][i]), text=str(z["text"][i]), segments=segs,
            style=str(z["style"][i]) if "style" in z else ""))
    return out
