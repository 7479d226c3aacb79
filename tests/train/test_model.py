"""Generator networks, losses and export (torch side)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from thunder_train.diffusion import Diffusion  # noqa: E402
from thunder_train.networks import Generator, NetConfig, count_parameters, receptive_field  # noqa: E402
from thunder_train.recipe import Recipe  # noqa: E402

SMALL = NetConfig(enc_dim=32, dim=32, enc_dilations=(1, 2), den_dilations=(1, 2, 4), kernel=3, dropout=0.1)
RECIPE = Recipe.load()


def _inputs(gen: Generator, T: int, B: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mel = torch.randn(1, 2 * T, 80, generator=g)
    x = torch.randn(B, T, 55, generator=g)
    return mel, x


def test_shapes_and_parameter_budget():
    gen = Generator(RECIPE.net_config()).eval()  # the shipped architecture
    mel, x = _inputs(gen, 123)
    feats = gen.encoder(mel)
    assert feats.shape == (1, 123, gen.cfg.enc_dim)
    c, p = gen.encoder.heads(feats)
    assert c.shape == (1, 123) and p.shape == (1, 123, 10)
    y = gen.denoiser(x, feats.expand(2, -1, -1), torch.tensor([5, 900]), torch.tensor([0, 3]),
                     torch.tensor([0.0, 0.4]))
    assert y.shape == (2, 123, 55)
    # shipped ONNX budget: float32 weights of both graphs well under 15 MB
    assert count_parameters(gen) * 4 < 15e6


def test_outputs_are_local_within_the_receptive_field():
    torch.manual_seed(0)
    gen = Generator(SMALL).eval()
    enc_rf, den_rf = receptive_field(SMALL)
    T = 200
    mel, x = _inputs(gen, T)
    args = (torch.tensor([10, 10]), torch.tensor([1, 1]), torch.tensor([0.5, 0.5]))
    with torch.no_grad():
        f1 = gen.encoder(mel)
        y1 = gen.denoiser(x, f1.expand(2, -1, -1), *args)
        mel2 = mel.clone()
        mel2[:, 2 * 150:] += 5.0  # change audio from frame 150 on
        x2 = x.clone()
        x2[:, 150:] += 5.0
        f2 = gen.encoder(mel2)
        y2 = gen.denoiser(x2, f2.expand(2, -1, -1), *args)
    lim = 150 - enc_rf - den_rf - 1
    assert torch.equal(f1[:, : 150 - enc_rf - 1], f2[:, : 150 - enc_rf - 1])
    assert torch.allclose(y1[:, :lim], y2[:, :lim], atol=1e-6)
    assert not torch.allclose(y1[:, 140:160], y2[:, 140:160])


def test_regression_baseline_ignores_noise_and_step():
    torch.manual_seed(0)
    gen = Generator(SMALL, regression=True).eval()
    mel, x = _inputs(gen, 40)
    with torch.no_grad():
        f = gen.encoder(mel).expand(2, -1, -1)
        emo, inten = torch.tensor([2, 2]), torch.tensor([0.5, 0.5])
        a = gen.denoiser(x, f, torch.tensor([0, 999]), emo, inten)
        b = gen.denoiser(torch.randn_like(x), f, torch.tensor([500, 3]), emo, inten)
    assert torch.allclose(a, b)
    assert torch.allclose(a[0], a[1])


def test_a_few_training_steps_reduce_the_loss_on_a_fixed_batch():
    from dataclasses import replace

    from thunder_train.train import generator_loss

    torch.manual_seed(0)
    gen = Generator(SMALL)
    T, B = 60, 4
    g = torch.Generator().manual_seed(1)
    batch = {"mel": torch.randn(B, 2 * T, 80, generator=g), "mel_clean": torch.randn(B, 2 * T, 80, generator=g),
             "perf": torch.rand(B, T, 55, generator=g), "closure": torch.rand(B, T, generator=g) > 0.8,
             "phone": torch.randint(0, 10, (B, T), generator=g), "mask": torch.ones(B, T, dtype=torch.bool),
             "emotion": torch.tensor([0, 1, 2, 3]), "intensity": torch.tensor([0.0, 0.2, 0.5, 1.0])}
    cfg = replace(RECIPE.train_config("diffusion_base"), net=SMALL)
    opt = torch.optim.Adam(gen.parameters(), lr=3e-3)
    d = Diffusion()
    losses = []
    for step in range(60):
        loss, parts = generator_loss(gen, d, batch, cfg, torch.Generator().manual_seed(step % 3), {})
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert set(parts) == {"x0", "vel", "closure", "phone"}
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_export_parity_and_runtime_loads_it(tmp_path):
    from pathlib import Path

    from thunder_blender.runtime.generate import GenerateRequest, generate
    from thunder_blender.runtime.model import load_model
    from thunder_train.export import build_card, export_onnx, parity
    from thunder_train.infer import sample_takes

    torch.manual_seed(0)
    gen = Generator(SMALL).eval()
    with torch.no_grad():
        gen.perf_std.fill_(0.1)
        gen.perf_mean.fill_(0.2)
    export_onnx(gen, tmp_path)
    assert parity(gen, tmp_path) < 1e-4
    build_card(gen, steps=4, training={}, repo=Path("."), status="test").write(tmp_path / "model.json")
    model = load_model(tmp_path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    # the network alone (the seeded blink and gaze layer is runtime-only, not part of the torch twin)
    takes = generate(GenerateRequest(pcm=audio, n_takes=2, seed=3, steps=4, eye_layer=False), model)
    ref = sample_takes(gen, audio, list(takes.seeds), steps=4)
    assert ref.shape == takes.weights.shape
    assert np.abs(ref - takes.weights).max() < 1e-3


def test_recorded_speech_gets_its_share_of_draws():
    from types import SimpleNamespace

    from thunder_train.data import draw_probabilities

    def utt(source, n):
        return SimpleNamespace(source=source, perf=np.zeros((n, 55), np.float32), audio=np.zeros(320 * n, np.float32))

    utts = [utt("espeak", 1000), utt("flite", 3000), utt("asterisk-pocketsphinx", 100), utt("asterisk-dtw-espeak", 300),
            utt("fillets-cs", 200), utt("tuxpaint-ro", 50), utt("fotaq", 400), utt("festival", 10)]
    p = draw_probabilities(utts, 0.5)
    np.testing.assert_allclose(p.sum(), 1.0)
    np.testing.assert_allclose(p[2:7].sum(), 0.5)   # every recorded source shares the recorded half by frames
    np.testing.assert_allclose(p[6] / p[2], 4.0)
    np.testing.assert_allclose(p[1] / p[0], 3.0)  # by frames within a group
    synth_only = draw_probabilities(utts[:2], 0.5)
    np.testing.assert_allclose(synth_only, [0.25, 0.75])


def test_upper_face_anchor_is_zero_for_the_anchor_itself_and_ignores_the_mouth():
    import copy
    from dataclasses import replace

    from thunder_blender.core.channels import MOUTH_INDEX, UPPER_INDEX
    from thunder_train.train import generator_loss

    torch.manual_seed(0)
    gen = Generator(SMALL).eval()  # eval: no dropout, so the copy predicts exactly the same
    ref = copy.deepcopy(gen).requires_grad_(False)
    T, B = 40, 2
    g = torch.Generator().manual_seed(3)
    batch = {"mel": torch.randn(B, 2 * T, 80, generator=g), "mel_clean": torch.randn(B, 2 * T, 80, generator=g),
             "perf": torch.rand(B, T, 55, generator=g), "closure": torch.zeros(B, T, dtype=torch.bool),
             "phone": torch.zeros(B, T, dtype=torch.int64), "mask": torch.ones(B, T, dtype=torch.bool),
             "emotion": torch.tensor([0, 1]), "intensity": torch.tensor([0.0, 0.5])}
    cfg = replace(RECIPE.train_config("diffusion_base"), net=SMALL, w_anchor=1.0)

    def anchor_part() -> float:
        return generator_loss(gen, Diffusion(), batch, cfg, torch.Generator().manual_seed(0), {"anchor": ref})[1]["anchor"]

    assert anchor_part() == 0.0
    with torch.no_grad():
        gen.denoiser.out.bias[list(MOUTH_INDEX)] += 1.0   # the mouth may move freely
    assert anchor_part() == 0.0
    with torch.no_grad():
        gen.denoiser.out.bias[list(UPPER_INDEX)] += 0.5   # the upper face may not
    assert abs(anchor_part() - 0.25) < 1e-5


def test_extremum_weights_emphasise_articulation_peaks_and_move_the_minimiser():
    from thunder_blender.core.channels import INDEX, MOUTH_INDEX
    from thunder_train.train import _masked_mse, channel_weights, extremum_weights

    x0 = torch.zeros(1, 10, 55)
    x0[0, 0, INDEX["mouthPucker"]] = 3.0     # one frame 3 std above the mean, nine at the mean
    x0[0, 1, INDEX["browInnerUp"]] = 3.0     # not a mouth channel: never re-weighted
    x0[0, 2, INDEX["mouthFunnel"]] = -2.0    # below the mean: weight 1
    x0[0, 3, INDEX["jawOpen"]] = 3.0         # jaw reaches its peaks without help: weight 1
    ew = extremum_weights(x0, 1.5)
    assert float(ew[0, 0, INDEX["mouthPucker"]]) == pytest.approx(5.5)
    assert float(ew[0, 1, INDEX["browInnerUp"]]) == 1.0 and float(ew[0, 2, INDEX["mouthFunnel"]]) == 1.0
    assert float(ew[0, 3, INDEX["jawOpen"]]) == 1.0
    assert torch.equal(extremum_weights(x0, 0.0), torch.ones_like(x0))
    assert INDEX["mouthPucker"] in MOUTH_INDEX
    # the constant prediction minimising the loss on that channel: the plain mean (0.3) without, the
    # weighted mean 3 * 5.5 / (9 + 5.5) = 1.14 with the weights
    mask = torch.ones(1, 10, dtype=torch.bool)
    w = channel_weights(2.0)
    best = {}
    for name, elem in (("plain", None), ("extremum", ew)):
        c = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([c], lr=20.0)
        for _ in range(300):
            pred = x0.clone()
            pred[..., INDEX["mouthPucker"]] = c
            loss = _masked_mse(pred, x0, mask, w, elem)
            opt.zero_grad()
            loss.backward()
            opt.step()
        best[name] = float(c)
    assert best["plain"] == pytest.approx(0.3, abs=0.02)
    assert best["extremum"] == pytest.approx(3 * 5.5 / 14.5, abs=0.03)


def test_extremum_loss_term_is_wired_into_the_generator_loss():
    from dataclasses import replace

    from thunder_train.train import generator_loss

    torch.manual_seed(0)
    gen = Generator(SMALL).eval()   # no dropout: both calls see the same network
    T, B = 40, 2
    g = torch.Generator().manual_seed(1)
    batch = {"mel": torch.randn(B, 2 * T, 80, generator=g), "mel_clean": torch.randn(B, 2 * T, 80, generator=g),
             "perf": torch.rand(B, T, 55, generator=g), "closure": torch.rand(B, T, generator=g) > 0.8,
             "phone": torch.randint(0, 10, (B, T), generator=g), "mask": torch.ones(B, T, dtype=torch.bool),
             "emotion": torch.tensor([0, 1]), "intensity": torch.tensor([0.0, 0.5])}
    parts = {}
    for w in (0.0, 2.0):
        cfg = replace(RECIPE.train_config("diffusion_base"), net=SMALL, w_extremum=w)
        parts[w] = generator_loss(gen, Diffusion(), batch, cfg, torch.Generator().manual_seed(0), {})[1]
    assert parts[0.0]["x0"] != pytest.approx(parts[2.0]["x0"])
    assert parts[0.0]["phone"] == pytest.approx(parts[2.0]["phone"])   # heads untouched


def test_phone_input_reaches_the_denoiser_and_zeros_mean_none():
    from thunder_blender.core.phones import UNKNOWN, phone_input

    torch.manual_seed(0)
    gen = Generator(SMALL).eval()
    with torch.no_grad():
        gen.denoiser.p_in.weight.normal_()
    x, f = torch.randn(1, 30, 55), torch.randn(1, 30, gen.cfg.enc_dim)
    args = (torch.tensor([300]), torch.tensor([0]), torch.tensor([0.0]))
    cls = np.full(30, UNKNOWN)
    cls[10:20] = 1
    with torch.no_grad():
        none = gen.denoiser(x, f, *args)
        zeros = gen.denoiser(x, f, *args, torch.from_numpy(phone_input(np.full(30, UNKNOWN)))[None])
        some = gen.denoiser(x, f, *args, torch.from_numpy(phone_input(cls))[None])
    assert torch.equal(none, zeros)
    assert not torch.allclose(none, some)


def test_phone_condition_dropout_span_and_jitter():
    from dataclasses import replace

    from thunder_train.train import phone_condition

    cfg = RECIPE.train_config("diffusion")
    phone = torch.randint(0, 10, (64, 50))
    mask = torch.ones(64, 50, dtype=torch.bool)
    mask[:, 45:] = False
    exact = phone_condition(phone, mask, replace(cfg, phone_drop=0.0, phone_span_drop=0.0, phone_jitter=0),
                            torch.Generator().manual_seed(0))
    assert torch.equal(exact[:, :45, :10].argmax(-1), phone[:, :45])
    assert bool((exact[:, :45, 10] == 1).all()) and bool((exact[:, 45:] == 0).all())
    dropped = phone_condition(phone, mask, replace(cfg, phone_drop=1.0), torch.Generator().manual_seed(0))
    assert bool((dropped == 0).all())
    g = torch.Generator().manual_seed(1)
    mixed = phone_condition(phone, mask, replace(cfg, phone_drop=0.5, phone_span_drop=1.0, phone_jitter=2), g)
    known = mixed[..., 10].sum(1)
    assert 10 < int((known == 0).sum()) < 54          # about half the crops have no phones
    # the others mostly lose a stretch (it may start in the padding) or an edge to the shift
    assert float((known[known > 0] < 45).float().mean()) > 0.75
    rows = mixed[..., :10].sum(-1)
    assert torch.equal(rows, mixed[..., 10])            # one-hot exactly where known
