"""HTTP layer: ``create_app(settings)``, the one factory of the FastAPI application."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from etclod import __version__
from etclod.api import admin, browse, downloads, graphs, ldes, meta, reconcile, reconcile_v1, resources, sparql
from etclod.api.limits import BodyLimit
from etclod.api.charts import figures
from etclod.api.http import LanguageCookie, error_response, etclod_error_response
from etclod.api.metrics import Metrics, MetricsMiddleware
from etclod.api.pages import Pages
from etclod.api.state import ReleaseHolder
from etclod.cache import AnswerCache
from etclod.errors import EtclodError, codes_markdown
from etclod.executor import QueryPool
from etclod.sandbox import Policy
from etclod.settings import Settings
from etclod.validation import load_shapes

log = logging.getLogger("etclod")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 413: "too_large",
              415: "unsupported_media_type", 422: "bad_request", 429: "too_many_requests"}


def warm_figures(release: object) -> None:
    try:
        if getattr(release, "figures", None) is None:
            release.figures = figures(release.store)  # type: ignore[attr-defined]
    except EtclodError:
        log.exception("could not work out the landing page's figures")


def worker_policy(settings: Settings) -> Policy:
    """What query workers may do: read the releases and the ontology, within the memory limit."""
    try:  # Landlock rules name folders that exist: the releases folder must, before any release
        settings.releases_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("cannot create %s (%s): query workers may not read releases made later", settings.releases_dir,
                    exc.strerror)
    return Policy(settings.worker_max_memory_mb,
                  (str(settings.releases_dir.resolve()), str(settings.ontology_dir.resolve())))


def recover_uploads(settings: Settings) -> None:
    from etclod.inbox import recover

    try:
        for line in recover(settings):
            log.info("upload recovered: %s", line)
    except (EtclodError, OSError) as exc:
        log.warning("could not finish the uploads left in %s: %s", settings.inbox_dir, exc)


def request_id(request: Request) -> str:
    """The client's X-Request-ID where it is a plain token, else one made up here."""
    given = request.headers.get("x-request-id", "")
    if not (0 < len(given) <= 64 and given.isascii() and given.replace("-", "").replace("_", "").isalnum()):
        given = request.scope.setdefault("etclod.request_id", uuid.uuid4().hex[:16])
    return given


def refused(request: Request, response: Response, code: str, message: str) -> Response:
    """A client's mistake: one log line with the request id (no traceback), and the id in the answer."""
    rid = request_id(request)
    log.info("request %s: %s %s refused %s %s: %s", rid, request.method, request.url.path[:200],
             response.status_code, code, message[:300].encode("unicode_escape").decode("ascii"))
    response.headers["X-Request-ID"] = rid
    return response


def create_app(settings: Settings) -> FastAPI:
    """The etclod web application for ``settings``; resources opened at start-up live on
    ``app.state`` (settings, the release holder, templates, shapes, metrics)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        release = app.state.holder.current_or_none()
        if release is None:
            log.warning("no release in %s yet: data routes answer 503 until `etclod build` runs",
                        settings.var_dir)
        else:  # the landing page's figures take seconds at keep.eu scale: work them out now
            threading.Thread(target=warm_figures, args=(release,), daemon=True).start()
        if settings.inbox_dir.is_dir():  # finish the uploads a kill left unjudged (under the inbox lock)
            threading.Thread(target=recover_uploads, args=(settings,), daemon=True, name="etclod-recover").start()
        try:
            yield
        finally:
            app.state.pool.close()

    # FastAPIOffline: FastAPI with /docs and /redoc served from the package's own Swagger UI and
    # ReDoc files (FastAPI's documented self-hosting), so the API pages work without internet
    app = FastAPIOffline(title="etclod", version=__version__, lifespan=lifespan, redoc_url=None,
                  description="Linked open data for European Territorial Cooperation (Interreg): "
                              "resources, SPARQL 1.1, dumps and a DCAT-AP catalogue.\n\n"
                              "Every error answers `{\"error\": code, \"message\": ..., \"status\": ...}` "
                              "with one of these codes:\n\n" + codes_markdown())
    app.state.settings = settings
    app.state.pool = QueryPool(settings.query_workers, settings.query_timeout, settings.max_concurrent_queries,
                               settings.worker_max_growth_mb, worker_policy(settings))
    app.state.holder = ReleaseHolder(settings, app.state.pool)
    app.state.pages = Pages(settings.ontology_dir)
    app.state.shapes = load_shapes(settings.ontology_dir / "shapes.ttl")
    app.state.metrics = Metrics(retired=lambda: app.state.pool.retired)
    app.state.answers = AnswerCache(settings.cache_mb, size=lambda answer: len(answer.body))

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    app.add_middleware(LanguageCookie)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    # outermost, so the refusals of the limits (413, 414) carry CORS headers too
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
                       allow_headers=["*"], expose_headers=["ETag", "Link", "Last-Modified", "X-Checksum-SHA256",
                                                            "Repr-Digest", "X-Etclod-Release", "Content-Range",
                                                            "Content-Encoding", "Retry-After"])

    @app.exception_handler(EtclodError)
    async def on_etclod_error(request: Request, exc: EtclodError) -> Response:
        return refused(request, etclod_error_response(request, exc), exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing is published at {request.url.path}; see / for what is"
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return refused(request, error_response(request, code, message, exc.status_code, getattr(exc, "headers", None)),
                       code, message)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return refused(request, error_response(request, "bad_request", problems or "invalid request", 400),
                       "bad_request", problems)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s (request %s)", request.url.path, request_id(request))
        # answered outside every middleware (Starlette's ServerErrorMiddleware): CORS by hand
        return error_response(request, "internal_error",
                              "the server failed to answer this request; it has been logged", 500,
                              {"Access-Control-Allow-Origin": "*"})

    app.include_router(sparql.router)  # first: routes are tried in turn, and /sparql is the busiest
    app.router.routes.insert(0, sparql.SparqlRoute())  # before it: /sparql without FastAPI's request handling
    app.include_router(meta.router)
    app.include_router(resources.router)
    app.include_router(downloads.router)
    app.include_router(reconcile.router)
    app.include_router(reconcile_v1.router)
    app.include_router(graphs.router)
    app.include_router(ldes.router)
    app.include_router(browse.router)
    if settings.admin_token:
        app.include_router(admin.router)
    app.mount("/static", StaticFiles(packages=[("etclod", "static")]), name="static")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> Response:
        # ReDoc from the package's files; its page may load nothing from elsewhere (ReDoc's
        # bundle would fetch its logo from its CDN)
        page = get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title="etclod - ReDoc",
                              redoc_js_url="/static-offline-docs/redoc.standalone.js", with_google_fonts=False,
                              redoc_favicon_url="/static-offline-docs/favicon.png")
        page.headers["Content-Security-Policy"] = ("default-src 'self' 'unsafe-inline' blob: data:; "
                                                   "img-src 'self' data:; connect-src 'self'")
        return page
    return app
