"""Did-you-mean: corrections built from the index's own vocabulary.

Two kinds of slip are common in Vietnamese queries:

* a wrong or missing diacritic on a real syllable: "sinh hoạt chi bô" (for "chi bộ"). Every
  syllable exists, so a dictionary check finds nothing. But the folded bigram "chi bo" tells
  which documents have the two syllables together, and among those, nearly all write "bộ"
  and almost none "bô": the typed form has little support from its neighbour, another form
  with the same letters has much more.
* a typing slip that makes a non-syllable: "Tỉnh ủyy". Candidates are the index's syllables
  one edit away (on the folded letters), chosen by the same support from the neighbours, or by
  document frequency for a query of one word.

Support is measured with postings the engine has cached anyway; the vocabulary (folded form ->
written forms) is read from the segments once, the first time a query looks suspicious.
"""

from __future__ import annotations

import string

import numpy as np

from indexer import schema
from indexer.analysis import VietnameseTokenizer, fold_diacritics, fold_keeping_offsets, normalize_term
from indexer.lru import LRUCache
from search.engine import Engine

_TOKENIZER = VietnameseTokenizer()
# Replacing a word the index knows needs some support for the replacement.
# A written form in fewer than this share of the documents where its letters stand beside the
# neighbour is looked at more closely.
SUSPICIOUS_SHARE = 0.05
MIN_SUPPORT = 3
MAX_SYLLABLES = 8  # longer queries are pasted text, not typed words
CACHED_MASKS = 256
FIELDS = ("body", "title")


class Suggester:
    """Suggests a corrected query, or None when the query looks right."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._variants: dict[str, list[str]] | None = None
        # Document masks of words and pairs, kept across queries (common words recur):
        # least recently used out, at 84 kB each for 84k documents.
        self._cache: LRUCache[np.ndarray] = LRUCache(CACHED_MASKS)

    def suggest(self, text: str) -> str | None:
        tokens = [t for t in _TOKENIZER.raw_tokens(text) if not t.compound]
        if not tokens or len(tokens) > MAX_SYLLABLES:
            return None
        words = [normalize_term(t.text) for t in tokens]
        accented = any(fold_diacritics(w) != w for w in words)
        replaced = list(words)
        for i, word in enumerate(words):
            if not word.isalpha():
                continue
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(words) and (tokens[max(i, j)].joined)]
            better = self._better(word, [replaced[j] for j in neighbours], i, neighbours, accented)
            if better is not None:
                replaced[i] = better
        if replaced == words:
            return None
        out, at = [], 0
        for token, old, new in zip(tokens, words, replaced):
            out.append(text[at : token.startchar])
            out.append(_like(token.text, new) if new != old else token.text)
            at = token.endchar
        out.append(text[at:])
        return "".join(out)

    # -- evidence -------------------------------------------------------------------------------

    def _df(self, word: str, folded: bool) -> int:
        family = schema.folded if folded else schema.exact
        return sum(self.engine.postings(family(name), word).docs.size for name in FIELDS)

    def _support(self, word: str, neighbours: list[str], positions: list[int], i: int, folded: bool) -> int:
        """How many documents have ``word`` beside the query's neighbouring syllables: the
        folded pair stands together, and both written forms are in the document."""
        if not neighbours:
            return self._df(word, folded)
        mine = self._docs(word, folded)
        return sum(int(np.count_nonzero(self._together(word, other, j < i, folded) & mine)) for other, j in zip(neighbours, positions))

    def _docs(self, word: str, folded: bool) -> np.ndarray:
        """Documents with ``word`` in the title or body, as a mask over all documents."""
        family = schema.folded if folded else schema.exact
        return self._mask(("docs", word, folded), [family(name) for name in FIELDS], word)

    def _pair(self, first: str, second: str) -> np.ndarray:
        """Documents where the folded pair stands together, as a mask."""
        return self._mask(("pair", first, second), [schema.folded_bigrams(name) for name in FIELDS], f"{first} {second}")

    def _mask(self, key: tuple, fields: list[str], term: str) -> np.ndarray:
        def compute() -> np.ndarray:
            mask = np.zeros(self.engine.size, dtype=bool)
            for field in fields:
                mask[self.engine.postings(field, term).docs] = True
            return mask

        return self._cache.get_or_compute(key, compute)

    def _better(self, word: str, neighbours: list[str], i: int, positions: list[int], accented: bool) -> str | None:
        folded = not accented
        known = self._df(word, folded) > 0
        if known and not neighbours:
            return None  # a known word alone: nothing to compare it with
        if known and not self._suspicious(word, neighbours, positions, i, folded):
            return None
        best, best_support = None, 0
        for candidate in self._candidates(word, known, folded):
            support = self._support(candidate, neighbours, positions, i, folded)
            if support > best_support:
                best, best_support = candidate, support
        if best is None:
            return None
        if not known:
            return best  # anything the index has beats a word it has never seen
        # A known word is replaced only if it never stands beside its neighbour in the
        # documents that might have it there, and the other form does.
        if best_support >= MIN_SUPPORT and not self._stands_beside(word, neighbours, positions, i) and self._stands_beside(best, neighbours, positions, i):
            return best
        return None

    def _suspicious(self, word: str, neighbours: list[str], positions: list[int], i: int, folded: bool) -> bool:
        """Few of the documents where the neighbour stands beside these letters have this
        written form: "bô" in "chi bô" (almost all of them write "chi bộ")."""
        for other, j in zip(neighbours, positions):
            together = self._together(word, other, j < i, folded)
            total = np.count_nonzero(together)
            if total and np.count_nonzero(together & self._docs(word, folded)) < SUSPICIOUS_SHARE * total:
                return True
        return False

    def _together(self, word: str, other: str, other_first: bool, folded: bool) -> np.ndarray:
        """Documents where the folded pair stands together and the neighbour is as written."""
        pair = (fold_diacritics(other), fold_diacritics(word)) if other_first else (fold_diacritics(word), fold_diacritics(other))
        return self._pair(*pair) & self._docs(other, folded)

    def _stands_beside(self, word: str, neighbours: list[str], positions: list[int], i: int, sample: int = 20) -> bool:
        """Does ``word`` stand right beside a neighbour, as written, in some document? Read
        from the stored text of up to ``sample`` documents that may have it."""
        for other, j in zip(neighbours, positions):
            first, second = (other, word) if j < i else (word, other)
            candidates = np.flatnonzero(self._together(word, other, j < i, False) & self._docs(word, False))
            wanted = fold_diacritics(first) + " " + fold_diacritics(second)
            for docnum in candidates[:sample]:
                stored = self.engine.segments.stored(int(docnum))
                text = (stored.get("title") or "") + "\n" + (stored.get("body") or "")
                folded_text = fold_keeping_offsets(text)
                at = folded_text.find(wanted)
                while at >= 0:
                    pair = text[at : at + len(wanted)].split()
                    if len(pair) == 2 and normalize_term(pair[0]) == first and normalize_term(pair[1]) == second:
                        return True
                    at = folded_text.find(wanted, at + 1)
        return False

    def _candidates(self, word: str, known: bool, folded: bool) -> list[str]:
        base = fold_diacritics(word)
        variants = self.variants()
        forms = [base] if known else [base] + [e for e in _edits(base) if e in variants]
        if folded:
            return [f for f in forms if f != word and f in variants]
        return [v for f in forms for v in variants.get(f, ()) if v != word]

    def variants(self) -> dict[str, list[str]]:
        """Folded syllable -> the written forms of it in the index ("bo" -> ["bộ", "bố", ...])."""
        if self._variants is None:
            variants: dict[str, set[str]] = {}
            for reader in self.engine.segments.readers:
                for name in FIELDS:
                    for term in reader.terms(name):
                        if term.isalpha():
                            variants.setdefault(fold_diacritics(term), set()).add(term)
            self._variants = {k: sorted(v) for k, v in variants.items()}
        return self._variants


def _edits(word: str) -> set[str]:
    """Folded spellings one edit away: deletions, transpositions, replacements, insertions."""
    letters = string.ascii_lowercase
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in letters}
    out |= {a + c + b for a, b in splits for c in letters}
    out.discard(word)
    return out


def _like(written: str, replacement: str) -> str:
    """``replacement`` in the case of ``written``: "Bô" -> "Bộ", "ỦYY" -> "ỦY"."""
    if written.isupper() and len(written) > 1:
        return replacement.upper()
    if written[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
