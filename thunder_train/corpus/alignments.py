"""Committed forced alignments: a fresh machine rebuilds the recorded-speech caches without aligning again.

Forced alignment of the recorded sources (``real.py``, ``recorded.py``) is the slow part of a corpus build:
about two hours on two cores. Its caches under ``data/cache`` hold the decoded audio too (hundreds of MB) and
are not committed, so a replaced machine would align everything again. ``thunder-train session save``
therefore exports the caches' alignments, without audio, into a committed directory
(``training/alignments/<cache name>.npz``, a few MB).

Each exported row carries the sha256 of its clip's decoded 16-bit audio. A build that misses a clip in its
cache decodes the clip and looks it up here (``Store.lookup``): when the hashes agree, the stored alignment
is the one this audio would get, and is used; otherwise (another decoder, another package version) the clip is
aligned afresh. The rebuilt cache, and so the corpus, is then identical to the one the alignments came from.

Stored arrays per file: ``keys (N,)`` (the cache's key of each clip), ``audio_sha (N,)``, ``decoded (N,)``,
``errors (N,)``, ``speech_s (N,)``, ``espeak_s (N,)``, ``kinds (N,)`` and the phones, flattened as
``ph_name (P,)``, ``ph_time (P, 2)`` and ``ph_offsets (N+1,)``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path("training/alignments")
PATTERNS = ("real_*.npz", "recorded_*.npz")  # the caches of real.py and recorded.py
PHONE_ARRAYS = ("ph_name", "ph_time", "ph_offsets")


def audio_sha(pcm: np.ndarray | None) -> str:
    """sha256 of 16-bit audio ``(S,)`` (int16, or float in [-1, 1) scaled as the caches store it); "" for None."""
    if pcm is None:
        return ""
    if pcm.dtype != np.int16:
        pcm = np.clip(np.round(np.asarray(pcm, np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    return hashlib.sha256(np.ascontiguousarray(pcm, "<i2").tobytes()).hexdigest()


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def export(cache: Path, dest: Path, log=print) -> dict[str, int]:
    """Write the alignments of every cache file under ``cache`` into ``dest``; returns {file name: clips}.

    A file whose content is unchanged is not rewritten (the committed copy stays byte-identical).
    """
    out: dict[str, int] = {}
    for pattern in PATTERNS:
        for path in sorted(Path(cache).glob(pattern)):
            if path.name.endswith(".part.npz"):
                continue
            z = _load(path)
            ao = z["audio_offsets"]
            n = len(ao) - 1
            keys = z["keys"] if "keys" in z else z["names"]
            decoded = z["decoded"] if "decoded" in z else np.ones(n, bool)
            audio = z["audio"]
            arrays = {
                "keys": keys, "decoded": decoded,
                "audio_sha": np.array([audio_sha(audio[ao[i]:ao[i + 1]]) if decoded[i] else "" for i in range(n)]),
                "errors": z.get("errors", np.array([""] * n)),
                "speech_s": z.get("speech_s", np.zeros(n)), "espeak_s": z.get("espeak_s", np.zeros(n)),
                "kinds": z.get("kinds", np.array([""] * n)),
                **{k: z[k] for k in PHONE_ARRAYS},
            }
            if write(Path(dest) / path.name, arrays):
                log(f"alignments: {Path(dest) / path.name} ({n} clips)")
            out[path.name] = n
    return out


def rows_to_arrays(rows: list[dict]) -> dict[str, np.ndarray]:
    """The stored arrays of ``rows`` (``[{key, audio_sha, decoded, error, speech_s, espeak_s, kind, phones}]``,
    ``phones`` = ``[(name, start_s, end_s)]``), in the format ``Store`` reads."""
    phones = [p for r in rows for p in r["phones"]]
    return {
        "keys": np.array([r["key"] for r in rows], dtype=str), "decoded": np.array([r["decoded"] for r in rows], bool),
        "audio_sha": np.array([r["audio_sha"] for r in rows], dtype=str),
        "errors": np.array([r["error"] for r in rows], dtype=str),
        "speech_s": np.array([r["speech_s"] for r in rows], np.float64),
        "espeak_s": np.array([r["espeak_s"] for r in rows], np.float64),
        "kinds": np.array([r.get("kind", "") for r in rows], dtype=str),
        "ph_name": np.array([p[0] for p in phones], dtype=str),
        "ph_time": np.array([(p[1], p[2]) for p in phones], np.float64).reshape(-1, 2),
        "ph_offsets": np.cumsum([0] + [len(r["phones"]) for r in rows]).astype(np.int64),
    }


def write(target: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Write ``arrays`` to ``target`` (atomically) unless it already holds them; True when written."""
    target = Path(target)
    if target.is_file() and _same(_load(target), arrays):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.stem + ".part.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(target)
    return True


def copy(src: Path, target: Path) -> bool:
    """Copy a stored alignments file (e.g. the development set's) to ``target`` unless their arrays agree."""
    return write(target, _load(src))


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return set(a) == set(b) and all(a[k].shape == b[k].shape and bool(np.all(a[k] == b[k])) for k in a)


class Store:
    """The committed alignments of one cache file (``<dir>/<name>``); empty when the file is absent."""

    def __init__(self, directory: Path | None, name: str):
        self.rows: dict[str, dict] = {}
        path = None if directory is None else Path(directory) / name
        if path is None or not path.is_file():
            return
        z = _load(path)
        po, times = z["ph_offsets"], z["ph_time"].tolist()
        names = [str(x) for x in z["ph_name"]]
        for i, key in enumerate(z["keys"]):
            self.rows[str(key)] = {
                "audio_sha": str(z["audio_sha"][i]), "decoded": bool(z["decoded"][i]), "error": str(z["errors"][i]),
                "speech_s": float(z["speech_s"][i]), "espeak_s": float(z["espeak_s"][i]), "kind": str(z["kinds"][i]),
                "phones": [(names[k], times[k][0], times[k][1]) for k in range(po[i], po[i + 1])]}

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def lookup(self, key: str, pcm: np.ndarray | None) -> dict | None:
        """The stored row of ``key`` if ``pcm`` (the clip's decoded audio, None when decoding failed) is the
        audio it was aligned on, else None: ``{audio_sha, decoded, error, speech_s, espeak_s, kind, phones}``."""
        row = self.rows.get(key)
        if row is None or row["decoded"] != (pcm is not None) or row["audio_sha"] != audio_sha(pcm):
            return None
        return row
