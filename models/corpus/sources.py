"""Which files of the music21 corpus become which collection, with their source and licence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PUBLIC_DOMAIN = "public domain"
ESSEN_LICENCE = "non-commercial use only (Essen Folksong Collection, distributed by permission)"
UNCLEAR_LICENCE = "unclear (Nottingham Music Database; not redistributed)"

# category groups collections for the acceptance checks and for captions ("folk tune", "chorale").
CATEGORIES = ("folk", "chorale", "polyphony", "classical")


@dataclass(frozen=True)
class Collection:
    name: str
    category: str
    fmt: str  # "abc" | "score"
    patterns: tuple[str, ...]  # globs under the music21 corpus dir
    source: str
    licence: str
    genre: str
    exclude: str = ""  # regex on the file name

    def files(self, root: Path) -> list[Path]:
        found: set[Path] = set()
        for pattern in self.patterns:
            found.update(p for p in root.glob(pattern) if p.is_file())
        if self.exclude:
            found = {p for p in found if not re.search(self.exclude, p.name)}
        return sorted(found)


COLLECTIONS: tuple[Collection, ...] = (
    Collection("essen", "folk", "abc", ("essenFolksong/*.abc",),
               "Essen Folksong Collection (EsAC, ABC by Seymour Shlien)", ESSEN_LICENCE, "folk song",
               exclude=r"^test"),
    Collection("oneill", "folk", "abc", ("oneills1850/*.abc",),
               "O'Neill's Music of Ireland (1850/1903)", PUBLIC_DOMAIN, "Irish folk tune"),
    Collection("ryan", "folk", "abc", ("ryansMammoth/*.abc",),
               "Ryan's Mammoth Collection (1883)", PUBLIC_DOMAIN, "fiddle tune"),
    Collection("aird", "folk", "abc", ("airdsAirs/*.abc",),
               "Aird's Selection of Scotch, English, Irish and Foreign Airs (1778-1803)", PUBLIC_DOMAIN,
               "Scottish tune"),
    Collection("miscfolk", "folk", "abc", ("miscFolk/*.abc",),
               "American fife tunes and Northumbrian Minstrelsy (19th century)", PUBLIC_DOMAIN, "folk tune"),
    Collection("nottingham", "folk", "abc", ("nottingham-dataset/*.abc",),
               "Nottingham Music Database (excerpt in music21)", UNCLEAR_LICENCE, "folk dance tune"),
    Collection("chorales", "chorale", "score", ("bach/*.mxl", "bach/*.xml", "bach/*.krn"),
               "J. S. Bach, four-part chorales (music21 corpus)", PUBLIC_DOMAIN, "Baroque chorale"),
    Collection("palestrina", "polyphony", "score", ("palestrina/*.krn",),
               "G. P. da Palestrina, masses (Humdrum, music21 corpus)", PUBLIC_DOMAIN, "Renaissance mass"),
    Collection("monteverdi", "polyphony", "score", ("monteverdi/*.mxl",),
               "C. Monteverdi, madrigals (music21 corpus)", PUBLIC_DOMAIN, "Renaissance madrigal"),
    Collection("renaissance", "polyphony", "score",
               ("josquin/*", "ciconia/*", "luca/*", "lusitano/*"),
               "Josquin, Ciconia, Luca, Lusitano (music21 corpus)", PUBLIC_DOMAIN, "early polyphony",
               exclude=r"\.(txt|py)$"),
    Collection("trecento", "polyphony", "score", ("trecento/*.xml", "trecento/*.mxl"),
               "Italian trecento songs (PMFC, music21 corpus)", PUBLIC_DOMAIN, "medieval song"),
    Collection("classical", "classical", "score",
               ("beethoven/**/*", "mozart/**/*", "haydn/**/*", "schubert/**/*", "schumann_clara/**/*",
                "schumann_robert/**/*", "chopin/**/*", "handel/**/*", "corelli/**/*", "cpebach/**/*",
                "weber/**/*", "verdi/**/*", "joplin/**/*", "johnson_j_r/**/*", "liliuokalani/**/*"),
               "Classical and Romantic scores (music21 corpus)", PUBLIC_DOMAIN, "classical piece",
               exclude=r"\.(txt|py|rntxt|pdf)$"),
)


def collection_by_name(name: str) -> Collection:
    for c in COLLECTIONS:
        if c.name == name:
            return c
    raise KeyError(f"unknown collection {name!r}; known: {', '.join(c.name for c in COLLECTIONS)}")


def music21_corpus_root() -> Path:
    import music21

    return Path(music21.__file__).resolve().parent / "corpus"


# Essen file prefixes name the repertory; the words become true caption words ("a German folk song").
ESSEN_ORIGINS = {
    "han": "Chinese", "irl": "Irish", "lot": "Lorraine", "lux": "Luxembourgish", "kinder": "German children's",
    "ballad": "Central European", "altdeu": "Old German", "boehme": "German", "dva": "German", "erk": "German",
    "fink": "German", "zuccal": "German", "folkHaydn": "European", "variant": "German",
}


def essen_origin(file_name: str) -> str:
    for prefix, word in ESSEN_ORIGINS.items():
        if file_name.startswith(prefix):
            return word
    return "European"
