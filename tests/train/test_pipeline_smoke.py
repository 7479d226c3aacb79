"""``thunder-train all --smoke``: the whole retrain chain end to end in a few minutes."""
from __future__ import annotations

import json

import numpy as np

VARIANTS = ("deterministic", "diffusion", "diffusion_m2s", "diffusion_m2s_sync")


def test_smoke_pipeline_produces_a_loadable_evaluated_model(smoke_run):
    out, res = smoke_run
    assert res is None or res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for f in ("encoder.onnx", "denoiser.onnx", "model.json", "metrics.json", "MODEL_CARD.md"):
        assert (out / f).is_file(), f
    metrics = json.loads((out / "metrics.json").read_text())
    for v in VARIANTS + ("ground_truth", "mean_pose"):
        assert "test" in metrics["ablation"][v], v
    for v in ("diffusion_m2s_sync_sealed", "diffusion_m2s_sync_rest", "diffusion_m2s_sync_sealed_rest"):
        assert "test" in metrics["ablation"][v], v
    # no development set at smoke size, so the silence-rest copy is never preferred (pipeline.prefer_rest)
    assert metrics["shipped_variant"] in ("diffusion_m2s_sync", "diffusion_m2s_sync_sealed")
    assert set(metrics["timings_s"]) == {"corpus", "judges", "generators", "export", "evaluation", "text evaluation"}
    card = json.loads((out / "model.json").read_text())
    assert card["status"] == "smoke" and card["variant"] == metrics["shipped_variant"]
    assert card["closure_seal"] == card["variant"].endswith("_sealed") and card["silence_rest"] is False
    # the viseme split was fitted to this model (or, with too few labelled vowels at smoke size, left default)
    fit = card["viseme_split_fit"]
    assert set(fit) <= {"e", "o"} and fit["e"]["intervals"] == fit["e"]["positive"] + fit["e"]["negative"]
    assert (card["viseme_split"] is None) == ("fitted_accuracy" not in fit.get("o", {}))
    assert card["onnx_parity_max_abs"] < 1e-4
    text = (out / "MODEL_CARD.md").read_text()
    assert "diffusion_m2s_sync" in text and "lip PCC" in text
    # the recipe as used travels into the card; the training curves come from the runs' metrics logs
    from thunder_train.recipe import Recipe

    recipe = Recipe.load(smoke=True)
    assert card["recipe_hash"] == recipe.hash and card["recipe"] == recipe.data
    assert f"`{recipe.hash}`" in text and "## Training curves" in text
    assert (out / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    dev_rows = [ln for ln in text.splitlines() if ln.startswith("| diffusion_base | ")]
    assert [ln.split("|")[2].strip() for ln in dev_rows if "| val |" in ln] == ["20", "40"]

    from thunder_blender.runtime.generate import GenerateRequest, generate
    from thunder_blender.runtime.model import load_model

    model = load_model(out)
    pcm = (0.1 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)).astype(np.float32)
    takes = generate(GenerateRequest(pcm=pcm, n_takes=2, seed=1), model)
    assert takes.weights.shape == (2, 50, 55) and np.isfinite(takes.weights).all()
