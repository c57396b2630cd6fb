"""Snippets: the passage of the original text that best shows why a document matched.

The stored text is split into syllables with the same tokenizer as the index (its character
offsets point into the text as written), each syllable is compared with the query's terms in
their canonical and folded forms, and the window with the most distinct query syllables — and
the most of them standing together — is cut at word boundaries. Highlights are spans of the
original text, so "Tỉnh uỷ" is highlighted as written even when the query was "tinh uy".
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from indexer.analysis import RawToken, VietnameseTokenizer, fold_diacritics, normalize_term
from search.rank import QueryTerms

_TOKENIZER = VietnameseTokenizer()
ANSI_HIGHLIGHT = ("\x1b[1;33m", "\x1b[0m")


@dataclass(frozen=True)
class Snippet:
    """A passage with highlighted spans (offsets into ``text``)."""

    text: str
    highlights: tuple[tuple[int, int], ...]
    truncated_start: bool = False
    truncated_end: bool = False

    def render(self, before: str, after: str, escape=lambda s: s) -> str:
        out, at = [], 0
        for start, end in self.highlights:
            out.append(escape(self.text[at:start]))
            out.append(before + escape(self.text[start:end]) + after)
            at = end
        out.append(escape(self.text[at:]))
        body = "".join(out)
        return ("… " if self.truncated_start else "") + body + (" …" if self.truncated_end else "")

    @property
    def html(self) -> str:
        """HTML-escaped text with ``<mark>`` around matches."""
        return self.render("<mark>", "</mark>", html.escape)

    @property
    def ansi(self) -> str:
        """Text with terminal colour around matches."""
        return self.render(*ANSI_HIGHLIGHT)

    @property
    def plain(self) -> str:
        return self.render("", "")

    @property
    def marked(self) -> list[str]:
        """The highlighted words, as written in the text."""
        return [self.text[s:e] for s, e in self.highlights]


def _matches(tokens: list[RawToken], terms: QueryTerms) -> list[bool]:
    """Which tokens to highlight: exact matches, and folded ones where they are what matched."""
    exact = [normalize_term(t.text) in terms.exact for t in tokens]
    if not terms.accented:
        return [fold_diacritics(normalize_term(t.text)) in terms.folded for t in tokens]
    # With diacritics typed, a folded-only match ("hóa" for "hòa") is highlighted only for
    # query syllables that have no exact match in this text: that is how the document matched.
    exact_found = {normalize_term(t.text) for t, hit in zip(tokens, exact) if hit}
    missing = {fold_diacritics(e) for e in terms.exact - exact_found}
    return [hit or fold_diacritics(normalize_term(t.text)) in missing for t, hit in zip(tokens, exact)]


def _code_hits(all_tokens: list[RawToken], tokens: list[RawToken], hits: list[bool], terms: QueryTerms) -> list[bool]:
    """Parts of a queried code ("qđ" of "24-QĐ/TW") count only inside that code."""
    inside = set()
    for t in all_tokens:
        if t.compound and normalize_term(t.text) in terms.exact:
            inside.update(range(t.startchar, t.endchar))
    return [
        hit and (t.startchar in inside or normalize_term(t.text) not in terms.code_parts)
        for t, hit in zip(tokens, hits)
    ]


def make_snippet(text: str, terms: QueryTerms, max_chars: int = 240) -> Snippet:
    """The best passage of ``text`` of about ``max_chars`` characters for these query terms."""
    all_tokens = _TOKENIZER.raw_tokens(text)
    tokens = [t for t in all_tokens if not t.compound]
    if not tokens:
        return Snippet(text[:max_chars], (), False, len(text) > max_chars)
    hits = _matches(tokens, terms)
    if terms.code_parts:
        hits = _code_hits(all_tokens, tokens, hits, terms)
    best_start, best_score = 0, -1.0
    right = 0
    # Slide a window over tokens (two pointers): score = distinct matched forms + adjacency.
    for left in range(len(tokens)):
        if left > 0 and not hits[left]:
            continue  # windows worth considering start at a match (or at the beginning)
        right = max(right, left)
        while right + 1 < len(tokens) and tokens[right + 1].endchar - tokens[left].startchar <= max_chars:
            right += 1
        forms = set()
        together = 0
        for k in range(left, right + 1):
            if hits[k]:
                forms.add(fold_diacritics(normalize_term(tokens[k].text)))
                if k > left and hits[k - 1] and tokens[k].joined:
                    together += 1
        score = len(forms) + 0.5 * together
        if score > best_score:
            best_start, best_score = left, score
    return _cut(text, tokens, hits, best_start, max_chars)


def _cut(text: str, tokens: list[RawToken], hits: list[bool], first: int, max_chars: int) -> Snippet:
    # Start a little before the first match, at a token boundary, for context.
    start_tok = first
    while start_tok > 0 and tokens[first].startchar - tokens[start_tok - 1].startchar < max_chars // 4:
        start_tok -= 1
        if text[tokens[start_tok].startchar - 1 : tokens[start_tok].startchar] in ("\n",):
            break
    start = tokens[start_tok].startchar
    if start_tok == 0:
        start = 0
    end_tok = start_tok
    while end_tok + 1 < len(tokens) and tokens[end_tok + 1].endchar - start <= max_chars:
        end_tok += 1
    end = tokens[end_tok].endchar
    if end_tok + 1 < len(tokens):
        # Keep the punctuation that closes the last word ("bộ”", "viên.").
        while end < len(text) and not text[end].isspace() and end - start < max_chars + 3:
            end += 1
    else:
        end = len(text.rstrip())
    spans: list[tuple[int, int]] = []
    for k in range(start_tok, end_tok + 1):
        if not hits[k]:
            continue
        s, e = tokens[k].startchar - start, tokens[k].endchar - start
        # One mark for a run of matched syllables: "<mark>sinh hoạt chi bộ</mark>".
        if spans and k > start_tok and hits[k - 1] and tokens[k].joined:
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    passage = text[start:end].replace("\n", " ")
    return Snippet(passage, tuple(spans), start > 0, end < len(text.rstrip()))
