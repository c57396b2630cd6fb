"""The filters of the analysis pipeline: one small step each, Whoosh style (a token stream in,
a token stream out), keeping positions and character offsets."""

from __future__ import annotations

from typing import Iterator

from whoosh.analysis import Filter, Token

from indexer.phonology import canonical_spelling, canonical_tone, fold_diacritics

class ToneMarkFilter(Filter):
    """"uỷ" -> "ủy", "hoà" -> "hòa": one tone placement, so both writing styles match."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for t in tokens:
            if not t.text.isascii():
                t.text = canonical_tone(t.text)
            yield t


class SpellingVariantFilter(Filter):
    """"kỹ" -> "kĩ", "lý" -> "lí", "Mỹ" -> "mĩ": the i/y spelling variants match."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for t in tokens:
            if t.text.endswith(("y", "ý", "ỳ", "ỷ", "ỹ", "ỵ")):
                t.text = canonical_spelling(t.text)
            yield t


class FoldDiacriticsFilter(Filter):
    """"đảng viên" -> "dang vien": for people who type without diacritics."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for t in tokens:
            t.text = fold_diacritics(t.text)
            yield t


class SyllableBigramFilter(Filter):
    """Adjacent syllables as one term: "sinh hoạt chi bộ" -> "sinh hoạt", "hoạt chi", "chi bộ".

    Vietnamese words are several syllables; a bigram term is matched only where the syllables
    stand together, which ranks "sinh hoạt chi bộ" above the same syllables scattered, at the
    cost of a term lookup rather than a positional phrase check. Pairs are not formed across
    punctuation ("Hà Nội, Huế" has no "nội huế") nor with whole codes.
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        prev_text = None
        prev_pos = prev_start = 0
        for t in tokens:
            if t.compound:
                continue
            text, pos, start = t.text, t.pos, t.startchar
            if prev_text is not None and t.joined and pos == prev_pos + 1:
                t.text = prev_text + " " + text
                t.pos = prev_pos
                t.startchar = prev_start
                yield t
            prev_text, prev_pos, prev_start = text, pos, start
