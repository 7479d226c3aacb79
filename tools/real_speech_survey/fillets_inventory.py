"""Inventory Fish Fillets NG voice clips: map each ogg to its dialogId (speaker font, English text, localized text)."""
import re, sys, glob, os, json, collections
import soundfile as sf
ROOT = "data/real_speech_survey/x"
SCRIPT = f"{ROOT}/fillets-ng-data/usr/share/games/fillets-ng/script"
pat = re.compile(r'dialogId\("([^"]+)",\s*(?:"([^"]*)"|nil),\s*"((?:[^"\\]|\\.)*)"\)\s*(?:dialogStr\("((?:[^"\\]|\\.)*)"\))?', re.S)
def load(lang):
    d = {}
    for f in glob.glob(f"{SCRIPT}/*/dialogs_{lang}.lua"):
        lvl = f.split("/")[-2]
        for m in pat.finditer(open(f, encoding="utf-8").read()):
            sid, font, en, loc = m.groups()
            d[(lvl, sid)] = (font, en, loc)
    return d
out = []
for lang, pkg in [("en", "fillets-ng-data"), ("cs", "fillets-ng-data-cs"), ("nl", "fillets-ng-data-nl")]:
    dl = load(lang)
    files = sorted(glob.glob(f"{ROOT}/{pkg}/usr/share/games/fillets-ng/sound/*/{lang}/*.ogg"))
    n_tx = 0; dur = 0; fonts = collections.Counter(); fdur = collections.Counter(); srs = collections.Counter(); miss = []
    for f in files:
        lvl = f.split("/")[-3]; sid = os.path.basename(f)[:-4]
        info = sf.info(f); dur += info.duration; srs[(info.samplerate, info.channels)] += 1
        key = (lvl, sid)
        if key in dl:
            font, en, loc = dl[key]
            text = en if lang == "en" else loc
            if text: n_tx += 1
            fonts[font] += 1; fdur[font] += info.duration
            out.append(dict(lang=lang, level=lvl, id=sid, path=f.replace(ROOT + "/", ""), speaker_font=font, text=text, english=en, dur=round(info.duration, 3), sr=info.samplerate))
        else:
            miss.append(key)
    print(lang, "files", len(files), "with text", n_tx, "dur_s %.0f" % dur, "sr", dict(srs), "missing", len(miss), miss[:8])
    for fnt, c in fonts.most_common(): print("   ", fnt, c, "%.0f s" % fdur[fnt])
json.dump(out, open("data/real_speech_survey/fillets_inventory.json", "w"), ensure_ascii=False, indent=0)
