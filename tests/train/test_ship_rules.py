"""The pipeline's ship rules pick runtime settings by measurement (``pipeline.prefer_sealed``/``prefer_rest``)."""
from __future__ import annotations

from thunder_train.pipeline import prefer_rest


def _dev(**rows: dict) -> dict:
    def row(sealed=0.7, rounded=0.9, open_=0.98, silent=0.85, pcc=0.7):
        return {"overall": {"arkit.bilabial_sealed": {"mean": sealed}, "arkit.rounded_lips": {"mean": rounded},
                            "arkit.open_jaw": {"mean": open_}, "arkit.silent_closed": {"mean": silent},
                            "lip_pcc_vs_target": {"mean": pcc}}}
    return {"devset": {"groups": {name: row(**kw) for name, kw in rows.items()}}}


def test_rest_is_preferred_only_when_silence_improves_and_nothing_else_drops():
    assert prefer_rest(_dev(m={}, m_rest={"silent": 0.9}), "m")
    assert prefer_rest(_dev(m={}, m_rest={"silent": 0.9, "pcc": 0.695}), "m")        # within 0.01
    assert not prefer_rest(_dev(m={}, m_rest={"silent": 0.9, "pcc": 0.68}), "m")     # lip PCC falls
    assert not prefer_rest(_dev(m={}, m_rest={"silent": 0.9, "open_": 0.95}), "m")   # jaw opens less
    assert not prefer_rest(_dev(m={}, m_rest={"silent": 0.85}), "m")                 # no gain
    assert not prefer_rest(_dev(m={}), "m")                                          # not evaluated
    assert not prefer_rest({}, "m")                                                  # no development set


def test_evaluation_stages_score_the_development_set_with_the_recipes_take_seeds(tmp_path, monkeypatch):
    """The development-set path of ``stage_eval`` and ``stage_text_eval`` (the CI smoke run has no development
    set): both call the real development-set evaluation entry point with the recipe's take seeds."""
    import json

    from thunder_train import pipeline
    from thunder_train.devset import evaluate as dev
    from thunder_train.evaluation import cli, run
    from thunder_train.recipe import Recipe

    recipe = Recipe.load()
    calls = []

    def fake_devset(variants, root, cfg, log=print, text_variants=None, target_row=True):
        calls.append((sorted(variants), sorted(text_variants or {}), cfg.seeds, target_row))
        return {"groups": {n: {"overall": {}} for n in [*variants, *(text_variants or {})]}}

    monkeypatch.setattr(run, "evaluate", lambda variants, corpus, judges, ecfg, log=print: {"splits": {}})
    monkeypatch.setattr(dev, "evaluate_devset", fake_devset)
    monkeypatch.setattr(cli, "onnx_sample_fn", lambda d, transcript=False: (d, transcript))
    (tmp_path / "devset" / "dev").mkdir(parents=True)
    (tmp_path / "devset" / "meta.json").write_text(json.dumps({"summary": {"clips": 3, "hours": 0.01, "x": 1}}))
    cfg = pipeline.PipelineConfig(out=tmp_path / "out", recipe=recipe, work=tmp_path, devset=tmp_path / "devset")
    dirs = {"deterministic": tmp_path / "d", "diffusion_m2s_sync": tmp_path / "m"}
    metrics = pipeline.stage_eval(cfg, tmp_path / "corpus", dirs)
    pipeline.stage_text_eval(cfg, dirs, "diffusion_m2s_sync", metrics)
    seeds = tuple(recipe.eval_config().seeds)
    assert calls == [(sorted(dirs), ["deterministic+text"], seeds, True),
                     ([], ["diffusion_m2s_sync+text"], seeds, False)]
    assert metrics["devset"]["devset"] == {"clips": 3, "hours": 0.01}
    assert "diffusion_m2s_sync+text" in metrics["devset"]["groups"]
