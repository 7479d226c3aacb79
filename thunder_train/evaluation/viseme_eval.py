"""Viseme evaluation on real recorded speech: Oculus visemes and VRM mouth shapes against aligned phones.

Development set: the Asterisk core prompts (en-US Allison, es-MX Allison, fr-CA June; 16 kHz G.722 under
``/usr/share/asterisk/sounds/``, transcripts in ``/usr/share/doc/asterisk-core-sounds-XX/``), only those of the
``real_val`` split, which the shipped model never trained on (``corpus.real.prompt_split``). Phones come from
pocketsphinx forced alignment (``corpus.align``; non-English words are spelled by espeak-ng in their own
language and mapped to the nearest CMU phones, so es/fr phone labels are approximate).

For every prompt the generator (``--model``, default the shipped one) makes one take (seed 0) and its encoder's
phone-class posteriors (computed on every run; only the alignment is cached);
visemes are computed by each method and scored per phone interval:

- ``expected_top``: the expected viseme (``EXPECTED_VISEME``) has the largest mean weight over the interval
  among all 15 visemes (silence intervals expect ``sil``);
- ``used``: per viseme, the number of intervals it wins and its largest weight;
- ``pp_sealed``: /p b m/ intervals in which the inner-lip gap of a viseme rig built from the demo head
  (each viseme key = the demo head posed by that viseme's prototype) drops below 1 mm (``evaluation.closure``);
- ``vrm_sum``: the VRM mouth shapes aa+ih+ou+ee+oh summed per frame, on /p b m/ frames and on silence frames
  at least 3 frames away from speech (mean and 90th percentile), and on frames at least 3 frames away from any
  frame louder than ``QUIET_DB`` (silence by the recording's level, independent of the alignment).

    python -m thunder_train.evaluation.viseme_eval --per-lang 40 --out viseme_eval.json
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from thunder_blender.core import features
from thunder_blender.core import head as head_mod
from thunder_blender.core.rig_names import FEATURE_INDEX, VRM_EXPRESSIONS
from thunder_blender.core.visemes import (
    VISEMES,
    SpeechCues,
    prototype_vector,
    sibilance,
    visemes_from_arkit,
    visemes_from_phones,
)
from thunder_train.corpus import real
from thunder_train.evaluation.closure import ClosureConfig, bilabial_sealed
from thunder_train.phones import CLASS_INDEX, cmu_class

VOICES = {"en": "en-us", "es": "es", "fr": "fr"}  # espeak-ng voices that spell the words to align

# CMU phone -> Oculus viseme (OVR LipSync reference: PP p b m, FF f v, TH th dh, DD t d, kk k g (ng, h),
# CH ch jh sh zh, SS s z, nn n l, RR r (er), aa, E, I, O, U; y -> I, w -> U).
EXPECTED_VISEME: dict[str, str] = {
    "SIL": "sil", "P": "PP", "B": "PP", "M": "PP", "F": "FF", "V": "FF", "TH": "TH", "DH": "TH",
    "T": "DD", "D": "DD", "DX": "DD", "K": "kk", "G": "kk", "NG": "kk", "HH": "kk",
    "CH": "CH", "JH": "CH", "SH": "CH", "ZH": "CH", "S": "SS", "Z": "SS", "N": "nn", "L": "nn",
    "R": "RR", "ER": "RR", "AA": "aa", "AE": "aa", "AH": "aa", "AW": "aa", "AY": "aa",
    "EH": "E", "EY": "E", "IH": "I", "IY": "I", "Y": "I", "AO": "O", "OW": "O", "OY": "O",
    "UH": "U", "UW": "U", "W": "U",
}
VRM_MOUTH = ("aa", "ih", "ou", "ee", "oh")
# "phones": posteriors + mouth + the audio's sibilance (what the add-on does); "phones_mouth_only": without it
# "phones_text": as "phones", with the prompt's transcript aligned at run time (``SpeechCues.with_transcript``)
# "head", "head_text": the encoder's viseme head (``visemes_from_head``), without and with the transcript (models
# with a viseme head only)
METHODS = ("projection", "phones_mouth_only", "phones", "phones_text", "head", "head_text")
HEAD_METHODS = ("head", "head_text")
QUIET_DB = -40.0  # a frame this far below the clip's loudest frame is silent


def choose(lang: str, n: int, seed: int, corpus_seed: int) -> list[tuple[str, str, Path]]:
    """n prompts of the ``real_val`` split (never trained on; ``corpus.real.prompt_split`` with the corpus seed
    of the shipped model's recipe) with at least 4 words, a seeded sample (sorted by name)."""
    folder = real.SOUNDS / real.SETS[lang]
    rows = [(k, t, folder / f"{k}.g722") for k, t in sorted(real.transcripts(lang).items())
            if len(re.findall(r"\w+", t)) >= 4 and (folder / f"{k}.g722").is_file()
            and real.prompt_split(f"{lang}:{k}", corpus_seed) == "real_val"]
    idx = np.random.default_rng(seed).permutation(len(rows))[:n]
    return [rows[i] for i in sorted(idx)]


class MultiAligner:
    """pocketsphinx alignment; non-English words spelled with espeak-ng in their language."""

    def __init__(self) -> None:
        from thunder_train.corpus.align import Aligner
        from thunder_train.corpus.espeak import ESpeak

        self.al = Aligner()
        self.es = ESpeak()
        self.al._espeak = self.es
        self.added: set[str] = set()

    def _word(self, w: str, voice: str) -> str | None:
        from thunder_train.corpus.align import ipa_to_cmu
        from thunder_train.corpus.espeak import SynthParams

        if voice == "en-us":
            return w if self.al._ensure_word(w) else None
        name = f"{voice}_{w}"
        if name in self.added:
            return name
        _, phones = self.es.synthesize(w, voice, SynthParams())
        cmu = ipa_to_cmu([p for p, _, _ in phones if p not in ("", "_")])
        if not cmu:
            return None
        self.al.add_pronunciation(name, cmu)
        self.added.add(name)
        return name

    def align(self, audio: np.ndarray, text: str, voice: str) -> list[tuple[str, float, float]]:
        words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
        names = [n for n in (self._word(w, voice) for w in words) if n]
        if not names:
            raise RuntimeError("no alignable words")
        return self.al.align_words(audio, names)


def collect(per_lang: int, seed: int, cache: Path, langs: tuple[str, ...], corpus_seed: int | None = None,
            model_dir: str | Path | None = None) -> list[dict]:
    """The raw material per prompt: perf (T,55) of one take and phone posteriors (T,10) from the model in
    ``model_dir`` (default: the shipped one), computed on every run, and the pocketsphinx phones, cached (npz per
    prompt: the alignment does not depend on the model)."""
    if corpus_seed is None:
        from thunder_train.recipe import Recipe

        corpus_seed = Recipe.load().seed_for("corpus")
    from thunder_blender.runtime.generate import GenerateRequest, generate
    from thunder_blender.runtime.model import load_model

    model = load_model(model_dir, providers=["CPUExecutionProvider"])
    aligner = None
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for lang in langs:
        for key, text, path in choose(lang, per_lang, seed, corpus_seed):
            f = cache / f"{lang}_{key.replace('/', '_')}.npz"
            audio = real.decode(path)
            if not f.is_file():
                aligner = aligner or MultiAligner()
                try:
                    phones = aligner.align(audio, text, VOICES[lang])
                except RuntimeError as exc:
                    print(f"skip {lang}/{key}: {exc}")
                    continue
                np.savez(f, phones=np.array([p for p, _, _ in phones]),
                         times=np.array([[s, e] for _, s, e in phones], np.float64))
            z = np.load(f)
            takes = generate(GenerateRequest(pcm=audio, sample_rate=16000, n_takes=1, seed=0), model)
            mel = features.normalise(features.log_mel(features.to_model_audio(audio, 16000)))
            n = takes.weights.shape[1]
            _, _, logits, vlogits = model.run_encoder_heads(mel[None, : 2 * n])
            sib = sibilance(features.log_mel(features.to_model_audio(audio, 16000)))
            out.append({"lang": lang, "key": key, "text": text, "level_db": frame_level_db(audio, takes.fps),
                        "sibilance": sib, "perf": takes.weights[0], "logits": logits[0], "fps": takes.fps,
                        "viseme_logits": None if vlogits is None else vlogits[0],
                        "phones": [str(p) for p in z["phones"]], "times": z["times"], "split": model.card.split})
    return out


def frame_level_db(audio: np.ndarray, fps: float, sr: int = 16000) -> np.ndarray:
    """RMS level per frame (T,) in dB relative to the loudest frame of the clip."""
    hop = int(round(sr / fps))
    n = len(audio) // hop
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-12)
    return 20.0 * np.log10(rms / rms.max())


def frame_labels(phones: list[str], times: np.ndarray, n: int, fps: float) -> np.ndarray:
    """Phone-class id per frame (T,), by frame centre."""
    lab = np.full(n, CLASS_INDEX["sil"], np.int64)
    centres = (np.arange(n) + 0.5) / fps
    for p, (s, e) in zip(phones, times, strict=True):
        lab[(centres >= s) & (centres < e)] = cmu_class(p)
    return lab


def _viseme_rig_deltas() -> tuple[head_mod.DemoHead, np.ndarray]:
    head = head_mod.load_demo_head()
    d = head.deltas.reshape(52, -1)
    return head, np.stack([prototype_vector(v) @ d for v in VISEMES])  # (15, V*3)


def score(items: list[dict], method: str) -> dict:
    head, vdeltas = _viseme_rig_deltas()
    hits, total = 0, 0
    per_viseme_total = {v: 0 for v in VISEMES}
    per_viseme_hit = {v: 0 for v in VISEMES}
    wins = {v: 0 for v in VISEMES}
    peak = np.zeros(len(VISEMES))
    sealed: list[bool] = []
    vrm_pbm, vrm_sil, vrm_quiet = [], [], []
    vrm_cols = [VRM_EXPRESSIONS[k] for k in VRM_MOUTH]
    cfg = ClosureConfig()
    for it in items:
        perf, fps = it["perf"], it["fps"]
        n = perf.shape[0]
        probs = _softmax(it["logits"][:n])
        if method == "projection":
            vis = visemes_from_arkit(perf)
        elif method in HEAD_METHODS:
            cues = SpeechCues(probs, viseme_probs=_softmax(it["viseme_logits"][:n]))
            if method == "head_text":
                cues = _with_transcript(it, cues)
            vis = cues.visemes(perf)
        else:
            sib = it.get("sibilance") if method in ("phones", "phones_text") else None
            if sib is not None:
                sib = np.pad(sib[:n], (0, max(0, n - len(sib))), mode="edge")
            if method == "phones_text":
                probs = _with_transcript(it, SpeechCues(probs)).phone_probs
            vis = visemes_from_phones(probs, perf, sibilance_db=sib, split=it["split"])
        peak = np.maximum(peak, vis.max(axis=0))
        for p, (s, e) in zip(it["phones"], it["times"], strict=True):
            exp = EXPECTED_VISEME.get(p.upper().rstrip("012"))
            a, b = int(round(s * fps)), int(round(e * fps))
            if exp is None or b <= a or a >= n:
                continue
            top = VISEMES[int(np.argmax(vis[a:min(b, n)].mean(axis=0)))]
            wins[top] += 1
            total += 1
            per_viseme_total[exp] += 1
            if top == exp:
                hits += 1
                per_viseme_hit[exp] += 1
        lab = frame_labels(it["phones"], it["times"], n, fps)
        verts = (vis @ vdeltas).reshape(n, -1, 3) + head.vertices
        gap_mm = head_mod.mouth_opening(head, verts) * 1000.0
        sealed += bilabial_sealed(gap_mm, lab, cfg)
        feats = np.zeros((n, len(FEATURE_INDEX)), np.float32)
        feats[:, 52:] = vis
        mouth = sum(feats[:, [FEATURE_INDEX[k] for k in c]] @ np.array(list(c.values())) for c in vrm_cols)
        vrm_pbm += mouth[lab == CLASS_INDEX["bilabial"]].tolist()
        speech = (lab != CLASS_INDEX["sil"]).astype(float)
        far = np.convolve(speech, np.ones(2 * cfg.guard + 1), mode="same") == 0
        vrm_sil += mouth[far].tolist()
        if "level_db" in it:  # silence by the recording itself, independent of the alignment
            lev = np.full(n, 0.0)
            m = min(n, len(it["level_db"]))
            lev[:m] = it["level_db"][:m]
            loud = (lev > QUIET_DB).astype(float)
            quiet = np.convolve(loud, np.ones(2 * cfg.guard + 1), mode="same") == 0
            vrm_quiet += mouth[quiet].tolist()
    return {
        "method": method, "prompts": len(items), "intervals": total,
        "expected_top": hits / max(total, 1),
        "per_viseme_recall": {v: (per_viseme_hit[v] / per_viseme_total[v] if per_viseme_total[v] else None)
                              for v in VISEMES},
        "wins": wins, "peak": dict(zip(VISEMES, np.round(peak, 3).tolist(), strict=True)),
        "visemes_used_nonsilent": sum(1 for v in VISEMES[1:] if wins[v] > 0 and peak[VISEMES.index(v)] >= 0.3),
        "pp_sealed": float(np.mean(sealed)) if sealed else None, "pp_intervals": len(sealed),
        "vrm_sum_pbm_mean": float(np.mean(vrm_pbm)), "vrm_sum_pbm_p90": float(np.percentile(vrm_pbm, 90)),
        "vrm_sum_sil_mean": float(np.mean(vrm_sil)), "vrm_sum_sil_p90": float(np.percentile(vrm_sil, 90)),
        "vrm_sum_quiet_mean": float(np.mean(vrm_quiet)) if vrm_quiet else None,
        "vrm_sum_quiet_p90": float(np.percentile(vrm_quiet, 90)) if vrm_quiet else None,
        "quiet_frames": len(vrm_quiet),
    }


def _with_transcript(it: dict, cues: SpeechCues) -> SpeechCues:
    """The cues with the item's transcript aligned as the runtime does it (unchanged if it cannot be)."""
    from thunder_blender.core.alignment import AlignConfig
    from thunder_blender.core.pronounce import language_of
    from thunder_blender.runtime.generate import InputError, align_transcript

    n = len(cues)
    try:
        al = align_transcript(it["text"], it["logits"][:n], n / it["fps"], AlignConfig(fps=it["fps"]),
                              language_of(it["lang"]))
    except InputError:
        return cues
    return cues.with_transcript(al.frames)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-lang", type=int, default=40)
    ap.add_argument("--langs", default="en,es,fr")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="data/viseme_eval_val")
    ap.add_argument("--out", default="")
    ap.add_argument("--model", default=None, help="exported model directory (default: the shipped model)")
    args = ap.parse_args(argv)
    items = collect(args.per_lang, args.seed, Path(args.cache), tuple(args.langs.split(",")), model_dir=args.model)
    report = {}
    for lang in (*args.langs.split(","), "all"):
        sub = [i for i in items if lang == "all" or i["lang"] == lang]
        if sub:
            report[lang] = {m: score(sub, m) for m in METHODS
                            if m not in HEAD_METHODS or sub[0]["viseme_logits"] is not None}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
