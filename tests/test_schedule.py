"""The one sampler (core.schedule.DDIMSampler): schedule properties, DDIM against its closed form, and
the torch side stepping through the same code."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core import schedule as S


def _toy_denoiser(x_t: np.ndarray, t: int) -> np.ndarray:
    # a fixed, non-trivial "network": shrinks towards a ramp, depends on t
    ramp = np.linspace(-1, 1, x_t.shape[-1], dtype=np.float32)
    return (0.5 * np.tanh(x_t) + 0.5 * ramp * (1.0 - t / 1000.0)).astype(np.float32)


def test_cosine_schedule_is_monotone_and_spans_signal_to_noise():
    abar = S.alphas_cumprod()
    assert abar.shape == (1000,)
    assert np.all(np.diff(abar) < 0)
    assert abar[0] > 0.999 and abar[-1] < 1e-4
    # eq. 17 of Nichol & Dhariwal at an interior step, computed here from the formula
    f = lambda t: np.cos((t / 1000 + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
    np.testing.assert_allclose(abar[499], f(500) / f(0), rtol=1e-9)


def test_timesteps():
    assert S.DDIMSampler(steps=4).timesteps.tolist() == [999, 666, 333, 0]
    assert S.DDIMSampler(steps=1).timesteps.tolist() == [999]
    assert S.DDIMSampler.single_pass().timesteps.tolist() == [0]
    with pytest.raises(ValueError):
        S.DDIMSampler(steps=0)


def test_step_with_the_true_x0_follows_the_deterministic_trajectory():
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 10, 55)).astype(np.float32)
    sampler = S.DDIMSampler(steps=4)          # 999, 666, 333, 0
    abar = S.alphas_cumprod()
    eps = rng.standard_normal(x0.shape).astype(np.float32)
    x_t = S.q_sample(x0, 666, eps, abar)
    # DDIM eq. 12 (eta = 0): the same noise direction, rescaled to t_prev = 333
    want = np.sqrt(abar[333]) * x0 + np.sqrt(1 - abar[333]) * eps
    np.testing.assert_allclose(sampler.step(1, x_t, x0), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(sampler.step(3, x_t, x0), x0)  # last step returns the x0 estimate


def test_loop_calls_the_network_once_per_timestep_and_is_a_fixed_point_for_a_constant_network():
    x_T = np.random.default_rng(42).standard_normal((2, 16, 55)).astype(np.float32)
    target = np.linspace(-1, 1, 55, dtype=np.float32)
    seen, calls = [], []

    def const(x, t):
        seen.append(t)
        return np.broadcast_to(target, x.shape).astype(np.float32)

    out = S.DDIMSampler(steps=8).sample(const, x_T, on_step=lambda i, n: calls.append((i, n)))
    assert calls == [(i, 8) for i in range(1, 9)]
    assert seen == S.DDIMSampler(steps=8).timesteps.tolist()
    np.testing.assert_allclose(out, np.broadcast_to(target, x_T.shape), atol=1e-6)
    # a network that depends on x_t: the result depends on the noise, deterministically
    a = S.DDIMSampler(steps=8).sample(_toy_denoiser, x_T)
    b = S.DDIMSampler(steps=8).sample(_toy_denoiser, x_T)
    c = S.DDIMSampler(steps=8).sample(_toy_denoiser, x_T + 0.5)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and np.abs(a - c).max() > 1e-3


def test_guidance():
    c, u = np.ones(3, np.float32), np.zeros(3, np.float32)
    assert S.guided(c, u, 1.0) is c
    np.testing.assert_allclose(S.guided(c, u, 2.5), 2.5 * np.ones(3))


@pytest.mark.train
def test_torch_tensors_step_through_the_same_sampler():
    torch = pytest.importorskip("torch")
    from thunder_train.diffusion import Diffusion

    d = Diffusion()
    np.testing.assert_allclose(d.abar.numpy(), S.alphas_cumprod())
    x_T = np.random.default_rng(42).standard_normal((2, 16, 55)).astype(np.float32)
    sampler = S.DDIMSampler(steps=8)
    out_t = sampler.sample(lambda x, t: torch.from_numpy(_toy_denoiser(x.numpy(), t)), torch.from_numpy(x_T))
    assert out_t.dtype == torch.float32
    np.testing.assert_allclose(out_t.numpy(), sampler.sample(_toy_denoiser, x_T), rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(3)
    x0, z = (rng.standard_normal((1, 4, 55)).astype(np.float32) for _ in range(2))
    xq = d.q_sample(torch.from_numpy(x0), torch.tensor([10]), torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(xq, S.q_sample(x0, 10, z, S.alphas_cumprod()), rtol=1e-5, atol=1e-6)


def test_initial_noise_scales_only_the_mouth_channels():
    from thunder_blender.core.channels import MOUTH_INDEX, UPPER_INDEX

    plain = S.initial_noise(7, 40, 55)
    np.testing.assert_array_equal(plain, np.random.default_rng(7).standard_normal((40, 55)).astype(np.float32))
    cool = S.initial_noise(7, 40, 55, mouth_temperature=0.25)
    np.testing.assert_allclose(cool[:, list(MOUTH_INDEX)], 0.25 * plain[:, list(MOUTH_INDEX)], rtol=1e-6)
    np.testing.assert_array_equal(cool[:, list(UPPER_INDEX)], plain[:, list(UPPER_INDEX)])
    assert not S.initial_noise(7, 40, 55, 0.0)[:, list(MOUTH_INDEX)].any()
