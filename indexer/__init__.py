"""vnsearch indexer: read Vietnamese news corpora, analyse them, build the index.

    from indexer import build_index
    summary = build_index(["corpus/"], "/tmp/idx")
"""

from indexer.build import BuildSummary, IndexWriter, build_index, shipped_corpus, update_index
from indexer.errors import (
    ClusterUnavailable,
    CorruptIndex,
    IncompatibleIndex,
    IndexLocked,
    NotAnIndex,
    QueryError,
    SourceNotFound,
    TooManyRemovals,
    VnsearchError,
    WriteFailed,
)
from indexer.schema import IndexSettings
from indexer.store import default_index_dir

__all__ = [
    "BuildSummary",
    "ClusterUnavailable",
    "CorruptIndex",
    "IncompatibleIndex",
    "IndexLocked",
    "IndexSettings",
    "IndexWriter",
    "NotAnIndex",
    "QueryError",
    "SourceNotFound",
    "TooManyRemovals",
    "VnsearchError",
    "WriteFailed",
    "build_index",
    "default_index_dir",
    "shipped_corpus",
    "update_index",
]
