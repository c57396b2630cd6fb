"""vnsearch indexer: read Vietnamese news corpora, analyse them, build the index.

    from indexer import build_index
    summary = build_index(["corpus/"], "/tmp/idx")
"""

from indexer.build import BuildSummary, IndexSettings, build_index, default_index_dir, shipped_corpus
from indexer.errors import IncompatibleIndex, IndexLocked, NotAnIndex, QueryError, SourceNotFound, VnsearchError

__all__ = [
    "BuildSummary",
    "IncompatibleIndex",
    "IndexLocked",
    "IndexSettings",
    "NotAnIndex",
    "QueryError",
    "SourceNotFound",
    "VnsearchError",
    "build_index",
    "default_index_dir",
    "shipped_corpus",
]
