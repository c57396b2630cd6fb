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
# Marks a word of a highlighted run (``QueryTerms.exact_runs``) that follows punctuation.
AFTER_BREAK = "\x01"


@dataclass
class QueryTerms:
    """The analysed terms of a query, which is also what snippets highlight."""

    exact: set[str] = field(default_factory=set)
    folded: set[str] = field(default_factory=set)
    accented: bool = False
    # Parts of codes typed whole ("24", "qđ", "tw" of "24-QĐ/TW"): highlighted inside the code,
    # not wherever they stand alone.
    code_parts: set[str] = field(default_factory=set)
    # Runs of syllables highlighted only where they stand together, whole: quoted phrases and
    # the other forms of abbreviations ("Ủy ban nhân dân" for "UBND" marks none of "nhân",
    # "dân" alone). Compared by exact forms, or by folded forms for runs in ``folded_runs``.
    exact_runs: set[tuple[str, ...]] = field(default_factory=set)
    folded_runs: set[tuple[str, ...]] = field(default_factory=set)
    # True when the match set required the typed forms (a short query, --all): a syllable
    # typed with diacritics is marked only in its typed form, never with other diacritics;
    # one typed without (``unmarked``, folded) in any form.
    strict: bool = False
    unmarked: set[str] = field(default_factory=set)

    def searched_forms(self) -> set[str]:
        """Every folded syllable a highlight may cover: where a snippet looks for matches."""
        return self.folded | {fold_diacritics(w.lstrip(AFTER_BREAK)) for run in self.exact_runs | self.folded_runs for w in run}


@dataclass(frozen=True)
class Syllable:
    exact: str
    folded: str
    joined: bool  # forms a bigram with the previous syllable
    compound: bool
    # Where it stands in the typed text; not part of what it is: a syllable typed twice is one
    # query term (``_distinct``).
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


def query_syllables(text: str) -> list[Syllable]:
    out = []
    for t in _ANALYZER(text, positions=True, chars=True):
        out.append(Syllable(t.text, fold_diacritics(t.text), t.joined, t.compound, t.startchar, t.endchar))
    return out


def is_accented(parsed: ParsedQuery) -> bool:
    """Did the user type any diacritic ("đ" included)? Decides exact vs folded matching."""
    return any(fold_diacritics(c.text) != c.text for c in parsed.clauses)


# Up to this many words (``Word``: a syllable, a code, an abbreviation or its expansion), a
# query is typed by a person, and the articles it matches are those with every word. A longer
# one is pasted text (a headline, a question, a paragraph): ranked OR, scored by how many of
# its words match. Four, measured: known-item search with 2,000 VNTC test titles against
# bodies (bench/quality.py, where a title's shorthand is often not in the body) loses nothing
# when titles of up to four syllables are matched this way (exact 0.5914 → 0.5914, without
# diacritics −0.0011), and 0.003 at five, 0.009 at six.
SHORT_QUERY_MAX_WORDS = 4


@dataclass(frozen=True)
class Word:
    """One word of a query that must be in every match (a short query, or --all): a syllable,
    a code ("24-QĐ/TW"), or an abbreviation or expansion, which is satisfied whole by any of
    its forms ("UBND" by "UBND" or the phrase "Ủy ban nhân dân").

    ``strict``: the documents with it in an accepted form (with diacritics typed, the typed
    form up to tone placement and i/y spelling). ``loose``: with any diacritics, the fallback
    when the typed forms match nothing (``search.searcher.settle_words``)."""

    text: str  # as typed: "kẹt", "UBND", "Hà Nội"
    strict: Node
    loose: Node


@dataclass
class BuiltQuery:
    """What to score, which documents are allowed at all, and the terms to highlight."""

    scored: Node
    required: list[Node]  # every one must match
    excluded: list[Node]  # none may match
    terms: QueryTerms
    also_searched: list[str] = field(default_factory=list)  # other forms: "Ủy ban nhân dân" for "UBND"
    # The words every match must have (short queries and --all; none for pasted text), and
    # whether the least informative may be dropped when too few articles have them all.
    words: list[Word] = field(default_factory=list)
    relax: bool = False


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
    words: list[Word] = []
    for clause in parsed.clauses:
        syllables = query_syllables(clause.text)
        if not syllables:
            continue
        clause_fields = (clause.field,) if clause.field else fields
        args = (clause, syllables, _Scope(clause_fields, weights, settings, accented, evidence))
        if clause.negated:
            excluded.append(_clause_requirement(*args))
            continue
        if clause.phrase:
            _collect_phrase(terms, syllables, fold_diacritics(clause.text) != clause.text)
        else:
            _collect_terms(terms, syllables)
        scored.append(_clause_query(*args))
        if clause.phrase or clause.field:
            required.append(_satisfied_by_any_form(clause, args[2], table))
        elif require_all or len(words) <= SHORT_QUERY_MAX_WORDS:  # past it, pasted text: no need
            words += _clause_words(clause, syllables, args[2], table)
    if not scored:
        raise QueryError(f"the query {parsed.text!r} has no words to search for")
    also: list[str] = []
    for clause in parsed.positive:
        for other in table.alternatives(clause.text):
            syllables = query_syllables(other)
            if other in also or not syllables:
                continue
            also.append(other)
            _collect_other_form(terms, syllables)
            # Weighted down: the form the user typed is the better evidence (measured on VNTC
            # titles, bench/quality.py: at full weight the other forms cost MRR).
            other_weights = {name: w * settings.abbreviation_weight for name, w in weights.items()}
            other_accented = accented or is_accented(ParsedQuery(other, [Clause(other)]))
            scope = _Scope((clause.field,) if clause.field else fields, other_weights, settings, other_accented, evidence)
            scored.append(_clause_query(Clause(other), syllables, scope))
    # Required clauses (phrases, field clauses), the words of a short query (or of any query
    # with --all) and exclusions restrict which documents may be returned; every clause that
    # matches adds to the score.
    if not require_all and len(words) > SHORT_QUERY_MAX_WORDS:
        words = []  # pasted text: ranked OR
    terms.strict = bool(words)
    return BuiltQuery(Sum(tuple(scored)) if len(scored) > 1 else scored[0], required, excluded, terms, also,
                      words, relax=bool(words) and not require_all)


def _clause_words(clause: Clause, syllables: list[Syllable], scope: _Scope, table: Abbreviations) -> list[Word]:
    """The words of a clause, each as a document must have it: a syllable; a code by its whole
    form; an abbreviation or an expansion whole, in any of its forms."""
    spans = table.spans(clause.text)
    groups: list[tuple[int, int, list[Syllable], tuple[str, ...]]] = []
    for s in syllables:
        span = next((sp for sp in spans if sp[0] <= s.start and s.end <= sp[1]), None)
        if span is not None:
            if groups and groups[-1][:2] == span[:2]:
                groups[-1][2].append(s)
            else:
                groups.append((span[0], span[1], [s], span[2]))
        elif groups and not s.compound and groups[-1][2][0].compound and s.end <= groups[-1][1]:
            groups[-1][2].append(s)  # a part of the code before it
        else:
            groups.append((s.start, s.end, [s], ()))
    words = []
    for start, end, members, others in groups:
        other_forms = [_form_requirement(query_syllables(o), scope.fields, fold_diacritics(o) != o) for o in others]
        # Diacritics count where they were typed: "mien trung -bão" is any "mien", any "trung".
        marked = any(typed_with_diacritics(m) for m in members)
        strict = _form_requirement(members, scope.fields, marked)
        loose = _form_requirement(members, scope.fields, False) if marked else strict
        words.append(Word(
            clause.text[start:end],
            Sum((strict, *other_forms)) if other_forms else strict,
            Sum((loose, *other_forms)) if other_forms else loose,
        ))
    return words


def _form_requirement(syllables: list[Syllable], fields: tuple[str, ...], accented: bool) -> Node:
    """The documents with these syllables as written in one of ``fields``: a syllable by its
    term (the typed form with ``accented``, else the folded one), several as a phrase, a code
    by its term or its parts as a phrase."""
    plain = [s for s in syllables if not s.compound]
    per_field: list[Node] = []
    for f in fields:
        if len(plain) > 1:
            per_field.append(_exact_phrase(syllables, f, accented))
        if syllables[0].compound or len(plain) == 1:
            # A code is searched as written, or with its parts written apart ("TP HCM").
            s = syllables[0]
            per_field.append(Term(schema.exact(f), s.exact) if accented else Term(schema.folded(f), s.folded))
    return per_field[0] if len(per_field) == 1 else Sum(tuple(per_field))


def _collect_other_form(terms: QueryTerms, syllables: list[Syllable]) -> None:
    """An abbreviation's other form is highlighted whole: "Ủy ban nhân dân", never "dân"."""
    plain = [s for s in syllables if not s.compound]
    if len(plain) > 1 and not syllables[0].compound:
        terms.folded_runs.add(tuple(s.folded for s in plain))
    else:
        _collect_terms(terms, syllables)


def _collect_phrase(terms: QueryTerms, syllables: list[Syllable], accented: bool) -> None:
    """A quoted phrase is highlighted where it stands whole, as it matched: by its typed forms
    (``accented``) or its folded ones."""
    plain = [s for s in syllables if not s.compound]
    if len(plain) < 2:
        _collect_terms(terms, syllables)
        return
    # A syllable typed after punctuation ('"bão, lụt"') stands after punctuation in the text.
    breaks = [AFTER_BREAK if i and not s.joined else "" for i, s in enumerate(plain)]
    if accented:
        terms.exact_runs.add(tuple(b + s.exact for b, s in zip(breaks, plain)))
    else:
        terms.folded_runs.add(tuple(b + s.folded for b, s in zip(breaks, plain)))


def _collect_terms(terms: QueryTerms, syllables: list[Syllable]) -> None:
    """Add a clause's syllables to what is highlighted, each wherever it stands."""
    parts: set[str] = set()
    standalone: set[str] = set()
    compound_end = None
    for s in syllables:
        terms.exact.add(s.exact)
        terms.folded.add(s.folded)
        if not typed_with_diacritics(s):
            terms.unmarked.add(s.folded)
        if s.compound:
            compound_end = s.exact
            # Its parts written apart ("TP HCM" for "TP.HCM") matched too: marked together.
            run = [p for p in syllables if not p.compound and s.start <= p.start and p.end <= s.end]
            if len(run) > 1:
                if terms.accented:
                    terms.exact_runs.add(tuple(p.exact for p in run))
                else:
                    terms.folded_runs.add(tuple(p.folded for p in run))
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
    fields = scope.fields
    if clause.phrase and len(syllables) > 1:
        phrase_accented = fold_diacritics(clause.text) != clause.text
        return Sum(tuple(_exact_phrase(syllables, name, phrase_accented) for name in fields))
    # Each syllable (a code by its parts) as a short query's words are: the typed form where
    # diacritics were typed, any form where not.
    plain = [s for s in syllables if not s.compound] or syllables
    return AllOf(tuple(_form_requirement([s], fields, typed_with_diacritics(s)) for s in _distinct(plain)))


def typed_with_diacritics(s: Syllable) -> bool:
    """Was this syllable typed with a diacritic ("đ" included)?"""
    return s.exact != s.folded


def _exact_phrase(syllables: list[Syllable], field: str, accented: bool) -> Phrase:
    """A quoted phrase as positions must show it, in one field: its syllables (a code by its
    parts) in order, standing together where they were typed together. Typed with diacritics
    (``accented``), each syllable is its typed form (tone placement and i/y spelling are
    already one in the exact family); typed without any, each stands for every form with
    those letters."""
    plain = [s for s in syllables if not s.compound]
    offsets = [0]
    for s in plain[1:]:
        offsets.append(offsets[-1] + (1 if s.joined else BREAK_STEP))
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
