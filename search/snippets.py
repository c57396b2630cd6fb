"""Snippets: the passage of the original text that best shows why a document matched.

The stored text is split into syllables with the same tokenizer as the index (its character
offsets point into the text as written), each syllable is compared with the query's terms in
their canonical and folded forms, and the window with the most distinct query syllables — and
the most of them standing together — is cut at word boundaries. Highlights are spans of the
original text, so "Tỉnh uỷ" is highlighted as written even when the query was "tinh uy".

Only a region of a long text is analysed: the places where the query's syllables may occur
are first found with one regular expression over a folded copy of the text (same offsets),
and the passage is chosen within the densest of them. Analysing whole articles for ten hits
was most of a query's time.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

from indexer.analysis import codes_in, fold_diacritics, fold_keeping_offsets, normalize_term, syllable_spans
from search.rank import QueryTerms

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


def _matches(forms: list[str], folds: list[str], terms: QueryTerms) -> list[bool]:
    """Which tokens (by canonical and folded form) to highlight: exact matches, and folded ones
    where they are what matched."""
    if not terms.accented:
        return [f in terms.folded for f in folds]
    exact = [f in terms.exact for f in forms]
    # With diacritics typed, a folded-only match ("hóa" for "hòa") is highlighted only for
    # query syllables that have no exact match in this text: that is how the document matched.
    exact_found = {f for f, hit in zip(forms, exact) if hit}
    missing = {fold_diacritics(e) for e in terms.exact - exact_found}
    return [hit or f in missing for f, hit in zip(folds, exact)]


def _code_hits(codes: list[tuple[int, int, str]], syllables: "_Syllables", hits: list[bool], terms: QueryTerms) -> list[bool]:
    """Parts of a queried code ("qđ" of "24-QĐ/TW") count only inside that code."""
    inside = set()
    for start, end, form in codes:
        if form in terms.exact:
            inside.update(range(start, end))
    return [
        hit and (start in inside or form not in terms.code_parts)
        for start, form, hit in zip(syllables.starts, syllables.forms, hits)
    ]


@dataclass
class _Syllables:
    """A text's syllables as parallel lists (cheaper than a token object each)."""

    starts: list[int]
    ends: list[int]
    joined: list[bool]
    forms: list[str]  # canonical (normalize_term)
    folds: list[str]  # folded canonical


# syllable as written -> (canonical, folded): snippets see the same few thousand syllables
# again and again. Bounded, for a server that runs for months.
_FORMS: dict[str, tuple[str, str]] = {}


def _forms(word: str) -> tuple[str, str]:
    forms = _FORMS.get(word)
    if forms is None:
        if len(_FORMS) > 200_000:
            _FORMS.clear()
        form = normalize_term(unicodedata.normalize("NFC", word))
        forms = _FORMS[word] = (form, fold_diacritics(form))
    return forms


def _analyse(text: str) -> tuple[_Syllables, list[tuple[int, int, str]]]:
    """The syllables of ``text`` and its whole codes (start, end, canonical form)."""
    spans = syllable_spans(text)
    pairs = [_forms(word) for word, _, _, _ in spans]
    syllables = _Syllables(
        [s for _, s, _, _ in spans], [e for _, _, e, _ in spans], [j for _, _, _, j in spans],
        [p[0] for p in pairs], [p[1] for p in pairs],
    )
    codes = [(m.start(), m.end(), _forms(m.group())[0]) for m in codes_in(text).values()]
    return syllables, codes


@lru_cache(maxsize=1024)
def _candidates_pattern(folded_terms: frozenset[str]) -> re.Pattern | None:
    """Where any query syllable (or its i/y spelling variant) stands in a folded text."""
    forms = set()
    for term in folded_terms:
        for word in term.split():
            forms.add(word)
            if len(word) > 1 and word.endswith("i"):
                forms.add(word[:-1] + "y")
    if not forms:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(forms, key=len, reverse=True))) + r")(?!\w)")


def _candidates(text: str, folded_terms: set[str]) -> list[tuple[int, int, str]]:
    """(start, end, folded form) of every place a query syllable may stand: a superset of the
    matches, found with one regular expression over a folded copy of the text."""
    pattern = _candidates_pattern(frozenset(folded_terms))
    if pattern is None:
        return []
    return [(m.start(), m.end(), m.group()) for m in pattern.finditer(fold_keeping_offsets(text))]


def _candidate_region(text: str, terms: QueryTerms, max_chars: int) -> tuple[int, int]:
    """A stretch of ``text`` (under two windows long) around the densest candidate matches."""
    found = _candidates(text, terms.folded)
    if not found:
        return 0, min(len(text), 2 * max_chars)
    # The same score as the passage itself gets (_snippet_of): distinct forms, and half a
    # point for each one standing right after another.
    joined = [False] + [b[0] - a[1] == 1 for a, b in zip(found, found[1:])]
    best, _ = _best_window([f[0] for f in found], [f[1] for f in found], [f[2] for f in found], joined, max_chars)
    at = found[best][0]
    # The passage starts up to a quarter window before its first match (see _cut).
    start = max(0, at - max_chars // 2)
    end = min(len(text), at + max_chars + max_chars // 2)
    while start > 0 and not text[start - 1].isspace():  # whole words only
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def make_snippet(text: str, terms: QueryTerms, max_chars: int = 240) -> Snippet:
    """The best passage of ``text`` of about ``max_chars`` characters for these query terms."""
    if len(text) <= 4 * max_chars:
        return _snippet_of(text, terms, max_chars)
    start, end = _candidate_region(text, terms, max_chars)
    snippet = _snippet_of(text[start:end], terms, max_chars)
    tail = text.rstrip()
    return replace(
        snippet,
        truncated_start=snippet.truncated_start or start > 0,
        truncated_end=snippet.truncated_end or end < len(tail),
    )


def marked_whole(text: str, terms: QueryTerms) -> Snippet:
    """All of ``text`` (a title, an article read in full) with the query's words marked."""
    return make_snippet(text, terms, max(len(text), 1))


def _snippet_of(text: str, terms: QueryTerms, max_chars: int) -> Snippet:
    syllables, codes = _analyse(text)
    if not syllables.starts:
        return Snippet(text[:max_chars], (), False, len(text) > max_chars)
    forms, folds = syllables.forms, syllables.folds
    hits = _matches(forms, folds, terms)
    if terms.code_parts:
        hits = _code_hits(codes, syllables, hits, terms)
    # Score windows (distinct matched forms + adjacency) starting at each match, and the one
    # starting at the beginning of the text, which wins ties.
    matched = [k for k, hit in enumerate(hits) if hit]
    best_start = 0
    if matched:
        starts = [syllables.starts[k] for k in matched]
        ends = [syllables.ends[k] for k in matched]
        joined = [False] + [b == a + 1 and syllables.joined[b] for a, b in zip(matched, matched[1:])]
        best, best_score = _best_window(starts, ends, [folds[k] for k in matched], joined, max_chars)
        in_first = [i for i, end in enumerate(ends) if end - syllables.starts[0] <= max_chars]
        first_score = len({folds[matched[i]] for i in in_first}) + 0.5 * sum(joined[i] for i in in_first[1:])
        if best_score > first_score:
            best_start = matched[best]
    return _cut(text, syllables, hits, best_start, max_chars)


def _best_window(starts: list[int], ends: list[int], forms: list[str], joined: list[bool], max_chars: int) -> tuple[int, float]:
    """Among windows of ``max_chars`` that start at a match, the first best one: (index of its
    first match, score). Score: distinct forms matched + 0.5 for each match standing right
    after the previous one (``joined``). Two pointers and running counts: linear in matches.
    """
    counts: dict[str, int] = {}
    distinct = together = 0
    right = -1
    best, best_score = 0, -1.0
    for left in range(len(starts)):
        right = max(right, left - 1)
        while right + 1 < len(starts) and ends[right + 1] - starts[left] <= max_chars:
            right += 1
            counts[forms[right]] = counts.get(forms[right], 0) + 1
            distinct += counts[forms[right]] == 1
            together += right > left and joined[right]
        score = distinct + 0.5 * together
        if score > best_score:
            best, best_score = left, score
        if right >= left:  # the window loses its first match
            counts[forms[left]] -= 1
            distinct -= counts[forms[left]] == 0
            together -= left + 1 <= right and joined[left + 1]
    return best, best_score


def _cut(text: str, syllables: _Syllables, hits: list[bool], first: int, max_chars: int) -> Snippet:
    starts, ends, joined = syllables.starts, syllables.ends, syllables.joined
    # Start a little before the first match, at a syllable boundary, for context.
    start_tok = first
    while start_tok > 0 and starts[first] - starts[start_tok - 1] < max_chars // 4:
        start_tok -= 1
        if text[starts[start_tok] - 1 : starts[start_tok]] in ("\n",):
            break
    start = starts[start_tok]
    if start_tok == 0:
        start = 0
    end_tok = start_tok
    while end_tok + 1 < len(starts) and ends[end_tok + 1] - start <= max_chars:
        end_tok += 1
    end = ends[end_tok]
    if end_tok + 1 < len(starts):
        # Keep the punctuation that closes the last word ("bộ”", "viên.").
        while end < len(text) and not text[end].isspace() and end - start < max_chars + 3:
            end += 1
    else:
        end = len(text.rstrip())
    spans: list[tuple[int, int]] = []
    for k in range(start_tok, end_tok + 1):
        if not hits[k]:
            continue
        s, e = starts[k] - start, ends[k] - start
        # One mark for a run of matched syllables: "<mark>sinh hoạt chi bộ</mark>".
        if spans and k > start_tok and hits[k - 1] and joined[k]:
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    passage = text[start:end].replace("\n", " ")
    return Snippet(passage, tuple(spans), start > 0, end < len(text.rstrip()))
