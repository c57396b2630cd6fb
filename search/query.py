"""Parsing what people type into a structured query.

The language is small and forgiving — a query never fails to parse; what cannot be understood
is searched as words:

    sinh hoạt chi bộ            words, ranked by how many match (OR), better together
    "sinh hoạt chi bộ"          a phrase: the syllables in this order
    -"Hà Nội"  -bão             exclusions
    title:Tỉnh ủy               a word for the title only (also body:)
    source:LCĐT  category:"Thể thao"  date:2021-12   filters
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from indexer.analysis import metadata_key
from indexer.clean import clean_text
from indexer.errors import QueryError

TEXT_FIELD_PREFIXES = {"title", "body"}
FILTER_PREFIXES = {"source", "category", "date"}
MAX_QUERY_CHARS = 2_000  # longer input is cut: no one types more, and terms cost time

# A clause: optional "-", optional "name:", then a quoted phrase or a bare word.
_CLAUSE = re.compile(r'(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')


@dataclass
class Clause:
    """One part of a query: words or a phrase, possibly negated or restricted to a field."""

    text: str
    phrase: bool = False
    negated: bool = False
    field: str | None = None  # "title" or "body"; None for every searched field


@dataclass
class ParsedQuery:
    """A query as understood: text clauses plus filters on metadata."""

    text: str
    clauses: list[Clause] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    date_prefixes: list[str] = field(default_factory=list)

    @property
    def positive(self) -> list[Clause]:
        return [c for c in self.clauses if not c.negated]


def parse_query(text: str) -> ParsedQuery:
    """Parse a query string; unknown "name:" prefixes are searched as words."""
    text = clean_text(text or "")[:MAX_QUERY_CHARS]
    text = "".join(c if c.isprintable() else " " for c in text)
    parsed = ParsedQuery(text=text)
    free_runs: list[list[str]] = [[]]  # words between other clauses; bigrams never cross those
    for m in _CLAUSE.finditer(text):
        negated = bool(m.group("neg"))
        prefix = (m.group("field") or "").lower()
        value = m.group("phrase") if m.group("phrase") is not None else m.group("word") or ""
        is_phrase = m.group("phrase") is not None
        if prefix in FILTER_PREFIXES:
            _add_filter(parsed, prefix, value)
            continue
        if m.group("field") and prefix not in TEXT_FIELD_PREFIXES:
            # "24-QĐ/TW:" or "Lưu ý:" are words, not fields.
            value = m.group(0).lstrip("-")
            prefix = ""
            is_phrase = False
        if not value.strip():
            continue
        if is_phrase or negated or prefix:
            parsed.clauses.append(Clause(value, phrase=is_phrase, negated=negated, field=prefix or None))
            free_runs.append([])
        else:
            free_runs[-1].append(value)
    parsed.clauses[:0] = [Clause(" ".join(run)) for run in free_runs if run]
    return parsed


def _add_filter(parsed: ParsedQuery, prefix: str, value: str) -> None:
    value = value.strip()
    if not value:
        return
    if prefix == "source":
        parsed.sources.append(metadata_key(value))
    elif prefix == "category":
        parsed.categories.append(metadata_key(value))
    elif prefix == "date":
        if not re.fullmatch(r"\d{4}(-\d{1,2}(-\d{1,2})?)?", value):
            raise QueryError(f"date:{value}: expected a year, year-month or date, e.g. date:2021-12")
        parts = value.split("-")
        parsed.date_prefixes.append("-".join([parts[0]] + [p.zfill(2) for p in parts[1:]]))


def parse_day(value: str, end: bool = False) -> datetime:
    """"2021-01-01" (or "2021-01", "2021") -> datetime; ``end`` gives the last moment of it."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value.strip())
    if not m:
        raise QueryError(f"{value!r}: expected a date such as 2021-01-31, 2021-01 or 2021")
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if not end:
            return datetime(year, int(month or 1), int(day or 1))
        if day:
            return datetime(year, int(month), int(day), 23, 59, 59)
        if month:
            nxt = datetime(year + (int(month) == 12), int(month) % 12 + 1, 1)
            return datetime.fromtimestamp(nxt.timestamp() - 1)
        return datetime(year, 12, 31, 23, 59, 59)
    except ValueError:
        raise QueryError(f"{value!r} is not a real date") from None
