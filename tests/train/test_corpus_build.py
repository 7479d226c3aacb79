"""Corpus build: determinism, split disjointness, shard layout, load_split."""
from __future__ import annotations

import json

import numpy as np
import pytest

from thunder_blender.core.channels import EMOTIONS, N_CHANNELS
from thunder_train.corpus.articulation import lips_sealed
from thunder_train.corpus.build import BuildConfig, build, plan
from thunder_train.corpus.dataset import load_split
from thunder_train.corpus.voices import all_voices, sentence_split, voice_split


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    cfg = BuildConfig(out=root / "a", hours=0.03, seed=7, workers=2, shard_seconds=30.0, real=False)
    meta = build(cfg, log=lambda *_: None)
    return root, cfg, meta


def test_same_seed_gives_identical_shards(tiny):
    """Same plan -> byte-identical shards, even when this (parent) process has used espeak-ng in between:
    the library's static state must not leak into the workers that synthesise the corpus."""
    from thunder_train.corpus.espeak import ESpeak, SynthParams

    ESpeak().synthesize("Breathy voices draw on the noise generator.", "en-us+f3", SynthParams())
    root, cfg, _ = tiny
    again = BuildConfig(out=root / "b", hours=cfg.hours, seed=cfg.seed, workers=1, shard_seconds=30.0, real=False)
    build(again, log=lambda *_: None)
    a = sorted(p.relative_to(root / "a") for p in (root / "a").glob("*/shard_*.npz"))
    b = sorted(p.relative_to(root / "b") for p in (root / "b").glob("*/shard_*.npz"))
    assert a == b and len(a) >= 3
    for rel in a:
        za, zb = np.load(root / "a" / rel), np.load(root / "b" / rel)
        assert sorted(za.files) == sorted(zb.files)
        for k in za.files:
            np.testing.assert_array_equal(za[k], zb[k], err_msg=f"{rel}:{k}")


def test_rebuild_reuses_synthetic_splits_only_when_plan_and_code_match(tiny, tmp_path):
    """A rebuild hard-links the synthetic shards of the corpus it replaces (same plan, same synthesis code) and
    writes the same meta; another plan synthesises anew."""
    import shutil
    from dataclasses import replace

    root, cfg, meta = tiny
    out = tmp_path / "c"
    shutil.copytree(root / "a", out)
    logs: list[str] = []
    again = replace(cfg, out=out)
    meta2 = build(again, log=logs.append)
    assert any("reused" in m for m in logs)
    assert meta2["splits"] == meta["splits"] and meta2["unmapped_phones"] == meta["unmapped_phones"]
    for rel in sorted(p.relative_to(root / "a") for p in (root / "a").glob("*/shard_*.npz")):
        assert (out / rel).read_bytes() == (root / "a" / rel).read_bytes()
    logs.clear()
    build(replace(again, seed=cfg.seed + 1), log=logs.append)
    assert not any("reused" in m for m in logs)


def test_other_seed_differs(tiny):
    _, cfg, _ = tiny
    j0 = plan(cfg)["train"]
    cfg2 = BuildConfig(out=cfg.out, hours=cfg.hours, seed=cfg.seed + 1, real=False)
    j1 = plan(cfg2)["train"]
    assert [j.sentences for j in j0] != [j.sentences for j in j1]


def test_splits_are_disjoint_by_voice_and_sentence():
    cfg = BuildConfig(out=None, hours=3.0, seed=0, real=False)
    jobs = plan(cfg)
    voices = {s: {j.voice.id for j in js} for s, js in jobs.items()}
    sents = {s: {t.lower() for j in js for t in j.sentences} for s, js in jobs.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not voices[a] & voices[b], (a, b)
        assert not sents[a] & sents[b], (a, b)
    assert len(voices["test"]) >= 10 and len(voices["train"]) >= 100
    # the split functions agree with the plan
    assert all(voice_split(j.voice, 0) == "test" for j in jobs["test"])
    assert all(sentence_split(t, 0) == "val" for j in jobs["val"] for t in j.sentences)
    assert {v.engine for v in all_voices()} == {"espeak", "flite", "festival"}


def test_shards_follow_the_contract(tiny):
    root, cfg, meta = tiny
    utts = load_split(root / "a", "train")
    assert len(utts) >= 10
    assert load_split(root / "a", "real_val") == []
    for u in utts:
        F = len(u.perf)
        assert u.perf.shape == (F, N_CHANNELS) and u.perf.dtype == np.float32
        assert u.audio.dtype == np.float32 and len(u.audio) == F * 320 and np.abs(u.audio).max() <= 1.0
        assert u.phone_class.shape == (F,) and u.closure.shape == (F,)
        assert 1 <= u.emotion < len(EMOTIONS) and 0.0 <= u.intensity <= 1.0
        assert np.isfinite(u.perf).all() and (u.perf[:, :52] >= 0).all() and (u.perf[:, :52] <= 1).all()
        assert lips_sealed(u.perf)[u.closure].all()
        assert u.closure.sum() >= 1 or not any(c == 1 for _, c, _, _ in u.segments)
    m = json.loads((root / "a" / "meta.json").read_text())
    assert m["fps"] == 50 and m["sample_rate"] == 16000 and m["seed"] == cfg.seed
    assert m["splits"]["train"]["utterances"] == len(utts)
    assert (root / "a" / "DATA_CARD.md").read_text().startswith("# Data card")
    assert meta["synthetic_hours"] > 0.5 * cfg.hours


def test_every_bilabial_phone_is_sealed_in_the_corpus(tiny):
    root = tiny[0] / "a"
    n_bil = 0
    for split in ("train", "val", "test"):
        for u in load_split(root, split):
            sealed = lips_sealed(u.perf)
            for _, cid, s, e in u.segments:
                if cid == 1:
                    n_bil += 1
                    fr = np.arange(int(np.floor(s * 50)), int(np.ceil(e * 50)))
                    assert sealed[fr].any() and u.closure[fr].any()
    assert n_bil >= 20


def test_bad_input_gives_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no corpus at"):
        load_split(tmp_path / "missing", "train")
    with pytest.raises(ValueError, match="unknown split"):
        load_split(tmp_path, "training")


_BUILD_AND_HASH = r"""
import hashlib, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
if sys.argv[3] == "warm":  # this interpreter used espeak-ng before building, as an aligner or a test would
    from thunder_train.corpus.espeak import ESpeak, SynthParams
    ESpeak().synthesize("Out of vocabulary words are spoken first.", "en-us+m3", SynthParams())
from thunder_train.corpus.build import BuildConfig, build
out = Path(sys.argv[1])
build(BuildConfig(out=out, hours=0.02, seed=11, workers=2, shard_seconds=30.0, real=False), log=lambda *_: None)
h = hashlib.sha256()
for p in sorted(out.glob("*/shard_*.npz")):
    h.update(p.relative_to(out).as_posix().encode()); h.update(p.read_bytes())
print("HASH", h.hexdigest())
"""


def test_fresh_interpreters_build_identical_shards(tmp_path):
    """Three fresh processes (one of which used espeak-ng first) build byte-identical shards."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    hashes = []
    for k, mode in enumerate(("cold", "warm", "cold")):
        res = subprocess.run([sys.executable, "-c", _BUILD_AND_HASH, str(tmp_path / f"c{k}"), str(root), mode],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        hashes.append(next(x for x in res.stdout.splitlines() if x.startswith("HASH")))
    assert len(set(hashes)) == 1, hashes
