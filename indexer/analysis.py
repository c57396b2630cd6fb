"""The Vietnamese analysis pipeline.

Text is analysed by small named steps joined with ``|``, Whoosh style::

    VietnameseTokenizer()          # ICU word break -> syllables, plus whole codes "24-qđ/tw"
    | LowercaseFilter()            # "Tỉnh" -> "tỉnh"
    | ToneMarkFilter()             # one tone placement: "uỷ" -> "ủy", "hoà" -> "hòa"
    | SpellingVariantFilter()      # i/y after a consonant: "kỹ" -> "kĩ", "lý" -> "lí"
    | FoldDiacriticsFilter()       # optional: "đảng" -> "dang"
    | SyllableBigramFilter()       # optional: "sinh hoạt chi bộ" -> "sinh hoạt", "hoạt chi", ...

Every step keeps ``pos``, ``startchar`` and ``endchar`` of the original text, so hits can be
highlighted in the text as it was written.

Per-syllable transforms are memoised: Vietnamese has only a few thousand distinct syllables, so
after the first documents nearly every lookup is a dictionary hit.
"""

from __future__ import annotations

from whoosh.analysis import LowercaseFilter

# The pipeline's steps live one job per module; their names are part of this module's
# interface too (``from indexer.analysis import fold_diacritics``).
from indexer.filters import FoldDiacriticsFilter, SpellingVariantFilter, SyllableBigramFilter, ToneMarkFilter
from indexer.phonology import (
    TONE_MARKS,
    canonical_spelling,
    canonical_tone,
    fold_code_points,
    fold_diacritics,
    fold_keeping_offsets,
    metadata_key,
    normalize_term,
    place_tone,
)
from indexer.terms import TERM_KEYS, BatchTerms, DocumentTerms, FamilyTerms, TermKeys, batch_terms, document_terms
from indexer.tokenizer import (
    TOKENIZER,
    RawToken,
    VietnameseTokenizer,
    codes_in,
    gaps_and_syllables,
    is_plain_text,
    syllable_spans,
)

__all__ = [
    "ANALYZER_VERSION", "TERM_KEYS", "TONE_MARKS", "BatchTerms", "DocumentTerms", "FamilyTerms", "FoldDiacriticsFilter",
    "RawToken", "SpellingVariantFilter", "SyllableBigramFilter", "TermKeys", "ToneMarkFilter", "VietnameseTokenizer",
    "analyze", "batch_terms", "canonical_spelling", "canonical_tone", "codes_in", "document_terms", "exact_analyzer",
    "fold_code_points", "fold_diacritics", "fold_keeping_offsets", "folded_analyzer", "folded_bigram_analyzer",
    "gaps_and_syllables", "is_plain_text", "metadata_key", "normalize_term", "place_tone", "syllable_spans",
]

# Bump whenever the tokens produced for a text, or the indexed fields, change: indexes record
# it and refuse to open under another version, since their terms would no longer match.
ANALYZER_VERSION = "vi-5"


def exact_analyzer():
    """Syllables as written, with case, tone placement and i/y spelling made canonical."""
    return TOKENIZER | LowercaseFilter() | ToneMarkFilter() | SpellingVariantFilter()


def folded_analyzer():
    """Syllables without diacritics: "Đảng bộ" -> "dang", "bo"."""
    return exact_analyzer() | FoldDiacriticsFilter()


def folded_bigram_analyzer():
    """Adjacent syllables without diacritics: "chi bo"."""
    return folded_analyzer() | SyllableBigramFilter()


def analyze(text: str, analyzer=None) -> list[str]:
    """The terms an analyzer makes of ``text`` (a convenience for tests and tools)."""
    analyzer = analyzer or exact_analyzer()
    return [t.text for t in analyzer(text, positions=True, chars=True)]
