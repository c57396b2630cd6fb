"""The errors a user can cause, one type each. The CLI prints their message on one line."""

from __future__ import annotations


class VnsearchError(Exception):
    """Base class: something the user can fix; the message says what and where.

    ``exit_code`` is the documented exit status of the ``vnsearch`` command for this error
    (README "Exit codes"); 1 is not one of them: it means "search found nothing".
    """

    exit_code = 5


class SourceNotFound(VnsearchError):
    """A source path (file, folder or glob) given to the indexer does not exist."""


class NotAnIndex(VnsearchError):
    """A directory expected to hold a vnsearch index does not."""


class CorruptIndex(NotAnIndex):
    """A file of the index is damaged, truncated, missing or malformed; ``path`` names it."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class IncompatibleIndex(VnsearchError):
    """The index was written by another analyzer version or with other settings."""


class IndexLocked(VnsearchError):
    """Another process is writing to the index."""

    exit_code = 4

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class TooManyRemovals(VnsearchError):
    """An update would remove more of the index than the limit allows (an empty mount, a
    truncated feed); nothing was written."""

    exit_code = 7


class WriteFailed(VnsearchError):
    """Writing the index failed (disk full, read-only, no permission, an I/O error): nothing
    was published, what the writer had started is removed, the previous index is live."""

    exit_code = 8


class QueryError(VnsearchError):
    """A query that cannot be searched (it is empty once parsed, or a filter is malformed)."""

    exit_code = 2


class ClusterUnavailable(VnsearchError):
    """The Dask scheduler asked for does not answer, or Dask is not installed."""
