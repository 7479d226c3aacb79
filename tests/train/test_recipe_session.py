"""The recipe file (one place, strict, one root seed) and the committed session directory (save / restore)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thunder_train.recipe import DEFAULT_PATH, Recipe, RecipeError, derive_seed


def test_the_shipped_recipe_fills_every_config_and_every_run():
    r = Recipe.load()
    assert list(r.runs) == ["diffusion_base", "diffusion", "diffusion_m2s_sync", "diffusion_m2s", "diffusion_long",
                            "deterministic"]
    cfgs = {name: r.train_config(name) for name in r.runs}
    # one step budget per run, from the recipe; every run trains with the same batches' shape and net
    assert {n: c.steps for n, c in cfgs.items()} == {n: run["steps"] for n, run in r.runs.items()}
    assert len({c.seed for c in cfgs.values()}) == len(cfgs)  # distinct derived seeds
    assert cfgs["diffusion_m2s"].w_anchor == 20.0 and cfgs["diffusion"].lr == pytest.approx(0.5 * cfgs["deterministic"].lr)
    seeds = [r.build_config(Path(".")).seed, r.m2s_config("mouth").seed, r.m2s_config("all").seed,
             r.sync_config("sync_loss").seed, r.sync_config("sync_eval").seed, r.lipreader_config().seed,
             r.eval_config().subset_seed, r.judge_items_seed()]
    assert len(set(seeds)) == len(seeds)
    assert seeds[0] == derive_seed(r.seed, "corpus") == derive_seed(0, "corpus")


def test_smoke_and_overrides_change_the_hash_and_only_existing_settings(tmp_path):
    r, s = Recipe.load(), Recipe.load(smoke=True)
    assert s.hash != r.hash and s.runs["diffusion_base"]["steps"] < r.runs["diffusion_base"]["steps"]
    o = Recipe.load(overrides=["generator.runs.diffusion.steps=7", "seed=5"])
    assert o.train_config("diffusion").steps == 7 and o.seed == 5 and o.hash != r.hash
    assert o.train_config("diffusion").seed == derive_seed(5, "generator.diffusion") != r.train_config("diffusion").seed
    assert Recipe.load().hash == r.hash  # stable
    with pytest.raises(RecipeError, match="names no setting"):
        Recipe.load(overrides=["generator.train.learning_rate=1.0"])
    with pytest.raises(RecipeError, match="not TOML"):
        Recipe.load(overrides=["export.status=release"])


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("weight_decay = 1e-4\n", ""), r"generator.train\]: missing \['weight_decay'\]"),
    (lambda t: t.replace("cond_drop = 0.15\n", "cond_drop = 0.15\nmomentum = 0.9\n"), r"unknown \['momentum'\]"),
    (lambda t: t.replace('init = "diffusion_base"', 'init = "diffusion_long"'), "not an earlier run"),
    (lambda t: t.replace("[judges.lipreader]       # LipReaderConfig (evaluation only)\nhidden = 64\n",
                         "[judges.lipreader]\n"), r"judges.lipreader\]: missing \['hidden'\]"),
    (lambda t: t + "\n[[", "not valid TOML"),
])
def test_a_recipe_missing_or_inventing_a_setting_is_rejected(tmp_path, edit, message):
    text = DEFAULT_PATH.read_text()
    edited = edit(text)
    assert edited != text
    path = tmp_path / "recipe.toml"
    path.write_text(edited)
    with pytest.raises(RecipeError, match=message):
        Recipe.load(path)


def test_cli_reports_a_bad_recipe_in_one_line(tmp_path, capsys):
    from thunder_train.cli import main

    assert main(["train", "--run", "nope", "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert "no generator run 'nope'" in err and err.strip().count("\n") == 0
    assert main(["train", "--run", "diffusion", "--out", str(tmp_path / "x.pt")]) == 2
    assert "--init-from" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


# --- session save / restore ----------------------------------------------------------------------------


def _work(root: Path, recipe: Recipe) -> tuple[Path, Path]:
    """A pipeline work directory: judges, one finished run, one run in progress; and a corpus."""
    work, corpus = root / "work", root / "corpus"
    (work / "judges").mkdir(parents=True)
    for f in ("m2s_mouth.pt", "sync_loss.pt", "judges.json"):
        (work / "judges" / f).write_bytes(f.encode() * 100)
    runs = work / "runs"
    (runs / "deterministic.ckpt").mkdir(parents=True)
    (runs / "deterministic.pt").write_bytes(b"final weights")
    (runs / "deterministic.json").write_text(json.dumps({"recipe_hash": recipe.hash}))
    (runs / "deterministic.ckpt" / "metrics.jsonl").write_text('{"step": 20, "split": "val", "closure_acc": 0.5}\n')
    (runs / "diffusion_base.ckpt").mkdir()
    for step in (20, 40):
        (runs / "diffusion_base.ckpt" / f"step_{step:08d}.pt").write_bytes(b"state %d" % step)
    want = recipe.build_config(corpus)
    (corpus / "train").mkdir(parents=True)
    (corpus / "meta.json").write_text(json.dumps({"seed": want.seed, "hours_requested": want.hours}))
    np.savez(corpus / "train" / "shard_00000.npz", audio=np.arange(8, dtype=np.int16), text=np.array(["a", "b"]))
    return work, corpus


def test_session_save_keeps_what_a_fresh_machine_needs_and_restore_checks_it(tmp_path):
    from thunder_train.session import restore_session, save_session

    recipe = Recipe.load(smoke=True)
    work, corpus = _work(tmp_path, recipe)
    dest = tmp_path / "committed"
    m = save_session(work, corpus, dest, recipe, log=lambda s: None)
    assert m["recipe_hash"] == recipe.hash and m["corpus"]["seed"] == recipe.build_config(corpus).seed
    assert m["runs"]["deterministic"] == "finished" and m["runs"]["diffusion_base"] == "step 40"
    assert m["runs"]["diffusion"] == "not started"
    assert set(m["files"]) == {"judges/m2s_mouth.pt", "judges/sync_loss.pt", "judges/judges.json",
                               "runs/deterministic.pt", "runs/deterministic.json",
                               "runs/deterministic.ckpt/metrics.jsonl", "runs/diffusion_base.ckpt/step_00000040.pt"}
    # the run goes on; the next save replaces the older step checkpoint, and copies a built development set's
    # alignments next to the committed ones
    (work / "runs" / "diffusion_base.ckpt" / "step_00000060.pt").write_bytes(b"state 60")
    from thunder_train.corpus.alignments import Store, rows_to_arrays, write

    row = {"key": "s/a/clip|en|Bob.", "audio_sha": "ab" * 32, "decoded": True, "error": "", "speech_s": 0.5,
           "espeak_s": 0.6, "phones": [("B", 0.1, 0.18), ("AA", 0.18, 0.3)]}
    write(tmp_path / "devset" / "devset.npz", rows_to_arrays([row]))
    save_session(work, corpus, dest, recipe, log=lambda s: None, alignments=tmp_path / "al",
                 devset=tmp_path / "devset")
    stored = Store(tmp_path / "al", "devset.npz").rows
    assert stored == {row["key"]: {**{k: v for k, v in row.items() if k != "key"}, "kind": ""}}
    assert sorted(p.name for p in (dest / "runs" / "diffusion_base.ckpt").iterdir()) == ["step_00000060.pt"]

    fresh = tmp_path / "fresh"
    back = restore_session(dest, fresh / "work", corpus, recipe, log=lambda s: None)
    assert back["corpus_check"] == "identical"
    assert (fresh / "work/runs/diffusion_base.ckpt/step_00000060.pt").read_bytes() == b"state 60"
    assert (fresh / "work/runs/deterministic.pt").read_bytes() == b"final weights"
    assert "missing" in restore_session(dest, fresh / "w2", fresh / "no_corpus", recipe, log=lambda s: None)["corpus_check"]
    np.savez(corpus / "train" / "shard_00000.npz", audio=np.arange(8, dtype=np.int16)[::-1], text=np.array(["a", "b"]))
    check = restore_session(dest, fresh / "w3", corpus, recipe, log=lambda s: None)["corpus_check"]
    assert "DIFFERENT content in 1 shard" in check
    assert "differ (in how many of those shards): {'audio': 1}; identical: ['text']" in check   # what differs

    with pytest.raises(ValueError, match="saved with recipe"):
        restore_session(dest, fresh / "w4", corpus, Recipe.load(), log=lambda s: None)
    (dest / "runs" / "deterministic.pt").write_bytes(b"tampered")
    with pytest.raises(ValueError, match="differs from the manifest"):
        restore_session(dest, fresh / "w5", corpus, recipe, log=lambda s: None)
    assert not (fresh / "w5").exists()
