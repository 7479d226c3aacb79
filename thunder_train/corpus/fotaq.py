"""Flight of the Amazon Queen (CD "talkie"): acted English dialogue with its subtitle text and speaker.

Source: Debian package ``flight-of-the-amazon-queen`` (``apt-get download``), file
``usr/share/scummvm/flight-of-the-amazon-queen/queen.1c``. Licence (debian/copyright, "Flight-of-the-Amazon-Queen-
License", game content (C) John Passfield and Steven Stamatiadis): free distribution (1), also inside larger
distributions with proper attribution (2), no fee for the game itself (3), modification allowed with a prominent
notice that the work is modified (4).

Everything below was read from the bytes of ``queen.1c`` (all integers big-endian); the engine rules for voice
file names follow the public description of the game's engine (ScummVM ``queen``), re-implemented here.

Archive (``read_table``)
    ``QTBL`` (4 bytes), version ``CEM10`` (5), 4 bytes, uint16 entry count at 13, then from 15 one 21-byte entry
    per file: 12-byte NUL-padded name, bundle byte, uint32 offset, uint32 size. ``.SB`` entries are MPEG-2.5
    layer III, 11025 Hz mono (libsndfile >= 1.1 decodes them; ``decode`` resamples to 16 kHz).

Data files (``.DOG``, ``.CUT``, ``QUEEN.JAS``) start with a 20-byte AMOS ``AmBk`` header; offsets below are
relative to the end of that header. Strings are Pascal strings (length byte, text) padded to 2 bytes (4 in a
dialogue's string tables).

Sentences and segments (``segments``)
    A sentence is cut at every ``*`` followed by a two-letter/digit speech command (``*03``, ``*FL``, ``*WT``;
    ``*XY`` carries 11 more characters of coordinates). Segment ``k`` (0-based, counted over every ``*``) is the
    text before the ``k``-th command and is played from voice file ``<prefix><k+1 as one hex digit>.SB``; the
    grab commands ``*GD`` / ``*GM`` play nothing. Spaces in a name become ``0``.

Dialogue trees (``.DOG``; ``dialogue_sentences``)
    int16 header at 0: levels, unique key, talk key, Joe string count, person string count, 2 x (game state,
    test value, item), then uint16 offsets of the person strings, the cutaway record and the "second meeting"
    strings. The tree (``levels`` x 6 nodes x 16 bytes) starts at 32, Joe's strings at ``32 + 96 * levels``.
    A string table is ``count`` x (2 bytes, int16 id, string aligned to 4). Voice prefixes: Joe's option ``id``
    ``"%2d%4xJ" % (talk key, id)``, the person's reply ``"%2d%4xP"``; Joe's opening line (the table's first
    string) ``"%2dSSSSJ"``, and on a second meeting ``"%2dXXXXP"`` / ``"%2dXXXXJ"``. The person is the one the
    dialogue file is named after (``DIALOGUE_SPEAKER``, checked against the cutaways that open a dialogue).

Cutaways (``.CUT``; ``cutaway_sentences``)
    uint16 panel, int16 object count (negative: not skippable), int16 flags, uint16 offsets of the game-state
    block, the sentences and the bank names; from 12 the object records: 17 int16 (object number, ..., animation
    list at 4, execute at 5, from-object at 12, ...), an int16 count of people switched on and their int16
    object numbers, then for animated objects 10-int16 animation frames up to a header of -2. The sentence block
    holds an entry string and one string per object. Object ``i`` (1-based) speaks from prefix
    ``<name padded with _ to 5 chars><i as %02d>``. Object 0 (or -1) is Joe; a positive number is a person
    whose speaker is the actor of that person slot (``Jas.actor_names``); -2 / -3 is a voiced caption with no
    speaker on screen.

Joe's remarks (``QUEEN.JAS`` + ``QUEEN2.JAS``)
    ``QUEEN2.JAS`` is CR-LF text: object descriptions, object names, room names, 12 verbs, 40 Joe responses,
    actor animations, actor names, actor files. Response ``i`` is voiced as ``"JOE%04d" % i``, description
    ``i`` as ``"JOE%04d" % (i + 40)``. ``QUEEN.JAS`` starts with uint16 rooms, names, objects, descriptions;
    then 16-byte object records (name, x, y, description, entry, room, state, image; image -3/-4 = a person)
    and the first object of each room. The actor table (uint16 actors, animations, names, files, then 24-byte
    records: room, person number, name, game-state slot and value, ...) sits just before the graphic animations
    and the ``CEM10`` trailer; ``Jas`` finds it by those counts (the three string counts add up to the actor
    strings in ``QUEEN2.JAS`` and the animation table ends at the trailer).

``catalogue`` returns one ``Line`` per ``.SB`` entry that one of these rules names, with its segment text and
speaker; entries no rule names (sound effects ``*SSSS*``, a few stray takes) are not speech lines.
"""
from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
PACKAGE = "flight-of-the-amazon-queen"
ARCHIVE_PATH = "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
LICENCE = ("Flight of the Amazon Queen licence (debian/copyright): free redistribution, modification allowed with a "
           "prominent 'modified' notice, attribution and the readme kept; game content (C) John Passfield and "
           "Steven Stamatiadis")
HEADER = 20          # AMOS AmBk header before every data file's payload
JOE_RESPONSES = 40   # Joe responses in QUEEN2.JAS before the object descriptions are numbered on
NO_VOICE = ("GD", "GM")  # speech commands whose segment is not played

# Person a dialogue file's replies belong to: file stem without its number -> actor name in QUEEN2.JAS.
# Checked in the data: AND, CHEF, FAYE, FRANK, HENRY, IAN, LOLA, ORACLE, PRIN, SEC, ZOMBIE and BOB are opened by
# cutaways whose talk-to object is that actor; the others by the person's own lines ("I'm Mike Laris the
# bellboy", "I'm Skip", "I'm Mary-Lou Cook", "Hello Joe, I'm John").
DIALOGUE_SPEAKER: dict[str, str] = {
    "AND": "ANDERSON", "APE": "APE", "BOB": "BOB", "BUD": "BUD", "CHEF": "CHEF", "CHIEF": "CHIEF",
    "DEATH": "DEATH", "DOG": "DOG", "FAYE": "FAYE", "FRANK": "FRANK", "HENRY": "HENRY", "IAN": "IAN",
    "JIM": "JIMMY", "JOHN": "JOHAN", "KLUNK": "KLUNK", "LARIS": "MIKE", "LOLA": "LOLA", "LOU": "LOU",
    "MAN": "", "NAOMI": "NAOMI", "ORACLE": "ORACLE", "PRIN": "PRINCESS1", "SEC": "SECRETARY",
    "SHOWERAM": "SHOWERAM", "SPARKY": "SPARKY", "TALLPYG": "PYGMY", "TAM": "TAMMY", "WEDGE": "WEDGEWOOD",
    "WITCH": "WITCH", "ZOMBIE": "ZOMBIE",
}
# Actor names that are one character (costume, head close-up, intro flashback) -> character id.
CHARACTER_ALIAS: dict[str, str] = {
    "PRINCESS": "AZURA", "ANDSON": "ANDERSON", "LOU": "SKIP", "TAMMY": "MARY-LOU", "JOHAN": "JOHN",
    "MIKE": "LARIS", "ZOMBIE2": "ZOMBIE", "ZOMBIE3": "ZOMBIE",
}
# Voice artist per character id, from the game's own credits (``CREDIT2.CRD`` in the archive, "Voice Artists").
# Characters the credits give to two artists (Rico, Lola, Klunk) or that cannot be told apart from the credits
# (the two prisoners MAN1 / MAN2, DEATH) have none. One artist voices many characters: split by artist, not by
# character, when a voice must stay unheard.
VOICE_ARTIST: dict[str, str] = {
    "JOE": "Brad Lavelle",
    **dict.fromkeys(("SPARKY", "JIMMY", "APE", "SKIP", "WEDGEWOOD", "DOG", "EDDY"), "Tom Hill"),
    **dict.fromkeys(("FRANK", "LARIS", "BUD", "JOHN", "CHEF"), "Bill Hootkins"),
    **dict.fromkeys(("ANDERSON", "HENRY"), "Enn Reitel"),
    "ORACLE": "Penelope Keith",  # the temple guardian (cutaway object "guardian" is the ORACLE actor)
    "BOB": "Jon Coleman",
    **dict.fromkeys(("AZURA", "AMGUARD", "SHOWERAM"), "Debbie Arnold"),
    **dict.fromkeys(("IAN", "CHIEF"), "Barry James"),
    **dict.fromkeys(("FAYE", "RITA"), "Lisa Valdez"),
    **dict.fromkeys(("NAOMI", "SECRETARY", "ZOMBIE"), "Jessica Martin"),
    **dict.fromkeys(("MARY-LOU", "WITCH"), "Regina Reagan"),
    "HUGH": "Mike Hurley",
}


@dataclass(frozen=True)
class Entry:
    """One file of the archive: byte ``offset`` and ``size`` in ``queen.1c``."""

    name: str
    bundle: int
    offset: int
    size: int


@dataclass(frozen=True)
class Line:
    """One voiced segment: ``entry`` (``.SB`` name in the archive), its subtitle ``text`` and ``speaker``.

    ``speaker`` is a character id (``character``), "" when the data does not say who speaks; ``source`` is the
    data file the text comes from; ``kind`` is ``dialogue`` / ``cutaway`` / ``remark``.
    """

    entry: str
    text: str
    speaker: str
    source: str
    kind: str

    @property
    def artist(self) -> str:
        """The voice artist the credits give for ``speaker`` ("" when they do not say)."""
        return VOICE_ARTIST.get(self.speaker, "")


@dataclass(frozen=True)
class FotaqConfig:
    """Which paired lines ``catalogue`` returns."""

    keep_unknown_speaker: bool = False  # voiced captions and person slots with several possible actors
    min_letters: int = 1                # segments with fewer letters (a bare "..." ) are not lines


def find_archive(cache: Path = Path("data/cache")) -> Path | None:
    """``queen.1c`` if present: ``$THUNDER_FOTAQ``, the package unpacked by ``fetch_archive`` under ``cache``, or
    the installed package."""
    import os

    env = os.environ.get("THUNDER_FOTAQ")
    for p in ([Path(env)] if env else []) + [Path(cache) / "src/x" / PACKAGE / ARCHIVE_PATH, Path("/") / ARCHIVE_PATH]:
        if p.is_file():
            return p
    return None


def fetch_archive(cache: Path = Path("data/cache"), log=print) -> Path:
    """Fetch the package with ``apt-get download`` and unpack it under ``<cache>/src`` (``devset.fetch``)."""
    from thunder_train.corpus.recorded import SOURCE_BY_KEY
    from thunder_train.devset.fetch import fetch

    return fetch(SOURCE_BY_KEY["fotaq"], Path(cache) / "src", log) / ARCHIVE_PATH


class FormatError(ValueError):
    """``queen.1c`` (or a file inside it) does not have the layout this module reads."""


def character(actor: str) -> str:
    """Character id of an actor name: ``X3_RITA`` / ``RITA-H`` -> ``RITA``, ``PRINCESS1`` -> ``AZURA``."""
    a = re.sub(r"^X\d+_", "", actor.upper())
    a = re.sub(r"(-[HEF]|_STAND|_SHOWER)$", "", a)
    if a not in CHARACTER_ALIAS:
        a = re.sub(r"(?<=[A-Z])[12]$", "", a) if a.startswith("PRINCESS") else a
    return CHARACTER_ALIAS.get(a, a)


def read_table(path: Path) -> dict[str, Entry]:
    """``{name: Entry}`` of a ``queen.1c`` archive (raises ``FormatError`` on another file)."""
    with open(path, "rb") as f:
        head = f.read(15)
        if len(head) < 15 or head[:4] != b"QTBL":
            raise FormatError(f"{path} is not a Flight of the Amazon Queen archive (no QTBL header)")
        (count,) = struct.unpack(">H", head[13:15])
        table = f.read(21 * count)
    if len(table) != 21 * count:
        raise FormatError(f"{path}: table of {count} entries is truncated")
    out: dict[str, Entry] = {}
    for i in range(count):
        rec = table[21 * i:21 * (i + 1)]
        name = rec[:12].rstrip(b"\0").decode("ascii")
        off, size = struct.unpack(">II", rec[13:21])
        out[name] = Entry(name, rec[12], off, size)
    return out


class Archive:
    """Random access to the files of ``queen.1c``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.entries = read_table(self.path)

    def read(self, name: str) -> bytes:
        e = self.entries[name]
        with open(self.path, "rb") as f:
            f.seek(e.offset)
            return f.read(e.size)

    def payload(self, name: str) -> bytes:
        """A data file without its 20-byte ``AmBk`` header."""
        raw = self.read(name)
        if raw[:4] != b"AmBk":
            raise FormatError(f"{name} has no AmBk header")
        return raw[HEADER:]

    def speech_names(self) -> list[str]:
        return sorted(n for n in self.entries if n.endswith(".SB"))

    def decode(self, name: str, sr: int = SR) -> np.ndarray:
        """A ``.SB`` entry as mono float32 ``(S,)`` at ``sr`` Hz (MP3 decoded by libsndfile, then resampled)."""
        import soundfile as sf
        from scipy.signal import resample_poly

        audio, rate = sf.read(io.BytesIO(self.read(name)), dtype="float32", always_2d=True)
        x = audio.mean(axis=1)
        if rate != sr:
            g = np.gcd(int(rate), int(sr))
            x = resample_poly(x, sr // g, int(rate) // g)
        return x.astype(np.float32)


def _s16(b: bytes, o: int) -> int:
    return struct.unpack_from(">h", b, o)[0]


def _u16(b: bytes, o: int) -> int:
    return struct.unpack_from(">H", b, o)[0]


def pascal(b: bytes, off: int, align: int = 2) -> tuple[str, int]:
    """The Pascal string at ``off`` and the offset after it (padded to ``align``; an empty string takes 1 byte)."""
    n = b[off]
    off += 1
    text = b[off:off + n].decode("latin-1")
    if n:
        off = (off + n + align - 1) & ~(align - 1)
    return text, off


def segments(sentence: str) -> list[tuple[int, str]]:
    """``[(voice index, text)]`` of the voiced segments of a sentence (index counts every ``*`` command)."""
    out: list[tuple[int, str]] = []
    i = start = idx = 0
    while i < len(sentence):
        if sentence[i] == "*":
            text, cmd = sentence[start:i], sentence[i + 1:i + 3]
            i += 3 + (11 if cmd == "XY" else 0)
            if cmd not in NO_VOICE:
                out.append((idx, text))
            idx += 1
            start = i
        else:
            i += 1
    if start < len(sentence):
        out.append((idx, sentence[start:]))
    return out


def voice_name(prefix: str, index: int) -> str:
    """Archive name of segment ``index`` (0-based) of a sentence with voice ``prefix``."""
    return (prefix + f"{index + 1:1x}").replace(" ", "0").upper() + ".SB"


def dialogue_sentences(b: bytes) -> list[tuple[str, str, bool]]:
    """``[(voice prefix, sentence, said by Joe)]`` of a ``.DOG`` payload (layout in the module docstring)."""
    levels, talk_key, n_joe, n_person = abs(_s16(b, 0)), _s16(b, 4), _s16(b, 6), _s16(b, 8)
    person_off, second_off = _u16(b, 22), _u16(b, 26)
    joe_off = 32 + 96 * levels

    def table(off: int, count: int) -> list[tuple[int, str]]:
        rows = []
        for _ in range(count):
            ident = _s16(b, off + 2)
            text, off = pascal(b, off + 4, 4)
            rows.append((ident, text))
        return rows

    out: list[tuple[str, str, bool]] = []
    joe = table(joe_off, n_joe)
    if joe and joe[0][0] == 0:  # the first Joe string, id 0, is his opening line
        out.append((f"{talk_key:2d}SSSSJ", joe[0][1], True))
    out += [(f"{talk_key:2d}{ident:4x}J", text, True) for ident, text in joe]
    out += [(f"{talk_key:2d}{ident:4x}P", text, False) for ident, text in table(person_off, n_person)]
    again_person, off = pascal(b, second_off)
    again_joe, _ = pascal(b, off)
    out += [(f"{talk_key:2d}XXXXP", again_person, False), (f"{talk_key:2d}XXXXJ", again_joe, True)]
    return out


def cutaway_sentences(b: bytes, jas: Jas) -> list[tuple[str, str, int]]:
    """``[(object index 1.., sentence, object number)]`` of a ``.CUT`` payload (layout in the module docstring)."""
    count = abs(_s16(b, 2))
    _, off = pascal(b, _u16(b, 8))  # entry string
    sentences = []
    for _ in range(count):
        text, off = pascal(b, off)
        sentences.append(text)
    p, out = 12, []
    for i in range(count):
        rec = struct.unpack_from(">17h", b, p)
        p += 34
        p += 2 + 2 * _s16(b, p)  # people switched on
        num, anim_list, execute, from_obj = rec[0], rec[4], rec[5], rec[12]
        num = 0 if num == -1 else num  # "room fade" record: Joe
        kind = "animation"
        if (num == 0 or (num > 0 and jas.is_person(num))) and not anim_list:
            kind = "person"
        if from_obj > 0:
            kind = "static"
        if num in (-2, -3, -4):
            kind = "caption"
        if kind == "animation" and not execute:
            kind = "static"
        if kind == "animation":  # 10-int16 frames after an int16 header, up to a header of -2
            while _s16(b, p) != -2:
                p += 20
            p += 2
        if (kind == "person" or num in (-2, -3)) and not sentences[i].startswith("#"):  # "#": credits roll
            out.append((i + 1, sentences[i], num))
    return out


class Jas:
    """The game tables needed for speakers and Joe's remarks: objects, rooms, actors and their strings."""

    def __init__(self, jas: bytes, strings: bytes) -> None:
        self.rooms, self.n_names, self.n_objects, self.n_desc = struct.unpack_from(">4H", jas, 0)
        self.objects = [struct.unpack_from(">8h", jas, 8 + 16 * k) for k in range(self.n_objects)]
        ro = 8 + 16 * self.n_objects
        self.room_first = [0] + [_u16(jas, ro + 2 * k) for k in range(self.rooms + 1)]
        self.text = strings.decode("latin-1").split("\r\n")
        base = self.n_desc + self.n_names + self.rooms + 12 + JOE_RESPONSES
        self.actor_strings = base
        while self.text and not self.text[-1]:
            self.text.pop()
        n_actor_strings = len(self.text) - base
        trailer = jas.rfind(b"CEM10")
        if trailer < 0:
            raise FormatError("QUEEN.JAS has no CEM10 trailer")
        self.actors, self.n_anim = self._find_actors(jas, n_actor_strings, trailer)

    @staticmethod
    def _find_actors(jas: bytes, n_strings: int, trailer: int) -> tuple[list[tuple[int, ...]], int]:
        for p in range(0, trailer - 8, 2):
            n_act, n_anim, n_name, n_file = struct.unpack_from(">4H", jas, p)
            if n_act and n_anim + n_name + n_file == n_strings:
                q = p + 8 + 24 * n_act
                if q + 2 <= trailer and q + 2 + 6 * _u16(jas, q) == trailer:
                    return [struct.unpack_from(">12h", jas, p + 8 + 24 * k) for k in range(n_act)], n_anim
        raise FormatError("actor table not found in QUEEN.JAS")

    def is_person(self, obj: int) -> bool:
        return self.objects[obj - 1][7] in (-3, -4)

    def joe_response(self, i: int) -> str:
        return self.text[self.n_desc + self.n_names + self.rooms + 12 + i - 1]

    def description(self, i: int) -> str:
        return self.text[i - 1]

    def actor_names(self, obj: int) -> list[str]:
        """Actor names that can fill person object ``obj`` (same room, same person number; game state decides)."""
        room = self.objects[obj - 1][5]
        slot = sum(1 for k in range(self.room_first[room] + 1, obj + 1) if self.is_person(k))
        base = self.actor_strings + self.n_anim
        return sorted({self.text[base + a[2] - 1] for a in self.actors if a[0] == room and a[1] == slot})


def lines(archive: Archive) -> list[Line]:
    """Every ``Line`` the data names, voiced or not (one per voice file name; ``speaker`` "" when unknown)."""
    jas = Jas(archive.payload("QUEEN.JAS"), archive.read("QUEEN2.JAS"))
    out: list[Line] = []

    def add(prefix: str, sentence: str, speaker: str, source: str, kind: str) -> None:
        for idx, text in segments(sentence):
            out.append(Line(voice_name(prefix, idx), text.strip(), speaker, source, kind))

    for name in sorted(archive.entries):
        if name.endswith(".DOG"):
            person = DIALOGUE_SPEAKER.get(re.sub(r"\d+$", "", name[:-4]), "")
            if not person:  # MAN1 / MAN2: the actor of the same name
                person = name[:-4]
            for prefix, sentence, by_joe in dialogue_sentences(archive.payload(name)):
                add(prefix, sentence, "JOE" if by_joe else character(person), name, "dialogue")
        elif name.endswith(".CUT"):
            base = name[:-4].ljust(5, "_")[:5]
            for index, sentence, num in cutaway_sentences(archive.payload(name), jas):
                if num < 0:  # voiced caption: one file, whole sentence
                    out.append(Line(f"{base}{index:02d}1.SB", sentence.strip(), "", name, "cutaway"))
                    continue
                who = {"JOE"} if num == 0 else {character(a) for a in jas.actor_names(num)}
                add(f"{base}{index:02d}", sentence, who.pop() if len(who) == 1 else "", name, "cutaway")
    for i in range(1, JOE_RESPONSES + 1):
        add(f"JOE{i:04d}", jas.joe_response(i), "JOE", "QUEEN2.JAS", "remark")
    for i in range(1, jas.n_desc + 1):
        add(f"JOE{i + JOE_RESPONSES:04d}", jas.description(i), "JOE", "QUEEN2.JAS", "remark")
    return out


def catalogue(path: Path, cfg: FotaqConfig | None = None) -> list[Line]:
    """Paired speech lines of ``queen.1c``: one ``Line`` per ``.SB`` entry a rule names, sorted by entry.

    A voice file named by two rules with different texts is left out (none are in the Debian archive).
    """
    cfg = cfg or FotaqConfig()
    archive = Archive(path)
    speech = set(archive.speech_names())
    by_entry: dict[str, list[Line]] = {}
    for ln in lines(archive):
        if ln.entry in speech:
            by_entry.setdefault(ln.entry, []).append(ln)
    out = []
    for name in sorted(by_entry):
        cands = by_entry[name]
        if len({c.text for c in cands}) != 1:
            continue
        ln = cands[0]
        if len(re.findall(r"[A-Za-z]", ln.text)) < cfg.min_letters:
            continue
        if not ln.speaker and not cfg.keep_unknown_speaker:
            continue
        out.append(ln)
    return out
