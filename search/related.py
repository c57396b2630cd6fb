"""Related coverage: what else the archive wrote about an article's subject.

Taken from Lucene's MoreLikeThis (and Elasticsearch's ``more_like_this``, tantivy's
``MoreLikeThisQuery``): the article's own terms, as the index analysed them (folded syllables
and folded bigrams of its title and body), are scored by how often the article uses them
against how many articles have them (tf × idf); the most telling ones, each weighted by its
score over the best one's, are searched for like a pasted text. The article itself and its
exact and near copies are then left out of the answer (``search.api.Index.related``).

Bigrams carry most of it: "sóng thần", "giá xăng", "Tỉnh ủy" say what a story is about
where their syllables alone ("sóng", "giá", "tỉnh") say little.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable

from indexer import schema
from indexer.schema import IndexSettings
from indexer.terms import document_terms
from search.engine import Best, Node, Sum, Term

# Lucene's MoreLikeThis defaults where they fit news: at most 25 query terms, each in at least
# two articles (the article and one more). Terms in more than MAX_DOC_SHARE of the archive
# ("của", "và") tell nothing and would only cost time.
MAX_QUERY_TERMS = 25
MIN_DOC_FREQ = 2
MAX_DOC_SHARE = 0.2
# A syllable or bigram must be used at least this often in the article (title counted twice).
MIN_TERM_FREQ = 2

SYLLABLES, BIGRAMS = 1, 2  # document_terms families: folded syllables, folded bigrams


def telling_terms(title: str, body: str, doc_freqs: Callable[[list[tuple[str, str]]], dict[tuple[str, str], int]],
                  documents: int) -> list[tuple[int, str, float]]:
    """The article's most telling terms: (family, folded term, tf × idf), best first.

    ``doc_freqs`` gives the number of articles with each (body field, term) of the whole index
    (of every shard); ``documents`` is how many articles the index has."""
    counts: Counter[tuple[int, str]] = Counter()
    for text, times in ((title, 2), (body, 1)):  # a headline word says more than a body word
        terms = document_terms(text)
        for family in (SYLLABLES, BIGRAMS):
            for term in terms.texts(family):
                counts[(family, term)] += times
    candidates = [(family, term) for (family, term), n in counts.items() if n >= MIN_TERM_FREQ]
    fields = {SYLLABLES: schema.folded("body"), BIGRAMS: schema.folded_bigrams("body")}
    known = doc_freqs([(fields[family], term) for family, term in candidates])
    scored = []
    for family, term in candidates:
        df = known.get((fields[family], term), 0)
        if df < MIN_DOC_FREQ or df > MAX_DOC_SHARE * documents:
            continue
        idf = math.log(1 + (documents - df + 0.5) / (df + 0.5))
        scored.append((family, term, counts[(family, term)] * idf))
    scored.sort(key=lambda t: (-t[2], t[1]))
    return scored[:MAX_QUERY_TERMS]


def related_query(terms: list[tuple[int, str, float]], settings: IndexSettings) -> Node | None:
    """The terms as one query: each looked up in the title and the body (the better field
    counts, the other adds ``tiebreak``), boosted by its score over the best term's."""
    if not terms:
        return None
    best = terms[0][2]
    families = {SYLLABLES: schema.folded, BIGRAMS: schema.folded_bigrams}
    clauses = []
    for family, term, score in terms:
        boost = score / best
        clauses.append(Best((
            Term(families[family]("title"), term, settings.title_weight * boost),
            Term(families[family]("body"), term, settings.body_weight * boost),
        ), settings.tiebreak))
    return Sum(tuple(clauses))
