"""A sharded index: N ordinary index folders, built and updated as Dask tasks, one manifest
over them.

Layout::

    DIR/
      CURRENT                 the live top-level generation
      gen-000004/manifest.json
                              {"format": "vnsearch-sharded-1", "shards": [{"path": "shard-000",
                               "generation": "gen-000003"}, ...], sources, settings, last run}
      shard-000/              an ordinary vnsearch index folder (CURRENT, gen-*, writer.lock)
      shard-001/
      writer.lock

An article belongs to shard ``shard_of(id, N)`` (``indexer.sources``), in every build and
update, so it is never in two shards. A build runs one Dask task per shard; each reads the
sources, keeps the articles of its shard, and writes them as segments into a new generation
of its folder, in bounded memory (``SegmentsWriter``). The coordinator then decides across
all shards, in reading order, with the one decision of every writer (``decide_changes``: exact
copies merged, repeated ids skipped), exactly as one index would (the tasks return a small
record per article). The new shard generations become live together: each shard's CURRENT is written
first, then the top-level generation that names them, which is the switch readers follow.
A failure anywhere before that switch (a worker lost, bad input, a full disk) leaves the
previous index live; the next run removes what was left half-built.

Shared storage: ``DIR`` must be a path every worker sees (local disk for a LocalCluster, a
shared filesystem on a cluster).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, Iterable, Iterator

from indexer.analysis import TermKeys
from indexer.build import (
    PACKAGE_VERSION,
    BuildSummary,
    Reading,
    Report,
    _keep_first_copies,
    _now,
    _read_and_write_share,
    _with_fingerprints,
    available_cores,
    content_hash,
    check_removals,
    decide_changes,
    finish_built_generation,
    recorded_sources,
    source_fingerprints,
    sources_unchanged,
    write_failed,
    write_updated_generation,
)
from indexer.errors import ClusterUnavailable, NotAnIndex
from indexer.ranking_tables import ranking_tables
from indexer.schema import IndexSettings
from indexer.sources import Problem, Share, read_sources, shard_of
from indexer.store import (
    CURRENT,
    MANIFEST,
    SHARDED_FORMAT,
    Generation,
    WriterLock,
    _fsync_tree,
    generation_names,
    remove_if_never_published,
    remove_temporary_files,
    remove_unpublished,
    _write_atomically,
    current_generation,
    new_generation,
    is_sharded,
    open_generation,
    open_segments,
    publish,
    read_copy_origins,
    read_duplicates,
    read_sharded_manifest,
    remove_stale_generations,
    sharded_settings,
)

ROUTING = "blake2b-64(id) mod shards"
# How long to wait for a scheduler given with --scheduler before saying it does not answer.
CONNECT_TIMEOUT = "10s"
_GENERATION = re.compile(r"^gen-(\d{6,})$")


def shard_folder(index_dir: Path, number: int) -> Path:
    return Path(index_dir) / f"shard-{number:03d}"


# --------------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------------


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator:
    """A Dask client: of the scheduler at ``scheduler``, or of a LocalCluster of ``workers``
    processes (one thread each: the work is CPU-bound Python) started here and stopped after."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterUnavailable("a sharded index needs Dask: pip install 'vnsearch[cluster]'") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as e:
            raise ClusterUnavailable(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def _gather(client, futures: list, what: str) -> list:
    """The results of ``futures``, in order; the first failure cancels the rest and is raised
    as it was (a worker lost for good raises distributed's KilledWorker)."""
    try:
        return client.gather(futures)
    finally:
        client.cancel([f for f in futures if not f.done()])


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def _build_shard(sources: list[str], shard: tuple[int, int], directory: str, memory_mb: float):
    """One Dask task: read the sources, keep the articles of ``shard``, write them as segments
    into ``directory`` (a new generation of the shard's folder)."""
    return _read_and_write_share(sources, Share(shard=shard), directory, memory_mb, progress=lambda n: None)


def build_sharded(
    sources: Iterable[str | os.PathLike],
    index_dir: str | os.PathLike,
    shards: int,
    settings: IndexSettings = IndexSettings(),
    scheduler: str | None = None,
    report: IO[str] | None = None,
) -> BuildSummary:
    """Build a complete sharded index of ``sources`` in ``index_dir`` as ``shards`` Dask
    tasks, on the scheduler at ``scheduler`` or on a LocalCluster; make it live atomically.

    Its search results are those of one index of the same articles (same ids, same scores):
    exact copies are merged across shards, and searches use the statistics of all shards.
    """
    if shards < 1:
        raise ValueError("shards must be at least 1")
    sources = [str(s) for s in sources]
    index_dir = Path(index_dir)
    started = time.perf_counter()
    summary = BuildSummary(index_dir=str(index_dir))
    fingerprints = source_fingerprints(sources)  # raises SourceNotFound before any work
    log = Report(report)
    with _locked(index_dir, shards):
        generations = [new_generation(shard_folder(index_dir, i)) for i in range(shards)]
        with dask_client(scheduler, min(shards, available_cores())) as client:
            futures = [client.submit(_build_shard, sources, (i, shards), str(g.path), settings.memory_mb, pure=False)
                       for i, g in enumerate(generations)]
            results = _gather(client, futures, "build")
            per_shard, duplicates, copy_origins = _keep_first_copies(results, generations, summary, log)
            del results
            finishing = [client.submit(finish_built_generation, g, segments, *_copies_of_shard(duplicates, copy_origins, i, shards),
                                       settings, fingerprints, summary, pure=False)
                         for i, (g, segments) in enumerate(zip(generations, per_shard))]
            _gather(client, finishing, "merge")
        summary.seconds = round(time.perf_counter() - started, 2)
        top = _publish(index_dir, generations, settings, recorded_sources({}, fingerprints, summary), summary, previous=None)
    summary.generation = top.path.name
    return summary


@contextmanager
def _locked(index_dir: Path, shards: int) -> Iterator[None]:
    """The writer locks of the index and of each shard folder, and a clean start: what a
    killed writer left half-built is removed first. A failure removes what this writer
    started (top-level and shard generations no published manifest names), and an OS error
    (a full or read-only disk) becomes one ``WriteFailed``."""
    existed = Path(index_dir).exists()
    try:
        with ExitStack() as stack:
            yield from _locked_in(stack, Path(index_dir), shards, existed)
    except BaseException:
        remove_if_never_published(Path(index_dir), existed)
        raise


def _locked_in(stack: ExitStack, index_dir: Path, shards: int, existed: bool) -> Iterator[None]:
    """``_locked`` inside its exit stack: the locks and clean-up around the writer's work."""
    try:
        stack.enter_context(WriterLock(index_dir))
        for i in range(shards):
            stack.enter_context(WriterLock(shard_folder(index_dir, i)))
        remove_stale_generations(index_dir)
        _remove_unreferenced(index_dir)
    except OSError as e:
        raise write_failed(Path(index_dir), e, existed) from None
    existing = generation_names(Path(index_dir))
    try:
        yield
    except BaseException as e:
        remove_unpublished(Path(index_dir), existing)
        for i in range(shards):
            remove_temporary_files(shard_folder(index_dir, i))
        try:
            _remove_unreferenced(index_dir)
        except OSError:
            pass  # the next writer removes them (it starts with the same clean-up)
        if isinstance(e, OSError):
            raise write_failed(Path(index_dir), e, existed) from e
        raise


def _publish(index_dir: Path, generations: list[Generation], settings: IndexSettings, fingerprints: dict,
             summary: BuildSummary, previous: dict | None) -> Generation:
    """Make the shard generations live together: each shard's CURRENT (for anyone opening a
    shard alone), then the top-level generation naming them all, in one atomic rename."""
    for generation in generations:
        _fsync_tree(generation.path)
        _write_atomically(generation.path.parent / CURRENT, generation.path.name + "\n")
    documents = sum(int(open_segments(g, g.manifest()).live.sum()) for g in generations)
    top = new_generation(index_dir)
    now = _now()
    top.write_manifest({
        "format": SHARDED_FORMAT,
        "shards": [{"path": g.path.parent.name, "generation": g.path.name} for g in generations],
        "routing": ROUTING,
        "package_version": PACKAGE_VERSION,
        "analyzer_version": settings.analyzer_version,
        "settings": settings.to_manifest(),
        "ranking_tables": ranking_tables(),
        "built_at": (previous or {}).get("built_at", now),
        "updated_at": now,
        "sources": fingerprints,
        "documents": documents,
        "last_run": {name: getattr(summary, name) for name in
                     ("indexed", "added", "changed", "removed", "unchanged", "duplicates", "skipped", "seconds")},
    })
    publish(index_dir, top)
    _remove_unreferenced(index_dir)
    return top


def _remove_unreferenced(index_dir: Path) -> None:
    """Remove the shard generations no kept top-level generation names (left by a killed
    build, or replaced), and point each shard's CURRENT at the live one if a killed writer
    left it ahead."""
    referenced: set[Path] = set()
    live_shards: list[Path] = []
    try:
        live = current_generation(index_dir)
    except NotAnIndex:
        live = None
    for top in sorted(p for p in Path(index_dir).iterdir() if _GENERATION.match(p.name)):
        try:
            manifest = Generation(top).manifest()
        except Exception:
            continue  # half-written: removed by remove_stale_generations
        if is_sharded(manifest):
            paths = [Path(index_dir) / s["path"] / s["generation"] for s in manifest["shards"]]
            referenced.update(paths)
            if live is not None and top == live.path:
                live_shards = paths
    for folder in Path(index_dir).glob("shard-*"):
        if not folder.is_dir():
            continue
        for generation in folder.iterdir():
            if _GENERATION.match(generation.name) and generation not in referenced:
                shutil.rmtree(generation, ignore_errors=True)
    for path in live_shards:
        current = path.parent / CURRENT
        if path.exists() and (not current.exists() or current.read_text().strip() != path.name):
            _write_atomically(current, path.name + "\n")


# --------------------------------------------------------------------------------------------
# Updating
# --------------------------------------------------------------------------------------------


def _copies_of_shard(duplicates: dict[str, list[str]], copy_origins: dict[str, str], shard: int,
                     shards: int) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The part of a copies table (and of its copies' files) that ``shard`` keeps: a kept
    article's copies go with it, into the shard its id routes to."""
    duplicates = {kept: ids for kept, ids in duplicates.items() if shard_of(kept, shards) == shard}
    return duplicates, {copy: copy_origins[copy] for ids in duplicates.values() for copy in ids if copy in copy_origins}


def _survey_shard(sources: list[str], shard_dir: str, live_name: str, shard: tuple[int, int]):
    """One Dask task, the first of an update: read the articles of the sources routed to
    ``shard`` and describe them (Reading, fingerprint), in reading order, with the shard's live
    documents (number, id, content hash, origin, fingerprint), its copies table and its copies'
    files: what the coordinator decides the update with, as one index would."""
    live = Generation(Path(shard_dir) / live_name)
    _, manifest, _ = open_generation(shard_dir, verify=False, generation=live)
    keep = ("id", "content_hash", "origin", "fingerprint")
    live_docs = [(docnum, {k: doc.get(k, "") for k in keep}) for docnum, doc in open_segments(live, manifest).iter_live()]
    readings = []
    for record, fingerprint in _with_fingerprints(read_sources(sources, Share(shard=shard)), TermKeys()):
        if isinstance(record, Problem):
            readings.append((record, None))
        else:
            readings.append((Reading(record.ordinal, record.id, record.origin, record.warnings, content_hash(record)), fingerprint))
    return readings, live_docs, read_duplicates(live, manifest), read_copy_origins(live, manifest)


def _write_shard(sources: list[str], shard_dir: str, live_name: str, shard: tuple[int, int], ordinals: set[int],
                 deleted: set[int], duplicates: dict[str, list[str]], copy_origins: dict[str, str], new_sources: dict,
                 summary: BuildSummary, memory_mb: float) -> str:
    """One Dask task, the second of an update: the shard's next generation, with the articles
    read at ``ordinals`` written, ``deleted`` documents marked, ``duplicates`` as its copies
    table (``copy_origins``: their files). Its name (not published)."""
    articles = [r for r in read_sources(sources, Share(shard=shard)) if not isinstance(r, Problem) and r.ordinal in ordinals]
    generation = write_updated_generation(Path(shard_dir), Generation(Path(shard_dir) / live_name), deleted, articles,
                                          duplicates, copy_origins, new_sources, summary, memory_mb)
    return generation.path.name


def update_sharded(
    sources: Iterable[str | os.PathLike],
    index_dir: str | os.PathLike,
    keep_missing: bool = False,
    report: IO[str] | None = None,
    memory_mb: float = IndexSettings.memory_mb,
    scheduler: str | None = None,
    allow_removals: bool = False,
) -> BuildSummary:
    """``update_index`` for a sharded index: each shard updated by a Dask task with the
    articles routed to it, the new shard generations published together.

    Two rounds of tasks: each shard reads the articles routed to it and describes them (ids,
    content hashes, body fingerprints: no text); the coordinator decides, as ``update_index``
    decides for one index, what is added, changed, removed and merged as an exact copy, across
    all shards; then each shard writes its part. The result is what one index updated with the
    same sources holds.
    """
    sources = [str(s) for s in sources]
    index_dir = Path(index_dir)
    started = time.perf_counter()
    summary = BuildSummary(index_dir=str(index_dir))
    fingerprints = source_fingerprints(sources)
    log = Report(report)
    top = current_generation(index_dir)
    manifest = read_sharded_manifest(top)
    shards = len(manifest["shards"])
    with _locked(index_dir, shards):
        top = current_generation(index_dir)
        manifest = read_sharded_manifest(top)
        settings = sharded_settings(manifest, top.path / MANIFEST)
        if sources_unchanged(manifest, fingerprints):
            summary.unchanged = manifest.get("documents", 0)
            summary.generation = top.path.name
            summary.seconds = round(time.perf_counter() - started, 2)
            return summary
        live = [s["generation"] for s in manifest["shards"]]
        folders = [str(index_dir / s["path"]) for s in manifest["shards"]]
        with dask_client(scheduler, min(shards, available_cores())) as client:
            surveys = _gather(client, [client.submit(_survey_shard, sources, folder, name, (i, shards), pure=False)
                                       for i, (folder, name) in enumerate(zip(folders, live))], "update")
            # Decide as one index would: every shard's readings in reading order, against the
            # live documents and copies of all shards.
            readings = sorted((r for survey in surveys for r in survey[0]), key=lambda r: r[0].ordinal)
            live_docs = [((i, docnum), doc) for i, survey in enumerate(surveys) for docnum, doc in survey[1]]
            live_duplicates = {kept: copies for survey in surveys for kept, copies in survey[2].items()}
            live_origins = {copy: origin for survey in surveys for copy, origin in survey[3].items()}
            del surveys
            changes = decide_changes(readings, live_docs, live_duplicates, live_origins, set(fingerprints), keep_missing,
                                     summary=summary, log=log)
            check_removals(summary, len(live_docs), allow_removals)
            known = {p: fp for p, fp in manifest.get("sources", {}).items() if keep_missing or Path(p).exists()}
            new_sources = recorded_sources(known, fingerprints, summary)
            if not (summary.added or summary.changed or summary.removed or changes.touches_copies()) \
                    and new_sources == manifest.get("sources"):
                summary.generation = top.path.name  # nothing to write
            else:
                summary.seconds = round(time.perf_counter() - started, 2)
                origins = changes.copy_origins()
                writes = [
                    client.submit(
                        _write_shard, sources, folder, name, (i, shards),
                        {a.ordinal for a in changes.to_write if shard_of(a.id, shards) == i},
                        {docnum for part, docnum in changes.deleted if part == i},
                        *_copies_of_shard(changes.duplicates, origins, i, shards),
                        new_sources, replace(summary, problems=[]), memory_mb, pure=False)
                    for i, (folder, name) in enumerate(zip(folders, live))
                ]
                names = _gather(client, writes, "update")
                generations = [Generation(Path(folder) / name) for folder, name in zip(folders, names)]
                summary.generation = _publish(index_dir, generations, settings, new_sources, summary, previous=manifest).path.name
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary
