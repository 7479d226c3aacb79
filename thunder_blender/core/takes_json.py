"""Takes as JSON: one file per run with every take, its seed, the frame rate and the channel names.

Layout (``format`` = "thunder-takes", ``version`` = 1)::

    {"format": "thunder-takes", "version": 1,
     "model": {"name": ..., "version": ...}, "fps": 50.0, "n_frames": T,
     "channels": ["eyeBlinkLeft", ..., "headRoll"],          # 55 names, core.channels.CHANNELS
     "units": {"blendshapes": "weight 0..1", "head": "radians"},
     "audio": {"path": ..., "sample_rate": ..., "duration": ...},
     "settings": {...generation settings...},
     "takes": [{"index": 1, "seed": 123, "frames": [[55 floats], ...]}, ...]}

Frame ``f`` of a take is at time ``f / fps`` seconds from the start of the audio.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .channels import CHANNELS

FORMAT = "thunder-takes"
VERSION = 1


def to_dict(weights: np.ndarray, fps: float, seeds: tuple[int, ...], *, model: dict | None = None,
            audio: dict | None = None, settings: dict | None = None, decimals: int = 6) -> dict:
    """weights: (N, T, 55) float array at ``fps``; one seed per take."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 3 or weights.shape[2] != len(CHANNELS):
        raise ValueError(f"weights must be (N, T, {len(CHANNELS)}), got {weights.shape}")
    if len(seeds) != weights.shape[0]:
        raise ValueError(f"{weights.shape[0]} takes but {len(seeds)} seeds")
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": dict(model or {}),
        "fps": float(fps),
        "n_frames": int(weights.shape[1]),
        "channels": list(CHANNELS),
        "units": {"blendshapes": "weight 0..1", "head": "radians (yaw, pitch, roll)"},
        "audio": dict(audio or {}),
        "settings": dict(settings or {}),
        "takes": [
            {"index": i + 1, "seed": int(seed), "frames": np.round(w, decimals).tolist()}
            for i, (w, seed) in enumerate(zip(weights, seeds, strict=True))
        ],
    }


def write(path: str | os.PathLike, weights: np.ndarray, fps: float, seeds: tuple[int, ...], *,
          decimals: int = 6, **meta) -> None:
    """Write ``to_dict(...)`` as compact JSON, streamed: the frames are formatted a block at a time, so an
    hour of takes never exists as one Python object (the file is identical to ``json.dumps(to_dict(...))``
    up to float formatting)."""
    weights = np.asarray(weights)
    head = to_dict(weights[:, :0], fps, seeds, decimals=decimals, **meta)
    head["n_frames"] = int(weights.shape[1])
    takes = head.pop("takes")
    text = json.dumps(head, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:-1] + ',"takes":[')
        for k, (w, take) in enumerate(zip(weights, takes, strict=True)):
            f.write(("," if k else "") + f'{{"index":{take["index"]},"seed":{take["seed"]},"frames":[')
            for start in range(0, len(w), 2048):
                block = np.round(np.asarray(w[start:start + 2048], np.float64), decimals)
                rows = ("[" + ",".join(map(_number, r)) + "]" for r in block)
                f.write(("," if start else "") + ",".join(rows))
            f.write("]}")
        f.write("]}")


def _number(x: float) -> str:
    """A JSON number as ``json.dumps`` writes a float (repr), integers without the ``.0`` kept as floats."""
    return repr(float(x))


def read(path: str | os.PathLike) -> tuple[np.ndarray, float, tuple[int, ...], dict]:
    """Read a takes JSON. Returns (weights (N, T, 55) float32 in CHANNELS order, fps, seeds, whole dict).

    Channels are matched by name, so files listing them in another order load correctly; channels the
    file lacks are 0.
    """
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)}: not a {FORMAT} JSON file")
    names = doc["channels"]
    src = [i for i, n in enumerate(names) if n in CHANNELS]
    dst = [CHANNELS.index(names[i]) for i in src]
    takes = doc["takes"]
    out = np.zeros((len(takes), int(doc["n_frames"]), len(CHANNELS)), np.float32)
    for k, take in enumerate(takes):
        frames = np.asarray(take["frames"], dtype=np.float32).reshape(-1, len(names))
        out[k][:, dst] = frames[:, src]
    return out, float(doc["fps"]), tuple(int(t["seed"]) for t in takes), doc
