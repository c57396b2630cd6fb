"""vnsearch indexer: read Vietnamese news corpora, analyse them, build the index.

    from indexer import build_index
    summary = build_index(["corpus/"], "/tmp/idx")
"""

from __future__ import annotations

import importlib

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

# Imported when first asked for: a process that only searches (the CLI's search, the server)
# never loads the builder, which brings tqdm, multiprocessing and the merger (~70 ms of a cold
# `vnsearch search`).
_LAZY = {
    "BuildSummary": "indexer.build",
    "IndexWriter": "indexer.build",
    "build_index": "indexer.build",
    "update_index": "indexer.build",
    "shipped_corpus": "indexer.defaults",
    "IndexSettings": "indexer.schema",
    "default_index_dir": "indexer.store",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'indexer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

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
