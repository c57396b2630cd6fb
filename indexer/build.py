"""Building an index: a function of (sources, settings).

``build_index`` reads the sources, drops exact duplicates (keeping the first copy and recording
the others' ids on it), analyses every article once per field family and writes a new
generation of the index, which becomes live only when complete (see ``indexer.store``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterable

from tqdm import tqdm
from whoosh import index as whoosh_index
from whoosh.fields import DATETIME, ID, NUMERIC, STORED, TEXT, Schema

from indexer import analysis
from indexer.analysis import ANALYZER_VERSION, metadata_key, normalize_term
from indexer.errors import IncompatibleIndex, NotAnIndex
from indexer.sources import Article, Problem, read_sources
from indexer.store import CURRENT as CURRENT_FILE
from indexer.store import (
    Generation,
    WriterLock,
    copy_generation,
    current_generation,
    new_generation,
    publish,
    remove_stale_generations,
)

PACKAGE_VERSION = "0.1.0"


def default_index_dir() -> Path:
    """$VNSEARCH_INDEX, else the user's data folder (XDG): the same place from any directory."""
    if os.environ.get("VNSEARCH_INDEX"):
        return Path(os.environ["VNSEARCH_INDEX"])
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "vnsearch" / "index"


def shipped_corpus() -> Path:
    """The sample articles shipped beside the packages (a source checkout), else ./corpus."""
    beside = Path(__file__).resolve().parent.parent / "corpus"
    return beside if beside.is_dir() else Path("corpus")


TEXT_FIELDS = ("title", "body", "opening")
# The opening (the lead, "sapo") is the first paragraph of the body, indexed again on its own:
# news articles state their subject there, so a match in it says more than one deep in the
# body. Searching "body" searches the opening too (it is part of the body); see search.rank.
OPENING_MAX_CHARS = 400


@dataclass(frozen=True)
class IndexSettings:
    """What shapes an index; written into its manifest and checked when it is opened.

    The weights are used at query time, but they belong to the index: they were tuned for
    its analysis (bench/quality.py) and change with it.
    """

    analyzer_version: str = ANALYZER_VERSION
    # BM25F weights per field family (exact syllables, folded, bigrams, folded bigrams).
    title_weight: float = 2.0
    body_weight: float = 1.0
    folded_weight: float = 0.35  # folded-only matches rank under matches of the typed diacritics
    bigram_weight: float = 0.5
    opening_weight: float = 0.15  # added for matches in the body's first paragraph
    phrase_bonus: float = 3.0  # short queries whose syllables all stand together (search.rank)
    tiebreak: float = 0.3  # how much the other fields add to the best-matching one
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    procs: int = 1
    memory_mb: int = 256

    def to_manifest(self) -> dict:
        d = asdict(self)
        d.pop("procs")  # how it was built, not what it is
        d.pop("memory_mb")
        return d


# The field families of each text field. Why these three (measured, see README "Design notes"):
# Whoosh pays a fixed cost per distinct term when it writes a segment, and bigram fields have
# by far the largest vocabularies, so there is one bigram family, folded: it serves queries
# typed with and without diacritics, while the exact syllable family carries the diacritics.
# No positions are stored: adjacency comes from the bigrams, which also answer phrases.
FIELD_FAMILIES = ("", "_fold", "_fold_bi")


def make_schema() -> Schema:
    """Per text field: exact syllables, folded syllables and folded syllable bigrams."""
    fields = {
        "id": ID(stored=True, unique=True),
        "origin": ID(stored=True),
        "content_hash": ID(stored=True),
        "source": ID(stored=True),
        "source_key": ID(),
        "category": ID(stored=True),
        "category_key": ID(),
        "date": DATETIME(stored=True, sortable=True),
        "year": NUMERIC(stored=False, sortable=True),
        "authors": STORED(),
        "url": STORED(),
        "lead": STORED(),
        "meta": STORED(),
        "duplicates": STORED(),
    }
    for name in TEXT_FIELDS:
        fields[name] = TEXT(analyzer=analysis.exact_analyzer(), stored=name != "opening", phrase=False)
        fields[f"{name}_fold"] = TEXT(analyzer=analysis.folded_analyzer(), phrase=False)
        fields[f"{name}_fold_bi"] = TEXT(analyzer=analysis.folded_bigram_analyzer(), phrase=False)
    return Schema(**fields)


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
    """Equal for bodies that differ only in case, spacing, punctuation or tone placement."""
    words = re.findall(r"\w+", body)
    return hashlib.sha1(" ".join(normalize_term(w) for w in words).encode()).hexdigest()


def content_hash(article: Article) -> str:
    """Changes whenever anything indexed or shown for the article changes."""
    payload = json.dumps(
        [article.title, article.body, article.date, article.source, article.authors,
         article.category, article.url, article.meta],
        ensure_ascii=False, default=str, sort_keys=True,
    )
    return hashlib.sha1(payload.encode()).hexdigest()


def document_fields(article: Article, duplicates: list[str]) -> dict:
    """The Whoosh document for an article (all text fields analyse the same strings)."""
    doc = {
        "id": article.id,
        # Absolute, so that an update run from another directory (cron) recognises its files.
        "origin": os.path.abspath(article.origin.rsplit(":", 1)[0] if _is_jsonl_origin(article.origin) else article.origin),
        "content_hash": content_hash(article),
        "authors": article.authors,
        "url": article.url,
        "lead": article.lead,
        "meta": article.meta,
        "duplicates": duplicates,
    }
    if article.source:
        doc["source"] = article.source
        doc["source_key"] = metadata_key(article.source)
    if article.category:
        doc["category"] = article.category
        doc["category_key"] = metadata_key(article.category)
    if article.date:
        doc["date"] = article.date.replace(tzinfo=None) if article.date.tzinfo else article.date
        doc["year"] = article.date.year
    opening = article.body.split("\n", 1)[0][:OPENING_MAX_CHARS]
    for name, text in (("title", article.title), ("body", article.body), ("opening", opening)):
        for suffix in FIELD_FAMILIES:
            doc[name + suffix] = text
    return doc


def _is_jsonl_origin(origin: str) -> bool:
    head, _, tail = origin.rpartition(":")
    return tail.isdigit() and bool(head)


def collect_articles(
    records: Iterable[Article | Problem], summary: BuildSummary, report: Report
) -> list[tuple[Article, list[str]]]:
    """Articles to index, each with the ids of its exact duplicates; problems are counted."""
    kept: dict[str, tuple[Article, list[str]]] = {}
    ids: dict[str, str] = {}
    for record in records:
        if isinstance(record, Problem):
            _skip(summary, report, record)
            continue
        if record.id in ids:
            _skip(summary, report, Problem(record.origin, f"duplicate id: {record.id} was already read from {ids[record.id]}", record.id))
            continue
        ids[record.id] = record.origin
        fingerprint = body_fingerprint(record.body)
        if fingerprint in kept:
            first, copies = kept[fingerprint]
            copies.append(record.id)
            summary.duplicates += 1
            report.write(id=record.id, origin=record.origin, status="duplicate", duplicate_of=first.id)
            continue
        kept[fingerprint] = (record, [])
        summary.warnings += len(record.warnings)
    return list(kept.values())


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
    """Build a complete new index of ``sources`` in ``index_dir`` and make it live atomically.

    An existing index in ``index_dir`` stays searchable until the new one is complete; if the
    build fails it is left as it was.
    """
    sources = [str(s) for s in sources]
    index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
    started = time.perf_counter()
    summary = BuildSummary(index_dir=str(index_dir))
    fingerprints = source_fingerprints(sources)  # raises SourceNotFound before any work
    log = Report(report)
    with WriterLock(index_dir):
        remove_stale_generations(index_dir)  # what a killed writer left behind
        articles = collect_articles(read_sources(sources), summary, log)
        generation = new_generation(index_dir)
        ix = whoosh_index.create_in(generation.path, make_schema())
        _write_articles(ix, articles, settings, summary, log, show_progress)
        summary.added = summary.indexed
        summary.generation = generation.path.name
        summary.seconds = round(time.perf_counter() - started, 2)
        generation.write_manifest(_manifest(settings, fingerprints, summary, built_at=_now()))
        publish(index_dir, generation)
    return summary


def update_index(
    sources: Iterable[str | os.PathLike],
    index_dir: str | os.PathLike | None = None,
    keep_missing: bool = False,
    show_progress: bool = False,
    report: IO[str] | None = None,
) -> BuildSummary:
    """Bring an index up to date with ``sources``: add new articles, re-index changed ones
    (by content hash), remove those whose source is gone (unless ``keep_missing``).

    "Gone" means: the article's file is among ``sources`` but no longer holds it, or its file
    no longer exists. Articles from other files that still exist are left alone, so one index
    can be updated source by source. Nothing changed on disk since the last run: no work at all.

    The update is written as a new generation that starts as hard links to the live one, and
    published atomically: readers see the old or the new index, and a killed update leaves the
    old one live (the next run redoes the work). Without an index yet, this is a full build.
    """
    sources = [str(s) for s in sources]
    index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
    try:
        current_generation(index_dir)
    except NotAnIndex:
        if any(index_dir.glob("gen-*")) or (index_dir / CURRENT_FILE).exists():
            raise
        return build_index(sources, index_dir, show_progress=show_progress, report=report)
    started = time.perf_counter()
    summary = BuildSummary(index_dir=str(index_dir))
    fingerprints = source_fingerprints(sources)
    log = Report(report)
    with WriterLock(index_dir):
        remove_stale_generations(index_dir)
        live = current_generation(index_dir)
        manifest = live.manifest()
        settings = check_manifest(manifest, index_dir)
        # Files of earlier runs that are gone drop out; their articles are removed below.
        all_known = manifest.get("sources", {})
        known_sources = {p: fp for p, fp in all_known.items() if Path(p).exists()}
        nothing_gone = len(known_sources) == len(all_known)
        if keep_missing:  # their articles stay, so does the record of where they came from
            known_sources = dict(all_known)
        if nothing_gone and all(known_sources.get(path) == fp for path, fp in fingerprints.items()):
            summary.unchanged = _doc_count(live)
            summary.generation = live.path.name
            summary.seconds = round(time.perf_counter() - started, 2)
            return summary
        articles = collect_articles(read_sources(sources), summary, log)
        stored = _stored_hashes(live)
        generation = copy_generation(live, index_dir)
        ix = whoosh_index.open_dir(str(generation.path))
        writer = ix.writer(limitmb=settings.memory_mb)
        try:
            seen: set[str] = set()
            for article, copies in tqdm(articles, desc="updating", unit="doc", disable=not show_progress, leave=False):
                seen.add(article.id)
                fields = document_fields(article, copies)
                previous = stored.get(article.id)
                if previous is not None and previous[0] == fields["content_hash"]:
                    summary.unchanged += 1
                    continue
                writer.update_document(**fields)
                summary.indexed += 1
                if previous is None:
                    summary.added += 1
                else:
                    summary.changed += 1
                log.write(id=article.id, origin=article.origin, status="added" if previous is None else "changed")
            if not keep_missing:
                updated_files = set(fingerprints)
                for doc_id, (_, origin) in stored.items():
                    if doc_id in seen:
                        continue
                    if origin in updated_files or not Path(origin).exists():
                        writer.delete_by_term("id", doc_id)
                        summary.removed += 1
                        log.write(id=doc_id, origin=origin, status="removed")
            if not (summary.added or summary.changed or summary.removed):
                writer.cancel()
                shutil.rmtree(generation.path, ignore_errors=True)
                generation = live
                generation.write_manifest({**manifest, "sources": {**known_sources, **fingerprints}})
            else:
                writer.commit()
                summary.seconds = round(time.perf_counter() - started, 2)
                new_manifest = _manifest(settings, {**known_sources, **fingerprints}, summary, built_at=_now(), previous=manifest)
                generation.write_manifest(new_manifest)
                publish(index_dir, generation)
        except BaseException:
            if not writer.is_closed:
                writer.cancel()
            raise
    summary.generation = generation.path.name
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def _doc_count(generation: Generation) -> int:
    ix = whoosh_index.open_dir(str(generation.path))
    with ix.searcher() as s:
        return s.doc_count()


def _stored_hashes(generation: Generation) -> dict[str, tuple[str, str]]:
    """id -> (content hash, origin file) of every document of a generation."""
    ix = whoosh_index.open_dir(str(generation.path))
    out = {}
    with ix.reader() as reader:
        for _, stored in reader.iter_docs():
            out[stored["id"]] = (stored.get("content_hash", ""), stored.get("origin", ""))
    return out


def _write_articles(ix, articles, settings: IndexSettings, summary: BuildSummary, log: Report, show_progress: bool) -> None:
    writer_args = {"limitmb": settings.memory_mb}
    if settings.procs > 1:
        writer_args.update(procs=settings.procs, multisegment=True)
    writer = ix.writer(**writer_args)
    try:
        for article, copies in tqdm(articles, desc="indexing", unit="doc", disable=not show_progress, leave=False):
            writer.add_document(**document_fields(article, copies))
            summary.indexed += 1
            entry = {"id": article.id, "origin": article.origin, "status": "indexed"}
            if copies:
                entry["duplicates"] = copies
            if article.warnings:
                entry["warnings"] = article.warnings
            log.write(**entry)
        writer.commit()
    except BaseException:
        writer.cancel()
        raise


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _manifest(settings: IndexSettings, fingerprints: dict, summary: BuildSummary, built_at: str, previous: dict | None = None) -> dict:
    return {
        "format": "vnsearch-index",
        "package_version": PACKAGE_VERSION,
        "analyzer_version": settings.analyzer_version,
        "settings": settings.to_manifest(),
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


def check_manifest(manifest: dict, where: Path) -> IndexSettings:
    """The settings of an index, or IncompatibleIndex if this version cannot read it correctly."""
    if manifest.get("format") != "vnsearch-index":
        raise IncompatibleIndex(f"{where}: not a vnsearch index manifest")
    version = manifest.get("analyzer_version")
    if version != ANALYZER_VERSION:
        raise IncompatibleIndex(
            f"{where}: built with analyzer {version}, this vnsearch uses {ANALYZER_VERSION}; "
            "rebuild it with 'vnsearch index --rebuild'"
        )
    known = {f for f in IndexSettings.__dataclass_fields__}
    values = {k: v for k, v in manifest.get("settings", {}).items() if k in known}
    return IndexSettings(**values)


def open_generation(index_dir: str | os.PathLike) -> tuple[Generation, dict, IndexSettings]:
    """The live generation of an index with its manifest and checked settings."""
    generation = current_generation(Path(index_dir))
    manifest = generation.manifest()
    settings = check_manifest(manifest, Path(index_dir))
    return generation, manifest, settings
