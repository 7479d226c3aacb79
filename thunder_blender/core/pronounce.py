"""Transcript words -> articulatory phone classes (English).

    words = pronounce("Hello, world! It's 1999.")
    words[0].text, words[0].classes, words[0].source      # 'Hello', (9, 5, 7, 3), 'dictionary'

Every transcript token (split at white space, surrounding punctuation dropped) becomes one ``Word``, so the
aligned words are the words the user wrote. Pronunciations come from the bundled table
(``assets/pronunciations_en.txt.gz``, from the CMU Pronouncing Dictionary, see its .md), in this order:
the token as a whole; numbers spelled out (cardinals, ordinals, years, decimals, ``%``, ``$``, ``&``);
hyphenated and apostrophe forms from their parts; acronyms (all capitals, not in the table) letter by
letter; anything else from spelling rules (``letter_classes``; Greek and Cyrillic letter by letter,
``script_classes``). Accents are stripped first. Letters the rules do not know (other scripts) give no classes,
and such a word is left to the audio.

Other languages (``pronounce(text, "es")``, ``LANGUAGES``) have their own table (``pronunciations_<lang>``:
a Debian word list read by espeak-ng, see its .md), looked up with and without accents; numbers and
acronyms are English-only, so in another language they are left to the audio, and unknown words go through
the same spelling rules (approximate). ``"other"`` uses the spelling rules alone.
"""
from __future__ import annotations

import bisect
import functools
import gzip
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
LEXICON = ASSETS / "pronunciations_en.txt.gz"
# transcript languages: code -> name (each but "other" has a table assets/pronunciations_<code>.txt.gz)
LANGUAGES: dict[str, str] = {"en": "English", "de": "German", "el": "Greek", "es": "Spanish", "fr": "French",
                             "it": "Italian", "nl": "Dutch", "pt": "Portuguese", "sv": "Swedish",
                             "other": "other (spelling rules only)"}
MAX_WORD_LETTERS = 40  # longer tokens are not words (URLs, hashes): left to the audio


@dataclass(frozen=True)
class Word:
    """One transcript token: as written, its phone classes (``core.phones`` ids, may be empty) and where they
    came from: ``dictionary``, ``rules`` (spelling rules, numbers or letters spelled out) or ``none``."""

    text: str
    classes: tuple[int, ...]
    source: str


class Lexicon:
    """The bundled table, looked up by binary search over its sorted ``word digits`` lines (loading it is one
    decompression and one split: no per-word Python work). ``lex[word]`` -> class digits; ``word in lex``."""

    def __init__(self, path: Path) -> None:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            self.lines = f.read().split("\n")[:-1]

    def get(self, word: str, default: str | None = None) -> str | None:
        key = word + " "
        i = bisect.bisect_left(self.lines, key)
        if i < len(self.lines) and self.lines[i].startswith(key):
            return self.lines[i][len(key):]
        return default

    def __contains__(self, word: str) -> bool:
        return self.get(word) is not None

    def __getitem__(self, word: str) -> str:
        d = self.get(word)
        if d is None:
            raise KeyError(word)
        return d

    def __len__(self) -> int:
        return len(self.lines)

    def items(self):
        for line in self.lines:
            w, d = line.rsplit(" ", 1)
            yield w, d


def table_key(word: str) -> str:
    """How a word is looked up in a table other than English's: lower case, NFC, Greek final sigma as σ."""
    return unicodedata.normalize("NFC", word.lower()).replace("ς", "σ")


def language_of(code: str) -> str:
    """The transcript language for a language code (``"es"``, ``"es-CO"``, ``"pt_BR"``): its ``LANGUAGES`` entry,
    else ``"other"``."""
    base = code.lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else "other"


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The bundled English table (loaded once; see thunder_train/lexicon.py for its format)."""
    return Lexicon(LEXICON)


class _Empty(Lexicon):
    def __init__(self) -> None:
        self.lines = []


@functools.lru_cache(maxsize=len(LANGUAGES))
def language_lexicon(language: str) -> Lexicon:
    """The table of ``language`` (``LANGUAGES``; empty for "other"), loaded once. ValueError for other codes."""
    if language not in LANGUAGES:
        raise ValueError(f"no pronunciations for language {language!r}; choose one of {', '.join(LANGUAGES)}")
    if language == "en":
        return lexicon()
    if language == "other":
        return _Empty()
    return Lexicon(ASSETS / f"pronunciations_{language}.txt.gz")


# --- spelling rules: graphemes -> class digits (coarse on purpose: the classes are coarse) -------------------
# Vowels follow the table's classes (thunder_train.phones.cmu_classes): /ɔ/ (aw, au) is rounded, the diphthongs
# /aʊ/ (ou), /aɪ/ (igh) and /ɔɪ/ (oi, oy) are two classes.
# 0 sil, 1 bilabial, 2 labiodental, 3 rounded, 4 open, 5 mid, 6 dental, 7 alveolar, 8 postalveolar, 9 dorsal
_GRAPHEMES: dict[str, str] = {
    "tch": "8", "dge": "8", "igh": "45", "sch": "78", "ough": "3",
    "ch": "8", "sh": "8", "th": "6", "ph": "2", "gh": "", "ng": "9", "ck": "9", "qu": "93", "wh": "3", "wr": "7",
    "kn": "7", "ps": "7", "oo": "3", "ou": "43", "ow": "3", "aw": "3", "au": "3", "ee": "5", "ea": "5", "ai": "5",
    "ay": "5", "ey": "5", "oa": "3", "oi": "35", "oy": "35", "ie": "5", "ei": "5", "eu": "3", "ue": "3", "ew": "3",
    "x": "97", "a": "4", "e": "5", "i": "5", "o": "4", "u": "4", "y": "5",
    "b": "1", "p": "1", "m": "1", "f": "2", "v": "2", "w": "3", "t": "7", "d": "7", "n": "7", "s": "7", "z": "7",
    "l": "7", "r": "7", "c": "9", "g": "9", "k": "9", "q": "9", "j": "8", "h": "9",
}
_KEYS = sorted(_GRAPHEMES, key=len, reverse=True)
_VOWELS = set("aeiouy")
# Greek and Cyrillic letters straight to classes (read letter by letter: both scripts are close to phonemic)
_SCRIPT: dict[str, str] = {
    **dict(zip("αβγδεζηθικλμνξοπρσςτυφχψω", ["4", "2", "9", "6", "5", "7", "5", "6", "5", "9", "7", "1", "7", "97",
                                              "4", "1", "7", "7", "7", "7", "5", "2", "9", "17", "4"], strict=True)),
    **dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
               ["4", "1", "2", "9", "7", "5", "93", "8", "7", "5", "9", "9", "7", "1", "7", "4", "1", "7", "7", "7",
                "3", "2", "9", "7", "8", "8", "8", "", "5", "", "5", "93", "94"], strict=True)),
}


def script_classes(word: str) -> tuple[int, ...]:
    """Phone classes of a Greek or Cyrillic word, letter by letter (other letters skipped)."""
    return tuple(int(c) for ch in word.lower() for c in _SCRIPT.get(ch, ""))


def letter_classes(word: str) -> tuple[int, ...]:
    """Phone classes of a lower-case a-z word from spelling rules alone: greedy longest grapheme match, soft
    c/g before e i y, initial y as a glide, silent final e, doubled letters once. Letters outside a-z are
    skipped."""
    w = re.sub(r"[^a-z]", "", word)
    if len(w) > 2 and w.endswith("e") and w[-2] not in _VOWELS and any(ch in _VOWELS for ch in w[:-2]):
        w = w[:-1]
    w = re.sub(r"([b-df-hj-np-tv-z])\1", r"\1", w)
    out: list[str] = []
    i = 0
    while i < len(w):
        if w[i] == "y" and i == 0 and len(w) > 1:
            out.append("9")
            i += 1
            continue
        if w[i] in "cg" and i + 1 < len(w) and w[i + 1] in "eiy":
            out.append("7" if w[i] == "c" else "8")
            i += 1
            continue
        for k in _KEYS:
            if w.startswith(k, i):
                out.append(_GRAPHEMES[k])
                i += len(k)
                break
        else:  # pragma: no cover - every a-z letter has a rule
            i += 1
    return tuple(int(c) for c in "".join(out))


# --- numbers ---------------------------------------------------------------------------------------------------
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
            "twelve": "twelfth"}


def number_words(n: int) -> list[str]:
    """English words of a non-negative integer (``1999`` -> nineteen ninety nine, read as a year)."""
    if 1100 <= n <= 1999 or (2010 <= n <= 2099):
        hi, lo = divmod(n, 100)
        return number_words(hi) + (["hundred"] if lo == 0 else (["oh"] if lo < 10 else []) + number_words(lo))
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        t, o = divmod(n, 10)
        return [_TENS[t]] + ([_ONES[o]] if o else [])
    if n < 1000:
        h, r = divmod(n, 100)
        return [_ONES[h], "hundred"] + (number_words(r) if r else [])
    for scale, name in _SCALES:
        if n >= scale:
            q, r = divmod(n, scale)
            return number_words(q) + [name] + (number_words(r) if r else [])
    raise ValueError(n)  # pragma: no cover


def ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in _ORDINAL:
        return words[:-1] + [_ORDINAL[last]]
    return words[:-1] + [last[:-1] + "ieth" if last.endswith("y") else last + "th"]


def expand_number(token: str) -> list[str] | None:
    """Words of a numeric token (``12``, ``1,000``, ``3.5``, ``21st``, ``50%``, ``$20``), None if not numeric."""
    m = re.fullmatch(r"([$£€]?)(\d[\d,]*)(?:\.(\d+))?(st|nd|rd|th|%|s)?", token.lower())
    if not m or len(m.group(2)) > 15:
        return None
    cur, whole, frac, suffix = m.groups()
    digits = whole.replace(",", "")
    words = number_words(int(digits))
    if frac:
        words += ["point"] + [_ONES[int(d)] for d in frac]
    if suffix in ("st", "nd", "rd", "th"):
        words = ordinal(words)
    elif suffix == "%":
        words.append("percent")
    elif suffix == "s":  # 1990s
        words = words[:-1] + [words[-1][:-1] + "ies" if words[-1].endswith("y") else words[-1] + "s"]
    if cur:
        words.append({"$": "dollars", "£": "pounds", "€": "euros"}[cur])
    return words


# --- tokens ------------------------------------------------------------------------------------------------------
_SYMBOLS = {"&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent"}
_EDGE = "\"'“”‘’«»()[]{}<>.,;:!?¡¿…—–-_*/\\|~`^#"


def tokens(text: str) -> list[str]:
    """Transcript tokens: white-space separated, surrounding punctuation dropped, empty ones removed."""
    out = []
    for raw in text.replace("’", "'").split():
        t = raw if raw in _SYMBOLS else raw.strip(_EDGE)
        if t:
            out.append(t)
    return out


def _ascii(token: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", token) if not unicodedata.combining(ch))


def _part(part: str, lex: Lexicon) -> tuple[str, str]:
    """Class digits of one apostrophe-free or apostrophe word part and the source used."""
    low = part.lower()
    if low in lex:
        return lex[low], "dictionary"
    if "'" in low:
        stem, _, tail = low.partition("'")
        if stem in lex and tail in ("s", "d", "ll", "re", "ve", "m", "t"):
            return lex[stem] + {"s": "7", "d": "7", "ll": "7", "re": "7", "ve": "2", "m": "1", "t": "7"}[tail], \
                "dictionary"
        low = low.replace("'", "")
        if low in lex:
            return lex[low], "dictionary"
    letters = re.sub(r"[^a-z]", "", low)
    if not letters:
        digits = "".join(map(str, script_classes(low)))
        return digits, "rules" if digits else "none"
    no_vowel = not any(ch in _VOWELS for ch in letters)
    if (part.isupper() and len(letters) >= 2) or (no_vowel and len(letters) <= 5):  # acronym: spell it
        return "".join(lex.get(ch, "") for ch in letters), "rules"
    return "".join(str(c) for c in letter_classes(letters)), "rules"


def pronounce_token(token: str, language: str = "en") -> Word:
    """One transcript token -> ``Word`` (see the module docstring for the order of the rules)."""
    if language != "en":
        return _foreign_token(token, language_lexicon(language))
    lex = lexicon()
    text = token
    if token in _SYMBOLS:
        return Word(text, tuple(int(c) for c in lex[_SYMBOLS[token]]), "rules")
    num = expand_number(token)
    if num is not None:
        return Word(text, tuple(int(c) for w in num for c in lex.get(w, "")), "rules")
    plain = _ascii(token)
    if any(ch.lower() in _SCRIPT for ch in plain):  # Greek / Cyrillic: accents stripped, no case folding of ς
        return Word(text, script_classes(plain), "rules")
    if len(plain) > MAX_WORD_LETTERS:
        return Word(text, (), "none")
    low = plain.lower()
    if low in lex:
        return Word(text, tuple(int(c) for c in lex[low]), "dictionary")
    digits, sources = "", set()
    for part in re.split(r"[-_/.]+", plain):
        if not part:
            continue
        sub = expand_number(part)
        if sub is not None:
            d, s = "".join(lex.get(w, "") for w in sub), "rules"
        else:
            d, s = _part(part, lex)
        digits += d
        sources.add(s)
    if not digits:
        return Word(text, (), "none")
    return Word(text, tuple(int(c) for c in digits), "dictionary" if sources == {"dictionary"} else "rules")


def _foreign_token(token: str, lex: Lexicon) -> Word:
    """A token of a language other than English: its table (as written, then without accents), else the
    spelling rules; numbers give no classes (their words are language-specific)."""
    if token in _SYMBOLS or expand_number(token) is not None or any(ch.isdigit() for ch in token):
        return Word(token, (), "none")
    low = table_key(token)
    for key in (low, _ascii(low)):
        d = lex.get(key)
        if d is not None:
            return Word(token, tuple(int(c) for c in d), "dictionary")
    plain = _ascii(token)
    if any(ch.lower() in _SCRIPT for ch in plain):
        return Word(token, script_classes(plain), "rules")
    if len(plain) > MAX_WORD_LETTERS:
        return Word(token, (), "none")
    digits, sources = "", set()
    for part in re.split(r"[-_/.']+", low):
        if not part:
            continue
        d = lex.get(part) or lex.get(_ascii(part))
        source = "dictionary" if d is not None else "rules"
        digits += d if d is not None else "".join(str(c) for c in letter_classes(_ascii(part)))
        sources.add(source)
    if not digits:
        return Word(token, (), "none")
    return Word(token, tuple(int(c) for c in digits), "dictionary" if sources == {"dictionary"} else "rules")


def pronounce(text: str, language: str = "en") -> list[Word]:
    """Every token of ``text`` as a ``Word`` (tokens that give no classes are kept, with empty classes).
    ``language``: a code of ``LANGUAGES`` (ValueError otherwise)."""
    if language not in LANGUAGES:
        raise ValueError(f"no pronunciations for language {language!r}; choose one of {', '.join(LANGUAGES)}")
    return [pronounce_token(t, language) for t in tokens(text)]
