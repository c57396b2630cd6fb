"""vnsearch: search a Vietnamese news index.

    from search import Index
    with Index.open(path) as index:
        for hit in index.search("sinh hoạt chi bộ"):
            print(hit.title, hit.snippet.plain)
"""

from indexer.errors import CorruptIndex, IncompatibleIndex, NotAnIndex, QueryError, VnsearchError
from search.api import Article, Hit, Index, IndexStats, Query, SearchResults, open_index
from search.snippets import Snippet

__all__ = [
    "Article",
    "CorruptIndex",
    "Query",
    "Hit",
    "IncompatibleIndex",
    "Index",
    "IndexStats",
    "NotAnIndex",
    "QueryError",
    "SearchResults",
    "Snippet",
    "VnsearchError",
    "open_index",
]
