"""Abbreviations and their expansions ("UBND" <-> "Ủy ban nhân dân"), from data files.

Vietnamese news writes the same body both ways, often in one article ("UBND tỉnh" in the
title, "Ủy ban nhân dân tỉnh" in the text). A query with either form also looks for the other.
The table ships in ``search/data/abbreviations.tsv``; users add their own with files of the
same format named in ``$VNSEARCH_ABBREVIATIONS`` (separated by ":").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from indexer.analysis import analyze, exact_analyzer, fold_diacritics
from indexer.errors import VnsearchError
from indexer.ranking_tables import ABBREVIATIONS_ENVIRONMENT, SHIPPED_ABBREVIATIONS, abbreviation_files

SHIPPED = SHIPPED_ABBREVIATIONS
ENVIRONMENT = ABBREVIATIONS_ENVIRONMENT


class AbbreviationFileError(VnsearchError):
    """An abbreviations file that cannot be read or has a malformed line."""


@dataclass(frozen=True)
class Abbreviation:
    short: str  # as written in the file: "UBND"
    expansions: tuple[str, ...]  # "Ủy ban nhân dân"


class Abbreviations:
    """Lookup both ways, on folded terms so that case, tone placement and diacritics do not
    matter ("ubnd", "UBND"; "uy ban nhan dan", "Uỷ ban nhân dân")."""

    def __init__(self, entries: list[Abbreviation]) -> None:
        self.entries = entries
        self._by_short: dict[str, Abbreviation] = {}
        self._by_long: dict[tuple[str, ...], Abbreviation] = {}
        self._shorts_of: dict[tuple[str, ...], list[str]] = {}  # "TP.HCM" and "TPHCM" for one expansion
        for entry in entries:
            self._by_short[_folded_key(entry.short)] = entry
            for expansion in entry.expansions:
                self._by_long[_folded_terms(expansion)] = entry
                shorts = self._shorts_of.setdefault(_folded_terms(expansion), [])
                if entry.short not in shorts:
                    shorts.append(entry.short)
        self._longest = max((len(k) for k in self._by_long), default=0)

    def alternatives(self, text: str) -> list[str]:
        """Other ways to write what ``text`` contains: expansions of its abbreviations and
        abbreviations of the expansions it contains ("UBND Hà Nội" -> ["Ủy ban nhân dân"])."""
        found: list[str] = []
        words = text.split()
        typed = {_folded_key(w.strip(_PUNCTUATION)) for w in words}
        for word in words:
            entry = self._by_short.get(_folded_key(word.strip(_PUNCTUATION)))
            if entry is not None:
                found += [e for e in entry.expansions if e not in found]
                # And the other abbreviations of those ("TPHCM" for "TP.HCM"), as ``spans``.
                found += [o for e in entry.expansions for o in self._shorts_of.get(_folded_terms(e), [])
                          if o not in found and _folded_key(o) not in typed]
        terms = _folded_terms(text)
        for size in range(self._longest, 1, -1):
            for start in range(len(terms) - size + 1):
                for short in self._shorts_of.get(tuple(terms[start : start + size]), []):
                    if short not in found and _folded_key(short) not in typed:
                        found.append(short)
        return found


    def spans(self, text: str) -> list[tuple[int, int, tuple[str, ...]]]:
        """Where ``text`` holds an abbreviation or an expansion, as (start, end, other forms)
        by character offsets, in order and without overlaps (the longer one wins):
        "UBND TP.HCM" -> [(0, 4, ("Ủy ban nhân dân",)), (5, 11, ("Thành phố Hồ Chí Minh",))].
        A short query needs each of them whole, in one form or another (``search.rank``)."""
        found: list[tuple[int, int, tuple[str, ...]]] = []
        for m in re.finditer(r"\S+", text):
            word = m.group().strip(_PUNCTUATION)
            entry = self._by_short.get(_folded_key(word))
            if entry is not None and word:
                start = m.start() + m.group().index(word)
                # Its expansions, and the other abbreviations of them ("TPHCM" for "TP.HCM").
                others = [s for e in entry.expansions for s in self._shorts_of.get(_folded_terms(e), []) if s != entry.short]
                found.append((start, start + len(word), tuple(dict.fromkeys([*entry.expansions, *others]))))
        spans = [(fold_diacritics(t.text), t.startchar, t.endchar) for t in exact_analyzer()(text, chars=True) if not t.compound]
        for size in range(min(self._longest, len(spans)), 1, -1):
            for start in range(len(spans) - size + 1):
                window = spans[start : start + size]
                shorts = self._shorts_of.get(tuple(term for term, _, _ in window))
                if shorts:
                    found.append((window[0][1], window[-1][2], tuple(shorts)))
        kept: list[tuple[int, int, tuple[str, ...]]] = []
        for span in sorted(found, key=lambda s: (s[0] - s[1], s[0])):  # longest first
            if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
                kept.append(span)
        return sorted(kept)

    def rewritings(self, text: str) -> list[str]:
        """``text`` with one abbreviation or expansion in it written the other way:
        "ủy ban nhân dân tỉnh" -> ["UBND tỉnh"]; "UBND tỉnh" -> ["Ủy ban nhân dân tỉnh"].

        A phrase or a required clause is satisfied by any of these, as a synonym graph
        satisfies a phrase query in Lucene.
        """
        out: list[str] = []
        for m in re.finditer(r"\S+", text):
            word = m.group().strip(_PUNCTUATION)
            entry = self._by_short.get(_folded_key(word))
            if entry is not None and word:
                start = m.start() + m.group().index(word)
                out += [text[:start] + e + text[start + len(word) :] for e in entry.expansions]
        spans = [(fold_diacritics(t.text), t.startchar, t.endchar) for t in exact_analyzer()(text, chars=True) if not t.compound]
        for size in range(min(self._longest, len(spans)), 1, -1):
            for start in range(len(spans) - size + 1):
                window = spans[start : start + size]
                entry = self._by_long.get(tuple(term for term, _, _ in window))
                if entry is not None:
                    out.append(text[: window[0][1]] + entry.short + text[window[-1][2] :])
        return list(dict.fromkeys(r for r in out if r != text))


_PUNCTUATION = ".,;:!?\"'()[]“”‘’«»…"


def _folded_key(word: str) -> str:
    """"TP.HCM", "tp.hcm", "HĐND" -> "tp.hcm", "hdnd"."""
    return fold_diacritics(word.strip().lower())


def _folded_terms(text: str) -> tuple[str, ...]:
    return tuple(fold_diacritics(t) for t in analyze(text, exact_analyzer()))


def read_abbreviations(path: Path) -> list[Abbreviation]:
    """The entries of one file; AbbreviationFileError names the file and line of a bad one."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise AbbreviationFileError(f"{path}: cannot read the abbreviations file ({e})") from None
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 2 or not fields[0] or not all(fields[1:]):
            raise AbbreviationFileError(
                f"{path}, line {number}: expected ABBREVIATION<TAB>expansion, found {line.strip()!r}"
            )
        entries.append(Abbreviation(fields[0], tuple(fields[1:])))
    return entries


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> Abbreviations:
    entries: list[Abbreviation] = []
    for path in paths:
        entries += read_abbreviations(Path(path))
    return Abbreviations(entries)


def default_abbreviations() -> Abbreviations:
    """The shipped table plus the files named in $VNSEARCH_ABBREVIATIONS (theirs win)."""
    return _load(tuple(abbreviation_files()))
