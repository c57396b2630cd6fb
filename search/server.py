"""``vnsearch serve``: the HTTP JSON API and the search page, a thin layer over ``search.Index``.

Built on Starlette through FastAPI (request validation, the OpenAPI schema at
``/openapi.json`` and ``/docs``, threads for the blocking ``Index.search``), served by uvicorn,
with Jinja2 templates that escape everything by default. Every response body is made by the
library's own serializers (``SearchResults.to_json``, ``Article.to_json``,
``IndexStats.to_json``): the API answers exactly what ``vnsearch search --json`` prints.

One ``Index`` per worker process, shared by that worker's threads (it is thread-safe); it
follows every generation an update publishes. Several worker processes share the
memory-mapped index files through the page cache, which is how the server uses every core.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
import threading
from pathlib import Path
from typing import Literal, Optional
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Query as Param, Request
from pydantic import BaseModel
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from indexer.store import default_index_dir
from indexer.errors import ClusterUnavailable, CorruptIndex, IncompatibleIndex, NotAnIndex, QueryError, VnsearchError
from search.searcher import TIMELINE_TOO_LONG
from search.api import MAX_COMPLETIONS, MAX_RELATED, MAX_RESULT_WINDOW, SORT_ORDERS, Index, SearchResults

# Caps on what one request may ask for: a query longer than anyone types, or a page of
# thousands of snippets, is refused with a clear 400 rather than served slowly to everyone.
MAX_QUERY_CHARS = 1000
MAX_LIMIT = 100
PAGE_RELATED = 5  # "Bài liên quan" under an article
# The search box's suggestions (the page works without it).
COMPLETE_SCRIPT = (Path(__file__).parent / "static" / "complete.js").read_text(encoding="utf-8")
MAX_PAGE = MAX_RESULT_WINDOW // 10  # with the default 10 hits a page; larger pages reach the window sooner
ENV_CORS = "VNSEARCH_CORS_ORIGINS"  # how `vnsearch serve --workers N` hands options to workers
ENV_SCHEDULER = "VNSEARCH_SCHEDULER"

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
# An article id as one path segment: "/" too is escaped, so that an id such as
# "../../etc/passwd" or "2021/12/abc" reaches the server whole, not resolved by the browser.
TEMPLATES.env.filters["path_segment"] = lambda value: quote(str(value), safe="")


class ErrorBody(BaseModel):
    """Every error the API answers: a sentence for people and a code for programs."""

    error: str
    code: str


# What the schema says each kind of answer means; the server answers nothing else.
BAD_REQUEST = {400: {"model": ErrorBody, "description": "A bad parameter (`bad_parameter`), or a query with nothing to "
                     "search, a date that does not exist or a page past the result window (`bad_query`)."}}
NOT_FOUND = {404: {"model": ErrorBody, "description": "No article with that id (`not_found`)."}}
UNAVAILABLE = {503: {"model": ErrorBody, "description": "The index is missing, not built yet, damaged or on a cluster that "
                     "does not answer (`index_unavailable`, `index_damaged`)."}}
# Dates as the CLI takes them: a year, a month or a day.
DAY_PATTERN = r"^[0-9]{4}(-[0-9]{1,2}(-[0-9]{1,2})?)?$"
FIELDS_PATTERN = r"^ *(title|body) *(, *(title|body) *)*$"


class ApiError(Exception):
    """An error answered as ``{"error": message, "code": code}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class IndexHolder:
    """The worker's one ``Index``, opened on first use: a server started before the first
    build answers 503 until the index exists, then serves it without a restart."""

    def __init__(self, path: Path, scheduler: str | None = None) -> None:
        self.path = Path(path)
        self.scheduler = scheduler  # a sharded index searched through Dask actors on it
        self._index: Index | None = None
        self._lock = threading.Lock()

    def get(self) -> Index:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    try:
                        self._index = Index.open(self.path, scheduler=self.scheduler)
                    except (NotAnIndex, IncompatibleIndex, ClusterUnavailable) as e:
                        raise _unavailable(e) from None
        return self._index

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None


def _unavailable(error: VnsearchError) -> ApiError:
    code = "index_damaged" if isinstance(error, CorruptIndex) else "index_unavailable"
    return ApiError(503, code, str(error))


def create_app(index_dir: str | os.PathLike | None = None, cors_origins: list[str] | None = None,
               scheduler: str | None = None) -> "HeadAsGet":
    """The server's application for one index folder (default: ``$VNSEARCH_INDEX`` or the
    user's data folder). ``cors_origins`` allows those origins to call the API from a
    browser; none are allowed by default. ``scheduler``: search a sharded index through
    Dask actors on that scheduler (``Index.open``)."""
    holder = IndexHolder(Path(index_dir) if index_dir is not None else default_index_dir(), scheduler)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        holder.close()  # lets go of the index files, and of the Dask client and actors

    app = FastAPI(
        lifespan=lifespan,
        title="vnsearch",
        version="0.3.0",
        description="Vietnamese-aware full-text search over a news archive. Responses are the `--json` objects of the `vnsearch` command.",
    )
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET"], allow_headers=["*"])
    _add_error_handlers(app)

    @app.get("/healthz", tags=["service"], summary="Is the index open and searchable?", responses=UNAVAILABLE)
    def healthz() -> dict:
        generation, documents = _call(_call(holder.get).live)
        return {"status": "ok", "generation": generation, "documents": documents}

    @app.get("/api/search", tags=["search"], summary="Ranked hits with highlighted snippets (as `vnsearch search --json`)",
             responses={**BAD_REQUEST, **UNAVAILABLE})
    def api_search(
        q: str = Param(..., min_length=1, max_length=MAX_QUERY_CHARS,
                       description='The query, e.g. "sinh hoạt chi bộ" (same language as the CLI).'),
        limit: int = Param(10, ge=1, le=MAX_LIMIT, description=f"Hits per page, 1–{MAX_LIMIT}."),
        page: int = Param(1, ge=1, le=MAX_PAGE, description=f"Which page, 1–{MAX_PAGE}; page × limit may not pass hit {MAX_RESULT_WINDOW:,}."),
        fields: str = Param("title,body", pattern=FIELDS_PATTERN, description="Where to look: title, body or both."),
        all: bool = Param(False, description="Every word must match (AND)."),
        since: Optional[str] = Param(None, pattern=DAY_PATTERN, description="Articles dated on or after (2021, 2021-12, 2021-12-02)."),
        until: Optional[str] = Param(None, pattern=DAY_PATTERN, description="Articles dated on or before."),
        sort: Literal["relevance", "date"] = Param("relevance", description="relevance, or date (newest first)."),
        facets: bool = Param(False, description="Count matching articles by source, category and year."),
        recent: bool = Param(False, description="Boost newer articles."),
        source: Optional[str] = Param(None, description="Only this source (case and diacritics ignored)."),
        category: Optional[str] = Param(None, description="Only this category."),
        histogram: Optional[Literal["day", "month", "year"]] = Param(
            None, description="Count matching articles per day, month or year (`timeline`; undated apart)."),
    ) -> dict:
        return _search(holder, q, limit=limit, page=page, fields=fields, require_all=all, since=since, until=until,
                       sort=sort, facets=facets, recent=recent, source=source, category=category, histogram=histogram).to_json()

    # Before the article route, whose ``:path`` would take "…/related" as part of an id.
    @app.get("/api/articles/{doc_id:path}/related", tags=["search"],
             summary="Related coverage: other articles about what this one is about (as `vnsearch related --json`)",
             responses={**BAD_REQUEST, **NOT_FOUND, **UNAVAILABLE})
    def api_related(doc_id: str, limit: int = Param(5, ge=1, le=MAX_RELATED, description=f"How many, 1–{MAX_RELATED}.")) -> dict:
        return {"id": doc_id, "related": [hit.to_json() for hit in _related(holder, doc_id, limit)]}

    # ``:path``: ids are often URLs or paths ("2021/12/abc"); any id opens, "/" included.
    @app.get("/api/articles/{doc_id:path}", tags=["search"], summary="One article in full (as `vnsearch inspect --json`, without title terms)",
             responses={**BAD_REQUEST, **NOT_FOUND, **UNAVAILABLE})
    def api_article(doc_id: str, q: Optional[str] = Param(None, max_length=MAX_QUERY_CHARS, description="Highlight this query's words.")) -> dict:
        return _article(holder, doc_id, q).to_json()

    @app.get("/api/suggest", tags=["search"], summary="Did you mean: a correction from the index's vocabulary, or null",
             responses={**BAD_REQUEST, **UNAVAILABLE})
    def api_suggest(q: str = Param(..., max_length=MAX_QUERY_CHARS)) -> dict:
        _check_query(q)
        index = _call(holder.get)
        return {"query": q, "suggestion": _call(index.suggest, q)}

    @app.get("/api/complete", tags=["search"], summary="Search as you type: completions of a query being typed",
             responses={**BAD_REQUEST, **UNAVAILABLE})
    def api_complete(
        q: str = Param(..., min_length=1, max_length=MAX_QUERY_CHARS,
                       description='What has been typed so far, e.g. "thu tuo" (the last syllable may be partial).'),
        limit: int = Param(8, ge=1, le=MAX_COMPLETIONS, description=f"How many, 1–{MAX_COMPLETIONS}."),
    ) -> dict:
        _check_query(q)
        index = _call(holder.get)
        return {"query": q, "completions": [c.to_json() for c in _call(index.complete, q, limit)]}

    @app.get("/static/complete.js", include_in_schema=False)
    def complete_script() -> Response:
        return Response(COMPLETE_SCRIPT, media_type="text/javascript; charset=utf-8")

    @app.get("/api/stats", tags=["service"], summary="What is in the index (as `vnsearch stats --json`)", responses=UNAVAILABLE)
    def api_stats() -> dict:
        return _call(_call(holder.get).stats).to_json()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request, q: str = "", page: int = 1, source: str = "", category: str = "", year: str = "",
             since: str = "", until: str = "", sort: str = "relevance") -> HTMLResponse:
        state = {"q": q, "source": source, "category": category, "year": year, "since": since, "until": until, "sort": sort}
        context = {"request": request, "state": state, "results": None, "error": None, "url": _url_maker(state), "bars": [],
                   "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT}}
        if q.strip():
            try:
                since_, until_ = (year, year) if year else (since or None, until or None)
                options = dict(limit=10, page=page, fields="title,body", require_all=False, since=since_, until=until_,
                               sort=sort, facets=True, recent=False, source=source or None, category=category or None)
                try:
                    results = _search(holder, q, **options, histogram=_page_interval(since_, until_))
                except ApiError as e:
                    if e.code != "bad_query" or TIMELINE_TOO_LONG not in e.message:
                        raise
                    results = _search(holder, q, **options)  # dates too spread for one chart: the hits alone
                context["results"] = results
                context["bars"] = timeline_bars(results.timeline)
            except ApiError as e:
                if e.status >= 500:
                    raise
                context["error"] = e.message
        status = 400 if context["error"] else 200
        return TEMPLATES.TemplateResponse(request, "search.html", context, status_code=status)

    @app.get("/articles/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def article_page(request: Request, doc_id: str, q: str = "") -> HTMLResponse:
        article = _article(holder, doc_id, q or None)
        back = "/?" + urlencode({"q": q}) if q else "/"
        related = _related(holder, article.hit.id, PAGE_RELATED)
        return TEMPLATES.TemplateResponse(request, "article.html", {"request": request, "article": article, "q": q, "back": back,
                                                                    "related": related})

    app.openapi = lambda: _schema_without_unused_statuses(app)
    return HeadAsGet(app)


def _schema_without_unused_statuses(app: FastAPI) -> dict:
    """FastAPI's schema, less the 422 it declares for every operation: this server answers a
    bad parameter with 400 and the ``ErrorBody`` above, which the schema declares instead."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


class HeadAsGet:
    """HEAD wherever GET works (RFC 9110): the request is answered as a GET whose body is not
    sent. FastAPI's routes take only the methods they name, so ``HEAD /`` was a 405."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def __getattr__(self, name):  # the FastAPI application's attributes (routes, openapi, state)
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


def app_from_environment() -> HeadAsGet:
    """The application as ``vnsearch serve --workers N`` starts it in each worker process:
    the index folder from ``$VNSEARCH_INDEX``, allowed origins from ``$VNSEARCH_CORS_ORIGINS``,
    the Dask scheduler of a sharded index from ``$VNSEARCH_SCHEDULER``."""
    origins = [o for o in os.environ.get(ENV_CORS, "").split(",") if o]
    return create_app(default_index_dir(), origins or None, os.environ.get(ENV_SCHEDULER) or None)


# -- the work of a request -----------------------------------------------------------------------


def _page_interval(since: str | None, until: str | None) -> str:
    """The page's timeline: by month, by day within one month, by month within one year."""
    if since and since == until and len(since) == len("2021-10"):
        return "day"
    return "month"


# The page's timeline chart (server-rendered SVG: it works without JavaScript).
CHART_WIDTH, CHART_HEIGHT = 600, 60


def timeline_bars(timeline) -> list[dict]:
    """One bar per period of a timeline, laid out in a CHART_WIDTH × CHART_HEIGHT box (the
    tallest bar fills it); none for a timeline of fewer than two periods."""
    if timeline is None or len(timeline.periods) < 2:
        return []
    largest = max(n for _, n in timeline.periods)
    width = CHART_WIDTH / len(timeline.periods)
    bars = []
    for i, (period, count) in enumerate(timeline.periods):
        height = CHART_HEIGHT * count / largest if largest else 0
        if count:
            height = max(height, 1.0)  # a period with matches never looks empty
        bars.append({"period": period, "count": count, "x": round(i * width, 2), "width": round(max(width - 1, 0.5), 2),
                     "y": round(CHART_HEIGHT - height, 2), "height": round(height, 2)})
    return bars


def _check_query(q: str) -> None:
    if len(q) > MAX_QUERY_CHARS:
        raise ApiError(400, "query_too_long", f"the query is {len(q):,} characters; at most {MAX_QUERY_CHARS:,} are searched")


def _search(holder: IndexHolder, q: str, *, limit: int, page: int, fields: str, require_all: bool, since, until,
            sort: str, facets: bool, recent: bool, source, category, histogram: str | None = None) -> SearchResults:
    _check_query(q)
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "bad_parameter", f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if not 1 <= page <= MAX_PAGE:
        raise ApiError(400, "bad_parameter", f"page must be between 1 and {MAX_PAGE}, not {page}")
    if sort not in SORT_ORDERS:
        raise ApiError(400, "bad_parameter", f"sort must be one of {', '.join(SORT_ORDERS)}, not {sort!r}")
    field_list = tuple(f.strip() for f in fields.split(",") if f.strip())
    index = _call(holder.get)
    return _call(index.search, q, limit=limit, fields=field_list, require_all=require_all, page=page, sort=sort,
                 since=since, until=until, facets=facets, recent=recent, source=source, category=category, histogram=histogram)


def _article(holder: IndexHolder, doc_id: str, q: str | None):
    if q is not None:
        _check_query(q)
    index = _call(holder.get)
    # The id is only ever looked up in the index's own id field, never used as a path, so
    # "../../etc/passwd" is just an id that no article has.
    article = _call(index.read, doc_id, q)
    if article is None:
        raise ApiError(404, "not_found", f"no article with id {doc_id!r} in this index")
    return article


def _related(holder: IndexHolder, doc_id: str, limit: int) -> list:
    related = _call(_call(holder.get).related, doc_id, limit)
    if related is None:
        raise ApiError(404, "not_found", f"no article with id {doc_id!r} in this index")
    return related


def _call(function, *args, **kwargs):
    """Run a library call, turning the errors a user can cause into API errors."""
    try:
        return function(*args, **kwargs)
    except QueryError as e:
        raise ApiError(400, "bad_query", str(e)) from None
    except (NotAnIndex, IncompatibleIndex) as e:
        raise _unavailable(e) from None
    except VnsearchError as e:
        raise ApiError(400, type(e).__name__, str(e)) from None


def _url_maker(state: dict):
    """For the page's links: the current query and filters with some changed (shareable URLs)."""

    def url(**changes) -> str:
        merged = {**state, **changes}
        kept = {k: v for k, v in merged.items() if v not in ("", None) and not (k == "sort" and v == "relevance") and not (k == "page" and v == 1)}
        return "/?" + urlencode(kept)

    return url


def _add_error_handlers(app: FastAPI) -> None:
    def body(status: int, code: str, message: str, request: Request):
        if request.url.path.startswith("/api/") or request.url.path == "/healthz":
            return JSONResponse({"error": message, "code": code}, status_code=status)
        return TEMPLATES.TemplateResponse(request, "error.html", {"request": request, "status": status, "message": message},
                                          status_code=status)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return body(error.status, error.code, error.message, request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in error.errors())
        return body(400, "bad_parameter", problems or "invalid request", request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        answer = body(error.status_code, code, str(error.detail), request)
        for name, value in (getattr(error, "headers", None) or {}).items():  # Allow, on a 405
            answer.headers[name] = value
        return answer

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        # A bug: the client gets a JSON error, never a traceback (uvicorn logs it).
        return body(500, "internal_error", "internal error; the server log has the details", request)
