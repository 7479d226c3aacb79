"""The typed model card: what the runtime reads is checked against core, and every bad card is one clear
error (never a ZeroDivisionError deep inside generation, never silently wrong output)."""
from __future__ import annotations

import json
import shutil

import pytest

from thunder_blender.core import features
from thunder_blender.core.channels import CHANNELS, EMOTIONS
from thunder_blender.runtime.card import CARD_VERSION, CardError, ModelCard, Window
from thunder_blender.runtime.model import ModelError, find_model_dir, load_model


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads((find_model_dir() / "model.json").read_text())


def test_shipped_card_reads_and_round_trips(shipped):
    card = ModelCard.from_dict(shipped)
    assert card.card_version == CARD_VERSION and card.channels == CHANNELS and card.emotions == EMOTIONS
    assert card.fps == features.MEL_FPS / 2 and card.sample_rate == features.SAMPLE_RATE
    assert ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card
    assert card.to_dict() == shipped  # nothing lost, nothing added
    assert card.closure_logit_threshold == pytest.approx(0.0)  # probability 0.5
    assert len(card.sampler().timesteps) == card.schedule.steps


@pytest.mark.parametrize("change, message", [
    ({"perf_mean": [0.0] * 54}, "perf_mean must hold 55"),
    ({"perf_std": [0.0] * 55}, "perf_std must be positive"),
    ({"perf_mean": [float("nan")] * 55}, "finite"),
    ({"schedule": {"steps": 0}}, "steps 0 out of range"),
    ({"schedule": {"steps": 3.5}}, "integers"),
    ({"schedule": {"sampler": "ddpm"}}, "not supported"),
    ({"fps": 0}, "fps do not match"),
    ({"sample_rate": 22050}, "sample rate"),
    ({"window": {"frames": 0, "overlap": 0}}, "window of 0 frames"),
    ({"window": {"frames": 300, "overlap": 400}}, "window overlap 400"),
    ({"files": {"encoder": "a.onnx", "denoiser": "a.onnx"}}, "same file"),
    ({"channels": list(CHANNELS[:52])}, "52 channels"),
    ({"emotions": ["auto", "happy"]}, "emotion list"),
    ({"null_emotion": 3}, "null emotion"),
    ({"features": {"n_mels": 64}}, "n_mels"),
    ({"closure_seal_threshold": 1.0}, "closure_seal_threshold"),
    ({"mouth_temperature": 2}, "mouth_temperature"),
    ({"card_version": 99}, "card version 99"),
    ({"regression": "yes"}, "regression must be bool"),
])
def test_bad_cards_are_refused_with_a_clear_message(shipped, change, message):
    d = json.loads(json.dumps(shipped))
    for k, v in change.items():
        d[k] = {**d[k], **v} if isinstance(v, dict) and k in ("schedule", "features") else v
    with pytest.raises(CardError, match=message):
        ModelCard.from_dict(d)


def test_missing_keys_and_garbage(shipped, tmp_path):
    with pytest.raises(CardError, match="lacks card_version"):
        ModelCard.from_dict({k: v for k, v in shipped.items() if k != "card_version"})
    with pytest.raises(CardError, match="not a JSON object"):
        ModelCard.from_dict([1, 2])
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CardError):
        ModelCard.read(deep)


def test_swapped_graph_files_are_detected(tmp_path, shipped):
    d = tmp_path / "m"
    shutil.copytree(find_model_dir(), d, ignore=shutil.ignore_patterns("*.md", "metrics.json"))
    swapped = {**shipped, "files": {"encoder": shipped["files"]["denoiser"], "denoiser": shipped["files"]["encoder"]}}
    (d / "model.json").write_text(json.dumps(swapped))
    with pytest.raises(ModelError, match="is not the encoder graph"):
        load_model(d, providers=["CPUExecutionProvider"])


def test_with_changes_keeps_the_card_valid(shipped):
    card = ModelCard.from_dict(shipped)
    small = card.with_changes(window=Window(300, 100), variant="x")
    assert small.window.frames == 300 and small.info["variant"] == "x" and card.window.frames == 3000
    with pytest.raises(CardError):
        card.with_changes(mouth_temperature=-1.0)
