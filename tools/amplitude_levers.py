"""Where the under-articulation comes from: targets, loss normalisation, model (hand-run measurement).

    .venv/bin/python tools/amplitude_levers.py --corpus data/corpus_mid --model models --out out/amplitude.json

(a) targets: peak of the stored training target over each phone against the pose value the articulation
    model aims at (POSES), and the same for a re-render with the neutral style (no speaker scaling, no
    expression layer): the coarticulation damping alone. Anticipatory rounding: pucker at the centre of the
    consonant right before a rounded vowel, as a share of that vowel's peak.
(b) loss: per-channel std of the training targets (the x0 loss is MSE in units of perf_std) and the
    effective weight of each articulator channel.
(c) model: generated peak / target peak (thunder_train.evaluation.amplitude) for an exported model
    (onnxruntime, mouth temperature 0 and 1) and/or generator checkpoints (torch, DDIM).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from thunder_blender.core.channels import INDEX, MOUTH_INDEX
from thunder_train.corpus.articulation import POSES, ArticulationStyle, articulate, enforce_closures
from thunder_train.corpus.dataset import load_split
from thunder_train.evaluation import amplitude as amp

FPS = 50.0
POSE_CHANNEL = {"jaw": ("jawOpen",), "funnel": ("mouthFunnel",), "pucker": ("mouthPucker",),
                "spread": ("mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight")}
ROUND_V = ("u", "ʊ", "w", "o")
CONSONANT_POSES = ("alveolar", "dorsal", "postalveolar", "dental", "labiodental", "bilabial")


def pose_value(pose: str, name: str) -> float:
    return float(np.mean([POSES.get(pose, {}).get(c, 0.0) for c in POSE_CHANNEL[name]]))


def target_vs_pose(utts: list, neutral: bool) -> dict:
    """Peak of the target over each phone / the pose value (articulation damping)."""
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in POSE_CHANNEL}
    for u in utts:
        if neutral:
            perf = articulate(u.segments, len(u.perf), FPS, ArticulationStyle())
            enforce_closures(perf, u.segments, FPS)
        else:
            perf = u.perf
        for pose, _, s, e in u.segments:
            for name, (poses, value, kind) in amp.ARTICULATORS.items():
                if kind != "max" or pose not in poses:
                    continue
                a, b = amp.segment_frames(s, e, len(perf), FPS, 0)
                pv = pose_value(pose, name)
                if pv >= 0.05 and b > a:
                    rows[name].append((float(value(perf)[a:b].max()), pv))
    return amp.summary(rows)


def anticipation(utts: list, neutral: bool) -> dict:
    """Pucker at the centre of consonants right before (and right after) a rounded vowel / the vowel's peak."""
    before, after, dur = [], [], []
    for u in utts:
        if neutral:
            perf = articulate(u.segments, len(u.perf), FPS, ArticulationStyle())
            enforce_closures(perf, u.segments, FPS)
        else:
            perf = u.perf
        puck = perf[:, INDEX["mouthPucker"]]
        segs = u.segments
        for k, (pose, _, s, e) in enumerate(segs):
            if pose not in ROUND_V:
                continue
            a, b = amp.segment_frames(s, e, len(perf), FPS, 0)
            vpk = puck[a:b].max() if b > a else 0.0
            if vpk < 0.05:
                continue
            for j, out in ((k - 1, before), (k + 1, after)):
                if 0 <= j < len(segs) and segs[j][0] in CONSONANT_POSES and segs[j][0] != "bilabial":
                    c = int(0.5 * (segs[j][2] + segs[j][3]) * FPS)
                    if 0 <= c < len(perf):
                        out.append(float(puck[c] / vpk))
                        if j == k - 1:
                            dur.append(segs[j][3] - segs[j][2])
    q = lambda v: {"n": len(v), "median": round(float(np.median(v)), 3),   # noqa: E731
                   "p25": round(float(np.percentile(v, 25)), 3)} if v else None
    return {"consonant_before": q(before), "consonant_after": q(after),
            "median_consonant_s": round(float(np.median(dur)), 3) if dur else None}


def loss_scales(utts: list) -> dict:
    from thunder_train.data import perf_stats

    _, std = perf_stats(utts)
    mouth = set(MOUTH_INDEX)
    names = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthSmileLeft",
             "browInnerUp")
    return {n: {"perf_std": round(float(std[INDEX[n]]), 4), "mouth_weighted": INDEX[n] in mouth,
                "loss_per_unit2": round(float(1 / std[INDEX[n]] ** 2), 1)} for n in names}


def model_peaks(sample, utts: list) -> dict:
    """Generated peaks against the stored targets, and (lip shape and jaw) against the articulation poses."""
    peaks: dict[str, list] = {}
    vs_pose: dict[str, list] = {}
    for u in utts:
        gen = sample(u.audio, len(u.perf))
        got = amp.segment_peaks(gen, u.perf, u.segments, FPS)
        amp.merge(peaks, got)
        n = min(len(gen), len(u.perf))
        for name, (poses, value, kind) in amp.ARTICULATORS.items():
            if kind != "max":
                continue
            for pose, _, s, e in u.segments:
                a, b = amp.segment_frames(s, e, n, FPS, 1)      # the window segment_peaks uses
                pv = pose_value(pose, name) if pose in poses else 0.0
                if pv >= 0.05 and b > a:
                    vs_pose.setdefault(name, []).append((float(value(gen[:n])[a:b].max()), pv))
    return {"vs_target": amp.summary(peaks), "vs_pose": amp.summary(vs_pose)}


SENTENCE = "Who knew you would move through the room to the blue moon, so go slow, old crow"
SENTENCE_VOICES = (("espeak-ng", "en-us"), ("espeak-ng", "en-us+f3"), ("flite", "slt"))


def sentence_audio() -> dict[str, np.ndarray]:
    """The issue's rounding sentence from espeak-ng (en-us, en-us+f3) and flite slt, 16 kHz float32."""
    import subprocess
    import tempfile

    from scipy.io import wavfile
    from scipy.signal import resample_poly

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine, voice in SENTENCE_VOICES:
            wav = Path(tmp) / "s.wav"
            cmd = ([engine, "-v", voice, "-w", str(wav), SENTENCE] if engine == "espeak-ng"
                   else [engine, "-voice", voice, "-t", SENTENCE, "-o", str(wav)])
            subprocess.run(cmd, check=True, capture_output=True)
            sr, x = wavfile.read(wav)
            x = x.astype(np.float32) / 32768.0
            g = np.gcd(sr, 16000)
            out[f"{engine} {voice}"] = resample_poly(x, 16000 // g, sr // g).astype(np.float32)
    return out


def sentence_peaks(sample) -> dict[str, dict[str, float]]:
    """Highest mouthPucker and mouthFunnel over the sentence, per voice."""
    res = {}
    for name, audio in sentence_audio().items():
        w = sample(audio, len(audio) // 320)
        res[name] = {"pucker": round(float(w[:, INDEX["mouthPucker"]].max()), 3),
                     "funnel": round(float(w[:, INDEX["mouthFunnel"]].max()), 3)}
    return res


def onnx_sampler(model_dir: str, temperature: float, seed: int = 0):
    from thunder_blender.runtime.generate import GenerateRequest, generate
    from thunder_blender.runtime.model import load_model

    model = load_model(model_dir)

    def sample(audio: np.ndarray, n: int) -> np.ndarray:
        req = GenerateRequest(pcm=audio, sample_rate=16000, n_takes=1, take_seeds=(seed,),
                              mouth_temperature=temperature)
        w = generate(req, model).weights[0]
        return w[:n] if len(w) >= n else np.concatenate([w, np.repeat(w[-1:], n - len(w), 0)])

    return sample


def torch_sampler(path: str, temperature: float, seed: int = 0):
    from thunder_train.infer import sample_takes
    from thunder_train.train import load_checkpoint

    gen, _ = load_checkpoint(path)
    return lambda audio, n: sample_takes(gen, audio, [seed], n_frames=n, mouth_temperature=temperature)[0]


def phone_head(model_dir: str, utts: list) -> dict:
    """The exported encoder's phone-class head on rounded frames: does the encoder hear the rounding?

    recall / precision of the "rounded" class (argmax), the mean P(rounded) on rounded frames, and on
    frames where the head is confident (P >= 0.5) the generated pucker (mouth temperature 0) against
    the target's.
    """
    import onnxruntime as ort

    from thunder_train.infer import mel_input
    from thunder_train.phones import CLASS_INDEX

    sess = ort.InferenceSession(str(Path(model_dir) / "encoder.onnx"), providers=["CPUExecutionProvider"])
    sample = onnx_sampler(model_dir, 0.0)
    r = CLASS_INDEX["rounded"]
    tp = fp = fn = 0
    p_on, gen_conf, tgt_conf = [], [], []
    for u in utts:
        logits = sess.run(["phone_logits"], {"mel": mel_input(u.audio)})[0][0]
        n = min(len(logits), len(u.perf))
        pr = np.exp(logits[:n] - logits[:n].max(1, keepdims=True))
        pr = pr / pr.sum(1, keepdims=True)
        truth = np.asarray(u.phone_class[:n]) == r
        guess = pr.argmax(1) == r
        tp += int((truth & guess).sum())
        fp += int((~truth & guess).sum())
        fn += int((truth & ~guess).sum())
        p_on += list(pr[truth, r])
        conf = truth & (pr[:, r] >= 0.5)
        if conf.any():
            g = sample(u.audio, len(u.perf))[:n]
            gen_conf += list(g[conf, INDEX["mouthPucker"]])
            tgt_conf += list(u.perf[:n][conf, INDEX["mouthPucker"]])
    return {"rounded_frames": tp + fn, "recall": round(tp / max(tp + fn, 1), 3),
            "precision": round(tp / max(tp + fp, 1), 3), "mean_p_rounded_on_rounded": round(float(np.mean(p_on)), 3),
            "confident_frames": len(gen_conf),
            "pucker_generated_on_confident": round(float(np.mean(gen_conf)), 3) if gen_conf else None,
            "pucker_target_on_confident": round(float(np.mean(tgt_conf)), 3) if tgt_conf else None}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--model", action="append", default=[], help="exported model directory (onnxruntime)")
    p.add_argument("--checkpoint", action="append", default=[], help="NAME=generator checkpoint (torch)")
    p.add_argument("--temperatures", default="0,1")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    utts = load_split(a.corpus, a.split)
    res: dict = {"corpus": a.corpus, "split": a.split, "utterances": len(utts),
                 "minutes": round(sum(len(u.perf) for u in utts) / FPS / 60, 2)}
    res["targets_vs_pose"] = {"stored": target_vs_pose(utts, False), "neutral_style": target_vs_pose(utts, True)}
    res["anticipatory_rounding"] = {"stored": anticipation(utts, False), "neutral_style": anticipation(utts, True)}
    res["loss_scales"] = loss_scales(load_split(a.corpus, "train"))
    temps = [float(t) for t in a.temperatures.split(",")]
    for m in a.model:
        res[f"phone head {m}"] = phone_head(m, utts)
        res[f"sentence {m} T=0"] = sentence_peaks(onnx_sampler(m, 0.0))
        for t in temps:
            res[f"model {m} T={t:g}"] = model_peaks(onnx_sampler(m, t), utts)
    for item in a.checkpoint:
        name, path = item.split("=", 1)
        res[f"sentence {name} T=0"] = sentence_peaks(torch_sampler(path, 0.0))
        for t in temps:
            res[f"checkpoint {name} T={t:g}"] = model_peaks(torch_sampler(path, t), utts)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    print(json.dumps(res, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
