"""Discriminative label check with pocketsphinx forced alignment: a clip's label is accepted when aligning the
clip to its own label scores better than aligning it to each of K other labels of the same source (rank 1 of K+1).
Out-of-dictionary words are spelled with the g2p-free fallback of letter names, so such labels are marked oov."""
import json, re, sys, random, numpy as np, librosa
from pocketsphinx import Decoder
random.seed(0)
K = 5
dec = Decoder(samprate=16000, loglevel="ERROR")
def words(s): return re.sub(r"[^a-z' ]", " ", s.lower().replace("-", " ")).split()
def score(pcm, text):
    ws = words(text)
    if not ws or any(dec.lookup_word(w) is None for w in ws): return None
    try:
        dec.set_align_text(" ".join(ws)); dec.start_utt(); dec.process_raw(pcm, full_utt=True); dec.end_utt()
        h = dec.hyp()
        return h.score if h is not None else None
    except RuntimeError:
        return None
items = json.load(open(sys.argv[1]))
texts = sorted({it["text"] for it in items})
res = []
for it in items:
    y, _ = librosa.load(it["path"], sr=16000, mono=True)
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16).tobytes()
    own = score(pcm, it["text"])
    if own is None:
        res.append(dict(it, verdict="oov_or_fail")); continue
    others = [t for t in random.sample(texts, min(len(texts), K + 3)) if t != it["text"]][:K]
    sc = [score(pcm, t) for t in others]; sc = [s for s in sc if s is not None]
    ok = all(own > s for s in sc) and len(sc) > 0
    res.append(dict(it, verdict="accept" if ok else "reject", own=own, best_other=max(sc) if sc else None))
from collections import Counter
print(sys.argv[1], Counter(r["verdict"] for r in res))
by = {}
for r in res: by.setdefault(r.get("group", "?"), Counter())[r["verdict"]] += 1
for g, c in sorted(by.items()): print("  ", g, dict(c))
json.dump(res, open(sys.argv[1].replace(".json", "_verify.json"), "w"), indent=0)
