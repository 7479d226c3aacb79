"""Judges trained for seconds on a tiny real corpus (flite speech + the project's articulation model)."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from thunder_blender.core.features import log_mel, resample  # noqa: E402
from thunder_train.corpus import articulation as art  # noqa: E402
from thunder_train.corpus.flite import synthesize  # noqa: E402
from thunder_train.corpus.phonemap import expand  # noqa: E402
from thunder_train.judges import data as jd  # noqa: E402
from thunder_train.judges import lipreader as lr  # noqa: E402
from thunder_train.judges import m2s as m2s_mod  # noqa: E402
from thunder_train.judges import sync as sy  # noqa: E402
from thunder_train.recipe import Recipe  # noqa: E402

RECIPE = Recipe.load()

SENTENCES = (
    "Bob bought a big blue map of the bay.",
    "We all wait for the moon to rise over the pool.",
    "Pam made maple pie for my mom.",
    "Father saw a large dark car on the farm.",
    "Who knew you would move to Boston so soon?",
    "Please keep the baby by the open window.",
    "The cat sat on a mat and ate a fish.",
    "My brother plays the drums in a rock band.",
)


def _utterances(voices: tuple[str, ...], seed: int) -> list[SimpleNamespace]:
    rng = np.random.default_rng(seed)
    out = []
    for v in voices:
        style = art.ArticulationStyle.sample(rng)
        for text in SENTENCES:
            audio, sr, phones = synthesize(text, v)
            x = audio.astype(np.float32) / 32768.0
            if sr != 16000:
                x = resample(x, sr, 16000).astype(np.float32)
            segs = expand(phones, "cmu")
            n = int(len(x) / 16000 * 50)
            perf = art.articulate(segs, n, 50.0, style, art.segment_loudness(segs, x, 16000))
            art.enforce_closures(perf, segs, 50.0)
            out.append(SimpleNamespace(audio=x, perf=perf, phone_class=art.frame_classes(segs, n, 50.0),
                                       voice=v, source="flite", text=text))
    return out


@pytest.fixture(scope="module")
def items():
    torch.set_num_threads(1)
    train = jd.prepare(_utterances(("kal16", "slt"), seed=0))
    held = jd.prepare(_utterances(("rms",), seed=1))  # unseen voice
    return train, held


@pytest.fixture(scope="module")
def trained_m2s(items):
    cfg = replace(RECIPE.m2s_config("mouth"), hidden=64, steps=250, batch=16, seed=0)
    return m2s_mod.train_m2s_items(items[0], items[1], cfg, log=lambda s: None)


def test_prepare_aligns_mel_and_performance(items):
    for it in items[0]:
        assert it.mel.shape == (2 * len(it.perf), 80)
        assert it.phone_class.shape == (len(it.perf),)
        assert abs(float(it.mel.mean())) < 1e-3  # per-utterance normalised


def test_audio_target_shape_and_padding_invariance():
    rng = np.random.default_rng(0)
    mel = torch.from_numpy(log_mel(rng.normal(size=48000).astype(np.float32) * 0.1))[None, :200]
    tgt = m2s_mod.audio_target(mel)
    assert tgt.shape == (1, 100, 80)
    padded = torch.cat([mel, torch.full((1, 60, 80), -11.5)], dim=1)
    mask = torch.zeros(1, 130, dtype=torch.bool)
    mask[:, :100] = True
    assert torch.allclose(m2s_mod.audio_target(padded, mask)[:, :100], tgt, atol=1e-5)


def test_m2s_learns_and_loss_prefers_the_true_performance(items, trained_m2s):
    model, metrics = trained_m2s
    # the frame-shuffled performance is the chance level: the trained M2S must beat it clearly
    assert metrics["val_mse"] < 0.8 * metrics["val_mse_shuffled_perf"], metrics
    it = items[1][0]
    x = torch.from_numpy(it.perf)[None].clone().requires_grad_(True)
    mel = torch.from_numpy(it.mel)[None]
    mask = torch.ones(1, len(it.perf), dtype=torch.bool)
    loss = m2s_mod.m2s_loss(model, x, mel, mask)
    loss.backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert all(p.grad is None for p in model.parameters())  # frozen judge
    perm = torch.from_numpy(np.random.default_rng(0).permutation(len(it.perf)))
    shuffled = m2s_mod.m2s_loss(model, x.detach()[:, perm], mel, mask)
    assert float(loss.detach()) < float(shuffled)


def test_m2s_save_load_roundtrip_and_all_channel_variant(tmp_path, items, trained_m2s):
    model, metrics = trained_m2s
    path = m2s_mod.save_m2s(model, tmp_path / "m2s.pt", metrics)
    back = m2s_mod.load_m2s(path)
    x = torch.from_numpy(items[1][0].perf)[None]
    assert torch.allclose(back(x), model(x))
    assert not any(p.requires_grad for p in back.parameters())
    allc = m2s_mod.M2S(replace(RECIPE.m2s_config("all"), hidden=32))
    assert len(allc.channels) == 55 and len(model.channels) < 55
    with pytest.raises(ValueError, match="inputs"):
        m2s_mod.M2S(replace(RECIPE.m2s_config("mouth"), inputs="lips"))
    with pytest.raises(ValueError, match="not an M2S"):
        sy_path = sy.save_sync(sy.SyncExpert(replace(RECIPE.sync_config("sync_loss"), hidden=16, emb=8)), tmp_path / "s.pt")
        m2s_mod.load_m2s(sy_path)


@pytest.fixture(scope="module")
def trained_sync(items):
    cfg = replace(RECIPE.sync_config("sync_loss"), hidden=64, steps=300, batch=16, seed=0)
    return sy.train_sync_items(items[0], items[1], cfg, log=lambda s: None)


@pytest.fixture(scope="module")
def trained_lipreader(items):
    cfg = replace(RECIPE.lipreader_config(), steps=250, batch=16, seed=2)
    return lr.train_lipreader_items(items[0], items[1], cfg, log=lambda s: None)


def test_sync_expert_finds_the_true_offset(tmp_path, items, trained_sync):
    held = items[1]
    model, metrics = trained_sync
    # window-level: the true offset must beat 16 shifted windows far more often than chance (1/17)
    assert metrics["window_acc"] > 3 * metrics["chance_window_acc"], metrics
    assert metrics["clip_offset_acc_1"] >= 0.75, metrics
    it = held[0]
    d = sy.offset_distances(model, it.perf, it.mel, max_offset=10)
    assert d.shape == (21,) and np.all((d >= 0) & (d <= 2))
    # shifting the animation by 6 frames moves the distance minimum away from 0
    late = np.concatenate([np.repeat(it.perf[:1], 6, 0), it.perf[:-6]])
    d_late = sy.offset_distances(model, late, it.mel, max_offset=10)
    assert d_late[10] > d[10]
    # sync_loss is differentiable w.r.t. the animation and lower in sync
    x = torch.from_numpy(it.perf)[None].clone().requires_grad_(True)
    mel = torch.from_numpy(it.mel)[None]
    mask = torch.ones(1, len(it.perf), dtype=torch.bool)
    loss = sy.sync_loss(model, x, mel, mask)
    loss.backward()
    assert float(x.grad.abs().sum()) > 0
    assert float(loss.detach()) < float(sy.sync_loss(model, torch.from_numpy(late)[None], mel, mask))
    back = sy.load_sync(sy.save_sync(model, tmp_path / "sync.pt", metrics))
    assert np.allclose(sy.offset_distances(back, it.perf, it.mel, 10), d, atol=1e-6)


def test_lipreader_reads_ground_truth_above_majority(items, trained_lipreader):
    held = items[1]
    model, metrics = trained_lipreader
    acc = metrics["val"]
    assert acc["frame_acc"] > acc["majority_rate"] + 0.2, acc
    # a frozen mean pose carries no information: its accuracy falls far below the ground truth's
    flat = [replace(it, perf=np.repeat(it.perf.mean(0, keepdims=True), len(it.perf), 0)) for it in held]
    assert lr.accuracy(model, flat)["frame_acc"] < acc["frame_acc"] - 0.3


def test_voice_half_is_disjoint_and_stratified_by_source(items):
    train = items[0]
    a, b = jd.voice_half(train, 0), jd.voice_half(train, 1)
    assert a and b
    assert not ({i.voice for i in a} & {i.voice for i in b})
    assert len(a) + len(b) == len(train)
    # a single-voice source (one recorded speaker) is split by utterance: both halves get some
    real = [replace(it, source="recorded", voice="speaker") for it in items[1]]
    a, b = jd.voice_half(train + real, 0), jd.voice_half(train + real, 1)
    ra, rb = [i for i in a if i.source == "recorded"], [i for i in b if i.source == "recorded"]
    assert ra and rb and len(ra) + len(rb) == len(real)
    assert not ({id(i) for i in a} & {id(i) for i in b})


def test_evaluation_end_to_end_on_a_tiny_corpus(tmp_path, trained_sync, trained_lipreader):
    import json

    from thunder_train.corpus.shards import Record, write_shard
    from thunder_train.evaluation.report import to_markdown
    from thunder_train.evaluation.run import EvalConfig, evaluate
    from thunder_train.judges import PATHS

    root = tmp_path / "corpus"
    for split, voices, seed in (("test", ("rms",), 1), ("val", ("kal16",), 0)):
        utts = _utterances(voices, seed)[:4]
        write_shard(root / split / "shard_00000.npz", [Record(
            audio=(u.audio * 32767).astype(np.int16), perf=u.perf, phone_class=u.phone_class,
            closure=np.zeros(len(u.perf), bool), emotion=1, intensity=0.5, voice=u.voice, lang="en",
            source=u.source, text=u.text) for u in utts])
    (root / "meta.json").write_text(json.dumps({"fps": 50}))
    jdir = tmp_path / "judges"
    sy.save_sync(trained_sync[0], jdir / PATHS["sync_eval"])
    lr.save_lipreader(trained_lipreader[0], jdir / PATHS["lipreader"])
    by_len = {len(u.audio): u.perf for u in _utterances(("rms",), 1)[:4]}

    def jittered(audio, seed, emotion):
        assert emotion == "neutral"
        perf = by_len[min(by_len, key=lambda n: abs(n - len(audio)))].copy()
        rng = np.random.default_rng(seed)
        perf[:, 41:46] = rng.uniform(0, 0.5, size=5)  # brows differ per seed, mouth untouched
        return perf

    res = evaluate({"jittered": jittered}, root, jdir, EvalConfig(seeds=(0, 1), splits=("test",)),
                   log=lambda s: None)
    gt, mean, jit = (res["ablation"][k]["test"] for k in ("ground_truth", "mean_pose", "jittered"))
    assert gt["lve_mm"]["mean"] == 0.0 and gt["lip_pcc"]["mean"] == pytest.approx(1.0)
    assert gt["sdiv_u_mm"]["mean"] == 0.0 and jit["sdiv_u_mm"]["mean"] > 0.1
    assert jit["lve_mm"]["mean"] == pytest.approx(0.0, abs=1e-3)   # brows do not move the lips
    assert mean["lip_pcc"]["mean"] == 0.0 and mean["lve_mm"]["mean"] > 1.0
    assert gt["lse_c"]["mean"] > mean["lse_c"]["mean"]
    assert gt["lipread_acc"]["mean"] > mean["lipread_acc"]["mean"] + 0.2
    clo = res["closure"]
    assert clo["ground_truth"]["test"]["bilabial_sealed"]["mean"] > clo["mean_pose"]["test"]["bilabial_sealed"]["mean"]
    md = to_markdown(res)
    assert "| ground_truth |" in md and "| jittered |" in md and "LSE-C" in md


def test_eval_cli_rejects_bad_input_with_one_line(tmp_path, capsys):
    import argparse

    from thunder_train.evaluation import cli

    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    assert cli.run(p.parse_args(["--variant", "nodir", "--out", str(tmp_path / "m.json")])) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert cli.run(p.parse_args(["--corpus", str(tmp_path), "--out", str(tmp_path / "m.json")])) == 2
    err = capsys.readouterr().err.strip()
    assert "not a corpus" in err and err.count("\n") == 0
    assert not (tmp_path / "m.json").exists()
