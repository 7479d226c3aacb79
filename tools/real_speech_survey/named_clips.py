"""Durations / rates of small named voice-clip groups (text from file names or game config)."""
import glob, json, re, soundfile as sf, collections, os
X = "data/real_speech_survey/x"
WZ = f"{X}/warzone2100-data/wz"
groups = {
  "wz_pcv_female_computer": glob.glob(f"{WZ}/audio/memressp/*/pcv*.ogg") + glob.glob(f"{WZ}/audio/extra/pcv*.ogg") + [f"{WZ}/audio/extra/{n}" for n in ("lndgzne.ogg","lz.ogg","nmedeted.ogg")],
  "wz_commander": glob.glob(f"{WZ}/audio/memressp/cmndrvoc/*.ogg"),
  "wz_vtol_pilots": glob.glob(f"{WZ}/audio/vtoltalk/*.ogg"),
  "wz_transport_pilot": glob.glob(f"{WZ}/audio/trnsppil/*.ogg"),
  "wz_collective": glob.glob(f"{WZ}/audio/coltive/*.ogg"),
  "wz_nexus": glob.glob(f"{WZ}/audio/nexus/*.ogg"),
  "wz_taunts": glob.glob(f"{WZ}/audio/taunts/*/*.ogg"),
  "wz_tutorial": glob.glob(f"{WZ}/audio/tutorial/*.ogg"),
  "wz_countdown": glob.glob(f"{WZ}/audio/countdown/*.ogg"),
  "wz_proxmessages": glob.glob(f"{WZ}/audio/proxmessages/*.ogg"),
  "wz_sequenceaudio": glob.glob(f"{WZ}/sequenceaudio/*.ogg"),
  "openarena_feedback": glob.glob(f"{X}/oa/sound/feedback/*.wav"),
  "openarena_teamplay": glob.glob(f"{X}/oa/sound/teamplay/*.wav"),
  "neverball_voice": [f"{X}/neverball-common/usr/share/games/neverball/snd/{n}.ogg" for n in "birdie bogey double eagle go goal one over par penalty player1 player2 player3 player4 ready record set time".split()],
  "pingus_voice": [f"{X}/pingus-data/usr/share/games/pingus/data/sounds/{n}.wav" for n in ("letsgo","yipee","ohno","goodidea")],
  "alsa_speaker_test": [f for f in glob.glob(f"{X}/alsa-utils/usr/share/sounds/alsa/*.wav") if "Noise" not in f],
  "freedroidrpg_bot_voice": glob.glob(f"{X}/freedroidrpg-data/usr/share/freedroidrpg/data/sound/effects/bot_sounds/voice_samples/*.ogg") + glob.glob(f"{X}/freedroidrpg-data/usr/share/freedroidrpg/data/sound/effects/bot_sounds/*_Sound_*.ogg"),
}
out = {}
for g, files in groups.items():
    n = 0; d = 0.0; srs = collections.Counter()
    for f in files:
        if not os.path.exists(f): print("missing", f); continue
        i = sf.info(f); n += 1; d += i.duration; srs[(i.samplerate, i.channels)] += 1
    out[g] = dict(n=n, dur=round(d, 1), sr=dict((f"{k[0]}x{k[1]}", v) for k, v in srs.items()))
    print(f"{g:26s} {n:4d} clips {d:7.1f} s  {out[g]['sr']}")
json.dump(out, open("data/real_speech_survey/named_clips.json", "w"), indent=1)
