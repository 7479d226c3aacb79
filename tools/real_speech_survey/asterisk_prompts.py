"""Match asterisk-prompt-es-co / fr-armelle GSM prompts to transcripts of the same prompt id in asterisk-core-sounds-{es,fr}."""
import glob, gzip, os, subprocess, re
def trans(path):
    d = {}
    for line in gzip.open(path, "rt", encoding="utf-8", errors="replace"):
        m = re.match(r"^([^:;]+):\s*(.*)$", line.strip())
        if m: d[m.group(1).strip()] = m.group(2).strip()
    return d
for pkg, lang in [("asterisk-prompt-es-co", "es"), ("asterisk-prompt-fr-armelle", "fr")]:
    t = trans(glob.glob(f"data/real_speech_survey/x/asterisk-core-sounds-{lang}/usr/share/doc/*/core-sounds-{lang}.txt.gz")[0])
    files = sorted(glob.glob(f"data/real_speech_survey/x/{pkg}/usr/share/asterisk/sounds/**/*.gsm", recursive=True))
    root = f"data/real_speech_survey/x/{pkg}/usr/share/asterisk/sounds/{lang}/"
    n = 0; dur = 0.0; match = 0
    for f in files:
        if os.path.islink(f): continue
        key = f[len(root):-4]
        size = os.path.getsize(f); dur += size / 33 * 0.02  # GSM 6.10: 33 bytes per 20 ms frame
        n += 1; match += key in t
    print(pkg, "files", n, "dur_s %.0f" % dur, "prompt ids with a core-sounds transcript", match)
