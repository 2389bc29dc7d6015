"""HTTP layer: content negotiation, languages, conditional requests, error bodies."""

from __future__ import annotations

import hashlib
import html
from email.utils import format_datetime, parsedate_to_datetime
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from etclod.api.state import ServedRelease
from etclod.errors import EtclodError, NotAcceptableError
from etclod.formats import FORMATS, HTML, Format, format_quality, negotiate, parse_accept

LANGUAGES = ("en", "lv")
LANG_COOKIE = "etclod_lang"


class LanguageCookie:
    """ASGI middleware: a page asked for with ``?lang=lv`` remembers it in a cookie, so the
    language switch holds as the reader follows links."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        lang = None
        if scope["type"] == "http":
            for part in (scope.get("query_string") or b"").decode("latin-1").split("&"):
                key, _, value = part.partition("=")
                if key == "lang" and value in LANGUAGES:
                    lang = value
        if lang is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                    headers.append((b"set-cookie", f"{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; "
                                                   "SameSite=Lax".encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


F = TypeVar("F", bound=Callable[..., Any])


def get_and_head(router: Any, path: str, **kwargs: Any) -> Callable[[F], F]:
    """Register a GET route and the same function for HEAD (kept out of the OpenAPI schema,
    which would otherwise list one operation id twice)."""

    def decorate(func: F) -> F:
        router.add_api_route(path, func, methods=["GET"], **kwargs)
        router.add_api_route(path, func, methods=["HEAD"], include_in_schema=False,
                             operation_id=f"{func.__name__}_head", **kwargs)
        return func

    return decorate


def choose_format(request: Request, offered: tuple[Format, ...], *, param: str | None = None) -> Format:
    """``?format=`` wins over Accept; 406 names what we can produce."""
    key = param if param is not None else request.query_params.get("format")
    if key:
        fmt = next((f for f in offered if key in (f.key, f.extension, f.media_type) or key in f.aliases), None)
        if fmt is None:
            raise NotAcceptableError(f"format {key!r} is not available here; use one of "
                                     + ", ".join(f.key for f in offered))
        return fmt
    fmt = negotiate(request.headers.get("accept"), offered)
    if fmt is None:
        raise NotAcceptableError(
            f"cannot produce any of {request.headers.get('accept')!r}; available: "
            + ", ".join(f.media_type for f in offered))
    return fmt


def wants_html(request: Request) -> bool:
    """A browser: it names text/html (or XHTML) and prefers it to every RDF, results or JSON
    type it names (RFC 9110 preference: the most specific range's q decides)."""
    header = request.headers.get("accept")
    html = format_quality(header, HTML)
    if html is None or html[0] <= 0 or html[1] < 3:
        return False
    for fmt in FORMATS:
        if fmt is HTML:
            continue
        other = format_quality(header, fmt)
        if other is not None and other[1] == 3 and (other[0] > html[0] or (other[0] == html[0] and other[2] < html[2])):
            return False
    return True


def choose_language(request: Request) -> str:
    """``?lang=`` (the page's switch), then the switch's cookie, then Accept-Language; English
    by default."""
    lang = request.query_params.get("lang")
    if lang in LANGUAGES:
        return lang
    lang = request.cookies.get(LANG_COOKIE)
    if lang in LANGUAGES:
        return lang
    for media, q in parse_accept(request.headers.get("accept-language")):
        primary = media.split("-")[0]
        if q > 0 and primary in LANGUAGES:
            return primary
    return "en"


def etag_for(release: ServedRelease, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join((release.etag_base, *parts)).encode()).hexdigest()[:32]
    return f'"{digest}"'


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header matches ``etag`` by the weak comparison RFC 9110 section
    13.1.2 prescribes for it (``W/"x"`` matches ``"x"``: a proxy that weakens our ETags still
    gets 304s); ``*`` matches any current representation.

    >>> etag_matches('W/"abc", "def"', '"abc"'), etag_matches("*", '"x"'), etag_matches('"abd"', '"abc"')
    (True, True, False)
    """
    if not header:
        return False
    if header.strip() == "*":
        return True
    ours = etag.strip().removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in header.split(","))


def not_modified(request: Request, etag: str, release: ServedRelease) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:
        return etag_matches(inm, etag)
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            return release.modified.replace(microsecond=0) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError, OverflowError):  # an hour of 20 digits overflows
            return False
    return False


def fresh_for(seconds: int) -> str:
    """``Cache-Control`` of an answer that holds until the next release: a cache may reuse it
    for ``seconds`` (``ETCLOD_CACHE_SECONDS``) without asking, then revalidates it with its
    ETag (``304`` while the release is the same)."""
    return f"public, max-age={seconds}"


def cache_headers(release: ServedRelease, etag: str, *, vary: str = "Accept", max_age: int = 60) -> dict[str, str]:
    return {"ETag": etag, "Last-Modified": format_datetime(release.modified, usegmt=True),
            "Vary": vary, "Cache-Control": fresh_for(max_age)}


def conditional(request: Request, release: ServedRelease, etag: str, vary: str = "Accept") -> Response | None:
    if not_modified(request, etag, release):
        return Response(status_code=304, headers=cache_headers(release, etag, vary=vary,
                                                               max_age=request.app.state.settings.cache_seconds))
    return None


def error_response(request: Request, code: str, message: str, status: int,
                   headers: dict[str, str] | None = None) -> Response:
    """The one error shape: JSON ``{error, message, status}``, or a readable page for a browser."""
    body = {"error": code, "message": message, "status": status}
    if wants_html(request):
        return HTMLResponse(error_page(request, code, message, status), status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def error_page(request: Request, code: str, message: str, status: int) -> str:
    """The error as a page in the reader's language, with the site's navigation and search."""
    pages = getattr(request.app.state, "pages", None)
    lang = choose_language(request)
    if pages is None:  # not an etclod app (cannot happen in create_app): the plain message
        return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status}</title></head>"
                f"<body><main><h1>{status}</h1><p>{html.escape(message)}</p><p><a href=\"/\">etclod</a></p>"
                f"</main></body></html>")
    from etclod import i18n

    heading, explanation = i18n.error_words(status, lang)
    release = request.app.state.holder.current_or_none()
    lists = [(f"/id/{rtype}/", pages.type_name(rtype, lang, 1)) for rtype in ("programme", "project", "organisation")]
    page: str = pages.render("error.html", lang=lang, request=request, title=f"{status} · {heading}", heading=heading,
                            explanation=explanation, message=message, lists=lists, code=code,
                            crumbs=[(i18n.tr(lang, "Home"), "/"), (heading, None)],
                            release=release.version if release else "—")
    return page


def etclod_error_response(request: Request, exc: EtclodError) -> Response:
    return error_response(request, exc.code, exc.message, exc.status, exc.headers or None)

