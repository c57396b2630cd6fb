"""Reading articles from the inputs people have: folders of crawled pages and JSON Lines.

Every document read comes out as either an ``Article`` or a ``Problem`` (why it was skipped,
with file and line), so that a run can account for every input document.

Page format (one article per ``.txt`` file, as the seed page)::

    Title line
    Quỳnh Trang – Hữu Huỳnh   02-12-2021 17:33:00   LCĐT - Lead paragraph…
    Paragraphs…
    Site footer (boilerplate, removed)

The byline is optional. JSON Lines (``.jsonl``, ``.jsonl.gz``) carry one article per line with
the fields id, title, body, date, source, category, url; other fields are kept as stored
metadata (``Article.meta``) and returned with hits.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator, Union

from indexer.clean import clean_text, repeated_site_lines, strip_boilerplate
from indexer.errors import SourceNotFound

# Articles above this size are not news articles but dumps or crawl accidents; indexing them
# would make every query hit them.
MAX_ARTICLE_CHARS = 1_000_000
PAGE_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")


@dataclass
class Article:
    """One article, cleaned, as it will be indexed and shown."""

    id: str
    title: str
    body: str
    origin: str  # where it came from: "corpus/x.txt" or "data.jsonl.gz:17"
    date: datetime | None = None
    source: str | None = None
    authors: list[str] = field(default_factory=list)
    category: str | None = None
    url: str | None = None
    lead: str | None = None
    meta: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ordinal: int = -1  # its place among all documents read in one run (see Share)


@dataclass
class Problem:
    """A document (or a whole file) that could not be read, and why.

    ``unreadable`` says the source itself is damaged here (a read error, a truncated gzip, an
    undecodable page, a broken JSON line), as opposed to a document that was read and refused
    (empty, too long): an update removes nothing that such a file held before, since it
    cannot tell what the damaged part still holds."""

    origin: str
    reason: str
    id: str | None = None
    ordinal: int = -1
    unreadable: bool = False


Record = Union[Article, Problem]


class Undecodable(ValueError):
    pass


# --------------------------------------------------------------------------------------------
# Finding inputs
# --------------------------------------------------------------------------------------------


def expand_sources(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """Files named by the given paths, folders (searched recursively) and globs, in order.

    A path or glob that matches nothing raises ``SourceNotFound``: a typo must not silently
    build an empty index.
    """
    return find_inputs(sources)[0]


def find_inputs(sources: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Problem]]:
    """``expand_sources``, with what could not be followed inside the folders, as problems:
    a symlink loop, a broken link with an input's name, a folder that cannot be read. Links to
    folders are followed (an archive is often assembled from links), each folder read once."""
    files: list[Path] = []
    problems: list[Problem] = []
    for source in sources:
        text = str(source)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise SourceNotFound(f"{text}: no file matches this pattern")
            paths = [Path(m) for m in matches]
        else:
            path = Path(text)
            if not path.exists():
                raise SourceNotFound(f"{text}: no such file or folder")
            paths = [path]
        for path in paths:
            if path.is_dir():
                _walk(path, files, problems, set())
            else:
                files.append(path)
    unique: dict[Path, None] = {}
    for f in files:
        unique.setdefault(f, None)
    return list(unique), problems


def _walk(folder: Path, files: list[Path], problems: list[Problem], seen: set[tuple[int, int]]) -> None:
    """The inputs under ``folder`` in the order of their paths' parts (as ``sorted`` orders
    paths), following links to folders; ``seen`` holds the folders already read."""
    try:
        st = folder.stat()
        key = (st.st_dev, st.st_ino)
        if key in seen:
            problems.append(Problem(str(folder), f"symlink loop: it leads back to {folder.resolve()}, a folder already read; "
                                                 "it was read once"))
            return
        seen.add(key)
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as e:
        problems.append(Problem(str(folder), f"cannot read folder: {e.strerror or e}", unreadable=True))
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_dir():  # a link to a folder too
                _walk(path, files, problems, seen)
            elif entry.is_file():
                if _is_input(path):
                    files.append(path)
            elif entry.is_symlink() and _is_input(path):
                problems.append(Problem(str(path), f"broken link: it points to {os.readlink(path)}, which does not exist",
                                        unreadable=True))
        except OSError as e:
            problems.append(Problem(str(path), f"cannot read: {e.strerror or e}", unreadable=True))


def _is_input(path: Path) -> bool:
    name = path.name.lower()
    return not name.startswith(".") and name.endswith(PAGE_SUFFIXES + JSONL_SUFFIXES)


@dataclass(frozen=True)
class Share:
    """One process's part of the input when several read it in parallel: chunks of ``chunk``
    documents (in reading order) dealt round-robin, this process taking number ``index`` of
    every ``of``. Documents outside the share are passed over before they are parsed."""

    index: int = 0
    of: int = 1
    chunk: int = 256
    # For a sharded index: (shard, shards). Only the articles whose id routes to this shard
    # (``shard_of``) are read, passed over after their id is known and before the text is
    # cleaned; problems without an id belong to shard 0, so each is reported once.
    shard: tuple[int, int] | None = None

    def __contains__(self, ordinal: int) -> bool:
        return (ordinal // self.chunk) % self.of == self.index

    def owns(self, doc_id: str | None) -> bool:
        if self.shard is None:
            return True
        number, shards = self.shard
        return (0 if doc_id is None else shard_of(doc_id, shards)) == number


def shard_of(doc_id: str, shards: int) -> int:
    """The shard an article belongs to, by its id alone: the same in every build and update,
    on every machine (a stable hash, not Python's salted ``hash``), so an article is never in
    two shards."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


EVERYTHING = Share()


class _Ordinals:
    """Numbers the documents of a run in reading order, across all its files."""

    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        self.next += 1
        return self.next - 1


def read_sources(sources: Iterable[str | os.PathLike], share: Share = EVERYTHING) -> Iterator[Record]:
    """Every article (or problem) of the given sources, pages grouped by folder, each with its
    ``ordinal``; with a ``share``, only the documents of that share."""
    files, problems = find_inputs(sources)
    ordinals = _Ordinals()
    for problem in problems:  # what could not be followed in the folders: reported, in order
        problem.ordinal = ordinals.take()
        if problem.ordinal in share and share.owns(None):
            yield problem
    pages_by_dir: dict[Path, list[Path]] = {}
    for path in files:
        if path.name.lower().endswith(JSONL_SUFFIXES):
            continue
        pages_by_dir.setdefault(path.parent, []).append(path)
    done_dirs: set[Path] = set()
    for path in files:
        if path.name.lower().endswith(JSONL_SUFFIXES):
            yield from read_jsonl(path, share, ordinals)
        elif path.parent not in done_dirs:
            done_dirs.add(path.parent)
            yield from read_pages(pages_by_dir[path.parent], share, ordinals)


# --------------------------------------------------------------------------------------------
# Text decoding
# --------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is refused, not guessed."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise Undecodable(f"broken UTF-16 at byte {e.start}") from None
    # Anywhere in the file, not only its start: a NUL would otherwise reach bodies and snippets.
    nul = data.find(b"\x00")
    if nul >= 0:
        raise Undecodable(f"binary file (a NUL byte at offset {nul}), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Undecodable(
            f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
            "save it as UTF-8, or UTF-16 with a byte-order mark"
        ) from None


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------

# "Quỳnh Trang – Hữu Huỳnh   02-12-2021 17:33:00   LCĐT - Chiều 2/12, tại …"
_BYLINE = re.compile(
    r"^(?P<authors>[^\d\n]*?)\s{2,}"
    r"(?P<date>\d{1,2}[-/]\d{1,2}[-/]\d{4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?)\s{2,}"
    r"(?:(?P<source>[^\s-][^\n]{0,40}?)\s+[-–]\s+)?(?P<lead>.*)$"
)
_AUTHOR_SEPARATORS = re.compile(r"\s*[–,;]\s*|\s+-\s+")


def parse_date(text: str) -> datetime | None:
    """"02-12-2021 17:33:00", "2/12/2021", "2021-12-02" or ISO 8601 -> datetime (None if not)."""
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    m = re.match(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$", text)
    if not m:
        return None
    day, month, year, hour, minute, second = (int(g) if g else 0 for g in m.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


@dataclass
class _Page:
    path: Path
    title: str
    byline: re.Match | None
    lines: list[str]


def _split_page(path: Path, text: str) -> _Page | Problem:
    lines = [line.strip() for line in clean_text(text).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return Problem(str(path), "empty file: no title and no text", id=path.stem)
    title, rest = lines[0], lines[1:]
    byline = None
    first = next((i for i, line in enumerate(rest) if line), None)
    if first is not None:
        byline = _BYLINE.match(rest[first])
        if byline:
            rest = rest[first + 1 :]
    return _Page(path, title, byline, rest)


def read_pages(paths: list[Path], share: Share = EVERYTHING, ordinals: _Ordinals | None = None) -> Iterator[Record]:
    """Pages of one folder: read all first, so that a footer they share can be recognised
    (also the pages outside ``share``: they count for the footer)."""
    ordinals = ordinals or _Ordinals()
    pages: list[tuple[int, _Page]] = []
    for path in paths:
        ordinal = ordinals.take()
        record = _read_page(path)
        if isinstance(record, Problem):
            if ordinal in share and share.owns(record.id):
                record.ordinal = ordinal
                yield record
        else:
            pages.append((ordinal, record))
    site_lines = repeated_site_lines([p.lines for _, p in pages])
    for ordinal, page in pages:
        if ordinal in share and share.owns(page.path.stem):
            record = _page_article(page, site_lines)
            record.ordinal = ordinal
            yield record


def _read_page(path: Path) -> _Page | Problem:
    try:
        if path.stat().st_size > 4 * MAX_ARTICLE_CHARS:
            return Problem(str(path), f"file is {path.stat().st_size / 1e6:.1f} MB, too large for one article", id=path.stem)
        return _split_page(path, decode_text(path.read_bytes()))
    except OSError as e:
        return Problem(str(path), f"cannot read: {e.strerror or e}", id=path.stem, unreadable=True)
    except Undecodable as e:
        return Problem(str(path), str(e), id=path.stem, unreadable=True)


def _page_article(page: _Page, site_lines: frozenset[str]) -> Record:
    paragraphs = strip_boilerplate(page.lines, site_lines)
    article = Article(id=page.path.stem, title=page.title, body="", origin=str(page.path))
    if page.byline:
        b = page.byline
        article.authors = [a for a in _AUTHOR_SEPARATORS.split(b["authors"].strip()) if a]
        article.date = parse_date(b["date"])
        article.source = (b["source"] or "").strip() or None
        lead = b["lead"].strip()
        if lead:
            article.lead = lead
            paragraphs.insert(0, lead)
    article.body = "\n".join(paragraphs)
    return _checked(article)


# The warning on an article whose title was made from the start of its text.
NO_TITLE = "no title: the start of the body is used as title"


def _checked(article: Article) -> Record:
    if not article.body.strip() and not article.title.strip():
        return Problem(article.origin, "empty article: no title and no text", id=article.id)
    if not article.body.strip():
        return Problem(article.origin, "empty article: a title but no text", id=article.id)
    if len(article.body) > MAX_ARTICLE_CHARS:
        return Problem(
            article.origin,
            f"article is {len(article.body):,} characters, above the {MAX_ARTICLE_CHARS:,} limit",
            id=article.id,
        )
    if not article.title.strip():
        first_line = article.body.split("\n", 1)[0]
        article.title = _title_from(first_line)
        article.warnings.append(NO_TITLE)
    return article


def _title_from(line: str, max_words: int = 20) -> str:
    parts = line.split()
    return " ".join(parts[:max_words]) + (" …" if len(parts) > max_words else "")


# --------------------------------------------------------------------------------------------
# JSON Lines
# --------------------------------------------------------------------------------------------

KNOWN_FIELDS = {"id", "title", "body", "date", "source", "category", "url", "authors"}


def _open_lines(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_jsonl(path: Path, share: Share = EVERYTHING, ordinals: _Ordinals | None = None) -> Iterator[Record]:
    """Articles of a JSON Lines file, plain or gzip; a broken line is a Problem, not the end."""
    ordinals = ordinals or _Ordinals()
    try:
        handle = _open_lines(path)
    except OSError as e:
        ordinal = ordinals.take()
        if ordinal in share and share.owns(None):
            yield Problem(str(path), f"cannot read: {e.strerror or e}", ordinal=ordinal, unreadable=True)
        return
    with handle:
        line_no = 0
        try:
            for raw in handle:
                line_no += 1
                if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                if not raw.strip():
                    continue
                ordinal = ordinals.take()
                if ordinal not in share:
                    continue
                record = _json_article(raw, f"{path}:{line_no}", path, line_no, share)
                if record is None:
                    continue  # another shard's
                record.ordinal = ordinal
                yield record
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            ordinal = ordinals.take()
            if ordinal in share and share.owns(None):
                yield Problem(f"{path}:{line_no + 1}", f"cannot read further: {e}", ordinal=ordinal, unreadable=True)


def _json_article(raw: bytes, origin: str, path: Path, line_no: int, share: Share = EVERYTHING) -> Record | None:
    """The article (or problem) of one line; None if it belongs to another shard."""
    if len(raw) > 8 * MAX_ARTICLE_CHARS:
        return Problem(origin, f"line is {len(raw) / 1e6:.1f} MB, too large for one article", unreadable=True) if share.owns(None) else None
    record = _parsed_line(raw, origin)
    if isinstance(record, Problem):
        return record if share.owns(None) else None
    given = record.get("id")
    doc_id = str(given) if given is not None and str(given).strip() else f"{_stem(path)}-{line_no}"  # as _line_article names it
    if not share.owns(doc_id):
        return None
    return _line_article(record, origin, path, line_no)


def _parsed_line(raw: bytes, origin: str) -> dict | Problem:
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        return Problem(origin, f"not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})", unreadable=True)
    except json.JSONDecodeError as e:
        # e.msg may end in "at" itself ("Unterminated string starting at"): the column goes apart.
        return Problem(origin, f"invalid JSON: {e.msg} (column {e.colno})", unreadable=True)
    if not isinstance(record, dict):
        return Problem(origin, f"expected a JSON object, found {type(record).__name__}", unreadable=True)
    return record


def _line_article(record: dict, origin: str, path: Path, line_no: int) -> Record:
    doc_id = record.get("id")
    warnings = []
    if doc_id is None or str(doc_id).strip() == "":
        doc_id = f"{_stem(path)}-{line_no}"
        warnings.append(f"no id: {doc_id} is used")
    for name in ("title", "body"):
        if not isinstance(record.get(name, ""), str):
            return Problem(origin, f'field "{name}" must be a string', id=str(doc_id), unreadable=True)
    body_lines = [line.strip() for line in clean_text(record.get("body") or "").split("\n")]
    article = Article(
        id=str(doc_id),
        title=" ".join(clean_text(record.get("title") or "").split()),
        body="\n".join(strip_boilerplate(body_lines)),
        origin=origin,
        source=_optional_str(record.get("source")),
        category=_optional_str(record.get("category")),
        url=_optional_str(record.get("url")),
        meta={k: v for k, v in record.items() if k not in KNOWN_FIELDS},
        warnings=warnings,
    )
    authors = record.get("authors")
    if isinstance(authors, str):
        article.authors = [a for a in _AUTHOR_SEPARATORS.split(authors) if a]
    elif isinstance(authors, list):
        article.authors = [str(a) for a in authors]
    if record.get("date"):
        article.date = parse_date(str(record["date"]))
        if article.date is None:
            article.warnings.append(f"date {record['date']!r} not understood; stored without date")
    return _checked(article)


def _optional_str(value) -> str | None:
    if value is None:
        return None
    text = " ".join(clean_text(str(value)).split())
    return text or None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(JSONL_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
