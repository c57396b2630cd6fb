"""Search as you type: the last, partly typed syllable completed from the index's own words,
with the commonest continuations (Meilisearch's and Typesense's prefix search, Elasticsearch's
``search_as_you_type``), diacritics optional: "thu tuo" -> "thủ tướng", "Thủ tướng Phan Văn
Khải".

1. **What the partial syllable can be**: a prefix of the folded bigrams after the syllable
   typed before it ("thu tuo" -> "thu tuong", in 5,263 VNTC articles), or of the folded
   syllables when it stands alone. The dictionaries are sorted by bytes, so a prefix is a run
   of rows found by two binary searches (``SegmentSet.prefixed_terms``): nothing is built.
2. **How it is written, and what follows**: read where it stands in a few of the articles
   that have it (``SAMPLE`` of them, their stored text, as a snippet would): the written form
   most of them use there ("thu tuong" is "thủ tướng" beside each other, however common "thu"
   and "tương" are alone), and the words that most often follow it, offered as a longer
   completion while most of those articles go on the same way.

Bigram counts and a sample of documents, not a table built in advance: the index answers for
its own words, and an update changes the completions with nothing to rebuild.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from indexer import schema
from indexer.analysis import fold_diacritics, fold_keeping_offsets, normalize_term
from indexer.lru import LRUCache
from indexer.segment import SegmentSet
from search.engine import Engine
from search.rank import query_syllables, typed_with_diacritics

FIELDS = ("title", "body")
CANDIDATES = 8  # completions of the partial syllable offered at most
MIN_DOCS = 3  # a completion must be in this many articles (typos and glued words are not), unless none is
SAMPLE = 8  # articles read to see how a completion is written and what follows it
# A longer completion is offered while at least this share of the articles read go on the same way.
CONTINUE_SHARE = 0.4
LONGEST_CONTINUATION = 3
DOCUMENTS_CACHE_BYTES = 64 * 2**20
_FOLLOWING = re.compile(r"(?:[ \t]+[^\W_]+){1,%d}" % LONGEST_CONTINUATION)


@dataclass(frozen=True)
class Completion:
    text: str  # the whole query as it would be searched: "Thủ tướng Phan Văn Khải"
    count: int  # articles with the completed pair (or syllable)

    def to_json(self) -> dict:
        return {"text": self.text, "count": self.count}


@dataclass(frozen=True)
class _Usage:
    """How a folded run of syllables is written in the articles read, and what follows it."""

    written: str | None  # the commonest way, as written ("Thủ tướng"); None: not found so
    following: tuple[str, ...]  # the longest continuation most of them share (as written)
    next_words: tuple[tuple[str, ...], ...]  # the words they go on with, commonest first
    articles: int  # articles with it (after the context), estimated from those read


class Completer:
    """Completions from one index's dictionaries and stored text."""

    def __init__(self, segments: SegmentSet, engine: Engine) -> None:
        self.segments = segments
        self.engine = engine
        self._usage: LRUCache[_Usage] = LRUCache(20_000)
        self._documents: LRUCache[np.ndarray] = LRUCache(1_000, lambda docs: docs.nbytes, DOCUMENTS_CACHE_BYTES)

    def complete(self, text: str, limit: int = CANDIDATES) -> list[Completion]:
        """Completions of ``text`` (a query being typed), the commonest first."""
        syllables = [s for s in query_syllables(text) if not s.compound]
        if not syllables or not text.strip():
            return []
        if text[-1].isspace():
            return self._next_words(text, syllables, limit)
        last = syllables[-1]
        before = syllables[-2] if len(syllables) > 1 and last.joined else None
        family = schema.folded_bigrams if before is not None else schema.folded
        prefix = f"{before.folded} {last.folded}" if before else last.folded
        if before is None and typed_with_diacritics(last):  # "lụ": the words written so, not "luật"
            family, prefix = schema.exact, last.exact
        # Up to two syllables typed together before the pair must stand before it in the
        # articles read ("uy" before "ban nh": "Ủy ban nhân", not "ban nhạc"); never across
        # punctuation ("bão. lụ" completes "lụ" alone).
        context = _context(syllables[:-2], 2) if before is not None and before.joined else []
        head = text[: (context[0] if context else (before or last)).start]
        # Syllables typed with diacritics must be written so where the articles are read
        # ("bão" is not "bảo"); the partial one must begin so.
        typed = tuple(s.exact if typed_with_diacritics(s) else None for s in context + ([before] if before else []) + [last])
        every = self._prefixed(family, prefix, CANDIDATES)
        found = [(term, n) for term, n in every if n >= MIN_DOCS] or every  # a small archive has only rare ones
        usages = [self._read(family, term, tuple(s.folded for s in context), typed) for term, _ in found]
        # One the articles read never show after what was typed is not offered; the others by
        # how many articles have them as typed.
        shown = sorted((u for u in usages if u.written is not None), key=lambda u: -u.articles)
        out = [Completion(head + u.written, u.articles) for u in shown]
        if shown:  # the commonest, also with what most often follows it
            best = shown[0]
            out[1:1] = [Completion(head + " ".join((best.written,) + best.following[:size]), best.articles)
                        for size in range(1, len(best.following) + 1)]
        return _distinct(out)[:limit]

    def _next_words(self, text: str, syllables, limit: int) -> list[Completion]:
        """After a space: the words that most often follow the last one or two typed, read
        where they stand in the articles that have them."""
        pair = syllables[-2:] if len(syllables) > 1 and syllables[-1].joined else syllables[-1:]
        family = schema.folded_bigrams if len(pair) == 2 else schema.folded
        folded = " ".join(s.folded for s in pair)
        n = max(self.engine.postings(family(name), folded).docs.size for name in FIELDS)
        typed = tuple(s.exact if typed_with_diacritics(s) else None for s in pair)
        usage = self._read(family, folded, (), typed, whole=True, sample=SAMPLE * 3)
        head = text.rstrip() + " "
        return _distinct([Completion(head + " ".join(words), n) for words in usage.next_words])[:limit]

    def _docs(self, family, term: str) -> np.ndarray:
        """Live documents with the term in the title or the body, in order (kept: the words
        typed before are looked up again for every completion and keystroke)."""
        return self._documents.get_or_compute(
            (family(""), term), lambda: np.union1d(*(self.engine.postings(family(name), term).docs for name in FIELDS)))

    def _prefixed(self, family, prefix: str, most: int) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for name in FIELDS:
            for term, n in self.segments.prefixed_terms(family(name), prefix, most):
                counts[term] = max(counts.get(term, 0), n)  # a title's words are mostly in its body too
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:most]

    def _read(self, family, folded: str, context: tuple[str, ...], typed: tuple[str | None, ...] = (),
              whole: bool = False, sample: int = SAMPLE) -> "_Usage":
        key = (family(""), folded, context, typed, whole, sample)
        return self._usage.get_or_compute(key, lambda: self._usage_in_documents(family, folded, context, typed, whole, sample))

    def _usage_in_documents(self, family, folded: str, context: tuple[str, ...], typed: tuple[str | None, ...],
                            whole: bool, sample: int) -> "_Usage":
        """Read ``folded`` (after ``context``) where it stands in up to ``sample`` articles
        that have it, spread over all of them; only where each syllable typed with diacritics
        (``typed``, by position; the last one a beginning unless ``whole``) is written so."""
        docs = self._docs(family, folded)
        folded = fold_diacritics(folded)  # an exact-family completion is read by its letters
        words = list(context) + folded.split(" ")
        for pair in zip(words, words[1 : len(context) + 1]):  # the articles with the context too
            docs = np.intersect1d(docs, self._docs(schema.folded_bigrams, " ".join(pair)), assume_unique=True)
        for i, (word, form) in enumerate(zip(words, typed)):  # and with what was typed with diacritics
            if form is not None and (whole or i < len(words) - 1 or fold_diacritics(form) == word):
                docs = np.intersect1d(docs, self._docs(schema.exact, form), assume_unique=True)
        docs = docs.tolist()
        step = max(1, len(docs) // sample)
        pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")
        written: Counter[str] = Counter()
        continuations: list[tuple[str, ...]] = []
        read = docs[::step][:sample]
        for docnum in read:
            stored = self.segments.stored(docnum)
            found = _first_as_typed((stored.get("title", ""), stored.get("body", "")), pattern, typed, whole)
            if found is None:
                continue
            text, match = found
            written[" ".join(text[match.start() : match.end()].split())] += 1
            following = _FOLLOWING.match(text, match.end())
            continuations.append(tuple(following.group().split()) if following else ())
        if not written:
            return _Usage(None, (), (), 0)
        # Articles with it as typed, estimated: those with each pair, times the share of the
        # ones read that have it whole.
        estimate = round(len(docs) * sum(written.values()) / len(read))
        by_form: Counter[str] = Counter()
        for form, n in written.items():
            by_form[_canonical(form)] += n
        best_form = by_form.most_common(1)[0][0]
        shown = max((form for form in written if _canonical(form) == best_form), key=lambda f: written[f])
        return _Usage(shown, _shared_continuation(continuations), _next_word_choices(continuations), estimate)


def _first_as_typed(texts, pattern: re.Pattern, typed: tuple[str | None, ...], whole: bool):
    """(text, match) of the first place in ``texts`` where ``pattern`` (folded letters) stands
    written as typed, or None."""
    for text in texts:
        for match in pattern.finditer(fold_keeping_offsets(text)):
            if _as_typed(text[match.start() : match.end()], typed, whole):
                return text, match
    return None


def _as_typed(written: str, typed: tuple[str | None, ...], whole: bool) -> bool:
    """Is each syllable of ``written`` the typed one where diacritics were typed (the last
    only its beginning, unless ``whole``)?"""
    words = [normalize_term(w) for w in written.split()]
    for i, (word, form) in enumerate(zip(words, typed)):
        if form is None:
            continue
        if i == len(typed) - 1 and not whole:
            if not word.startswith(form):
                return False
        elif word != form:
            return False
    return True


def _context(syllables, most: int) -> list:
    """The last ``most`` syllables that stand together before what is completed."""
    out = []
    for s in reversed(syllables):
        if len(out) == most:
            break
        out.insert(0, s)
        if not s.joined:
            break
    return out


def _distinct(completions: list[Completion]) -> list[Completion]:
    seen: set[str] = set()
    return [c for c in completions if not (c.text.lower() in seen or seen.add(c.text.lower()))]


def _next_word_choices(continuations: list[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """The next words the occurrences read go on with, the commonest first, each as most of
    them write it, with the word after it when most of those share it."""
    firsts = Counter(normalize_term(c[0]) for c in continuations if c)
    out = []
    for canonical, _ in firsts.most_common(CANDIDATES):
        these = [c for c in continuations if c and normalize_term(c[0]) == canonical]
        shared = _shared_continuation(these)
        out.append(shared if shared else (Counter(c[0] for c in these).most_common(1)[0][0],))
    return tuple(out)


def _canonical(words: str) -> str:
    return " ".join(normalize_term(w) for w in words.split())


def _shared_continuation(continuations: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The longest run of following words (by canonical form) that at least CONTINUE_SHARE of
    the occurrences read go on with, as most of them write it."""
    if not continuations:
        return ()
    best: tuple[str, ...] = ()
    for size in range(1, LONGEST_CONTINUATION + 1):
        counts = Counter(tuple(normalize_term(w) for w in c[:size]) for c in continuations if len(c) >= size)
        if not counts:
            break
        canonical, n = counts.most_common(1)[0]
        if n < max(2, CONTINUE_SHARE * len(continuations)):
            break
        written = Counter(c[:size] for c in continuations if tuple(normalize_term(w) for w in c[:size]) == canonical)
        best = written.most_common(1)[0][0]
    return best
