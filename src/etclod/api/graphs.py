"""HTTP layer: named graph IRIs ``/graph/{name}`` dereference: the graph's triples by content
negotiation, or a page saying what it holds, how many triples, and where its dump is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from etclod import i18n
from etclod.api.resource_page import FORMAT_NAMES
from etclod.api.http import cache_headers, choose_format, choose_language, conditional, etag_for, get_and_head
from etclod.describe import pick_label
from etclod.errors import NotFoundError, ResultTooLargeError
from etclod.formats import HTML, RDF_FORMATS
from etclod.query import CheckedQuery
from etclod.store import Dataset, ResultFormat

router = APIRouter()
GRAPH_FORMATS = (HTML, *RDF_FORMATS)


def graph_query(iri: str) -> str:
    return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"


@get_and_head(router, "/graph/{name:path}", summary="A named graph: its triples, negotiated, or a summary page",
              responses={200: {"content": {f.media_type: {} for f in GRAPH_FORMATS}}})
async def named_graph(request: Request, name: str) -> Response:
    """Turtle, N-Triples, JSON-LD or RDF/XML of the graph's triples (larger graphs than
    ``ETCLOD_MAX_ROWS``: from the dumps), or HTML: what it holds, its size, its dump."""
    release = request.app.state.holder.get()
    settings = request.app.state.settings
    iri = f"{settings.base_uri}graph/{name}"
    graphs = release.manifest.get("graphs", {})
    if iri not in graphs:
        raise NotFoundError(f"release {release.version} has no named graph <{iri}>; its graphs: "
                            + ", ".join(sorted(graphs)))
    fmt = choose_format(request, GRAPH_FORMATS)
    lang = choose_language(request) if fmt.key == "html" else ""
    etag = etag_for(release, request.url.path, fmt.key, lang)
    vary = "Accept, Accept-Language, Cookie" if fmt.key == "html" else "Accept"
    early = conditional(request, release, etag, vary)
    if early is not None:
        return early
    headers = cache_headers(release, etag, vary=vary, max_age=request.app.state.settings.cache_seconds)
    count = graphs[iri]
    dumps = sorted(f.removeprefix("dumps/") for f in release.manifest.get("files", {})
                   if f.startswith("dumps/") and (f.startswith("dumps/etclod.nq") or name.replace("/", "-") in f))
    if fmt.key == "html":
        source = f"{settings.base_uri}id/source/{name}"
        titles = [row["t"] for row in await run_in_threadpool(
            release.store.select, f"SELECT ?t WHERE {{ <{source}> <http://purl.org/dc/terms/title> ?t }}")]
        page = request.app.state.pages.render(
            "graph.html", lang=lang, request=request, title=i18n.tr(lang, "Named graph"), iri=iri, triples=count,
            release=release.version, formats=RDF_FORMATS, dumps=dumps, query=graph_query(iri),
            source_href=f"/id/source/{name}" if titles else None, source_title=pick_label(titles, lang),
            holds=name.replace("/", " "),
            format_names=FORMAT_NAMES,
            crumbs=[(i18n.tr(lang, "Home"), "/"), (pick_label(titles, lang) or name.replace("/", " "), None)])
        return HTMLResponse(page, headers=headers)
    if count > settings.max_rows:
        raise ResultTooLargeError(f"<{iri}> holds {count} triples, more than one answer gives (ETCLOD_MAX_ROWS="
                         f"{settings.max_rows}); download it: /dumps/etclod.nq.gz", status=413)
    answer = await release.store.answer(CheckedQuery(graph_query(iri), "construct"), ResultFormat(None, fmt.media_type),
                                        Dataset())
    headers["Link"] = '</dumps/etclod.nq.gz>; rel="alternate"; type="application/n-quads"'
    return Response(answer.body, media_type=fmt.content_type, headers=headers)
