"""Probe: cross-language forced alignment with pocketsphinx's en-us acoustic model. Each word of a non-English
transcript is spelled with espeak-ng IPA (--ipa=3, '_' separated phones) mapped to the nearest CMU phone and added
to the dictionary; the clip is then force-aligned as in data-sources.md. Reports how many clips align (word and
phone pass), and the share of phones given the 30 ms floor (3 frames = sign of a squeezed alignment)."""
import sys, json, re, subprocess, random, numpy as np, librosa
from pocketsphinx import Decoder
random.seed(0)
M = {"p":"P","b":"B","t":"T","d":"D","k":"K","g":"G","ɡ":"G","c":"K","ɟ":"G","q":"K","m":"M","n":"N","ɲ":"N Y","ŋ":"NG","ɱ":"M","f":"F","v":"V","ʋ":"V","w":"W","θ":"TH","ð":"DH","s":"S","z":"Z","ʃ":"SH","ʒ":"ZH","ç":"HH","x":"HH","χ":"HH","ɣ":"G","ʁ":"R","r":"R","ɾ":"R","ɹ":"R","l":"L","ɫ":"L","ʎ":"L Y","j":"Y","h":"HH","ɦ":"HH","β":"B","ʔ":"",
     "ts":"T S","tʃ":"CH","dʒ":"JH","dz":"D Z","r̝":"R ZH","a":"AA","ɑ":"AA","ɐ":"AH","æ":"AE","e":"EY","ɛ":"EH","ə":"AH","ɜ":"ER","i":"IY","ɪ":"IH","y":"UW","ʏ":"UH","ø":"ER","œ":"ER","o":"OW","ɔ":"AO","u":"UW","ʊ":"UH","ɒ":"AA","ʌ":"AH","ɨ":"IH","ɯ":"UW","ɤ":"AH"}
def ipa_to_cmu(ipa):
    out = []
    for ph in ipa.split("_"):
        ph = re.sub(r"[ˈˌːˑ̃‍̪̩̯ʰʲʷ]", "", ph)
        if not ph: continue
        if ph in M: out += M[ph].split(); continue
        # diphthongs / clusters: map char by char
        for ch in ph:
            if ch in M and M[ch]: out += M[ch].split()
    return [p for p in out if p]
def spell(word, voice):
    ipa = subprocess.run(["espeak-ng", "-q", "--ipa=3", "-v", voice, word], capture_output=True, text=True).stdout.strip()
    return ipa_to_cmu(ipa.replace(" ", "_"))
dec = Decoder(samprate=16000, loglevel="ERROR")
src, lang, voice, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [r for r in json.load(open(src)) if r["lang"] == lang and r["text"] and r.get("speaker_font", "x")]
rows = random.sample(rows, min(n, len(rows)))
ok_w = ok_p = 0; floor = []; tot = 0
for r in rows:
    ws = re.findall(r"\w+", r["text"].lower())
    if not ws: continue
    tot += 1; names = []
    for i, w in enumerate(ws):
        pr = spell(w, voice)
        if not pr: break
        name = f"w{i}_{abs(hash(w)) % 10**8}"
        try:
            dec.add_word(name, " ".join(pr), False)
        except RuntimeError:
            if dec.lookup_word(name) is None: print("bad pron", w, pr); break
        names.append(name)
    if len(names) != len(ws): continue
    y, _ = librosa.load("data/real_speech_survey/x/" + r["path"], sr=16000); y, _ = librosa.effects.trim(y, top_db=40)
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16).tobytes()
    try:
        dec.set_align_text(" ".join(names)); dec.start_utt(); dec.process_raw(pcm, full_utt=True); dec.end_utt()
        if dec.hyp() is None: continue
        ok_w += 1
        dec.set_alignment(); dec.start_utt(); dec.process_raw(pcm, full_utt=True); dec.end_utt()
        ph = [p.duration for w in dec.get_alignment() for p in w if p.name != "SIL"]
        ok_p += 1; floor += [d <= 3 for d in ph]
    except RuntimeError:
        pass
print(f"{src} {lang}: clips {tot}, word pass ok {ok_w}, phone pass ok {ok_p}, phones at 30 ms floor {np.mean(floor):.2f}" if floor else f"{lang}: none")
