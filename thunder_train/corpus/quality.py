"""Build-time quality checks reported in the data card (measured on the built shards)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .articulation import lips_sealed
from .dataset import load_split


def closure_check(root: Path, splits: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per split: bilabial segments, and the share with a sealed, labelled frame inside them."""
    out = {}
    for split in splits:
        n = ok = 0
        for u in load_split(root, split):
            sealed = lips_sealed(u.perf)
            for _, c, s, e in u.segments:
                if c == 1:
                    n += 1
                    fr = np.arange(int(np.floor(s * 50)), min(int(np.ceil(e * 50)), len(sealed)))
                    ok += bool(len(fr) and (sealed[fr] & u.closure[fr]).any())
        if n:
            out[split] = {"bilabial_segments": n, "sealed_share": round(ok / n, 4)}
    return out


def timing_check(root: Path, split: str = "test", per_source: int = 8) -> dict[str, dict[str, float]]:
    """Synthesiser phone onsets vs pocketsphinx forced alignment of the same audio, per engine.

    English voices only (espeak-ng: US voices, which the aligner's acoustic model fits).
    """
    from .align import Aligner, match_onsets
    from .phonemap import expand

    al = Aligner()
    res: dict[str, list] = {}
    tried: dict[str, int] = {}
    for u in load_split(root, split):
        src = u.source
        if u.lang != "en" or (src == "espeak" and "/en-us" not in u.voice) or tried.get(src, 0) >= per_source:
            continue
        tried[src] = tried.get(src, 0) + 1
        try:
            ref = expand(al.align(u.audio, u.text), "cmu")
        except RuntimeError:
            continue
        d = match_onsets([(c, s) for _, c, s, _ in ref if c], [(c, s) for _, c, s, _ in u.segments if c])
        res.setdefault(src, []).extend(np.abs(d).tolist())
    out = {}
    for src, n in tried.items():
        d = np.array(res.get(src, []))
        out[src] = {"utterances_tried": n, "onsets_matched": int(len(d)),
                    "median_abs_ms": round(1000 * float(np.median(d)), 1) if len(d) else None,
                    "p90_abs_ms": round(1000 * float(np.percentile(d, 90)), 1) if len(d) else None}
    return out
