"""Feasibility probe for language-independent phone alignment: espeak-ng renders the transcript with phone times
(thunder_train.corpus.espeak from /work/main, used read-only), MFCC DTW maps its phone onsets onto the recording.
Reference: pocketsphinx two-pass forced alignment of the same English clips. Compares onsets of /p b m/ and of
rounded /uw ow w/ matched in order, and of all word-initial... (only bilabial/rounded here)."""
import sys, json, re, numpy as np, librosa
sys.path.insert(0, "/work/main")
from thunder_train.corpus.espeak import ESpeak, SynthParams
from pocketsphinx import Decoder
SR = 16000; HOP = 160
def mfcc(y):
    m = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, n_fft=400, hop_length=HOP)
    m = m[1:]  # drop energy-like c0
    return (m - m.mean(1, keepdims=True)) / (m.std(1, keepdims=True) + 1e-6)
def words(s): return re.sub(r"[^a-z' ]", " ", s.lower().replace("-", " ")).split()
es = ESpeak(); dec = Decoder(samprate=SR, loglevel="ERROR")
items = json.load(open(sys.argv[1]))
BIL_IPA = ("p", "b", "m"); BIL_CMU = ("P", "B", "M")
RND_IPA = ("u", "w", "o", "ʊ", "əʊ", "oʊ"); RND_CMU = ("UW", "OW", "W", "UH")
d_bil, d_rnd, costs, used = [], [], [], 0
for it in items:
    ws = words(it["text"])
    if not ws or any(dec.lookup_word(w) is None for w in ws): continue
    y, _ = librosa.load(it["path"], sr=SR); y, _ = librosa.effects.trim(y, top_db=40)
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16).tobytes()
    try:
        dec.set_align_text(" ".join(ws)); dec.start_utt(); dec.process_raw(pcm, full_utt=True); dec.end_utt()
        dec.set_alignment(); dec.start_utt(); dec.process_raw(pcm, full_utt=True); dec.end_utt()
        ref = [(p.name, p.start / 100) for w in dec.get_alignment() for p in w]
    except RuntimeError:
        continue
    a, phones = es.synthesize(it["text"], "en-us", SynthParams())
    e = librosa.resample(a.astype(np.float32) / 32768, orig_sr=es.sample_rate, target_sr=SR)
    e, (e0, _) = librosa.effects.trim(e, top_db=40)[0], librosa.effects.trim(e, top_db=40)[1]
    off = e0 / SR
    D, wp = librosa.sequence.dtw(X=mfcc(e), Y=mfcc(y), metric="euclidean")
    wp = wp[::-1]; costs.append(D[-1, -1] / len(wp))
    def map_t(t):
        f = int(round((t - off) * SR / HOP)); f = min(max(f, 0), wp[-1, 0])
        return wp[wp[:, 0] == f, 1].min() * HOP / SR
    hyp = [(n, map_t(s)) for n, s, _ in phones if n not in ("_", "")]
    for sel_i, sel_c, acc in ((BIL_IPA, BIL_CMU, d_bil), (RND_IPA, RND_CMU, d_rnd)):
        h = [t for n, t in hyp if n.startswith(sel_i) or n in sel_i]
        r = [t for n, t in ref if n in sel_c]
        if len(h) == len(r):
            acc += [abs(x - z) for x, z in zip(h, r)]
    used += 1
for name, d in (("bilabial onsets", d_bil), ("rounded onsets", d_rnd)):
    d = np.array(d) * 1000
    if len(d): print(f"{sys.argv[1]} clips {used} {name}: n {len(d)} median |diff| {np.median(d):.0f} ms, p90 {np.percentile(d, 90):.0f} ms, within 30 ms {np.mean(d <= 30):.2f}")
