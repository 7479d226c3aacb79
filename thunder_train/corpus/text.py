"""Offline sentence sources for synthesis (all read from installed Debian packages).

- Harvard sentences (IEEE 1969), object ``sentences`` in r-cran-stringr's data (package GPL-2).
- Jane Austen's six novels, r-cran-janeaustenr (MIT; the text is public domain).
- WordNet 3.0 quoted example sentences, wordnet-base (WordNet 3.0 licence).
"""
from __future__ import annotations

import gzip
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

R_LIB = Path("/usr/lib/R/site-library")
WORDNET = Path("/usr/share/wordnet")

LICENCES: dict[str, str] = {
    "harvard": "Harvard sentences (IEEE 1969 recommended practice), via Debian r-cran-stringr (GPL-2)",
    "austen": "Jane Austen novels, public domain text, via Debian r-cran-janeaustenr (MIT)",
    "wordnet": "WordNet 3.0 example sentences, Princeton WordNet 3.0 licence (permissive), Debian wordnet-base",
    "asterisk": "Asterisk core sound prompt transcripts, CC-BY-SA-3.0 (Digium / Allison Smith, June Wallack)",
}


@dataclass(frozen=True)
class Sentence:
    """One sentence and where it came from."""

    text: str
    lang: str     # "en", "es", "fr"
    source: str   # key of LICENCES


def _read_rdb(pkg: str) -> dict[str, object]:
    """All objects of an R package's lazy-load data base (Rdata.rdx / Rdata.rdb)."""
    import rdata
    from rdata.parser import parse_data

    base = R_LIB / pkg / "data" / "Rdata"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = rdata.conversion.convert(parse_data(gzip.decompress((base.with_suffix(".rdx")).read_bytes())))
        blob = base.with_suffix(".rdb").read_bytes()
        out = {}
        for name, (off, length) in index["variables"].items():
            chunk = blob[int(off): int(off) + int(length)]
            out[name] = rdata.conversion.convert(parse_data(zlib.decompress(chunk[4:])))
    return out


_WS = re.compile(r"\s+")


def _clean(s: str) -> str:
    s = s.replace("_", " ").replace("--", ", ").replace('"', "").replace("`", "'")
    s = re.sub(r"\b(Mr|Mrs|Dr|St|Col)\.", r"\1", s)
    s = re.sub(r"\s*,[\s,]*", ", ", s)
    return _WS.sub(" ", s).strip()


def harvard() -> list[Sentence]:
    data = _read_rdb("stringr")["sentences"]
    return [Sentence(_clean(str(s)), "en", "harvard") for s in list(data)]


def austen(min_words: int = 4, max_words: int = 22) -> list[Sentence]:
    """Sentences of 4..22 words from the six novels (chapter headings dropped)."""
    out: list[Sentence] = []
    for _name, df in sorted(_read_rdb("janeaustenr").items()):
        text = " ".join(str(x) for x in list(df) if str(x).strip())
        text = re.sub(r"(CHAPTER|Chapter) [IVXLC\d]+\.?", " ", text)
        for s in re.split(r"(?<=[.!?])\s+", _clean(text)):
            n = len(s.split())
            if min_words <= n <= max_words and s[:1].isupper() and not re.search(r"[0-9*\[\]]", s):
                out.append(Sentence(s, "en", "austen"))
    return out


def wordnet_examples(min_words: int = 4) -> list[Sentence]:
    """Quoted example sentences from the WordNet data files."""
    seen: set[str] = set()
    out: list[Sentence] = []
    for part in ("noun", "verb", "adj", "adv"):
        path = WORDNET / f"data.{part}"
        if not path.exists():
            continue
        for line in path.read_text("latin-1").splitlines():
            if line.startswith(" ") or "|" not in line:
                continue
            for q in re.findall(r'"([^"]+)"', line.split("|", 1)[1]):
                q = _clean(q)
                if len(q.split()) >= min_words and q not in seen and not re.search(r"[0-9]", q):
                    seen.add(q)
                    out.append(Sentence(q[0].upper() + q[1:] + ("" if q[-1] in ".!?" else "."), "en", "wordnet"))
    return out


def english_sentences() -> list[Sentence]:
    """All English sentences, deduplicated, in a fixed order."""
    seen: set[str] = set()
    out: list[Sentence] = []
    for s in harvard() + austen() + wordnet_examples():
        key = s.text.lower()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out
