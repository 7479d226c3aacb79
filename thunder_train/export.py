"""Export a trained generator to ONNX (two graphs) plus the ``model.json`` card the runtime reads.

Graphs (dynamo exporter, weights embedded, dynamic time axis):
  encoder.onnx   mel (1, Tm, 80) normalised log-mel -> feats (1, Tm // 2, E), closure_logit (1, Tm // 2),
                 phone_logits (1, Tm // 2, n_phones)[, viseme_logits (1, Tm // 2, n_visemes) with a viseme head]
  denoiser.onnx  x_t (B, T, 55), feats (B, T, E), t (B,) int64, emotion (B,) int64, intensity (B,) float32,
                 phones (B, T, 11) float32 [core.phones.phone_input; zeros = no transcript]
                 -> x0 (B, T, 55)   [normalised performance space; card holds perf_mean / perf_std]
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import torch
from torch import nn

from thunder_blender.core.channels import HEAD_CHANNELS
from thunder_blender.core.phones import PHONE_CLASSES, UNKNOWN, phone_input
from thunder_blender.core.schedule import ScheduleConfig
from thunder_blender.core.visemes import VISEMES
from thunder_blender.runtime.card import ModelCard, Sampling
from thunder_train.networks import Generator, count_parameters, receptive_field

OPSET = 20
ENCODER_FILE = "encoder.onnx"
DENOISER_FILE = "denoiser.onnx"


class _EncoderGraph(nn.Module):
    def __init__(self, gen: Generator):
        super().__init__()
        self.enc = gen.encoder

    def forward(self, mel: torch.Tensor):
        feats = self.enc(mel)
        c, p = self.enc.heads(feats)
        v = self.enc.viseme_logits(feats)
        return (feats, c, p) if v is None else (feats, c, p, v)


class _DenoiserGraph(nn.Module):
    def __init__(self, gen: Generator):
        super().__init__()
        self.den = gen.denoiser

    def forward(self, x_t, feats, t, emotion, intensity, phones):
        return self.den(x_t, feats, t, emotion, intensity, phones)


def git_commit(repo: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def encoder_outputs(gen: Generator) -> list[str]:
    """The encoder graph's output names (``viseme_logits`` only with a viseme head)."""
    return ["feats", "closure_logit", "phone_logits"] + (["viseme_logits"] if gen.cfg.viseme_head else [])


def export_onnx(gen: Generator, out_dir: Path) -> dict[str, Path]:
    """Write encoder.onnx and denoiser.onnx into out_dir; returns their paths."""
    gen = gen.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    T = torch.export.Dim("T", min=4, max=200_000)
    B = torch.export.Dim("B", min=1, max=64)
    mel = torch.randn(1, 2 * 150, gen.cfg.n_mels)
    enc_path = out_dir / ENCODER_FILE
    with torch.no_grad():
        torch.onnx.export(_EncoderGraph(gen).eval(), (mel,), str(enc_path), dynamo=True, external_data=False,
                          opset_version=OPSET, input_names=["mel"],
                          output_names=encoder_outputs(gen),
                          dynamic_shapes={"mel": {1: 2 * T}}, verbose=False)
    n_t = 150
    args = (torch.randn(2, n_t, gen.cfg.n_channels), torch.randn(2, n_t, gen.cfg.enc_dim),
            torch.tensor([10, 500]), torch.tensor([0, 2]), torch.tensor([0.0, 0.7]),
            torch.rand(2, n_t, gen.cfg.n_phone_input))
    den_path = out_dir / DENOISER_FILE
    with torch.no_grad():
        torch.onnx.export(_DenoiserGraph(gen).eval(), args, str(den_path), dynamo=True, external_data=False,
                          opset_version=OPSET, input_names=["x_t", "feats", "t", "emotion", "intensity", "phones"],
                          output_names=["x0"],
                          dynamic_shapes={"x_t": {0: B, 1: T}, "feats": {0: B, 1: T}, "t": {0: B},
                                          "emotion": {0: B}, "intensity": {0: B}, "phones": {0: B, 1: T}},
                          verbose=False)
    return {"encoder": enc_path, "denoiser": den_path}


def build_card(gen: Generator, *, steps: int, training: dict, repo: Path, status: str,
               closure_seal: bool = False, mouth_temperature: float = 1.0, **info) -> ModelCard:
    """The typed card for ``gen`` (runtime fields + provenance in ``info``); ``info`` adds entries."""
    enc_rf, den_rf = receptive_field(gen.cfg)
    provenance = {
        "name": "thunder-generator",
        "status": status,
        "format": "onnx",
        "opset": OPSET,
        "inputs": {
            "encoder": {"mel": ["1", "Tm", gen.cfg.n_mels]},
            "denoiser": {"x_t": ["B", "T", gen.cfg.n_channels], "feats": ["B", "T", gen.cfg.enc_dim],
                         "t": ["B"], "emotion": ["B"], "intensity": ["B"],
                         "phones": ["B", "T", gen.cfg.n_phone_input]},
        },
        "outputs": {
            "encoder": {"feats": ["1", "Tm//2", gen.cfg.enc_dim], "closure_logit": ["1", "Tm//2"],
                        "phone_logits": ["1", "Tm//2", gen.cfg.n_phones],
                        **({"viseme_logits": ["1", "Tm//2", gen.cfg.n_visemes]} if gen.cfg.viseme_head else {})},
            "denoiser": {"x0": ["B", "T", gen.cfg.n_channels]},
        },
        "head_channels": list(HEAD_CHANNELS),
        "phone_classes": list(PHONE_CLASSES),
        **({"viseme_classes": list(VISEMES)} if gen.cfg.viseme_head else {}),
        "receptive_field_frames": {"encoder": enc_rf, "denoiser_per_step": den_rf},
        "parameters": {"encoder": count_parameters(gen.encoder), "denoiser": count_parameters(gen.denoiser)},
        "training_commit": git_commit(repo),
        "training": training,
        **info,
    }
    return ModelCard(
        files={"encoder": ENCODER_FILE, "denoiser": DENOISER_FILE},
        perf_mean=tuple(round(float(v), 7) for v in gen.perf_mean),
        perf_std=tuple(round(float(v), 7) for v in gen.perf_std),
        schedule=Sampling(**ScheduleConfig().to_dict(), steps=steps),
        regression=bool(gen.regression), phone_input=True, closure_seal=bool(closure_seal),
        mouth_temperature=float(mouth_temperature), info=provenance,
    ).check()


def parity(gen: Generator, out_dir: Path, lengths: tuple[int, ...] = (37, 260), seed: int = 0) -> float:
    """Max abs difference torch vs onnxruntime over both graphs at several lengths."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    enc = ort.InferenceSession(str(out_dir / ENCODER_FILE), so, providers=["CPUExecutionProvider"])
    den = ort.InferenceSession(str(out_dir / DENOISER_FILE), so, providers=["CPUExecutionProvider"])
    worst = 0.0
    gen = gen.eval()
    for n in lengths:
        mel = rng.standard_normal((1, 2 * n, gen.cfg.n_mels)).astype(np.float32)
        with torch.no_grad():
            f_t = gen.encoder(torch.from_numpy(mel))
            c_t, p_t = gen.encoder.heads(f_t)
            v_t = gen.encoder.viseme_logits(f_t)
        f_o, c_o, p_o, *v_o = enc.run(None, {"mel": mel})
        worst = max(worst, float(np.abs(f_o - f_t.numpy()).max()), float(np.abs(c_o - c_t.numpy()).max()),
                    float(np.abs(p_o - p_t.numpy()).max()))
        if v_t is not None:
            worst = max(worst, float(np.abs(v_o[0] - v_t.numpy()).max()))
        x = rng.standard_normal((3, n, gen.cfg.n_channels)).astype(np.float32)
        feats = np.repeat(f_o, 3, axis=0)
        t = np.array([999, 300, 0], np.int64)
        emo = np.array([0, 2, 5], np.int64)
        inten = np.array([0.0, 0.5, 1.0], np.float32)
        ph = phone_input(rng.integers(UNKNOWN, len(PHONE_CLASSES), (3, n)))
        with torch.no_grad():
            y_t = gen.denoiser(*(torch.from_numpy(a) for a in (x, feats, t, emo, inten, ph))).numpy()
        (y_o,) = den.run(None, {"x_t": x, "feats": feats, "t": t, "emotion": emo, "intensity": inten,
                                "phones": ph})
        worst = max(worst, float(np.abs(y_o - y_t).max()))
    return worst
