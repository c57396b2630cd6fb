"""From a parsed query to a weighted Whoosh query scored with BM25F.

Each typed syllable looks in the field families — exact syllables, folded syllables, folded
bigrams — of each searched field (title, body), weighted by the index settings:

* A query typed with diacritics searches exact terms at full weight and folded terms at
  ``folded_weight``, so "hòa" ranks documents with "hòa"/"hoà" above those with only "hóa".
* A query typed without any diacritics ("sinh hoat chi bo") searches the folded families only:
  the user has told us nothing about diacritics.
* Adjacent syllables of the query also look up their (folded) bigram ("chi bo"), so documents
  where they stand together outrank documents where they are scattered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from whoosh import query as wq
from whoosh.scoring import BM25F

from indexer.analysis import exact_analyzer, fold_diacritics
from indexer.build import IndexSettings
from indexer.errors import QueryError
from search.query import Clause, ParsedQuery

_ANALYZER = exact_analyzer()


@dataclass
class QueryTerms:
    """The analysed terms of a query, which is also what snippets highlight."""

    exact: set[str] = field(default_factory=set)
    folded: set[str] = field(default_factory=set)
    accented: bool = False
    # Parts of codes typed whole ("24", "qđ", "tw" of "24-QĐ/TW"): highlighted inside the code,
    # not wherever they stand alone.
    code_parts: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Syllable:
    exact: str
    folded: str
    joined: bool  # forms a bigram with the previous syllable
    compound: bool


def query_syllables(text: str) -> list[Syllable]:
    out = []
    for t in _ANALYZER(text, positions=True, chars=True):
        out.append(Syllable(t.text, fold_diacritics(t.text), t.joined, t.compound))
    return out


def is_accented(parsed: ParsedQuery) -> bool:
    """Did the user type any diacritic ("đ" included)? Decides exact vs folded matching."""
    return any(fold_diacritics(c.text) != c.text for c in parsed.clauses)


def scoring(settings: IndexSettings) -> BM25F:
    return BM25F(B=settings.bm25_b, K1=settings.bm25_k1)


@dataclass
class BuiltQuery:
    """What to score, which documents are allowed at all, and the terms to highlight."""

    scored: wq.Query
    restriction: wq.Query | None
    terms: QueryTerms


def build_query(
    parsed: ParsedQuery,
    settings: IndexSettings,
    fields: tuple[str, ...] = ("title", "body"),
    require_all: bool = False,
) -> BuiltQuery:
    """The Whoosh queries for ``parsed`` and the terms to highlight.

    Raises QueryError if nothing searchable is left (only punctuation, or only exclusions).
    """
    accented = is_accented(parsed)
    terms = QueryTerms(accented=accented)
    weights = {"title": settings.title_weight, "body": settings.body_weight}
    scored: list[wq.Query] = []
    required: list[wq.Query] = []
    excluded: list[wq.Query] = []
    for clause in parsed.clauses:
        syllables = query_syllables(clause.text)
        if not syllables:
            continue
        clause_fields = (clause.field,) if clause.field else fields
        args = (clause, syllables, clause_fields, weights, settings, accented)
        if clause.negated:
            excluded.append(_clause_requirement(*args))
            continue
        _collect_terms(terms, syllables)
        scored.append(_clause_query(*args))
        if clause.phrase or clause.field or require_all:
            required.append(_clause_requirement(*args))
    if not scored:
        raise QueryError(f"the query {parsed.text!r} has no words to search for")
    # Required clauses (phrases, field clauses, --all) and exclusions restrict the documents as
    # a filter; every clause that matches adds to the score. Whoosh's AndMaybe/Require matchers
    # lose scores or fail an assertion under its block-skipping optimisation, so they are not used.
    restriction: wq.Query | None = None
    if required:
        restriction = wq.And(required) if len(required) > 1 else required[0]
    if excluded:
        restriction = wq.AndNot(restriction or wq.Every(), wq.Or(excluded))
    return BuiltQuery(wq.Or(scored) if len(scored) > 1 else scored[0], restriction, terms)


def _collect_terms(terms: QueryTerms, syllables: list[Syllable]) -> None:
    parts: set[str] = set()
    standalone: set[str] = set()
    compound_end = None
    for s in syllables:
        terms.exact.add(s.exact)
        terms.folded.add(s.folded)
        if s.compound:
            compound_end = s.exact
            continue
        if compound_end is not None and s.exact in compound_end:
            parts.add(s.exact)
        else:
            compound_end = None
            standalone.add(s.exact)
    terms.code_parts |= parts - standalone


def _clause_query(
    clause: Clause,
    syllables: list[Syllable],
    fields: tuple[str, ...],
    weights: dict[str, float],
    settings: IndexSettings,
    accented: bool,
) -> wq.Query:
    """How a clause scores: each syllable, plus the bigrams of adjacent syllables."""
    if clause.phrase and len(syllables) > 1:
        return _phrase_query(syllables, fields, weights, settings, accented)
    return wq.Or(_syllable_queries(syllables, fields, weights, settings, accented) + _bigram_terms(syllables, fields, weights, settings, accented))


def _clause_requirement(
    clause: Clause,
    syllables: list[Syllable],
    fields: tuple[str, ...],
    weights: dict[str, float],
    settings: IndexSettings,
    accented: bool,
) -> wq.Query:
    """What a document must contain to satisfy a required (or excluded) clause."""
    if clause.phrase and len(syllables) > 1:
        return _phrase_query(syllables, fields, weights, settings, accented)
    per_syllable = _syllable_queries([s for s in syllables if not s.compound] or syllables, fields, weights, settings, accented)
    return wq.And(per_syllable) if len(per_syllable) > 1 else per_syllable[0]


def _syllable_queries(syllables, fields, weights, settings: IndexSettings, accented: bool) -> list[wq.Query]:
    per_syllable = []
    for s in syllables:
        # Within a family the best field counts and the others add only ``tiebreak``: summing
        # them would let a common syllable in title and body count twice. With diacritics typed,
        # the folded family is added at ``folded_weight``, so a document with the typed form
        # always outscores one that has the syllable only with other diacritics.
        fold_w = settings.folded_weight if accented else 1.0
        folded = _best_field([wq.Term(f"{name}_fold", s.folded, boost=weights[name] * fold_w) for name in fields], settings)
        if accented:
            exact = _best_field([wq.Term(name, s.exact, boost=weights[name]) for name in fields], settings)
            per_syllable.append(wq.Or([exact, folded]))
        else:
            per_syllable.append(folded)
    return per_syllable


def _in_bigram(s: Syllable, plain: list[Syllable]) -> bool:
    i = plain.index(s)
    return (i > 0 and s.joined) or (i + 1 < len(plain) and plain[i + 1].joined)


def _best_field(alternatives: list[wq.Query], settings: IndexSettings) -> wq.Query:
    if len(alternatives) == 1:
        return alternatives[0]
    return wq.DisjunctionMax(alternatives, tiebreak=settings.tiebreak)


def _bigram_terms(syllables, fields, weights, settings: IndexSettings, accented: bool) -> list[wq.Query]:
    out: list[wq.Query] = []
    plain = [s for s in syllables if not s.compound]
    for a, b in zip(plain, plain[1:]):
        if not b.joined:
            continue
        pair = f"{a.folded} {b.folded}"
        alternatives = [wq.Term(f"{name}_fold_bi", pair, boost=weights[name] * settings.bigram_weight) for name in fields]
        out.append(_best_field(alternatives, settings))
    return out


def _phrase_query(syllables, fields, weights, settings: IndexSettings, accented: bool) -> wq.Query:
    """Syllables in order: every bigram of the phrase in one field (the index keeps bigrams, not
    positions); with diacritics typed, every exact syllable as well."""
    plain = [s for s in syllables if not s.compound]
    alternatives = []
    for name in fields:
        w = weights[name] * settings.bigram_weight
        # Syllables split by punctuation ("bóng đá. Nhưng") form no bigram in the index either.
        parts: list[wq.Query] = [
            wq.Term(f"{name}_fold_bi", f"{a.folded} {b.folded}", boost=w) for a, b in zip(plain, plain[1:]) if b.joined
        ]
        if accented:
            parts += [wq.Term(name, s.exact, boost=weights[name]) for s in plain]
        else:
            parts += [wq.Term(f"{name}_fold", s.folded, boost=weights[name]) for s in plain if not _in_bigram(s, plain)]
        alternatives.append(wq.And(parts) if len(parts) > 1 else parts[0])
    return wq.Or(alternatives) if len(alternatives) > 1 else alternatives[0]
