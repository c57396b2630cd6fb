"""Writing an index: a function of (sources, settings).

``IndexWriter`` is the one writer of an index folder, as in Lucene: a build is an update of an
empty index. Whatever the live index holds (nothing, for a build), the articles of this run are
decided on in one place, ``decide_changes``, in reading order: the first of each exact duplicate
is kept (the others' ids recorded on it), a repeated id is skipped, changed articles replace
their old version and articles whose source is gone are removed. Articles reach segments
through ``SegmentsWriter`` (``indexer.segment_writer``) within a memory budget, and segments are
merged by the merge policy (``indexer.merge``). The new generation becomes live only when
complete (``indexer.store``).

Into an empty index every article read is new, so ``settings.procs`` processes each analyse and
write their share as they read it, and the decision then marks the copies deleted; into a live
index most articles read are unchanged, so the decision comes first and only new and changed
articles are analysed and written. ``build_index`` and ``update_index`` are the two ways in.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Callable, Hashable, Iterable, Iterator, NamedTuple, Sequence

import numpy as np
from tqdm import tqdm

from indexer.analysis import TermKeys, batch_terms
from indexer.checksums import describe_files
from indexer.defaults import MAX_REMOVAL_SHARE, available_cores, shipped_corpus  # noqa: F401 (part of this module's interface)
from indexer.errors import NotAnIndex, TooManyRemovals, WriteFailed
from indexer.merge import merge_by_policy
from indexer.near_duplicates import signature as near_duplicate_signature
from indexer.ranking_tables import ranking_tables
from indexer.schema import EXACT, FIELD_FAMILIES, ID_FIELD, INDEX_FIELDS, OPENING_MAX_CHARS, IndexSettings
from indexer.segment import SegmentSet, deleted_docs
from indexer.segment_writer import SegmentWriter
from indexer.sources import EVERYTHING as EVERYTHING_READ
from indexer.sources import Article, Problem, Share, read_sources
from indexer.store import CURRENT as CURRENT_FILE
from indexer.store import (
    INDEX_FORMAT,
    MANIFEST,
    Generation,
    WriterLock,
    copy_generation,
    current_generation,
    default_index_dir,
    generation_names,
    is_sharded,
    listed_files,
    live_generation_name,
    new_generation,
    open_generation,
    open_segments,
    publish,
    remove_if_never_published,
    remove_temporary_files,
    remove_unpublished,
    read_copy_origins,
    read_duplicates,
    remove_stale_generations,
)

PACKAGE_VERSION = "0.3.0"


# --------------------------------------------------------------------------------------------
# Accounting for every input document
# --------------------------------------------------------------------------------------------


@dataclass
class BuildSummary:
    """What a build or update did, document by document."""

    index_dir: str
    generation: str = ""
    indexed: int = 0
    duplicates: int = 0
    skipped: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    warnings: int = 0
    seconds: float = 0.0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Files that could not be read to the end without error (absolute paths): nothing they
    # held is removed, and their record is not updated, so the next run reads them again.
    unreadable_sources: list[str] = field(default_factory=list)
    kept: int = 0  # live articles of those files left as they were, not read in this run

    @property
    def documents_read(self) -> int:
        return self.indexed + self.duplicates + self.skipped

    def to_json(self) -> dict:
        d = asdict(self)
        d["problems"] = [asdict(p) for p in self.problems[:100]]
        d["documents_read"] = self.documents_read
        return d


class Report:
    """The per-document report (``--report FILE``): one JSON line per input document."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream

    def write(self, **entry) -> None:
        if self.stream is not None:
            self.stream.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _reason_kind(reason: str) -> str:
    """"invalid JSON: Expecting value at column 3" -> "invalid JSON" (for the summary)."""
    return re.split(r"[:(]", reason, maxsplit=1)[0].strip()


# --------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------


def body_fingerprint(body: str) -> str:
    """Equal for bodies that differ only in case, spacing, punctuation, tone placement or i/y
    spelling: a hash of the body's exact terms."""
    return body_fingerprints([body], TermKeys())[0]


def body_fingerprints(bodies: Sequence[str], keys: TermKeys) -> list[str]:
    """``body_fingerprint`` of each body, analysed as one batch (keys numbered by ``keys``;
    the fingerprints do not depend on the numbering)."""
    return [keys.fingerprint(exact) for exact in batch_terms(bodies, keys=keys).exact.per_text(len(bodies))]


def content_hash(article: Article) -> str:
    """Changes whenever anything indexed or shown for the article changes."""
    payload = json.dumps(
        [article.title, article.body, article.date, article.source, article.authors,
         article.category, article.url, article.meta],
        ensure_ascii=False, default=str, sort_keys=True,
    )
    return hashlib.sha1(payload.encode()).hexdigest()


class IndexedDocument(NamedTuple):
    """An article as the index takes it, besides its terms: stored fields and columns."""

    stored: dict
    date: datetime | None
    source: str | None
    category: str | None
    fingerprint: str  # body_fingerprint of the body
    signature: np.ndarray  # near-duplicate signature of the body


class IndexedBatch(NamedTuple):
    """A batch of articles as the index takes them."""

    terms: dict[str, tuple[np.ndarray, ...]]  # per index field: term keys, article of each (and position: exact title, body)
    documents: list[IndexedDocument]


# Articles are analysed in batches: the per-syllable work is array arithmetic over a batch.
BATCH_SIZE = 128


def document_fields(articles: Sequence[Article], keys: TermKeys) -> IndexedBatch:
    """Analyse a batch of articles once for every field family and gather what is stored;
    terms are numbered by the writer's ``keys``."""
    # The opening: the body's terms up to the end of the first paragraph (at most
    # OPENING_MAX_CHARS), taken from the body's analysis rather than analysed again.
    openings = [min(len(a.body.split("\n", 1)[0]), OPENING_MAX_CHARS) for a in articles]
    title, body = batch_terms([a.title for a in articles], keys=keys), batch_terms([a.body for a in articles], openings, keys)
    terms: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for family, title_terms, body_terms in zip(FIELD_FAMILIES, title, body):
        # The exact family carries positions (for exact phrases); the others have none.
        terms["title" + family] = (title_terms.keys, title_terms.docs) + ((title_terms.positions,) if family == EXACT else ())
        terms["body" + family] = (body_terms.keys, body_terms.docs) + ((body_terms.positions,) if family == EXACT else ())
        terms["opening" + family] = (body_terms.keys[body_terms.in_prefix], body_terms.docs[body_terms.in_prefix])
    terms[ID_FIELD] = (np.array([keys.number(a.id) for a in articles], dtype=np.int64), np.arange(len(articles), dtype=np.int64))
    documents = []
    for article, exact, folded in zip(articles, body.exact.per_text(len(articles)), body.folded.per_text(len(articles))):
        date = article.date.replace(tzinfo=None) if article.date and article.date.tzinfo else article.date
        signature = near_duplicate_signature(keys.stable_hashes(folded))
        fingerprint = keys.fingerprint(exact)
        # Stored so that an update can merge a new article into an exact copy already indexed.
        stored = {**_stored_fields(article), "fingerprint": fingerprint}
        documents.append(IndexedDocument(stored, date, article.source, article.category, fingerprint, signature))
    return IndexedBatch(terms, documents)


def _origin_file(article: Article | Reading) -> str:
    """The file an article was read from, absolute, so that an update run from another
    directory (cron) recognises its files."""
    return _file_of(article.origin)


def _file_of(origin: str) -> str:
    return os.path.abspath(origin.rsplit(":", 1)[0] if _is_jsonl_origin(origin) else origin)


def _stored_fields(article: Article) -> dict:
    return {
        "id": article.id,
        "origin": _origin_file(article),
        "content_hash": content_hash(article),
        "title": article.title,
        "body": article.body,
        "source": article.source,
        "category": article.category,
        "date": article.date.isoformat() if article.date else None,
        "authors": article.authors,
        "url": article.url,
        "lead": article.lead,
        "meta": article.meta,
    }


def add_articles(writer: SegmentWriter, keys: TermKeys, articles: Sequence[Article]) -> list[IndexedDocument]:
    """Analyse a batch of articles and add them to a segment being written, whose terms are
    numbered by ``keys``."""
    batch = document_fields(articles, keys)
    writer.add_batch(batch.terms, [(d.stored, d.date, d.source, d.category, d.signature) for d in batch.documents])
    return batch.documents


def _is_jsonl_origin(origin: str) -> bool:
    head, _, tail = origin.rpartition(":")
    return tail.isdigit() and bool(head)


class Reading(NamedTuple):
    """What an update decides with about an article read, without its text (a sharded update
    gathers these from every shard to decide as one index would)."""

    ordinal: int
    id: str
    origin: str
    warnings: list[str]
    content_hash: str


def first_readings(
    records: Iterable[tuple[Article | Reading | Problem, str | None]], summary: BuildSummary, report: Report,
    copy_origins: dict[str, str] | None = None,
) -> list[tuple[Article | Reading, list[str], str]]:
    """The first reading of each id and of each body among ``records`` (in reading order, each
    with its body fingerprint), with the ids of its exact copies read after it; problems and
    repeated ids are counted and reported. Each copy's origin goes into ``copy_origins``."""
    kept: dict[str, tuple[Article | Reading, list[str], str]] = {}
    ids: dict[str, str] = {}
    for record, fingerprint in records:
        if isinstance(record, Problem):
            _skip(summary, report, record)
            continue
        if record.id in ids:
            _skip(summary, report, Problem(record.origin, f"duplicate id: {record.id} was already read from {ids[record.id]}", record.id))
            continue
        ids[record.id] = record.origin
        if fingerprint in kept:
            first, copies, _ = kept[fingerprint]
            copies.append(record.id)
            if copy_origins is not None:
                copy_origins[record.id] = record.origin
            summary.duplicates += 1
            report.write(id=record.id, origin=record.origin, status="duplicate", duplicate_of=first.id)
            continue
        kept[fingerprint] = (record, [], fingerprint)
        summary.warnings += len(record.warnings)
    return list(kept.values())


def _batches(items: Iterable, size: int = BATCH_SIZE) -> Iterator[list]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _with_fingerprints(records: Iterable[Article | Problem], keys: TermKeys) -> Iterator[tuple[Article | Problem, str | None]]:
    """Each record with its body's fingerprint (None for problems), bodies analysed in batches."""
    for chunk in _batches(records):
        fingerprints = iter(body_fingerprints([r.body for r in chunk if not isinstance(r, Problem)], keys))
        for r in chunk:
            yield r, None if isinstance(r, Problem) else next(fingerprints)


def _skip(summary: BuildSummary, report: Report, problem: Problem) -> None:
    summary.skipped += 1
    kind = _reason_kind(problem.reason)
    summary.skip_reasons[kind] = summary.skip_reasons.get(kind, 0) + 1
    summary.problems.append(problem)
    report.write(id=problem.id, origin=problem.origin, status="skipped", reason=problem.reason)


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def source_fingerprints(sources: Iterable[str | os.PathLike]) -> dict[str, dict]:
    """Size and modification time of each source file: what the index was built from."""
    from indexer.sources import expand_sources

    out = {}
    for path in expand_sources(sources):
        st = path.stat()
        out[os.path.abspath(path)] = {"size": st.st_size, "mtime": st.st_mtime}
    return out


def build_index(
    sources: Iterable[str | os.PathLike],
    index_dir: str | os.PathLike | None = None,
    settings: IndexSettings = IndexSettings(),
    show_progress: bool = False,
    report: IO[str] | None = None,
) -> BuildSummary:
    """Build a complete new index of ``sources`` in ``index_dir`` and make it live atomically:
    an update of an empty index (``IndexWriter(create=True)``).

    With ``settings.procs`` > 1, that many processes each read, analyse and write their share
    of the input (see ``Share``). Exact duplicates are then found across all shares, in
    reading order: the first copy is kept and the others are marked deleted.

    An existing index in ``index_dir`` stays searchable until the new one is complete; if the
    build fails it is left as it was.
    """
    sources = [str(s) for s in sources]
    fingerprints = source_fingerprints(sources)  # SourceNotFound before the index folder is touched
    with IndexWriter(index_dir, settings, create=True, show_progress=show_progress, report=report) as writer:
        return writer._sync(sources, fingerprints, keep_missing=False)


class IndexWriter:
    """The one writer of an index folder (Lucene's IndexWriter): it holds the folder's writer
    lock, starts from the live generation, or from nothing (``create``, or no index yet: a
    build is an update of an empty index), decides what the sources change
    (``decide_changes``), writes the next generation within ``settings.memory_mb`` a process,
    merges its segments by the policy and publishes it atomically. Readers see the old or the
    new generation; a failed or killed run leaves the old one live.

        with IndexWriter("/srv/news", create=True) as writer:
            summary = writer.sync(["feed.jsonl.gz"])
    """

    def __init__(self, index_dir: str | os.PathLike | None = None, settings: IndexSettings = IndexSettings(), *,
                 create: bool = False, show_progress: bool = False, report: IO[str] | None = None) -> None:
        self.index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        self.settings = settings
        self.create = create
        self.show_progress = show_progress
        self.log = Report(report)
        self._lock = WriterLock(self.index_dir)

    def __enter__(self) -> "IndexWriter":
        self._folder_existed = self.index_dir.exists()
        try:
            self._lock.__enter__()
        except OSError as e:  # a read-only or full disk, no permission
            remove_if_never_published(self.index_dir, self._folder_existed)
            raise write_failed(self.index_dir, e, self._folder_existed) from None
        try:
            remove_stale_generations(self.index_dir)  # what a killed writer left behind
            remove_temporary_files(self.index_dir)
            self._existing = generation_names(self.index_dir)
        except BaseException as e:
            self._lock.__exit__(None, None, None)
            if isinstance(e, OSError):
                raise write_failed(self.index_dir, e, self._folder_existed) from None
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Release the lock; after a failure, first remove whatever this writer created, so
        that nothing but the previous index is left (Lucene's IndexWriter.rollback), and turn
        an OS error into one ``WriteFailed`` naming the folder and the cause."""
        if exc_type is not None:
            remove_unpublished(self.index_dir, self._existing)
        try:
            self._lock.__exit__(exc_type, exc, tb)
        except OSError:
            if exc_type is None:
                raise
        if exc_type is not None:
            remove_if_never_published(self.index_dir, self._folder_existed)
            if isinstance(exc, OSError):
                raise write_failed(self.index_dir, exc, self._folder_existed) from exc

    def live(self) -> Generation | None:
        """The generation this writer starts from: None for a new (or re-created) index."""
        if self.create:
            return None
        try:
            return current_generation(self.index_dir)
        except NotAnIndex:
            if any(self.index_dir.glob("gen-*")) or (self.index_dir / CURRENT_FILE).exists():
                raise  # something is there that is not an index this writer could start from
            return None

    def sync(self, sources: Iterable[str | os.PathLike], keep_missing: bool = False, allow_removals: bool = False) -> BuildSummary:
        """Bring the index to what ``sources`` hold and publish it: articles added, changed
        ones re-indexed, those whose source is gone removed (unless ``keep_missing``; see
        ``update_index`` for what "gone" means and the removal limit)."""
        sources = [str(s) for s in sources]
        return self._sync(sources, source_fingerprints(sources), keep_missing, allow_removals)

    def _sync(self, sources: list[str], fingerprints: dict, keep_missing: bool, allow_removals: bool = False) -> BuildSummary:
        started = time.perf_counter()
        summary = BuildSummary(index_dir=str(self.index_dir))
        live = self.live()
        if live is None:
            generation = self._write_into_empty(sources, fingerprints, summary)
        else:
            generation = updated_generation(sources, self.index_dir, live, fingerprints, keep_missing,
                                            self.settings.memory_mb, summary, self.log, self.show_progress,
                                            allow_removals=allow_removals)
        if generation is not None and generation != live:
            publish(self.index_dir, generation)
        summary.generation = (generation or live).path.name
        summary.seconds = round(time.perf_counter() - started, 2)
        return summary

    def _write_into_empty(self, sources: list[str], fingerprints: dict, summary: BuildSummary) -> Generation:
        """Every article is new: each process writes its share as it reads it, then the
        decision marks the copies deleted. A complete generation, not yet published."""
        started = time.perf_counter()
        generation = new_generation(self.index_dir)
        shares = _read_and_write_shares(sources, generation.path, self.settings.procs, self.settings.memory_mb, self.show_progress)
        per_share, duplicates, copy_origins = _keep_first_copies(shares, [generation] * len(shares), summary, self.log)
        segments = [entry for share_segments in per_share for entry in share_segments]
        del shares  # a record per article: not to be held through the merges
        summary.seconds = round(time.perf_counter() - started, 2)
        finish_built_generation(generation, segments, duplicates, copy_origins, self.settings, fingerprints, summary)
        return generation


def write_failed(index_dir: Path, error: OSError, existed: bool = True) -> WriteFailed:
    """One line for an OS error met while writing ``index_dir``: the cause, the file, and what
    is left (the previous index, or nothing for a first build)."""
    cause = error.strerror or str(error)
    if error.errno is not None and error.errno in errno.errorcode:
        cause += f" ({errno.errorcode[error.errno]})"
    where = f" writing {error.filename}" if error.filename else ""
    left = "the previous index is still live" if existed and live_generation_name(index_dir) else "no index was created"
    return WriteFailed(f"{index_dir}: cannot write the index: {cause}{where}; nothing was published, {left}")


def finish_built_generation(generation: Generation, segments: list[dict], duplicates: dict[str, list[str]],
                            copy_origins: dict[str, str], settings: IndexSettings, fingerprints: dict,
                            summary: BuildSummary) -> None:
    """Merge a built generation's segments as the policy asks and write its manifest: the
    generation is then complete, ready to publish."""
    segments = merge_by_policy(generation.path, segments)
    manifest = _manifest(settings, recorded_sources({}, fingerprints, summary), summary, segments, built_at=_now())
    manifest.update(_write_copies(generation, duplicates, copy_origins))
    manifest["files"] = describe_files(generation.path, listed_files(manifest))
    generation.write_manifest(manifest)


@dataclass
class _ShareResult:
    """What one process read and wrote: its segments (none if it had no articles), each
    article's place, and the problems it met."""

    segments: list[dict]  # in document order
    readings: list[tuple[Reading, str]]  # each article written, in document order, with its body fingerprint
    problems: list[Problem]


# Set in the parent just before forking the workers, which add to it as they go.
_FORK_PROGRESS = None


def _read_and_write_shares(sources: list[str], directory: Path, procs: int, memory_mb: float, show_progress: bool) -> list[_ShareResult]:
    procs = max(1, min(procs, available_cores()))
    jobs = [(sources, Share(i, procs), str(directory), memory_mb) for i in range(procs)]
    with tqdm(desc="indexing", unit="doc", disable=not show_progress, leave=False) as bar:
        if procs == 1:
            return [_read_and_write_share(*jobs[0], progress=bar.update)]
        global _FORK_PROGRESS
        # fork: the workers start at once with the parent's modules already imported.
        context = multiprocessing.get_context("fork")
        _FORK_PROGRESS = context.Value("q", 0)
        try:
            with context.Pool(procs) as pool:
                pending = pool.starmap_async(_read_and_write_forked_share, jobs)
                while not pending.ready():
                    pending.wait(0.5)
                    bar.update(_FORK_PROGRESS.value - bar.n)
                return pending.get()
        finally:
            _FORK_PROGRESS = None


def _read_and_write_forked_share(*job) -> _ShareResult:
    def progress(n: int) -> None:
        with _FORK_PROGRESS.get_lock():
            _FORK_PROGRESS.value += n

    return _read_and_write_share(*job, progress=progress)


def _read_and_write_share(sources: list[str], share: Share, directory: str, memory_mb: float, progress) -> _ShareResult:
    """Read, analyse and write one process's share of the input as segments of at most
    ``memory_mb`` of buffer each."""
    readings, problems = [], []

    def articles_read() -> Iterator[Article]:
        for record in read_sources(sources, share):
            if isinstance(record, Problem):
                problems.append(record)
            else:
                yield record

    # Names unique across the processes: the k-th segment of share i of n.
    writer = SegmentsWriter(Path(directory), memory_mb, lambda k: f"s{k * share.of + share.index + 1:06d}")
    for batch in _batches(articles_read()):
        for record, doc in zip(batch, writer.add(batch)):
            reading = Reading(record.ordinal, record.id, record.origin, record.warnings, doc.stored["content_hash"])
            readings.append((reading, doc.fingerprint))
        progress(len(batch))
    return _ShareResult(writer.finish(), readings, problems)


class SegmentsWriter:
    """Writes articles as segments, flushing one whenever the writer's buffer reaches
    ``memory_mb`` (Lucene's RAM buffer), each with its own term keys, so that nothing grows
    with the corpus. Builds and updates both write through it."""

    def __init__(self, directory: Path, memory_mb: float, name_of: Callable[[int], str]) -> None:
        self.directory = Path(directory)
        self.budget = memory_mb * 2**20
        self.name_of = name_of  # the name of the k-th segment written
        self.segments: list[dict] = []
        self._start()

    def _start(self) -> None:
        self.keys = TermKeys()
        self.writer = SegmentWriter(INDEX_FIELDS, self.keys.text)

    def add(self, articles: Sequence[Article]) -> list[IndexedDocument]:
        """Analyse and add a batch of articles; flush if the buffer is full."""
        documents = add_articles(self.writer, self.keys, articles)
        if self.writer.memory_bytes() >= self.budget:
            self._flush()
        return documents

    def _flush(self) -> None:
        if self.writer.docs:
            name = self.name_of(len(self.segments))
            self.writer.write(self.directory, name)
            self.segments.append({"name": name, "docs": self.writer.docs, "deleted": None})
        self._start()

    def finish(self) -> list[dict]:
        """Write what is buffered; the segments written, in document order."""
        self._flush()
        return self.segments


def _keep_first_copies(shares: list[_ShareResult], generations: Sequence[Generation], summary: BuildSummary,
                       log: Report) -> tuple[list[list[dict]], dict[str, list[str]], dict[str, str]]:
    """The decision of a build, which is that of an update of an empty index: everything the
    shares read, in reading order, through ``decide_changes``. The articles it does not keep
    (exact copies, repeated ids) are marked deleted in the segments they were written to
    (share i's segments are in ``generations[i]``). Each share's segment list, the copies
    table and the file of each copy."""
    records: list[tuple[Reading | Problem, str | None]] = []
    place: dict[int, tuple[int, int]] = {}  # ordinal -> (share, document in the share)
    for number, share in enumerate(shares):
        for local, (reading, fingerprint) in enumerate(share.readings):
            records.append((reading, fingerprint))
            place[reading.ordinal] = (number, local)
        records += [(problem, None) for problem in share.problems]
    records.sort(key=lambda record: record[0].ordinal)
    changes = decide_changes(records, summary=summary, log=log)
    del records
    kept = {reading.ordinal for reading in changes.to_write}
    deleted: dict[int, list[int]] = {}
    for ordinal, (number, local) in place.items():
        if ordinal not in kept:
            deleted.setdefault(number, []).append(local)
    per_share = []
    for number, (share, generation) in enumerate(zip(shares, generations)):
        gone = np.array(sorted(deleted.get(number, [])), dtype=np.int64)
        start = 0
        segments = []
        for entry in share.segments:
            entry = dict(entry)
            local = gone[(gone >= start) & (gone < start + entry["docs"])] - start
            start += entry["docs"]
            if local.size:
                entry["deleted"] = f"{entry['name']}.del-{generation.number:06d}.npy"
                np.save(generation.path / entry["deleted"], local.astype(np.int32))
            segments.append(entry)
        per_share.append(segments)
    return per_share, changes.duplicates, changes.copy_origins()


def _write_copies(generation: Generation, duplicates: dict[str, list[str]], copy_origins: dict[str, str]) -> dict[str, str]:
    """Write the copies table of a generation (kept id -> ids of its exact copies) and the file
    each copy was read from; their manifest entries."""
    names = {"duplicates": f"duplicates-{generation.number:06d}.json", "copy_origins": f"copy-origins-{generation.number:06d}.json"}
    for name, table in ((names["duplicates"], duplicates), (names["copy_origins"], copy_origins)):
        with open(generation.path / name, "w", encoding="utf-8") as f:
            json.dump(table, f, ensure_ascii=False)
    return names



def update_index(
    sources: Iterable[str | os.PathLike],
    index_dir: str | os.PathLike | None = None,
    keep_missing: bool = False,
    show_progress: bool = False,
    report: IO[str] | None = None,
    memory_mb: float = IndexSettings.memory_mb,
    scheduler: str | None = None,
    allow_removals: bool = False,
) -> BuildSummary:
    """Bring an index up to date with ``sources``: add new articles, re-index changed ones
    (by content hash), remove those whose source is gone (unless ``keep_missing``).

    "Gone" means: the article's file is among ``sources``, was read to the end without error
    and no longer holds it, or its file no longer exists. A file with read errors (truncated,
    undecodable, a broken line) removes nothing: its articles stay as they were, and it is
    listed in ``summary.unreadable_sources``. An update that would remove more than
    ``MAX_REMOVAL_SHARE`` of the index raises ``TooManyRemovals`` before writing anything,
    unless ``allow_removals``. Articles from other files that still exist are left alone, so
    one index can be updated source by source. Nothing changed on disk since the last run: no
    work at all.

    New and changed articles go into a new segment; replaced and removed ones are marked
    deleted in theirs. The result is a new generation that starts as hard links to the live
    one, published atomically: readers see the old or the new index, and a killed update
    leaves the old one live (the next run redoes the work). Without an index yet, this is a
    full build. A sharded index is updated shard by shard as Dask tasks
    (``indexer.shards.update_sharded``, on ``scheduler`` or a LocalCluster).
    """
    index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
    try:
        if is_sharded(current_generation(index_dir).manifest()):
            from indexer.shards import update_sharded  # it builds on this module

            return update_sharded([str(s) for s in sources], index_dir, keep_missing, report, memory_mb, scheduler,
                                  allow_removals=allow_removals)
    except NotAnIndex:
        pass  # no index yet: the writer starts from an empty one (or says what is in the way)
    sources = [str(s) for s in sources]
    fingerprints = source_fingerprints(sources)  # SourceNotFound before the index folder is touched
    with IndexWriter(index_dir, IndexSettings(memory_mb=memory_mb), show_progress=show_progress, report=report) as writer:
        return writer._sync(sources, fingerprints, keep_missing, allow_removals)


def recorded_sources(known: dict, fingerprints: dict, summary: BuildSummary) -> dict:
    """The record of source files a new generation keeps: ``known`` (earlier runs' files
    still recorded) updated with this run's ``fingerprints``, except the files this run could
    not read completely, which keep their earlier record (or get none), so that the next run
    reads them again and says so again until they are repaired."""
    record = {**known, **fingerprints}
    for path in summary.unreadable_sources:
        if path in known:
            record[path] = known[path]
        else:
            record.pop(path, None)
    return record




def check_removals(summary: BuildSummary, live_articles: int, allow_removals: bool) -> None:
    """Raise ``TooManyRemovals`` when the decided update removes more than
    ``MAX_REMOVAL_SHARE`` of ``live_articles``, unless ``allow_removals``."""
    if allow_removals or summary.removed <= MAX_REMOVAL_SHARE * live_articles:
        return
    raise TooManyRemovals(
        f"{summary.index_dir}: this update would remove {summary.removed:,} of {live_articles:,} articles "
        f"({summary.removed / max(live_articles, 1):.0%}, above the {MAX_REMOVAL_SHARE:.0%} limit); nothing was written. "
        "If the sources are right (not an empty mount or a partial copy), run it again with --allow-removals"
    )


def sources_unchanged(manifest: dict, fingerprints: dict) -> bool:
    """Are the files an index was built from all still there, and ``fingerprints`` (the
    sources of this run) among them unchanged? Then an update has nothing to do."""
    all_known = manifest.get("sources", {})
    known = {p: fp for p, fp in all_known.items() if Path(p).exists()}
    return len(known) == len(all_known) and all(known.get(path) == fp for path, fp in fingerprints.items())


def updated_generation(sources: list[str], index_dir: Path, live: Generation, fingerprints: dict, keep_missing: bool,
                       memory_mb: float, summary: BuildSummary, log: Report, show_progress: bool = False,
                       share: Share = EVERYTHING_READ, allow_removals: bool = False) -> Generation | None:
    """The work of an update, under the caller's writer lock: a new, complete generation of
    ``index_dir`` brought up to date with ``sources`` (of their articles, those of ``share``),
    not yet published. ``live`` itself when the articles and the record of the sources are as
    they were; None when nothing at all changed on disk since the last run."""
    entered = time.perf_counter()
    live, manifest, settings = open_generation(index_dir, generation=live)
    live_segments = open_segments(live, manifest)
    # Files of earlier runs that are gone drop out; their articles are removed below.
    all_known = manifest.get("sources", {})
    known_sources = {p: fp for p, fp in all_known.items() if Path(p).exists()}
    if keep_missing:  # their articles stay, so does the record of where they came from
        known_sources = dict(all_known)
    if sources_unchanged(manifest, fingerprints):
        summary.unchanged += int(live_segments.live.sum())
        return None
    changes = decide_changes(_with_fingerprints(read_sources(sources, share), TermKeys()), live_segments.iter_live(),
                             read_duplicates(live, manifest), read_copy_origins(live, manifest), set(fingerprints),
                             keep_missing, summary=summary, log=log)
    check_removals(summary, int(live_segments.live.sum()), allow_removals)
    new_sources = recorded_sources(known_sources, fingerprints, summary)
    if not (summary.added or summary.changed or summary.removed or changes.touches_copies()) and new_sources == all_known:
        return live  # nothing to write: the live generation stays as it is
    summary.seconds = round(time.perf_counter() - entered, 2)
    return write_updated_generation(index_dir, live, changes.deleted, changes.to_write, changes.duplicates,
                                    changes.copy_origins(), new_sources, summary, memory_mb, show_progress)


def write_updated_generation(index_dir: Path, live: Generation, deleted: set[int], to_write: Sequence[Article],
                             duplicates: dict[str, list[str]], copy_origins: dict[str, str], new_sources: dict,
                             summary: BuildSummary, memory_mb: float, show_progress: bool = False) -> Generation:
    """The next generation after ``live``, complete but not published: ``deleted`` documents
    (numbers in ``live``) marked deleted, ``to_write`` articles written as new segments,
    ``duplicates`` as its copies table (with ``copy_origins``, each copy's file), segments
    merged as the policy asks.

    Even when only the record of the source files changed, a new generation is written (hard
    links, no data copied): a live manifest is never rewritten in place."""
    _, manifest, settings = open_generation(index_dir, verify=False, generation=live)
    live_segments = open_segments(live, manifest)
    generation = copy_generation(live, index_dir)
    segments = _updated_segments(generation, live_segments, deleted, list(to_write), memory_mb, show_progress)
    new_manifest = _manifest(settings, new_sources, summary, segments, built_at=_now(), previous=manifest)
    new_manifest.update(_write_copies(generation, duplicates, copy_origins))
    _remove_unlisted_files(generation, new_manifest)
    new_manifest["files"] = describe_files(generation.path, listed_files(new_manifest), known=manifest.get("files"))
    generation.write_manifest(new_manifest)
    return generation


def decide_changes(
    readings: Iterable[tuple[Article | Reading | Problem, str | None]],
    live: Iterable[tuple[Hashable, dict]] = (),
    live_duplicates: dict[str, list[str]] | None = None,
    live_copy_origins: dict[str, str] | None = None,
    updated_files: set[str] = frozenset(),
    keep_missing: bool = True,
    *,
    summary: BuildSummary,
    log: Report,
) -> "_Changes":
    """What this run's ``readings`` (in reading order, each with its body fingerprint) do to
    the ``live`` index: the one place where a build (an update of an empty index) and an
    update decide, article by article, what is indexed, merged into an exact copy, skipped or
    removed, whether the index is one folder or shards. Counted in ``summary``, reported in
    ``log``; the result lists the articles to write, the live documents to delete and the
    copies table."""
    changes = _Changes(live, live_duplicates or {}, live_copy_origins or {}, set(updated_files))
    copy_origins: dict[str, str] = {}
    kept = first_readings(readings, summary, log, copy_origins)
    unreadable = {_file_of(p.origin) for p in summary.problems if p.unreadable}
    summary.unreadable_sources = sorted(unreadable)
    changes.protect(unreadable, {p.id for p in summary.problems if p.id is not None})
    changes.copy_origin.update((copy, _file_of(origin)) for copy, origin in copy_origins.items())
    for article, copies, fingerprint in kept:
        changes.read(article, copies, fingerprint, summary, log)
    if not keep_missing:
        changes.remove_gone(summary, log)
    changes.report_indexed(log)
    return changes


class _LiveDocument(NamedTuple):
    docnum: Hashable
    content_hash: str
    origin: str
    fingerprint: str


class _Changes:
    """What an update does to the live index, decided article by article as a build would.

    A build keeps the first of each exact copy in reading order and skips a second article
    with an id already read; an update sees the live index as read before this run's
    articles, so ``update([a])`` then ``update([b])`` gives the index ``build([a, b])`` gives.
    """

    def __init__(self, live: Iterable[tuple[Hashable, dict]], duplicates: dict[str, list[str]], copy_origins: dict[str, str],
                 updated_files: set[str]) -> None:
        """``live``: (number, stored fields) of every live document; the numbers are what
        ``deleted`` collects (a sharded update numbers them (shard, number)). ``duplicates``
        and ``copy_origins``: the live copies table and the file of each copy (where known)."""
        self.stored = {
            doc["id"]: _LiveDocument(docnum, doc.get("content_hash", ""), doc.get("origin", ""), doc.get("fingerprint", ""))
            for docnum, doc in live
        }
        self.by_body = {d.fingerprint: doc_id for doc_id, d in self.stored.items() if d.fingerprint}
        self.duplicates = {kept: list(copies) for kept, copies in duplicates.items()}
        self.copy_of = {copy: kept for kept, copies in duplicates.items() for copy in copies}
        self.copy_origin = dict(copy_origins)  # copy id -> its file; also of copies no longer listed
        self._live_copies = (duplicates, copy_origins)  # as the live index has them
        self.updated_files = updated_files
        self.to_write: list[Article | Reading] = []
        # Articles read in this run and merged into an indexed one as exact copies: (the
        # article, its fingerprint, the summary count it went into), in case that one goes.
        self.merged: dict[str, tuple[Article | Reading, str, str]] = {}
        self.deleted: set[Hashable] = set()  # numbers of live documents replaced or removed
        self.seen: set[str] = set()
        self.change: dict[str, str] = {}  # id -> "added" or "changed", for each article to write
        self.protected_files: set[str] = set()
        self.protected_ids: set[str] = set()

    def protect(self, files: set[str], ids: set[str]) -> None:
        """Nothing is removed because it was not read from ``files`` (read with errors), nor
        any article of ``ids`` (read, but refused): a damaged source is no evidence that an
        article is gone."""
        self.protected_files |= files
        self.protected_ids |= ids

    def read(self, article: Article | Reading, copies: list[str], fingerprint: str, summary: BuildSummary, log: Report) -> None:
        """Take one article read by this run (with the ids of its copies read in this run)."""
        previous = self.stored.get(article.id)
        if previous is not None and previous.origin != _origin_file(article) and previous.origin not in self.updated_files \
                and Path(previous.origin).exists():
            # The id is indexed from another file that still holds it: as in a build, the
            # article read first keeps the id.
            _skip(summary, log, Problem(article.origin, f"duplicate id: {article.id} was already read from {previous.origin}", article.id))
            return
        self.seen.add(article.id)
        self.seen.update(copies)
        for copy in copies:
            self._forget_copy(copy)
        kept = self.by_body.get(fingerprint)
        if kept is not None and kept != article.id:
            # An exact copy of an article already in the index: merged into it.
            self.copy_origin[article.id] = _origin_file(article)
            if self.copy_of.get(article.id) != kept:
                self._forget_copy(article.id)
                self._add_copies(kept, [article.id])
                summary.duplicates += 1
                log.write(id=article.id, origin=article.origin, status="duplicate", duplicate_of=kept)
                self.merged[article.id] = (article, fingerprint, "duplicates")
            else:
                summary.unchanged += 1
                self.merged[article.id] = (article, fingerprint, "unchanged")
            self._add_copies(kept, copies)
            if previous is not None:  # it was an article of its own until now
                self._delete(article.id, previous)
                summary.removed += 1
            return
        self._forget_copy(article.id)
        self._add_copies(article.id, copies)
        if previous is not None and previous.content_hash == (article.content_hash if isinstance(article, Reading) else content_hash(article)):
            summary.unchanged += 1
            return
        self.to_write.append(article)
        if previous is not None and previous.fingerprint != fingerprint:
            # Its old text is no longer in the index: an article read later with that text is
            # an article of its own, as in a build of the sources as they are now, and so is
            # one read earlier in this run and merged into it.
            if self.by_body.get(previous.fingerprint) == article.id:
                del self.by_body[previous.fingerprint]
            earlier = [c for c in self.duplicates.get(article.id, []) if c in self.merged and self.merged[c][1] == previous.fingerprint]
            for copy in earlier:
                self._forget_copy(copy)
            self._promote(earlier, summary, log)
        self.by_body[fingerprint] = article.id
        summary.indexed += 1
        if previous is None:
            summary.added += 1
        else:
            summary.changed += 1
            self.deleted.add(previous.docnum)
        self.change[article.id] = "added" if previous is None else "changed"

    def remove_gone(self, summary: BuildSummary, log: Report) -> None:
        """Remove the live articles whose file is among this run's and no longer holds them,
        or whose file no longer exists."""
        for doc_id, previous in self.stored.items():
            if doc_id in self.seen or previous.docnum in self.deleted:
                continue
            if previous.origin in self.protected_files or doc_id in self.protected_ids:
                summary.kept += 1
                continue
            if previous.origin in self.updated_files or not Path(previous.origin).exists():
                self._delete(doc_id, previous)
                orphans = self.duplicates.pop(doc_id, [])
                for copy in orphans:
                    self.copy_of.pop(copy, None)
                summary.removed += 1
                log.write(id=doc_id, origin=previous.origin, status="removed")
                # Its copies read in this run live on: the first of them becomes the article.
                self._promote([c for c in orphans if c in self.merged], summary, log, also=orphans)
        # A copy not read in this run whose file is gone or no longer holds it is no longer a
        # copy of anything, as in a build of the sources as they are now.
        for copy, kept in list(self.copy_of.items()):
            origin = self.copy_origin.get(copy)
            if copy in self.seen or copy in self.protected_ids or origin in self.protected_files:
                continue
            if origin and (origin in self.updated_files or not Path(origin).exists()):
                self._forget_copy(copy)
                log.write(id=copy, origin=origin, status="removed", duplicate_of=kept)

    def touches_copies(self) -> bool:
        """Does the copies table (or a copy's file) differ from the live index's?"""
        return (self.duplicates, self.copy_origins()) != self._live_copies

    def copy_origins(self) -> dict[str, str]:
        """The file of each copy now listed (where known)."""
        return {copy: self.copy_origin[copy] for copy in self.copy_of if copy in self.copy_origin}

    def report_indexed(self, log: Report) -> None:
        """One report line for each article to write, once its copies are all known."""
        for article in self.to_write:
            entry = {"id": article.id, "origin": article.origin, "status": "indexed", "change": self.change[article.id]}
            if self.duplicates.get(article.id):
                entry["duplicates"] = self.duplicates[article.id]
            if article.warnings:
                entry["warnings"] = article.warnings
            log.write(**entry)

    def _promote(self, readings: list[str], summary: BuildSummary, log: Report, also: Sequence[str] = ()) -> None:
        """The article its copies were merged into is gone (removed, or its text changed):
        the first of those read in this run (``readings``, ids) becomes an article, the
        others (and those of ``also`` besides it) its copies. A copy not read in this run
        cannot be judged without its text: it stays listed where it was, or goes with a
        removed article (the next build, which reads every file, indexes it)."""
        if not readings:
            return
        heir, *rest = readings
        article, fingerprint, counted = self.merged.pop(heir)
        setattr(summary, counted, getattr(summary, counted) - 1)
        self.to_write.append(article)
        self.by_body[fingerprint] = heir
        self._add_copies(heir, [c for c in dict.fromkeys([*rest, *also]) if c != heir])
        summary.indexed += 1
        summary.added += 1
        self.change[heir] = "added"

    def _delete(self, doc_id: str, previous: _LiveDocument) -> None:
        self.deleted.add(previous.docnum)
        if self.by_body.get(previous.fingerprint) == doc_id:
            del self.by_body[previous.fingerprint]

    def _add_copies(self, kept: str, copies: list[str]) -> None:
        if not copies:
            return
        listed = self.duplicates.setdefault(kept, [])
        for copy in copies:
            if copy not in listed:
                listed.append(copy)
            self.copy_of[copy] = kept

    def _forget_copy(self, copy: str) -> None:
        """``copy`` is no longer an exact copy of the article it was merged into."""
        kept = self.copy_of.pop(copy, None)
        if kept is not None and kept in self.duplicates:
            remaining = [c for c in self.duplicates[kept] if c != copy]
            if remaining:
                self.duplicates[kept] = remaining
            else:
                del self.duplicates[kept]


def _updated_segments(generation: Generation, live: SegmentSet, deleted: set[int], to_write: list[Article],
                      memory_mb: float, show_progress: bool) -> list[dict]:
    """The segment list of an updated generation, its new files written into ``generation``:
    deletions recorded, new and changed articles written as new segments, and segments
    merged as the merge policy asks (postings merged, no text analysed again)."""
    first_number = 1 + max((int(e["name"][1:]) for e in live.entries), default=0)
    entries = []
    for entry, offset, reader in zip(live.entries, live.offsets, live.readers):
        local = [d - int(offset) for d in deleted if offset <= d < offset + reader.docs]
        gone = np.union1d(deleted_docs(live.directory, entry), local).astype(np.int32)
        if gone.size == reader.docs:
            continue  # nothing of it is left
        entry = dict(entry)
        if gone.size:
            entry["deleted"] = f"{entry['name']}.del-{generation.number:06d}.npy"
            np.save(generation.path / entry["deleted"], gone)
        entries.append(entry)
    if to_write:
        entries += _write_segments(to_write, generation.path, first_number, memory_mb, show_progress)
    return merge_by_policy(generation.path, entries)


def _write_segments(articles: list[Article], directory: Path, first_number: int, memory_mb: float, show_progress: bool) -> list[dict]:
    """Write articles as segments numbered from ``first_number``, flushing at ``memory_mb``."""
    writer = SegmentsWriter(directory, memory_mb, lambda k: f"s{first_number + k:06d}")
    with tqdm(total=len(articles), desc="indexing", unit="doc", disable=not show_progress, leave=False) as bar:
        for batch in _batches(articles):
            writer.add(batch)
            bar.update(len(batch))
    return writer.finish()


def _remove_unlisted_files(generation: Generation, manifest: dict) -> None:
    """Drop the hard links to files of the previous generation that this one no longer uses."""
    wanted = set(listed_files(manifest))
    for f in generation.path.iterdir():
        if f.is_file() and f.name != MANIFEST and f.name not in wanted:
            f.unlink()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _manifest(settings: IndexSettings, fingerprints: dict, summary: BuildSummary, segments: list[dict], built_at: str, previous: dict | None = None) -> dict:
    return {
        "format": INDEX_FORMAT,
        "segments": segments,
        "package_version": PACKAGE_VERSION,
        "analyzer_version": settings.analyzer_version,
        "settings": settings.to_manifest(),
        # Query-time tables that change scores: recorded so stats can say if they changed since.
        "ranking_tables": ranking_tables(),
        "built_at": (previous or {}).get("built_at", built_at),
        "updated_at": built_at,
        "sources": fingerprints,
        "last_run": {
            "indexed": summary.indexed,
            "added": summary.added,
            "changed": summary.changed,
            "removed": summary.removed,
            "unchanged": summary.unchanged,
            "duplicates": summary.duplicates,
            "skipped": summary.skipped,
            "seconds": summary.seconds,
        },
    }
