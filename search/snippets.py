"""Snippets: the passage of the original text that best shows why a document matched.

The stored text is split into syllables with the same tokenizer as the index (its character
offsets point into the text as written), each syllable is compared with the query's terms in
their canonical and folded forms, and the window with the most distinct query syllables — and
the most of them standing together — is cut at word boundaries. Highlights are spans of the
original text, so "Tỉnh uỷ" is highlighted as written even when the query was "tinh uy".

Only a region of a long text is analysed: the places where the query's syllables may occur
are first found over a folded copy of the text (same offsets), and the passage is chosen
within the densest of them. Analysing whole articles for ten hits was most of a query's time.

Texts of Latin letters, digits and common punctuation (nearly every news article) are scanned
by compiled code (search/_text.c): their syllables, as the tokenizer finds them, and the words
whose folded form may be a query syllable (by hash, then compared); only those few words are
normalised in Python. Other texts go through ICU and regular expressions
(``make_snippet_reference``), which is also the oracle the compiled path is tested against.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from indexer.analysis import (
    codes_in,
    fold_diacritics,
    fold_keeping_offsets,
    is_plain_text,
    normalize_term,
    syllable_spans,
)
from indexer.phonology import folding_code_table
from search import _text  # compiled by pip install; no slow fallback (README "Design notes")
from search.rank import AFTER_BREAK, QueryTerms

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


def _matches(syllables: "_Syllables", terms: QueryTerms) -> list[bool]:
    """Which syllables (by canonical and folded form) to highlight: exact matches, and folded
    ones where they are what matched. Only ``syllables.candidates`` are looked at when known."""
    forms, folds = syllables.forms, syllables.folds
    at = syllables.candidates if syllables.candidates is not None else range(len(forms))
    hits = [False] * len(forms)
    if not terms.accented:
        for k in at:
            hits[k] = folds[k] in terms.folded
    elif terms.strict:
        # The match set required the typed forms: only they matched ("bão" is not "báo"), and
        # any form of a syllable typed without diacritics.
        for k in at:
            hits[k] = forms[k] in terms.exact or folds[k] in terms.unmarked
    else:
        # Pasted text ranks documents with other diacritics too: a folded-only match ("hóa"
        # for "hòa") is highlighted only for query syllables that have no exact match in this
        # text, which is how the document matched.
        exact_found = {forms[k] for k in at if forms[k] in terms.exact}
        missing = {fold_diacritics(e) for e in terms.exact - exact_found}
        for k in at:
            hits[k] = forms[k] in terms.exact or folds[k] in missing
    return hits


def _mark_runs(syllables: "_Syllables", terms: QueryTerms, hits: list[bool]) -> None:
    """Mark the runs of syllables that stand whole in the text (quoted phrases, abbreviations'
    other forms): each syllable in order, with punctuation between two of them exactly where
    the run has it (``AFTER_BREAK``) and only a space or a joiner elsewhere."""
    runs = [(run, syllables.forms) for run in terms.exact_runs] + [(run, syllables.folds) for run in terms.folded_runs]
    if not runs:
        return
    joined, size = syllables.joined, len(syllables.forms)
    at = syllables.candidates if syllables.candidates is not None else range(size)
    for k in at:
        for run, seen in runs:
            n = len(run)
            if seen[k] == run[0] and k + n <= size and all(
                    seen[k + i] == run[i].lstrip(AFTER_BREAK) and joined[k + i] != run[i].startswith(AFTER_BREAK)
                    for i in range(1, n)):
                hits[k : k + n] = [True] * n


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
    forms: list[str | None]  # canonical (normalize_term); None: cannot match a query syllable
    folds: list[str | None]  # folded canonical
    candidates: list[int] | None = None  # the syllables that may match, when known (ascending)


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


def _analyse(text: str) -> _Syllables:
    """The syllables of ``text``, found by ICU, with their forms."""
    spans = syllable_spans(text)
    pairs = [_forms(word) for word, _, _, _ in spans]
    syllables = _Syllables(
        [s for _, s, _, _ in spans], [e for _, _, e, _ in spans], [j for _, _, _, j in spans],
        [p[0] for p in pairs], [p[1] for p in pairs],
    )
    return syllables


def _query_forms(folded_terms: frozenset[str]) -> frozenset[str]:
    """The folded syllables a text may show for the query's terms: each syllable of each
    term, and with a final "i" also its "y" spelling (the index writes "lý" as "lí")."""
    forms = set()
    for term in folded_terms:
        for word in term.split():
            forms.add(word)
            if len(word) > 1 and word.endswith("i"):
                forms.add(word[:-1] + "y")
    return frozenset(forms)


@lru_cache(maxsize=1024)
def _candidates_pattern(folded_terms: frozenset[str]) -> re.Pattern | None:
    """Where any query syllable (or its i/y spelling variant) stands in a folded text."""
    forms = _query_forms(folded_terms)
    if not forms:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(forms, key=len, reverse=True))) + r")(?!\w)")


def word_hash(word: str) -> int:
    """FNV-1a (64 bits) of a word's code points: how search._text.matching compares words."""
    h = 0xCBF29CE484222325
    for c in word:
        h = ((h ^ ord(c)) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


@lru_cache(maxsize=1024)
def _query_hashes(folded_terms: frozenset[str]) -> tuple[np.ndarray, frozenset[str]]:
    """The sorted hashes of ``_query_forms`` and the forms themselves."""
    forms = _query_forms(folded_terms)
    return np.array(sorted({word_hash(f) for f in forms}), dtype=np.uint64), forms


def _candidates(text: str, folded_terms: set[str]) -> list[tuple[int, int, str]]:
    """(start, end, folded form) of every place a query syllable may stand: a superset of the
    matches, found with one regular expression over a folded copy of the text."""
    pattern = _candidates_pattern(frozenset(folded_terms))
    if pattern is None:
        return []
    return [(m.start(), m.end(), m.group()) for m in pattern.finditer(fold_keeping_offsets(text))]


def _candidate_region(text: str, terms: QueryTerms, max_chars: int) -> tuple[int, int]:
    """A stretch of ``text`` (under two windows long) around the densest candidate matches."""
    return _region_around(text, _candidates(text, terms.searched_forms()), max_chars)


def _region_around(text: str, found: list[tuple[int, int, str]], max_chars: int) -> tuple[int, int]:
    """The region of ``text`` around the densest of the candidate matches ``found``."""
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
    if not is_plain_text(text):
        return make_snippet_reference(text, terms, max_chars)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    folded = np.empty_like(codes)
    _text.fold(codes, folding_code_table(), folded)  # fold_code_points, compiled
    hashes, forms = _query_hashes(frozenset(terms.searched_forms()))
    if len(text) <= 4 * max_chars:
        return _plain_snippet_of(text, codes, folded, hashes, terms, max_chars)
    start, end = _region_around(text, _plain_candidates(folded, hashes, forms), max_chars)
    snippet = _plain_snippet_of(text[start:end], codes[start:end], folded[start:end], hashes, terms, max_chars)
    return _in_whole_text(snippet, text, start, end)


def make_snippet_reference(text: str, terms: QueryTerms, max_chars: int = 240) -> Snippet:
    """``make_snippet`` with ICU's word breaking and a regular expression over the folded
    text: for texts the compiled scans do not cover, and the oracle of their tests."""
    if len(text) <= 4 * max_chars:
        return _snippet_of(text, terms, max_chars)
    start, end = _candidate_region(text, terms, max_chars)
    return _in_whole_text(_snippet_of(text[start:end], terms, max_chars), text, start, end)


def _in_whole_text(snippet: Snippet, text: str, start: int, end: int) -> Snippet:
    """A snippet of text[start:end], marked as cut where that region is."""
    return replace(
        snippet,
        truncated_start=snippet.truncated_start or start > 0,
        truncated_end=snippet.truncated_end or end < len(text.rstrip()),
    )


def syllable_spans_of(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, joined) of the syllables of a plain text given as its code points, as
    the tokenizer finds them (``indexer.tokenizer.syllable_spans``); compiled."""
    room = codes.size // 2 + 1
    starts, ends, joined = np.empty(room, dtype=np.int32), np.empty(room, dtype=np.int32), np.empty(room, dtype=np.uint8)
    count = _text.syllables(codes, starts, ends, joined)
    return starts[:count], ends[:count], joined[:count]


def runs_of(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of letters and digits of a plain text (``\\w+``); compiled."""
    room = codes.size // 2 + 1
    starts, ends = np.empty(room, dtype=np.int32), np.empty(room, dtype=np.int32)
    count = _text.runs(codes, starts, ends)
    return starts[:count], ends[:count]


def _matching(folded: np.ndarray, starts: np.ndarray, ends: np.ndarray, hashes: np.ndarray) -> list[int]:
    """The numbers of the words folded[starts[k]:ends[k]] that hash to one of ``hashes``."""
    out = np.empty(starts.size, dtype=np.int32)
    return out[: _text.matching(folded, starts, ends, hashes, out)].tolist()


def _plain_candidates(folded: np.ndarray, hashes: np.ndarray, forms: frozenset[str]) -> list[tuple[int, int, str]]:
    """``_candidates`` of a plain text: the runs of letters and digits that are query forms,
    and where a form holds a separator ("al-qaeda", "tp.hcm") its occurrences, which win
    over the runs they cover, as the longest alternative wins in the pattern."""
    folded_text = _decoded(folded)
    starts, ends = runs_of(folded)
    found = []
    for k in _matching(folded, starts, ends, hashes):
        start, end = int(starts[k]), int(ends[k])
        if folded_text[start:end] in forms:  # a hash only proposes
            found.append((start, end, folded_text[start:end]))
    spanning = frozenset(f for f in forms if not f.isalnum())
    if not spanning:
        return found
    pattern = _candidates_pattern(spanning)
    found += [(m.start(), m.end(), m.group()) for m in pattern.finditer(folded_text)]
    kept: list[tuple[int, int, str]] = []
    for candidate in sorted(found, key=lambda f: (f[0], -f[1])):
        if not kept or candidate[0] >= kept[-1][1]:
            kept.append(candidate)
    return kept


def _decoded(codes: np.ndarray) -> str:
    return codes.astype("<u4").tobytes().decode("utf-32-le")


def _plain_snippet_of(text: str, codes: np.ndarray, folded: np.ndarray, hashes: np.ndarray, terms: QueryTerms,
                      max_chars: int) -> Snippet:
    """``_snippet_of`` for a plain text, scanned by search._text: only the syllables whose
    folded form may be a query syllable are normalised (the others cannot match)."""
    spans = syllable_spans_of(codes)
    candidates = _matching(folded, spans[0], spans[1], hashes)
    starts, ends, joined = spans[0].tolist(), spans[1].tolist(), spans[2].astype(bool).tolist()
    forms: list[str | None] = [None] * len(starts)
    folds: list[str | None] = [None] * len(starts)
    for k in candidates:
        forms[k], folds[k] = _forms(text[starts[k] : ends[k]])
    syllables = _Syllables(starts, ends, joined, forms, folds, candidates)
    return _snippet_from(text, syllables, terms, max_chars)


def marked_whole(text: str, terms: QueryTerms) -> Snippet:
    """All of ``text`` (a title, an article read in full) with the query's words marked."""
    return make_snippet(text, terms, max(len(text), 1))


def _snippet_of(text: str, terms: QueryTerms, max_chars: int) -> Snippet:
    syllables = _analyse(text)
    return _snippet_from(text, syllables, terms, max_chars)


def _snippet_from(text: str, syllables: _Syllables, terms: QueryTerms, max_chars: int) -> Snippet:
    """The passage of ``text`` for its analysed ``syllables`` (forms of the syllables that
    cannot match may be None)."""
    if not syllables.starts:
        return Snippet(text[:max_chars], (), False, len(text) > max_chars)
    folds = syllables.folds
    hits = _matches(syllables, terms)
    if terms.code_parts:
        codes = [(m.start(), m.end(), _forms(m.group())[0]) for m in codes_in(text).values()]
        hits = _code_hits(codes, syllables, hits, terms)
    _mark_runs(syllables, terms, hits)  # after the codes: "TP HCM" is a code's parts, written apart
    # Score windows (distinct matched forms + adjacency) starting at each match, and the one
    # starting at the beginning of the text, which wins ties.
    at = syllables.candidates if syllables.candidates is not None else range(len(hits))
    matched = [k for k in at if hits[k]]
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
    return _cut(text, syllables, hits, matched, best_start, max_chars)


def _best_window(starts: list[int], ends: list[int], forms: list[str], joined: list[bool], max_chars: int) -> tuple[int, float]:
    """Among windows of ``max_chars`` that start at a match, the first best one: (index of its
    first match, score). Score: distinct forms matched + 0.5 for each match standing right
    after the previous one (``joined``). Compiled (search/_text.c); ``_best_window_reference``
    is the same in Python."""
    numbers: dict[str, int] = {}
    form_numbers = [numbers.setdefault(form, len(numbers)) for form in forms]
    return _text.best_window(np.array(starts, dtype=np.int32), np.array(ends, dtype=np.int32),
                             np.array(form_numbers, dtype=np.int32), np.array(joined, dtype=np.uint8), len(numbers), max_chars)


def _best_window_reference(starts: list[int], ends: list[int], forms: list[str], joined: list[bool], max_chars: int) -> tuple[int, float]:
    """What ``_best_window`` computes, in Python (two pointers and running counts): the oracle
    of its tests."""
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


def _cut(text: str, syllables: _Syllables, hits: list[bool], matched: list[int], first: int, max_chars: int) -> Snippet:
    """The passage of about ``max_chars`` from a little before syllable ``first``, cut at
    syllable boundaries, with the ``matched`` syllables (ascending) in it highlighted."""
    starts, ends, joined = syllables.starts, syllables.ends, syllables.joined
    # Start a little before the first match, at a syllable boundary, for context (but not
    # across a line break).
    start_tok = first
    while start_tok > 0 and starts[first] - starts[start_tok - 1] < max_chars // 4:
        start_tok -= 1
        if text[starts[start_tok] - 1 : starts[start_tok]] in ("\n",):
            break
    start = starts[start_tok]
    if start_tok == 0:
        start = 0
    # The last syllable that ends within max_chars of the start (ends are ascending).
    end_tok = max(start_tok, bisect_right(ends, start + max_chars, start_tok + 1) - 1)
    end = ends[end_tok]
    if end_tok + 1 < len(starts):
        # Keep the punctuation that closes the last word ("bộ”", "viên.").
        while end < len(text) and not text[end].isspace() and end - start < max_chars + 3:
            end += 1
    else:
        end = len(text.rstrip())
    spans: list[tuple[int, int]] = []
    for k in matched[bisect_left(matched, start_tok) : bisect_right(matched, end_tok)]:
        s, e = starts[k] - start, ends[k] - start
        # One mark for a run of matched syllables: "<mark>sinh hoạt chi bộ</mark>".
        if spans and k > start_tok and hits[k - 1] and joined[k]:
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    passage = text[start:end].replace("\n", " ")
    return Snippet(passage, tuple(spans), start > 0, end < len(text.rstrip()))
