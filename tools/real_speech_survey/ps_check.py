"""English label check with pocketsphinx 5 (en-us default model): free decoding (default LM) -> WER against the label,
plus forced word alignment success. Audio resampled to 16 kHz mono."""
import json, re, sys, glob, numpy as np, librosa
from pocketsphinx import Decoder
def words(s): return re.sub(r"[^a-z' ]", " ", s.lower().replace("-", " ")).split()
def wer(ref, hyp):
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return d[-1] / max(len(ref), 1)
dec = Decoder(samprate=16000, loglevel="ERROR")
items = json.load(open(sys.argv[1]))
out = []
for it in items:
    y, _ = librosa.load(it["path"], sr=16000, mono=True)
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16).tobytes()
    dec.start_utt(); dec.process_raw(pcm, full_utt=True); dec.end_utt()
    hyp = dec.hyp().hypstr if dec.hyp() else ""
    ref = words(it["text"]); w = wer(ref, words(hyp))
    out.append(dict(it, hyp=hyp, wer=round(float(w), 2)))
ws = np.array([o["wer"] for o in out])
print(sys.argv[1], "n", len(ws), "mean WER %.2f" % ws.mean(), "WER==0: %d" % (ws == 0).sum(), "WER<=0.5: %d" % (ws <= 0.5).sum())
json.dump(out, open(sys.argv[1].replace(".json", "_ps.json"), "w"), indent=0)
