"""Resumable training: a run stopped at any checkpoint and resumed ends with the same weights, bit for bit.

A tiny generator (a few thousand parameters) trains 12 steps on a tiny synthetic corpus with augmentation
switching on at step 6, development metrics every 4 steps and a checkpoint every 3 steps. Torch runs with
deterministic algorithms and one intra-op thread, so the comparison is exact (``torch.equal``), not
within a tolerance.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from thunder_train.checkpoint import TimeLimitReached, read_metrics  # noqa: E402
from thunder_train.networks import NetConfig  # noqa: E402
from thunder_train.recipe import Recipe  # noqa: E402
from thunder_train.train import train  # noqa: E402
from thunder_train.train_cli import closure_validation  # noqa: E402

TINY = NetConfig(enc_dim=16, dim=16, enc_dilations=(1, 2), den_dilations=(1, 2), kernel=3, dropout=0.1)
SR = 16000


def _corpus(n: int = 6, seed: int = 0) -> list[SimpleNamespace]:
    """Synthetic utterances: tones plus noise, smooth random performances, a few closure frames."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        frames = int(rng.integers(40, 80))
        t = np.arange(frames * 320) / SR
        audio = (0.1 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) + 0.02 * rng.standard_normal(len(t)))
        perf = np.cumsum(rng.normal(0, 0.02, (frames, 55)), axis=0).astype(np.float32) + 0.3
        closure = np.zeros(frames, bool)
        closure[rng.integers(0, frames - 3, 3)] = True
        out.append(SimpleNamespace(audio=audio.astype(np.float32), perf=perf, closure=closure,
                                   phone_class=rng.integers(0, 10, frames), emotion=int(rng.integers(0, 8)),
                                   intensity=float(rng.uniform(0, 1)), source="espeak" if i % 2 else "asterisk",
                                   voice=f"v{i % 3}", viseme=rng.integers(0, 15, frames)))
    return out


@pytest.fixture(scope="module")
def deterministic_torch():
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(was)


@pytest.fixture(scope="module")
def setup(deterministic_torch):
    recipe = Recipe.load()
    base = recipe.train_config("diffusion_base")
    cfg = replace(base, net=TINY, steps=12, warmup=3, threads=1, log_every=2, eval_every=4, checkpoint_every=3,
                  keep_checkpoints=100, val_utts=2,
                  batch=replace(base.batch, batch=2, crop=30, augment_from=5))
    utts = _corpus()
    return recipe, cfg, utts, closure_validation(utts[:3], max_utts=2, seed=1)


@pytest.fixture(scope="module")
def uninterrupted(setup, tmp_path_factory):
    recipe, cfg, utts, val_fn = setup
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    gen, info = train(cfg, utts, log=lambda s: None, val_fn=val_fn, run_dir=run_dir,
                      provenance=recipe.provenance())
    return gen, info, run_dir


def _assert_same_weights(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"{k} differs by {float((sa[k] - sb[k]).abs().max())}"


def test_resume_from_every_checkpoint_gives_the_same_weights(setup, uninterrupted, tmp_path):
    recipe, cfg, utts, val_fn = setup
    gen_a, info_a, dir_a = uninterrupted
    steps = [int(p.stem.split("_")[1]) for p in sorted(dir_a.glob("step_*.pt"))]
    assert steps == [3, 6, 9, 12]
    rows_a = read_metrics(dir_a / "metrics.jsonl")
    assert [r["step"] for r in rows_a if r["split"] == "val"] == [4, 8, 12]
    for k in (3, 6, 9):
        d = tmp_path / f"from_{k}"
        d.mkdir()
        shutil.copy2(dir_a / f"step_{k:08d}.pt", d)  # as if the session had ended right after step k
        gen_b, info_b = train(cfg, utts, log=lambda s: None, val_fn=val_fn, run_dir=d, resume=True,
                              provenance=recipe.provenance())
        _assert_same_weights(gen_a, gen_b)
        assert info_b["val"] == info_a["val"] and info_b["final_losses"] == info_a["final_losses"]
        assert info_b["resumed_from_step"] == k
        assert read_metrics(d / "metrics.jsonl") == [r for r in rows_a if r["step"] > k]
    # without resuming, a different seed gives different weights: the comparison above can fail
    gen_c, _ = train(replace(cfg, seed=cfg.seed + 1), utts, log=lambda s: None)
    assert not torch.equal(gen_a.state_dict()["denoiser.out.weight"], gen_c.state_dict()["denoiser.out.weight"])


def test_time_limit_aborts_loudly_after_a_checkpoint_and_resume_finishes_the_run(setup, uninterrupted, tmp_path):
    recipe, cfg, utts, val_fn = setup
    gen_a, _, dir_a = uninterrupted
    with pytest.raises(TimeLimitReached, match="time limit reached at step 1 of 12.*NOT finished") as e:
        train(cfg, utts, log=lambda s: None, val_fn=val_fn, run_dir=tmp_path, deadline=time.monotonic() - 1.0)
    assert e.value.checkpoint == tmp_path / "step_00000001.pt" and e.value.checkpoint.is_file()
    state = torch.load(e.value.checkpoint, weights_only=False)
    assert state["step"] == 1 and state["extra"]["batcher"]["drawn"] == 1
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, utts, log=lambda s: None, run_dir=tmp_path)
    with pytest.raises(ValueError, match="other settings"):
        train(replace(cfg, lr=cfg.lr * 2), utts, log=lambda s: None, run_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="continues only with the recipe it started with"):
        train(cfg, utts, log=lambda s: None, run_dir=tmp_path, resume=True, provenance=recipe.provenance())
    gen_b, info_b = train(cfg, utts, log=lambda s: None, val_fn=val_fn, run_dir=tmp_path, resume=True)
    _assert_same_weights(gen_a, gen_b)
    assert read_metrics(tmp_path / "metrics.jsonl") == read_metrics(dir_a / "metrics.jsonl")
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporary files


def test_checkpoint_holds_the_recipe_and_every_rng_state(setup, uninterrupted):
    recipe, *_ = setup
    _, _, dir_a = uninterrupted
    state = torch.load(dir_a / "step_00000012.pt", weights_only=False)
    assert state["extra"]["recipe_hash"] == recipe.hash and state["extra"]["recipe"] == recipe.data
    assert set(state["rng"]) == {"torch", "numpy", "python", "torch_generators", "numpy_generators"}
    assert state["extra"]["batcher"]["drawn"] == 12
    assert state["optimizer"]["state"], "optimizer moments must be saved"


def test_training_curves_render_from_the_metrics_log(uninterrupted, tmp_path):
    from thunder_train.curves import curves_section, load_logs

    _, _, dir_a = uninterrupted
    runs = tmp_path / "runs"
    shutil.copytree(dir_a, runs / "tiny.ckpt")
    logs = load_logs(runs)
    assert list(logs) == ["tiny"]
    lines = curves_section(runs, tmp_path / "card")
    png = tmp_path / "card" / "training_curves.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = [ln for ln in "\n".join(lines).splitlines() if ln.startswith("| tiny |")]
    assert [ln.split("|")[2].strip() for ln in table] == ["4", "8", "12"]
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    assert img.shape[0] > 200 and img.shape[1] > 600
    assert float(img[..., :3].std()) > 0.05  # not a blank canvas


CLI_SETTINGS = ["generator.net.enc_dim=16", "generator.net.dim=16", "generator.net.enc_dilations=[1, 2]",
                "generator.net.den_dilations=[1, 2]", "runtime.generator_threads=1", "generator.batch.batch=2",
                "generator.batch.crop=30", "generator.runs.diffusion_base.steps=10", "generator.train.log_every=2",
                "generator.train.checkpoint_every=4", "generator.train.eval_every=4", "generator.train.val_utts=2"]


def test_cli_stopped_by_its_time_limit_and_resumed_in_a_new_process_matches_an_uninterrupted_run(tmp_path):
    """``thunder-train train``: --max-minutes 0 stops after step 1 with status 3; --resume (a new process)
    finishes the run; its weights equal those of one uninterrupted command."""
    import subprocess
    import sys
    from pathlib import Path

    from thunder_train.corpus.shards import Record, write_shard

    root = Path(__file__).resolve().parents[2]
    corpus = tmp_path / "corpus"
    utts = _corpus(8, seed=3)
    for split, part in (("train", utts[:6]), ("val", utts[6:])):
        write_shard(corpus / split / "shard_00000.npz", [Record(
            audio=(u.audio * 32767).astype(np.int16), perf=u.perf, phone_class=u.phone_class.astype(np.int8),
            closure=u.closure, emotion=u.emotion, intensity=u.intensity, voice=u.voice, lang="en",
            source=u.source, text="x") for u in part])
    (corpus / "meta.json").write_text('{"fps": 50}')
    args = ["--run", "diffusion_base", "--corpus", str(corpus), "--smoke"]
    for s in CLI_SETTINGS:
        args += ["--set", s]

    def cli(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "thunder_train.cli", "train", *args, *extra], cwd=root,
                              capture_output=True, text=True, timeout=300)

    a = cli("--out", str(tmp_path / "a.pt"))
    assert a.returncode == 0, a.stderr[-2000:]
    b = cli("--out", str(tmp_path / "b.pt"), "--max-minutes", "0")
    assert b.returncode == 3, b.stdout[-1000:] + b.stderr[-2000:]
    assert "STOPPED" in b.stderr and "time limit reached at step 1 of 10" in b.stderr
    assert not (tmp_path / "b.pt").exists() and (tmp_path / "b.ckpt" / "step_00000001.pt").is_file()
    again = cli("--out", str(tmp_path / "b.pt"))  # without --resume: refused, nothing overwritten
    assert again.returncode == 2 and "--resume" in again.stderr
    c = cli("--out", str(tmp_path / "b.pt"), "--resume")
    assert c.returncode == 0, c.stderr[-2000:]
    assert "resumed at step 1" in c.stdout
    ka, kb = (torch.load(tmp_path / f"{n}.pt", weights_only=False) for n in ("a", "b"))
    assert ka["recipe_hash"] == kb["recipe_hash"] and ka["recipe_overrides"] == CLI_SETTINGS
    assert ka["recipe"]["generator"]["net"]["enc_dim"] == 16
    for k, v in ka["state"].items():
        assert torch.equal(v, kb["state"][k]), k
    assert kb["info"]["resumed_from_step"] == 1 and ka["info"]["val"] == kb["info"]["val"]
    assert read_metrics(tmp_path / "a.ckpt" / "metrics.jsonl") == read_metrics(tmp_path / "b.ckpt" / "metrics.jsonl")
