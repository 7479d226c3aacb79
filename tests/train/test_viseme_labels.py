"""Viseme labels of the corpus (the viseme head's training targets) and the head end to end: loss, ONNX
export, onnxruntime generation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thunder_blender.core.phones import PHONE_CLASSES
from thunder_blender.core.visemes import CLASS_VISEMES, VISEMES
from thunder_train.corpus import phonemap
from thunder_train.corpus.articulation import ArticulationStyle, articulate, frame_visemes
from thunder_train.evaluation.viseme_eval import EXPECTED_VISEME


@pytest.mark.parametrize("phone", sorted(EXPECTED_VISEME))
def test_cmu_phones_get_the_evaluations_viseme(phone):
    """The labels follow the OVR table the viseme evaluation scores against (a diphthong by its first half)."""
    pose = phonemap.cmu_segments(phone)[0][0]
    assert VISEMES[phonemap.pose_viseme(pose)] == EXPECTED_VISEME[phone]


def test_every_pose_label_lies_within_its_class_visemes():
    """A transcript's aligned class keeps the head's split within ``CLASS_VISEMES``: every label the head is
    trained on must be reachable from the class the same phone gets."""
    for ch, (cls, pose) in phonemap._IPA.items():
        assert phonemap.POSE_VISEME[pose] in CLASS_VISEMES[cls], (ch, cls, pose)
    assert set(CLASS_VISEMES) == set(PHONE_CLASSES)


def test_finer_pose_keys_draw_the_same_mouth():
    segs = lambda a, b: [("sil", 0, 0.0, 0.1), (a, 7, 0.1, 0.2), ("ɑ", 4, 0.2, 0.35), (b, 5, 0.35, 0.5),  # noqa: E731
                         ("sil", 0, 0.5, 0.6)]
    style = ArticulationStyle()
    fine = articulate(segs("alveolar.s", "ɚ"), 30, 50.0, style)
    coarse = articulate(segs("alveolar", "ə"), 30, 50.0, style)
    np.testing.assert_array_equal(fine, coarse)
    lab = frame_visemes(segs("alveolar.s", "ɚ"), 30, 50.0)
    assert [VISEMES[i] for i in lab[[2, 7, 12, 20, 27]]] == ["sil", "SS", "aa", "RR", "sil"]


def test_espeak_names_split_the_alveolars():
    got = {n: VISEMES[phonemap.pose_viseme(phonemap.ipa_segments(n)[0][0])] for n in ("t", "n", "l", "s", "z", "ɹ",
                                                                                       "ts", "j", "ɝ", "aɪ")}
    assert got == {"t": "DD", "n": "nn", "l": "nn", "s": "SS", "z": "SS", "ɹ": "RR", "ts": "SS", "j": "I",
                   "ɝ": "RR", "aɪ": "aa"}


def test_viseme_head_loss_export_and_runtime(tmp_path):
    torch = pytest.importorskip("torch")
    from dataclasses import replace

    from thunder_blender.runtime.generate import GenerateRequest, generate
    from thunder_blender.runtime.model import load_model
    from thunder_train.diffusion import Diffusion
    from thunder_train.export import build_card, export_onnx, parity
    from thunder_train.networks import Generator, NetConfig
    from thunder_train.recipe import Recipe
    from thunder_train.train import generator_loss

    net = NetConfig(enc_dim=32, dim=32, enc_dilations=(1, 2), den_dilations=(1, 2), kernel=3, dropout=0.0,
                    viseme_head=True)
    torch.manual_seed(0)
    gen = Generator(net)
    T, B = 40, 2
    g = torch.Generator().manual_seed(1)
    batch = {"mel": torch.randn(B, 2 * T, 80, generator=g), "mel_clean": torch.randn(B, 2 * T, 80, generator=g),
             "perf": torch.rand(B, T, 55, generator=g), "closure": torch.zeros(B, T, dtype=torch.bool),
             "phone": torch.randint(0, 10, (B, T), generator=g), "viseme": torch.randint(0, 15, (B, T), generator=g),
             "mask": torch.ones(B, T, dtype=torch.bool), "emotion": torch.tensor([1, 2]),
             "intensity": torch.tensor([0.3, 0.6])}
    cfg = replace(Recipe.load().train_config("diffusion_base"), net=net)
    loss, parts = generator_loss(gen, Diffusion(), batch, cfg, torch.Generator().manual_seed(0), {})
    assert "viseme" in parts and parts["viseme"] > 0
    loss.backward()
    assert gen.encoder.viseme_head.weight.grad.abs().sum() > 0
    gen.eval()
    export_onnx(gen, tmp_path)
    assert parity(gen, tmp_path) < 1e-4
    build_card(gen, steps=2, training={}, repo=Path("."), status="test").write(tmp_path / "model.json")
    model = load_model(tmp_path, providers=["CPUExecutionProvider"])
    assert model.card.info["viseme_classes"] == list(VISEMES)
    audio = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    takes = generate(GenerateRequest(pcm=audio, n_takes=1, seed=1, steps=2, eye_layer=False), model)
    v = takes.cues.viseme_probs
    assert v is not None and v.shape == (takes.weights.shape[1], 15)
    np.testing.assert_allclose(v.sum(axis=1), 1.0, rtol=1e-4)
    from thunder_blender.core import features
    from thunder_blender.runtime.generate import prepare_audio

    mel = features.normalise(features.log_mel(prepare_audio(audio, 16000)))
    with torch.no_grad():
        ref = torch.softmax(gen.encoder.viseme_logits(gen.encoder(torch.from_numpy(mel[None, : 2 * len(v)]))), -1)[0]
    np.testing.assert_allclose(v, ref.numpy(), atol=1e-4)


def test_a_corpus_with_older_labels_must_be_rebuilt():
    from thunder_train.corpus.build import LABELS
    from thunder_train.pipeline import corpus_mismatch
    from thunder_train.recipe import Recipe

    want = Recipe.load().build_config(Path("x"))
    meta = {"seed": want.seed, "hours_requested": want.hours, "real_sources": list(want.real_sources),
            "labels": LABELS, "splits": {"real_train": {}}}
    assert corpus_mismatch(meta, want) == []
    old = {k: v for k, v in meta.items() if k != "labels"}
    assert corpus_mismatch(old, want) == [f"labels 1 (recipe: {LABELS})"]
