"""The index's schema: its fields and the settings that shape it, in one place.

Every text field (title, body, and the body's opening paragraph) is indexed in three
families: exact syllables, folded syllables, folded syllable bigrams; plus the document id
as one exact term. The writer, the ranking and the suggester name fields through the helpers
here, never by building strings of their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from indexer.analysis import ANALYZER_VERSION

TEXT_FIELDS = ("title", "body", "opening")
# The opening (the lead, "sapo") is the first paragraph of the body, indexed again on its own:
# news articles state their subject there, so a match in it says more than one deep in the
# body. Searching "body" searches the opening too (it is part of the body); see search.rank.
OPENING_MAX_CHARS = 400


@dataclass(frozen=True)
class IndexSettings:
    """What shapes an index; written into its manifest and checked when it is opened.

    The weights are used at query time, but they belong to the index: they were tuned for
    its analysis (bench/quality.py) and change with it.
    """

    analyzer_version: str = ANALYZER_VERSION
    # BM25F weights per field family (exact syllables, folded, bigrams, folded bigrams).
    title_weight: float = 2.0
    body_weight: float = 1.0
    folded_weight: float = 0.35  # folded-only matches rank under matches of the typed diacritics
    bigram_weight: float = 0.5
    opening_weight: float = 0.15  # added for matches in the body's first paragraph
    phrase_bonus: float = 3.0  # short queries whose syllables all stand together (search.rank)
    # The whole phrase's BM25 parameters: how often an article uses the words the query means
    # together says what it is about; that count saturates more slowly (k1) and is discounted
    # less for a long article (b) than a syllable's, which mostly counts other words' parts.
    # (A short page that names a party-cell meeting once outranked the long article about it at
    # 1.2/0.75; at 2.0/0.3 the article wins, and bench/quality.py moves by at most 0.001.)
    phrase_k1: float = 2.0
    phrase_b: float = 0.3
    abbreviation_weight: float = 0.1  # the other form of an abbreviation ("UBND" <-> "Ủy ban nhân dân")
    headline_evidence: float = 2.0  # power of a query term's headline evidence (search.headline_evidence); 0: off
    tiebreak: float = 0.3  # how much the other fields add to the best-matching one
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    procs: int = 1
    # Each writing process flushes a segment when its buffer reaches this (MB); segments are
    # then merged by MERGE_FACTOR (indexer.merge). Peak memory follows this, not the corpus.
    memory_mb: float = 512

    def to_manifest(self) -> dict:
        d = asdict(self)
        d.pop("procs")  # how it was built, not what it is
        d.pop("memory_mb")
        return d


# The field families of each text field: exact syllables, folded syllables, folded syllable
# bigrams. One bigram family, folded: it serves queries typed with and without diacritics,
# while the exact syllable family carries the diacritics. In ranking, adjacency comes from the
# bigrams; the exact family of title and body also keeps positions, which answer quoted
# phrases exactly (indexer.codec.POSITIONAL_FIELDS, README "Design notes").
EXACT, FOLDED, FOLDED_BIGRAMS = "", "_fold", "_fold_bi"
FIELD_FAMILIES = (EXACT, FOLDED, FOLDED_BIGRAMS)
# Plus the document id as one exact term, to look documents up by id (vnsearch inspect).
ID_FIELD = "id"
INDEX_FIELDS = tuple(name + family for name in TEXT_FIELDS for family in FIELD_FAMILIES) + (ID_FIELD,)


def exact(field: str) -> str:
    """The index field of ``field``'s syllables as written (canonical case, tone, i/y)."""
    return field + EXACT


def folded(field: str) -> str:
    """The index field of ``field``'s syllables without diacritics."""
    return field + FOLDED


def folded_bigrams(field: str) -> str:
    """The index field of ``field``'s adjacent syllable pairs without diacritics."""
    return field + FOLDED_BIGRAMS
