"""Self-check of the IPA->CMU mapping route on English: align Warzone clips once with CMU-dictionary prons and once
with espeak-ng en-us IPA mapped to CMU (tools/xlang_align_probe.py table); compare /p b m/ and /uw ow w/ onsets."""
import sys, json, re, numpy as np, librosa
sys.argv = ["x", "tuxpaint_inventory.json", "en", "en-us", "1"]
src = open("data/real_speech_survey/tools/xlang_align_probe.py").read().split("dec = Decoder")[0]
exec(src)
from pocketsphinx import Decoder
dec = Decoder(samprate=16000, loglevel="ERROR")
def align(pcm, names):
    dec.set_align_text(" ".join(names)); dec.start_utt(); dec.process_raw(pcm, full_utt=True); dec.end_utt()
    dec.set_alignment(); dec.start_utt(); dec.process_raw(pcm, full_utt=True); dec.end_utt()
    return [(p.name, p.start / 100) for w in dec.get_alignment() for p in w]
def words(s): return re.sub(r"[^a-z' ]", " ", s.lower().replace("-", " ")).split()
d = {"bil": [], "rnd": []}; n = 0
for it in json.load(open("data/real_speech_survey/wz_clean.json")):
    ws = words(it["text"])
    if not ws or any(dec.lookup_word(w) is None for w in ws): continue
    y, _ = librosa.load(it["path"], sr=16000); y, _ = librosa.effects.trim(y, top_db=40)
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16).tobytes()
    names = []
    for i, w in enumerate(ws):
        nm = "x_" + w.replace("'", "")
        if dec.lookup_word(nm) is None: dec.add_word(nm, " ".join(spell(w, "en-us")), False)
        names.append(nm)
    try:
        a = align(pcm, ws); b = align(pcm, names)
    except RuntimeError:
        continue
    n += 1
    for key, sel in (("bil", ("P", "B", "M")), ("rnd", ("UW", "OW", "W"))):
        ra = [t for p, t in a if p in sel]; rb = [t for p, t in b if p in sel]
        if len(ra) == len(rb): d[key] += [abs(x - z) for x, z in zip(ra, rb)]
for k, v in d.items():
    v = np.array(v) * 1000
    print(f"clips {n} {k}: n {len(v)} median {np.median(v):.0f} ms p90 {np.percentile(v, 90):.0f} ms within 30 ms {np.mean(v <= 30):.2f}")
