"""The ``vnsearch`` command: a thin layer over ``indexer`` and ``search``.

It parses options, calls the library, and formats the library's result objects for people
(80 columns, colour on a terminal) or for programs (``--json``).

Exit codes: 0 success (search: at least one hit); 1 search found nothing; 2 usage error or a
query with nothing to search; 3 index built but some input documents were skipped; 4 the index
is being written by another process; 5 missing source, not an index, an incompatible index, or
a damaged one (the file is named); 6 some source could not be read completely (what it held is
kept); 7 an update would remove more than the limit allows (nothing written); 8 the index
could not be written (disk full, read-only; the previous index stays live).
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

if TYPE_CHECKING:
    from indexer.build import BuildSummary

from indexer.analysis import document_terms
from indexer.defaults import MAX_REMOVAL_SHARE, available_cores, shipped_corpus
from indexer.schema import IndexSettings
from indexer.store import default_index_dir
from indexer.check import check_index
from indexer.errors import QueryError, VnsearchError
from search.api import Index, SearchResults
from search.snippets import Snippet
from search.searcher import Timeline

app = typer.Typer(
    help="Vietnamese-aware full-text search for news archives.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

EXIT_NO_HITS = 1
EXIT_USAGE = 2
EXIT_SKIPPED = 3
# A source could not be read to the end: what it held was kept (README "Scheduled updates").
EXIT_UNREADABLE_SOURCE = 6
WIDTH = 80

IndexOption = typer.Option(
    None, "--index", "-i", help="Index folder (default: $VNSEARCH_INDEX or ~/.local/share/vnsearch/index).",
    show_default=False,
)


def _index_dir(index: Optional[Path]) -> Path:
    return index if index is not None else default_index_dir()


def _fail(error: VnsearchError) -> None:
    typer.echo(f"vnsearch: error: {error}", err=True)
    raise typer.Exit(error.exit_code)


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


# --------------------------------------------------------------------------------------------
# index
# --------------------------------------------------------------------------------------------


SourcesArgument = typer.Argument(
    None, help="Files, folders or globs: pages (.txt) and JSON Lines (.jsonl, .jsonl.gz). Default: the shipped corpus/.",
    show_default=False,
)
ReportOption = typer.Option(None, "--report", help="Write one JSON line per input document: what happened to it and why.")
JsonSummaryOption = typer.Option(False, "--json", help="Print the summary as one JSON object (for monitoring).")
QuietOption = typer.Option(False, "--quiet", "-q", help="Print nothing unless something is wrong (for cron).")
SchedulerOption = typer.Option(
    None, "--scheduler", envvar="VNSEARCH_SCHEDULER", show_default=False,
    help="A sharded index: the Dask scheduler to run on (tcp://HOST:8786); default: a LocalCluster started for the run.",
)
MemoryOption = typer.Option(
    IndexSettings.memory_mb, "--memory", min=1,
    help="MB a writing process may buffer before it writes a segment; peak memory follows this, not the corpus.",
)


def _run_writer(write, report: Optional[Path], as_json: bool, quiet: bool) -> None:
    """Run an index build or update with its report file; print the summary; set the exit code."""
    try:
        report_stream = open(report, "w", encoding="utf-8") if report else None
    except OSError as e:
        typer.echo(f"vnsearch: error: cannot write report {report}: {e.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        summary = write(report_stream, sys.stderr.isatty() and not quiet)
    except VnsearchError as e:
        _fail(e)
    finally:
        if report_stream:
            report_stream.close()
    _print_summary(summary, as_json, report, quiet)
    if summary.unreadable_sources:
        raise typer.Exit(EXIT_UNREADABLE_SOURCE)
    if summary.skipped:
        raise typer.Exit(EXIT_SKIPPED)


@app.command("index")
def index_command(
    sources: Optional[List[str]] = SourcesArgument,
    index: Optional[Path] = IndexOption,
    procs: int = typer.Option(0, "--procs", "-j", min=0, help="Processes that analyse and write in parallel (default 0: one per core this process may use).", show_default=False),
    report: Optional[Path] = ReportOption,
    rebuild: bool = typer.Option(
        False, "--rebuild",
        help="Rebuild from scratch (also after an analyzer upgrade). Every 'index' does this: the new index is built beside the old one and swapped in atomically.",
    ),
    memory: float = MemoryOption,
    shards: int = typer.Option(
        0, "--shards", min=0, show_default=False,
        help="Build a sharded index of N shards as Dask tasks (README \"Sharding\"); default: one index folder.",
    ),
    scheduler: Optional[str] = SchedulerOption,
    as_json: bool = JsonSummaryOption,
    quiet: bool = QuietOption,
) -> None:
    """Build a new index of SOURCES and swap it in atomically (the old one serves until then)."""
    paths = sources or [str(shipped_corpus())]
    settings = IndexSettings(procs=procs or available_cores(), memory_mb=memory)
    if shards:
        from indexer.shards import build_sharded

        def build(stream, progress):
            return build_sharded(paths, _index_dir(index), shards, settings, scheduler=scheduler, report=stream)
    else:
        def build(stream, progress):
            from indexer.build import build_index  # the builder is loaded only to build

            return build_index(paths, _index_dir(index), settings, show_progress=progress, report=stream)
    _run_writer(build, report, as_json, quiet)


@app.command("update")
def update_command(
    sources: Optional[List[str]] = SourcesArgument,
    index: Optional[Path] = IndexOption,
    keep_missing: bool = typer.Option(False, "--keep-missing", help="Keep articles whose source file or record is gone."),
    allow_removals: bool = typer.Option(
        False, "--allow-removals",
        help=f"Remove articles even when they are more than {MAX_REMOVAL_SHARE:.0%} of the index (otherwise: stop, exit 7, nothing written).",
    ),
    report: Optional[Path] = ReportOption,
    memory: float = MemoryOption,
    scheduler: Optional[str] = SchedulerOption,
    as_json: bool = JsonSummaryOption,
    quiet: bool = QuietOption,
) -> None:
    """Add new articles, re-index changed ones, remove vanished ones; safe to run from cron.

    A file that cannot be read to the end (truncated, undecodable, a broken line) removes
    nothing: its articles stay as they were and the run exits 6."""
    from indexer.build import update_index  # the builder is loaded only to build

    paths = sources or [str(shipped_corpus())]
    _run_writer(
        lambda stream, progress: update_index(paths, _index_dir(index), keep_missing, show_progress=progress, report=stream,
                                              memory_mb=memory, scheduler=scheduler, allow_removals=allow_removals),
        report, as_json, quiet,
    )


def _print_summary(summary: BuildSummary, as_json: bool, report: Optional[Path], quiet: bool = False) -> None:
    if as_json:
        typer.echo(json.dumps(summary.to_json(), ensure_ascii=False))
        return
    shown = 20
    for p in summary.problems[:shown]:
        typer.echo(f"vnsearch: skipped {p.origin}: {p.reason}", err=True)
    if len(summary.problems) > shown:
        more = f"; see {report}" if report else "; --report FILE lists them all"
        typer.echo(f"vnsearch: … and {len(summary.problems) - shown} more skipped{more}", err=True)
    if summary.unreadable_sources:
        kept = f"; {summary.kept:,} articles they held were kept as they were" if summary.kept else ""
        typer.echo(f"vnsearch: {len(summary.unreadable_sources)} source file(s) could not be read completely "
                   f"(nothing of theirs removed{kept}): {', '.join(summary.unreadable_sources[:5])}", err=True)
    if quiet:
        return
    if summary.indexed == 0 and summary.removed == 0 and summary.unchanged and not summary.skipped:
        typer.echo(f"nothing changed: {summary.unchanged:,} documents up to date → {summary.index_dir}")
        return
    reasons = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.skip_reasons.items(), key=lambda kv: -kv[1]))
    parts = [f"{summary.indexed:,} documents indexed"]
    if summary.changed or summary.removed or summary.unchanged:
        parts.append(f"{summary.added:,} added, {summary.changed:,} changed, {summary.removed:,} removed, {summary.unchanged:,} unchanged")
    parts.append(f"{summary.duplicates:,} duplicates merged")
    parts.append(f"{summary.skipped:,} skipped" + (f" ({reasons})" if reasons else ""))
    if summary.warnings:
        parts.append(f"{summary.warnings:,} warnings")
    typer.echo(f"{'; '.join(parts)}; {summary.seconds:.1f} s → {summary.index_dir}")


# --------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------


@app.command("search")
def search_command(
    query: Optional[str] = typer.Argument(None, help='The query, e.g. "sinh hoạt chi bộ". Omit it with --batch.', show_default=False),
    index: Optional[Path] = IndexOption,
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=1000, help="How many hits to show."),
    fields: str = typer.Option("title,body", "--fields", help="Where to look for the words: title, body or both."),
    require_all: bool = typer.Option(False, "--all", help="Every word must match (AND) instead of ranking by how many match (OR)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (snippets with <mark>)."),
    batch: Optional[str] = typer.Option(None, "--batch", help="Run one query per line of FILE ('-' for stdin); one JSON line per query.", show_default=False),
    page: int = typer.Option(1, "--page", "-p", min=1, help="Which page of --limit hits to show."),
    sort: str = typer.Option("relevance", "--sort", help="relevance, or date (newest first)."),
    since: Optional[str] = typer.Option(None, "--since", help="Only articles dated on or after this day, month or year (2021-01-01, 2021-01, 2021).", show_default=False),
    until: Optional[str] = typer.Option(None, "--until", help="Only articles dated on or before this day, month or year.", show_default=False),
    facets: bool = typer.Option(False, "--facets", help="Also count the matching articles by source, category and year."),
    recent: bool = typer.Option(False, "--recent", help="Boost newer articles: up to 2x for the newest, halving every 30 days (README)."),
    histogram: Optional[str] = typer.Option(None, "--histogram", help="Also count the matching articles per day, month or year (a timeline).", show_default=False),
) -> None:
    """Search the index and print ranked hits with highlighted snippets."""
    field_list = tuple(f.strip() for f in fields.split(",") if f.strip())
    try:
        ix = Index.open(_index_dir(index))
    except VnsearchError as e:
        _fail(e)
    with ix:
        if batch is not None:
            if query is not None:
                typer.echo("vnsearch: error: give either a QUERY or --batch, not both", err=True)
                raise typer.Exit(EXIT_USAGE)
            _run_batch(ix, batch, dict(limit=limit, fields=field_list, require_all=require_all, page=page, sort=sort,
                                       since=since, until=until, facets=facets, recent=recent, histogram=histogram))
            return
        if query is None:
            typer.echo("vnsearch: error: missing QUERY (or --batch FILE)", err=True)
            raise typer.Exit(EXIT_USAGE)
        try:
            results = ix.search(query, limit=limit, fields=field_list, require_all=require_all, page=page, sort=sort,
                                since=since, until=until, facets=facets, recent=recent, histogram=histogram)
        except VnsearchError as e:
            _fail(e)
        if as_json:
            typer.echo(json.dumps(results.to_json(), ensure_ascii=False))
        else:
            _print_results(results, ix)
        if not results.hits:
            raise typer.Exit(EXIT_NO_HITS)


def _run_batch(ix: Index, batch: str, options: dict) -> None:
    try:
        stream = sys.stdin.buffer if batch == "-" else open(batch, "rb")
    except OSError as e:
        typer.echo(f"vnsearch: error: cannot read {batch}: {e.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE)
    name = "standard input" if batch == "-" else batch
    with stream:
        for line_no, raw in enumerate(stream, start=1):
            # One output line per input line, in order, whatever the line holds: a program
            # pairs input line i with output line i. A file that is not text (a picture, a
            # zip) stops the run with one error instead of a query per garbage line.
            try:
                if b"\x00" in raw:
                    raise ValueError("a NUL byte")
                line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except (UnicodeDecodeError, ValueError) as e:
                what = e.reason if isinstance(e, UnicodeDecodeError) else str(e)
                typer.echo(f"vnsearch: error: {name}:{line_no}: not UTF-8 text ({what}); --batch reads one query per line of a text file", err=True)
                raise typer.Exit(EXIT_USAGE)
            text = line.rstrip("\r\n")
            try:
                if not text.strip():
                    raise QueryError("empty line: nothing to search for")
                out = ix.search(text, **options).to_json()
            except QueryError as e:
                out = {"query": text, "took_ms": 0.0, "total": 0, "total_relation": "eq", "hits": [], "error": f"line {line_no}: {e}"}
            typer.echo(json.dumps(out, ensure_ascii=False))


def _print_results(results: SearchResults, ix: Index) -> None:
    color = _color()
    if results.searched_for:
        how = f" (typed as {results.typed_as})" if results.typed_as else ""
        typer.echo(f"Searched for: {results.searched_for}{how}")
    if results.also_searched:
        typer.echo(f"Also searched: {', '.join(results.also_searched)}")
    if results.other_diacritics:
        typer.echo("No article has these words as typed: matches with other diacritics.")
    if results.dropped:
        typer.echo(f"Too few articles have every word; matched without: {', '.join(results.dropped)}")
    if results.suggestion:
        typer.echo(f"Did you mean: {results.suggestion}")
    if not results.hits:
        if results.total:
            typer.echo(f"No hits on page {results.page}: {results.total:,} documents match ({results.pages} pages).")
        else:
            typer.echo(f"No documents match {results.query!r}.")
        return
    first = results.hits[0].rank
    shown = f"top {len(results.hits)}" if results.page == 1 else f"{first}–{first + len(results.hits) - 1}, page {results.page} of {results.pages}"
    at_least = "" if results.total_exact else "at least "
    typer.echo(f"{at_least}{results.total:,} documents match; {shown} ({results.took_ms:.0f} ms)\n")
    for hit in results.hits:
        head = f"{hit.rank:>2}. "
        # The highlight ends back in bold: the title is bold throughout.
        title = _filled(hit.title_marked, hit.title, head, " " * len(head), color, after="\x1b[0m\x1b[1m")
        typer.echo(typer.style(title, bold=True) if color else title)
        details = [hit.source or "?", hit.date.strftime("%Y-%m-%d %H:%M") if hit.date else "no date", f"score {hit.score:.2f}", hit.id]
        typer.echo(textwrap.fill(" · ".join(details), WIDTH, initial_indent="    ", subsequent_indent="    "))
        copies = list(hit.duplicates) + [f"{c} (near copy)" for c in hit.near_duplicates]
        if copies:
            typer.echo(textwrap.fill("also in: " + ", ".join(copies), WIDTH, initial_indent="    ", subsequent_indent="      "))
        typer.echo(_filled(hit.snippet, "", "    ", "    ", color) + "\n")
    if results.timeline is not None:
        _print_timeline(results.timeline)
    if results.facets is not None:
        _print_facets(results.facets)


# A timeline's bars on a terminal: the longest this many cells, eighths of a cell for the rest.
TIMELINE_BAR_CELLS = 40
_EIGHTHS = " ▏▎▍▌▋▊▉"


def _print_timeline(timeline: Timeline) -> None:
    """One line per period: the period, a bar as long as its count (the largest
    TIMELINE_BAR_CELLS cells), and the count; the undated apart."""
    largest = max((n for _, n in timeline.periods), default=0)
    typer.echo(f"Matching articles per {timeline.interval}:")
    for period, count in timeline.periods:
        eighths = round(8 * TIMELINE_BAR_CELLS * count / largest) if largest else 0
        bar = "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")
        if count and not bar:
            bar = _EIGHTHS[1]  # a period with matches never looks empty
        typer.echo(f"  {period:<10} {bar:<{TIMELINE_BAR_CELLS}} {count:,}")
    if timeline.undated:
        typer.echo(f"  {'undated':<10} {'':<{TIMELINE_BAR_CELLS}} {timeline.undated:,}")
    typer.echo("")


def _filled(marked: Snippet | None, plain: str, first_indent: str, indent: str, color: bool, after: str = "\x1b[0m") -> str:
    """Text wrapped to WIDTH, its highlights in colour on a terminal: wrapped with placeholder
    marks (one character each), which then become colour or nothing. ``plain`` without marks."""
    text = marked.render("\x01", "\x02") if marked is not None else plain
    wrapped = textwrap.fill(text, WIDTH, initial_indent=first_indent, subsequent_indent=indent)
    on, off = ("\x1b[1;33m", after) if color else ("", "")
    return wrapped.replace("\x01", on).replace("\x02", off)


def _print_facets(facets: dict[str, list[tuple[str, int]]], shown: int = 8) -> None:
    for name, counts in facets.items():
        parts = [f"{value} ({count:,})" for value, count in counts[:shown]]
        if len(counts) > shown:
            parts.append(f"… {len(counts) - shown} more")
        typer.echo(textwrap.fill(", ".join(parts) or "—", WIDTH, initial_indent=f"{name + ':':<10}", subsequent_indent=" " * 10))


# --------------------------------------------------------------------------------------------
# stats
# --------------------------------------------------------------------------------------------


@app.command("stats")
def stats_command(
    index: Optional[Path] = IndexOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show what is in an index: documents, fields, size, analyzer version, last update."""
    try:
        with Index.open(_index_dir(index)) as ix:
            stats = ix.stats()
    except VnsearchError as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps(stats.to_json(), ensure_ascii=False))
        return
    run = stats.last_run
    lines = [
        ("index", f"{stats.path} ({stats.generation})"),
        ("documents", f"{stats.documents:,}"),
        ("segments", f"{stats.segments}" + (f" in {stats.shards} shards" if stats.shards else "")),
        ("fields", ", ".join(stats.fields)),
        ("size on disk", f"{stats.size_bytes / 1e6:.1f} MB"),
        ("analyzer", stats.analyzer_version),
        ("built", stats.built_at),
        ("last update", stats.updated_at),
        ("last run", ", ".join(f"{k} {v}" for k, v in run.items())),
    ]
    for name, table in stats.ranking_tables.items():
        if table["built_with"] is None:
            state = "not recorded in this index (built before vnsearch 0.3)"
        else:
            state = "as built" if table["same"] else "CHANGED since the index was built: scores differ from the build's"
        lines.append(({"headline_evidence": "headlines"}.get(name, name), f"{state} ({', '.join(Path(f).name for f in table['files'])})"))
    for label, value in lines:
        typer.echo(f"{label:<13} {value}")


@app.command("check")
def check_command(
    index: Optional[Path] = IndexOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Read the whole index and verify it: every file's checksum, term tables, postings, stored
    documents. Exit 0 if sound; 5 naming the damaged file otherwise."""
    try:
        report = check_index(_index_dir(index))
    except VnsearchError as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
        return
    typer.echo(
        f"ok: {report.index_dir} ({report.generation}): {report.documents:,} documents in {report.segments} "
        f"segment(s), {report.files} files, {report.bytes_checked / 1e6:.1f} MB checked in {report.seconds:.1f} s"
    )


# --------------------------------------------------------------------------------------------
# serve
# --------------------------------------------------------------------------------------------


@app.command("serve")
def serve_command(
    index: Optional[Path] = IndexOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(0, "--workers", min=0, help="Worker processes (default 0: one per available core)."),
    cors_origin: Optional[List[str]] = typer.Option(
        None, "--cors-origin", help="Allow a browser page from this origin to call the API (repeatable; none by default).",
        show_default=False,
    ),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", envvar="VNSEARCH_SCHEDULER", show_default=False,
        help="A sharded index: search it through Dask actors on this scheduler (tcp://HOST:8786); default: in each worker.",
    ),
) -> None:
    """Serve the HTTP JSON API (/api/search, /api/articles/ID, /api/suggest, /api/stats) and the search page at /."""
    import uvicorn

    from search.server import ENV_CORS, ENV_SCHEDULER

    index_dir = _index_dir(index).resolve()
    workers = workers or available_cores()
    # Every worker process builds its app from the environment (uvicorn imports it by name).
    os.environ["VNSEARCH_INDEX"] = str(index_dir)
    os.environ[ENV_CORS] = ",".join(cors_origin or [])
    os.environ[ENV_SCHEDULER] = scheduler or ""
    shown_host = f"[{host}]" if ":" in host else host
    typer.echo(f"vnsearch: serving {index_dir} at http://{shown_host}:{port}/ with {workers} worker(s); Ctrl-C stops", err=True)
    uvicorn.run("search.server:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)


# --------------------------------------------------------------------------------------------
# inspect
# --------------------------------------------------------------------------------------------


@app.command("complete")
def complete_command(
    text: str = typer.Argument(..., help='What has been typed so far, e.g. "thu tuo" (end it with a space for the next word).'),
    index: Optional[Path] = IndexOption,
    limit: int = typer.Option(8, "--limit", "-n", min=1, max=20, help="How many completions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Complete a query being typed from the index's own words, diacritics optional."""
    try:
        with Index.open(_index_dir(index)) as ix:
            completions = ix.complete(text, limit)
    except VnsearchError as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps({"query": text, "completions": [c.to_json() for c in completions]}, ensure_ascii=False))
    else:
        for completion in completions:
            typer.echo(f"{completion.text}\t{completion.count:,}")
    if not completions:
        raise typer.Exit(EXIT_NO_HITS)


@app.command("related")
def related_command(
    doc_id: str = typer.Argument(..., metavar="ID", help="The id of an article (as in its source: file name or JSON id)."),
    index: Optional[Path] = IndexOption,
    limit: int = typer.Option(5, "--limit", "-n", min=1, max=100, help="How many related articles to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show other articles about what this one is about (its most telling words searched for)."""
    try:
        with Index.open(_index_dir(index)) as ix:
            related = ix.related(doc_id, limit=limit, snippet_chars=0 if as_json else 160)
    except VnsearchError as e:
        _fail(e)
    if related is None:
        typer.echo(f"vnsearch: no article with id {doc_id!r} in this index", err=True)
        raise typer.Exit(EXIT_NO_HITS)
    if as_json:
        typer.echo(json.dumps({"id": doc_id, "related": [hit.to_json() for hit in related]}, ensure_ascii=False))
    else:
        for hit in related:
            typer.echo(textwrap.fill(hit.title, WIDTH, initial_indent=f"{hit.rank:>2}. ", subsequent_indent="    "))
            details = [hit.source or "?", hit.date.strftime("%Y-%m-%d") if hit.date else "no date", hit.category or "—", hit.id]
            typer.echo(textwrap.fill(" · ".join(details), WIDTH, initial_indent="    ", subsequent_indent="    "))
            typer.echo(textwrap.fill(hit.snippet.plain, WIDTH, initial_indent="    ", subsequent_indent="    ") + "\n")
    if not related:
        raise typer.Exit(EXIT_NO_HITS)


@app.command("inspect")
def inspect_command(
    doc_id: str = typer.Argument(..., metavar="ID", help="The id of an article (as in its source: file name or JSON id)."),
    index: Optional[Path] = IndexOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one indexed article: what is stored for it and the terms its title is indexed as."""
    try:
        with Index.open(_index_dir(index)) as ix:
            article = ix.read(doc_id)
    except VnsearchError as e:
        _fail(e)
    if article is None:
        typer.echo(f"vnsearch: no article with id {doc_id!r} in this index", err=True)
        raise typer.Exit(EXIT_NO_HITS)
    hit = article.hit
    terms = document_terms(hit.title)
    analysed = {"exact": terms.texts(0), "folded": terms.texts(1), "folded bigrams": terms.texts(2)}
    if as_json:
        out = article.to_json()
        out["title_terms"] = analysed
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    lines = [
        ("id", hit.id), ("title", hit.title), ("source", hit.source or "—"),
        ("date", hit.date.isoformat(sep=" ") if hit.date else "—"), ("category", hit.category or "—"),
        ("authors", ", ".join(hit.authors) or "—"), ("url", hit.url or "—"),
        ("also in", ", ".join(hit.duplicates) or "—"), ("starts", hit.snippet.plain),
    ] + [(f"title {name}", " | ".join(values)) for name, values in analysed.items()]
    for label, value in lines:
        typer.echo(textwrap.fill(value, WIDTH, initial_indent=f"{label:<22}", subsequent_indent=" " * 22))


def main() -> None:
    """Entry point of the ``vnsearch`` console script."""
    try:
        app()
    except VnsearchError as e:  # anything a command did not translate itself
        typer.echo(f"vnsearch: error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
