"""Inventory Tux Paint stamp spoken descriptions (*_desc[_LANG].ogg|wav) with the matching text from the stamp's .txt."""
import glob, os, re, json, collections
import soundfile as sf
ROOT = "data/real_speech_survey/x/tuxpaint-stamps-default"
S = f"{ROOT}/usr/share/tuxpaint/stamps"
rx = re.compile(r"^(.*)_desc(?:_([A-Za-z@_]+))?\.(ogg|wav)$")
rows = []; stats = collections.defaultdict(lambda: [0, 0.0, 0, collections.Counter()])
for f in glob.glob(f"{S}/**/*", recursive=True):
    m = rx.match(os.path.basename(f))
    if not m: continue
    stem, lang, _ = m.groups(); lang = lang or "en"
    txt = os.path.join(os.path.dirname(f), stem + ".txt")
    text = None
    if os.path.exists(txt):
        lines = open(txt, encoding="utf-8", errors="replace").read().splitlines()
        if lang == "en":
            text = lines[0].strip() if lines else None
        else:
            for l in lines:
                if l.startswith(lang + ".utf8="):
                    text = l.split("=", 1)[1].strip()
    try:
        info = sf.info(f); d, sr = info.duration, info.samplerate
    except Exception as e:
        d, sr = 0.0, None
    s = stats[lang]; s[0] += 1; s[1] += d; s[2] += bool(text); s[3][sr] += 1
    rows.append(dict(lang=lang, path=f.replace("data/real_speech_survey/x/", ""), text=text, dur=round(d, 3), sr=sr))
for lang, (n, d, nt, srs) in sorted(stats.items(), key=lambda kv: -kv[1][0]):
    print(f"{lang:8s} clips {n:4d} dur {d:7.0f}s  with_text {nt:4d}  sr {dict(srs)}")
json.dump(rows, open("data/real_speech_survey/tuxpaint_inventory.json", "w"), ensure_ascii=False, indent=0)
