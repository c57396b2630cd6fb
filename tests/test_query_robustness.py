"""No query crashes the parser or the searcher: random and adversarial strings."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.errors import QueryError
from search.query import parse_query

ADVERSARIAL = st.sampled_from(['"', "'", ":", "-", "--", "title:", "source:", "date:", "date:2021-13", "-\"",
                                '""', "\u200b", "\ufeff", "🙂", "\x00", "\x1b[31m", "&amp;", "<mark>", "TP.HCM",
                                "24-QĐ/TW", "Tỉnh uỷ", "sinh hoạt chi bộ", "*", "?", "(", ")", "AND", "OR", "NOT", "\n"])
QUERIES = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(ADVERSARIAL, st.text(max_size=5)), max_size=30).map(" ".join),
    st.lists(ADVERSARIAL, max_size=30).map("".join),
)


@settings(max_examples=3000, deadline=None)
@given(QUERIES)
def test_parser_never_raises_except_on_malformed_dates(text):
    try:
        parsed = parse_query(text)
    except QueryError as e:
        assert "date:" in str(e)
        return
    for clause in parsed.clauses:
        assert clause.text.strip()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(QUERIES)
def test_search_never_crashes(corpus_index, text):
    try:
        results = corpus_index.search(text, limit=3)
    except QueryError:
        return
    for hit in results:
        assert hit.snippet.text


def test_very_long_query_is_searched(corpus_index):
    results = corpus_index.search("sinh hoạt chi bộ " * 2500)  # 42k characters, cut to 2,000
    # A repeated phrase is no longer a short phrase (no whole-phrase bonus), so only presence
    # among the hits is asserted here; each distinct word counts once.
    assert "000_88a30b64d4879a10" in [h.id for h in results.hits[:5]]
    assert results.hits[0].score < 50
