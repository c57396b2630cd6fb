"""From a parsed query to a weighted query tree, scored with BM25 by ``search.engine``.

Each typed syllable looks in the field families — exact syllables, folded syllables, folded
bigrams — of each searched field (title, body), weighted by the index settings:

* A query typed with diacritics searches exact terms at full weight and folded terms at
  ``folded_weight``, so "hòa" ranks documents with "hòa"/"hoà" above those with only "hóa".
* A query typed without any diacritics ("sinh hoat chi bo") searches the folded families only:
  the user has told us nothing about diacritics.
* Adjacent syllables of the query also look up their (folded) bigram ("chi bo"), so documents
  where they stand together outrank documents where they are scattered.
* Each syllable and bigram counts as much as headlines say it is worth: words that headlines
  use without the article's text using them count for less (``search.headline_evidence``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer.analysis import exact_analyzer, fold_diacritics
from indexer import schema
from indexer.codec import BREAK_STEP
from indexer.phonology import written_forms
from indexer.schema import IndexSettings
from indexer.errors import QueryError
from search.abbreviations import Abbreviations, default_abbreviations
from search.engine import AllOf, Best, Gate, Node, Phrase, Sum, Term
from search.headline_evidence import HeadlineEvidence, default_headline_evidence
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


@dataclass
class BuiltQuery:
    """What to score, which documents are allowed at all, and the terms to highlight."""

    scored: Node
    required: list[Node]  # every one must match
    excluded: list[Node]  # none may match
    terms: QueryTerms
    also_searched: list[str] = field(default_factory=list)  # other forms: "Ủy ban nhân dân" for "UBND"


def build_query(
    parsed: ParsedQuery,
    settings: IndexSettings,
    fields: tuple[str, ...] = ("title", "body"),
    require_all: bool = False,
    abbreviations: Abbreviations | None = None,
    evidence: HeadlineEvidence | None = None,
) -> BuiltQuery:
    """The query tree for ``parsed`` and the terms to highlight.

    Abbreviations in the query also look for their expansions and the other way round
    (``search.abbreviations``): each other form is one more optional clause.
    Raises QueryError if nothing searchable is left (only punctuation, or only exclusions).
    """
    accented = is_accented(parsed)
    evidence = evidence if evidence is not None else default_headline_evidence()
    terms = QueryTerms(accented=accented)
    weights = {"title": settings.title_weight, "body": settings.body_weight}
    scored: list[Node] = []
    required: list[Node] = []
    excluded: list[Node] = []
    table = abbreviations if abbreviations is not None else default_abbreviations()
    for clause in parsed.clauses:
        syllables = query_syllables(clause.text)
        if not syllables:
            continue
        clause_fields = (clause.field,) if clause.field else fields
        args = (clause, syllables, _Scope(clause_fields, weights, settings, accented, evidence))
        if clause.negated:
            excluded.append(_clause_requirement(*args))
            continue
        _collect_terms(terms, syllables)
        scored.append(_clause_query(*args))
        if clause.phrase or clause.field or require_all:
            required.append(_satisfied_by_any_form(clause, args[2], table))
    if not scored:
        raise QueryError(f"the query {parsed.text!r} has no words to search for")
    also: list[str] = []
    for clause in parsed.positive:
        for other in table.alternatives(clause.text):
            syllables = query_syllables(other)
            if other in also or not syllables:
                continue
            also.append(other)
            _collect_terms(terms, syllables)
            # Weighted down: the form the user typed is the better evidence (measured on VNTC
            # titles, bench/quality.py: at full weight the other forms cost MRR).
            other_weights = {name: w * settings.abbreviation_weight for name, w in weights.items()}
            other_accented = accented or is_accented(ParsedQuery(other, [Clause(other)]))
            scope = _Scope((clause.field,) if clause.field else fields, other_weights, settings, other_accented, evidence)
            scored.append(_clause_query(Clause(other), syllables, scope))
    # Required clauses (phrases, field clauses, --all) and exclusions restrict which documents
    # may be returned; every clause that matches adds to the score.
    return BuiltQuery(Sum(tuple(scored)) if len(scored) > 1 else scored[0], required, excluded, terms, also)


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


@dataclass(frozen=True)
class _Scope:
    """Where and how a query's clauses are looked up."""

    fields: tuple[str, ...]
    weights: dict
    settings: IndexSettings
    accented: bool
    evidence: HeadlineEvidence

    def worth(self, folded_term: str) -> float:
        """How much a query term counts, by headline evidence (1.0 when switched off)."""
        return self.evidence.weight(folded_term, self.settings.headline_evidence)


def _clause_query(clause: Clause, syllables: list[Syllable], scope: _Scope) -> Node:
    """How a clause scores: each syllable, plus the bigrams of adjacent syllables."""
    fields, weights, settings, accented = scope.fields, scope.weights, scope.settings, scope.accented
    if clause.phrase and len(syllables) > 1:
        return Best(tuple(Sum(tuple(parts)) for parts in _phrase_parts(syllables, fields, weights, settings, accented)), settings.tiebreak)
    nodes = _syllable_queries(syllables, fields, weights, settings, accented, scope.worth) + _bigram_terms(syllables, fields, weights, settings, scope.worth)
    bonus = _whole_phrase_bonus(syllables, fields, weights, settings)
    return Sum(tuple(nodes + ([bonus] if bonus else [])))


# Up to this many syllables a query is likely one or two words the user means together; a
# longer one (a pasted title, a question) is a bag of words and gets no whole-phrase bonus.
PHRASE_BONUS_MAX_SYLLABLES = 6


def _whole_phrase_bonus(syllables, fields, weights, settings: IndexSettings) -> Node | None:
    """Extra score where all the query's syllables stand together, as typed, in one field.

    "sinh hoạt chi bộ" as written must beat an article that has "sinh viên", "hoạt động",
    "Chi phí" and "Bộ Giáo dục": per-bigram scores alone cannot ensure it when the scattered
    article is short and the right one long.
    """
    plain = [s for s in syllables if not s.compound]
    if not settings.phrase_bonus or not 2 <= len(plain) <= PHRASE_BONUS_MAX_SYLLABLES:
        return None
    if not all(b.joined for b in plain[1:]):
        return None
    per_field = []
    for name in fields:
        terms = tuple(
            Term(schema.folded_bigrams(name), f"{a.folded} {b.folded}", weights[name] * settings.phrase_bonus, settings.phrase_k1, settings.phrase_b)
            for a, b in zip(plain, plain[1:])
        )
        per_field.append(Gate(AllOf(terms), Sum(terms)))
    return _best_field(per_field, settings)


def _clause_requirement(clause: Clause, syllables: list[Syllable], scope: _Scope) -> Node:
    """What a document must contain to satisfy a required (or excluded) clause."""
    fields, weights, settings, accented = scope.fields, scope.weights, scope.settings, scope.accented
    if clause.phrase and len(syllables) > 1:
        return Sum(tuple(_exact_phrase(clause, syllables, name) for name in fields))
    per_syllable = _syllable_queries([s for s in syllables if not s.compound] or syllables, fields, weights, settings, accented, scope.worth)
    return AllOf(tuple(per_syllable))


def _exact_phrase(clause: Clause, syllables: list[Syllable], field: str) -> Phrase:
    """A quoted phrase as positions must show it, in one field: its syllables (a code by its
    parts) in order, standing together where they were typed together. Typed with diacritics,
    each syllable is its typed form (tone placement and i/y spelling are already one in the
    exact family); typed without any, each stands for every form with those letters."""
    plain = [s for s in syllables if not s.compound]
    offsets = [0]
    for s in plain[1:]:
        offsets.append(offsets[-1] + (1 if s.joined else BREAK_STEP))
    accented = fold_diacritics(clause.text) != clause.text
    slots = tuple((s.exact,) if accented else written_forms(s.folded) for s in plain)
    # Candidates: every folded bigram of the phrase, and every syllable in the typed family.
    bigrams = [(schema.folded_bigrams(field), f"{a.folded} {b.folded}") for a, b in zip(plain, plain[1:]) if b.joined]
    words = [(schema.exact(field), s.exact) if accented else (schema.folded(field), s.folded) for s in plain]
    # Two syllables typed together without diacritics: their folded bigram is the phrase.
    by_positions = accented or len(plain) > 2 or len(bigrams) < len(plain) - 1
    return Phrase(field, slots, tuple(offsets), tuple(dict.fromkeys(bigrams + words)), by_positions)


def _satisfied_by_any_form(clause: Clause, scope: _Scope, table: Abbreviations) -> Node:
    """What a required clause needs, as typed or with an abbreviation in it written the other
    way: '"ủy ban nhân dân"' is satisfied by a page that writes "UBND" (Sum matches where
    any of its children does)."""
    forms = [clause.text] + table.rewritings(clause.text)
    requirements = []
    for text in forms:
        syllables = query_syllables(text)
        if syllables:
            requirements.append(_clause_requirement(Clause(text, clause.phrase, False, clause.field), syllables, scope))
    return requirements[0] if len(requirements) == 1 else Sum(tuple(requirements))


def _distinct(items):
    """Each query term once: a pasted text that repeats a word must not multiply its weight."""
    return list(dict.fromkeys(items))


def _syllable_queries(syllables, fields, weights, settings: IndexSettings, accented: bool, worth) -> list[Node]:
    per_syllable = []
    for s in _distinct(syllables):
        factor = worth(s.folded)
        # Within a family the best field counts and the others add only ``tiebreak``: summing
        # them would let a common syllable in title and body count twice. With diacritics typed,
        # the folded family is added at ``folded_weight``, so a document with the typed form
        # always outscores one that has the syllable only with other diacritics.
        fold_w = settings.folded_weight if accented else 1.0
        folded = _best_field([Term(schema.folded(name), s.folded, weights[name] * fold_w * factor) for name in fields], settings)
        parts = [folded]
        if accented:
            parts.insert(0, _best_field([Term(schema.exact(name), s.exact, weights[name] * factor) for name in fields], settings))
        if "body" in fields and settings.opening_weight:
            # A match in the article's first paragraph adds to a match anywhere in the body.
            w = settings.opening_weight * factor
            opening = Term(schema.exact("opening"), s.exact, w) if accented else Term(schema.folded("opening"), s.folded, w)
            parts.append(opening)
        per_syllable.append(Sum(tuple(parts)) if len(parts) > 1 else parts[0])
    return per_syllable


def _in_bigram(s: Syllable, plain: list[Syllable]) -> bool:
    i = plain.index(s)
    return (i > 0 and s.joined) or (i + 1 < len(plain) and plain[i + 1].joined)


def _best_field(alternatives: list[Node], settings: IndexSettings) -> Node:
    if len(alternatives) == 1:
        return alternatives[0]
    return Best(tuple(alternatives), settings.tiebreak)


def _bigram_terms(syllables, fields, weights, settings: IndexSettings, worth) -> list[Node]:
    out: list[Node] = []
    plain = [s for s in syllables if not s.compound]
    for pair in _distinct(f"{a.folded} {b.folded}" for a, b in zip(plain, plain[1:]) if b.joined):
        w = settings.bigram_weight * worth(pair)
        alternatives = [Term(schema.folded_bigrams(name), pair, weights[name] * w) for name in fields]
        out.append(_best_field(alternatives, settings))
        if "body" in fields and settings.opening_weight:
            out.append(Term(schema.folded_bigrams("opening"), pair, settings.opening_weight * w))
    return out


def _phrase_parts(syllables, fields, weights, settings: IndexSettings, accented: bool) -> list[list[Node]]:
    """Per field, the terms a phrase scores with: its bigrams and, with diacritics typed, its
    exact syllables (whether it stands as typed is the requirement's, ``_exact_phrase``)."""
    plain = [s for s in syllables if not s.compound]
    per_field = []
    for name in fields:
        w = weights[name] * settings.bigram_weight
        # Syllables split by punctuation ("bóng đá. Nhưng") form no bigram in the index either.
        parts: list[Node] = [
            Term(schema.folded_bigrams(name), f"{a.folded} {b.folded}", w) for a, b in zip(plain, plain[1:]) if b.joined
        ]
        if accented:
            parts += [Term(schema.exact(name), s.exact, weights[name]) for s in plain]
        else:
            parts += [Term(schema.folded(name), s.folded, weights[name]) for s in plain if not _in_bigram(s, plain)]
        per_field.append(parts)
    return per_field
