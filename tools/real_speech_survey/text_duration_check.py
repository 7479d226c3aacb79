"""Cheap transcript-vs-audio check for non-English sources: ratio of trimmed recording length to espeak-ng's
length for the same text (rate 175 wpm default). Ratios far outside the language's typical band flag clips
whose text probably does not match what is said. Samples up to N clips per (source, language)."""
import json, random, subprocess, tempfile, os, sys, collections
import numpy as np, librosa, soundfile as sf
random.seed(1)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 60
X = "data/real_speech_survey/x/"
VOICE = {"cs": "cs", "nl": "nl", "en": "en-us", "fr": "fr", "es": "es", "ca": "ca", "ro": "ro", "ru": "ru", "bg": "bg", "be": "be", "el": "el", "da": "da", "pt_BR": "pt-br", "ml": "ml"}
items = collections.defaultdict(list)
for r in json.load(open("data/real_speech_survey/fillets_inventory.json")):
    if r["text"] and r["speaker_font"]: items[("fillets", r["lang"])].append(r)
for r in json.load(open("data/real_speech_survey/tuxpaint_inventory.json")):
    if r["text"] and r["lang"] in VOICE: items[("tuxpaint", r["lang"])].append(r)
res = {}; rows = []
tmp = tempfile.mkdtemp()
for (src, lang), rs in sorted(items.items()):
    sel = random.sample(rs, min(N, len(rs)))
    ratios = []
    for r in sel:
        y, sr = librosa.load(X + r["path"], sr=16000)
        yt, _ = librosa.effects.trim(y, top_db=35)
        out = os.path.join(tmp, "e.wav")
        subprocess.run(["espeak-ng", "-v", VOICE[lang], "-w", out, r["text"]], check=True, capture_output=True)
        e, esr = sf.read(out); et, _ = librosa.effects.trim(e.astype(np.float32), top_db=35)
        ratio = (len(yt) / sr) / max(len(et) / esr, 0.05)
        ratios.append(ratio); rows.append(dict(src=src, lang=lang, path=r["path"], text=r["text"], ratio=round(ratio, 2)))
    a = np.array(ratios); med = np.median(a)
    out_band = float(np.mean((a < med * 0.55) | (a > med * 1.8)))
    res[f"{src}_{lang}"] = dict(n=len(a), median_ratio=round(float(med), 2), p10=round(float(np.percentile(a, 10)), 2), p90=round(float(np.percentile(a, 90)), 2), frac_outliers=round(out_band, 3))
    print(src, lang, res[f"{src}_{lang}"], flush=True)
json.dump(dict(summary=res, rows=rows), open("data/real_speech_survey/text_duration_check.json", "w"), ensure_ascii=False, indent=0)
