"""HTTP layer: dereferenceable resource URIs ``/id/{type}/{key}`` with content negotiation."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
import pyoxigraph as ox
from rdflib import Graph

from etclod.api.http import get_and_head, cache_headers, choose_format, choose_language, conditional, etag_for
from etclod.api.resource_page import render_resource
from etclod.errors import NotFoundError, QueryError
from etclod.formats import HTML, RDF_FORMATS, Format
from etclod import recordtypes
from etclod.namespaces import PREFIXES, RESOURCE_TYPES
from etclod.oxtyped import serialized
from etclod.store import Page, to_ox

router = APIRouter()
RESOURCE_FORMATS = (HTML, *RDF_FORMATS)
CONTEXT = {"@context": {prefix: str(ns) for prefix, ns in PREFIXES.items()}}


OX_PREFIXES = {prefix: str(ns) for prefix, ns in PREFIXES.items()}


def serialize(graph: Graph, fmt: Format, base: str) -> bytes:
    """An RDF graph in one of the RDF formats; JSON-LD points at our published @context.

    Turtle, N-Triples and RDF/XML are written by Oxigraph (many times faster than rdflib's
    writers); JSON-LD by rdflib, which compacts against our context.
    """
    if fmt.key == "jsonld":
        data = json.loads(graph.serialize(format="json-ld", context=CONTEXT["@context"], auto_compact=True))
        data["@context"] = f"{base}context.jsonld"
        return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    triples = sorted((ox.Triple(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in graph), key=str)
    return serialized(ox.serialize(triples, format=fmt.oxigraph,
                                   prefixes=OX_PREFIXES if fmt.key in ("ttl", "rdf") else None))


@router.get("/context.jsonld", include_in_schema=True, summary="The JSON-LD @context our documents use")
def context() -> Response:
    return Response(json.dumps(CONTEXT, indent=2).encode(), media_type="application/ld+json",
                    headers={"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"})


@get_and_head(router, "/id/{rtype}/{key}", summary="A resource, negotiated",
                  responses={200: {"content": {f.media_type: {} for f in RESOURCE_FORMATS}}})
async def resource(request: Request, rtype: str, key: str, cursor: str | None = None,
                   format: str | None = Query(None, description="html, ttl, jsonld, nt or rdf; overrides Accept"),
                   lang: str | None = Query(None, description="en or lv: the language of an HTML page")) -> Response:
    """HTML, Turtle, JSON-LD, N-Triples or RDF/XML of one resource, by Accept or ``?format=``.

    Incoming links come a page at a time; ``cursor`` asks for the next page.
    """
    # A description from the embedded store takes a millisecond or two of work that holds the
    # GIL: answered right here it is twice as fast as handed to a thread. Anything that may wait
    # (a remote store, a release switch being verified) goes to a thread.
    release = request.app.state.holder.ready()
    if release is not None:
        return _resource(request, rtype, key, cursor, release)
    return await run_in_threadpool(_resource, request, rtype, key, cursor, None)


def _resource(request: Request, rtype: str, key: str, cursor: str | None, release: Any) -> Response:
    if rtype not in RESOURCE_TYPES:
        raise NotFoundError(f"there is no resource type {rtype!r}; types are {', '.join(RESOURCE_TYPES)}")
    if not key.isascii():
        # keys are transliterated slugs: a key typed with Latvian letters (NFC or NFD) leads there
        canonical = recordtypes.get(rtype).key_of_text(unicodedata.normalize("NFC", key))
        if canonical:
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/id/{rtype}/{canonical}{query}", status_code=301)
    fmt = choose_format(request, RESOURCE_FORMATS)
    release = release or request.app.state.holder.get()
    settings = request.app.state.settings
    offset = _offset(cursor)
    lang = choose_language(request) if fmt.key == "html" else ""
    etag = etag_for(release, request.url.path, fmt.key, lang, str(offset))
    vary = "Accept, Accept-Language, Cookie" if fmt.key == "html" else "Accept"
    early = conditional(request, release, etag, vary)
    if early is not None:
        return early
    iri = f"{settings.base_uri}id/{rtype}/{key}"
    try:
        description = release.store.describe(iri, Page(offset, settings.incoming_page_size))
    except (ValueError, SyntaxError) as exc:  # SyntaxError: an IRI the query parser refuses (%7f, %zz)
        raise NotFoundError(f"{request.url.path} is not a resource IRI we could mint") from exc
    if not description.exists:
        raise NotFoundError(f"no {rtype} {key!r} in release {release.version}; "
                            f"the {rtype} list is at /id/{rtype}/")
    headers = cache_headers(release, etag, vary=vary, max_age=request.app.state.settings.cache_seconds)
    if description.next_cursor:
        headers["Link"] = f'<{request.url.path}?cursor={description.next_cursor}>; rel="next"'
    if fmt.key == "html":
        page = render_resource(request.app.state.pages, request, release, description, rtype, lang)
        return HTMLResponse(page, headers=headers)
    body = serialize(description.graph, fmt, settings.base_uri)
    if request.query_params.get("format"):  # a download link: a file name with the format's extension
        headers["Content-Disposition"] = f'attachment; filename="{rtype}-{key}.{fmt.extension}"'
    return Response(body, media_type=fmt.content_type, headers=headers)


def _offset(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 12:  # '²'.isdigit() is True
        raise QueryError(f"cursor {cursor!r} is not a page cursor: use the link rel=next of the previous page")
    return int(cursor)
