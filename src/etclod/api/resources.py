"""HTTP layer: dereferenceable resource URIs ``/id/{type}/{key}`` with content negotiation."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF

from etclod import describe as d
from etclod.api.http import get_and_head, cache_headers, choose_format, choose_language, conditional, etag_for
from etclod.api.pages import local_href
from etclod.errors import NotFoundError, QueryError
from etclod.formats import HTML, RDF_FORMATS, Format
from etclod import recordtypes
from etclod.namespaces import PREFIXES, RESOURCE_TYPES
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
    return ox.serialize(triples, format=fmt.oxigraph,
                        prefixes=OX_PREFIXES if fmt.key in ("ttl", "rdf") else None)


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
    except ValueError as exc:
        raise NotFoundError(f"{request.url.path} is not a resource IRI we could mint") from exc
    if not description.exists:
        raise NotFoundError(f"no {rtype} {key!r} in release {release.version}; "
                            f"the {rtype} list is at /sparql or in the dumps at /dumps/")
    headers = cache_headers(release, etag, vary=vary)
    if description.next_cursor:
        headers["Link"] = f'<{request.url.path}?cursor={description.next_cursor}>; rel="next"'
    if fmt.key == "html":
        page = render_resource(request, release, description, rtype, lang)
        return HTMLResponse(page, headers=headers)
    body = serialize(description.graph, fmt, settings.base_uri)
    return Response(body, media_type=fmt.content_type, headers=headers)


WORDS = {
    "partners": {"en": "Partners", "lv": "Partneri"}, "projects": {"en": "Projects", "lv": "Projekti"},
    "organisation": {"en": "organisation", "lv": "organizācija"}, "role": {"en": "role", "lv": "loma"},
    "budget": {"en": "budget (EUR)", "lv": "budžets (EUR)"}, "project": {"en": "project", "lv": "projekts"},
    "start": {"en": "start", "lv": "sākums"}, "end": {"en": "end", "lv": "beigas"},
    "total": {"en": "total budget (EUR)", "lv": "kopējais budžets (EUR)"},
    "eu": {"en": "EU funding (EUR)", "lv": "ES finansējums (EUR)"},
    "programme": {"en": "programme", "lv": "programma"},
    "funding": {"en": "Funding in its programme", "lv": "Finansējums programmā"},
    "programme_eu": {"en": "EU funding of the programme's projects here", "lv": "programmas projektu ES finansējums šeit"},
    "share": {"en": "share", "lv": "daļa"},
}


def _type_name(rtype: str, lang: str) -> str:
    """The type as a page names it: the English singular, the Latvian plural (``recordtypes``)."""
    labels = recordtypes.get(rtype).labels
    return labels["lv"].many if lang == "lv" else labels["en"].one


def _offset(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit() or len(cursor) > 12:
        raise QueryError(f"cursor {cursor!r} is not a page cursor: use the link rel=next of the previous page")
    return int(cursor)


def _value_view(value: Any, labels: dict[URIRef, list[Literal]], lang: str, base: str,
                fallback: Any = None) -> dict[str, Any]:
    if isinstance(value, URIRef):
        label = d.pick_label(labels.get(value, []), lang) or (fallback(value, lang) if fallback else None)
        return {"href": local_href(str(value), base), "text": label or str(value), "iri": str(value)}
    if isinstance(value, Literal):
        return {"text": str(value), "lang": value.language,
                "datatype": value.datatype.split("#")[-1] if value.datatype else None}
    return {"text": str(value)}


def render_resource(request: Request, release: Any, description: d.Description, rtype: str, lang: str) -> str:
    pages = request.app.state.pages
    base = request.app.state.settings.base_uri
    graph, iri = description.graph, description.iri
    labels: dict[URIRef, list[Literal]] = {}
    for s, label in graph.subject_objects(URIRef("http://www.w3.org/2000/01/rdf-schema#label")):
        labels.setdefault(s, []).append(label)
    store = release.store
    tables: list[dict[str, Any]] = []
    if rtype == "project":
        rows = d.partners(store, str(iri))
        extra = d.labels_of(store, {r.iri for r in rows})
        tables.append({"title": WORDS["partners"][lang],
                       "heading": [WORDS[w][lang] for w in ("organisation", "role", "budget")],
                       "rows": [[_value_view(r.iri, extra, lang, base),
                                 {"text": pages.term(r.values["role"], lang)},
                                 {"text": str(r.values["budget"] or "")}] for r in rows]})
    funding = d.funding_in_programme(store, str(iri)) if rtype == "project" else None
    if funding is not None:
        extra = d.labels_of(store, {funding["programme"]})
        tables.append({"title": WORDS["funding"][lang],
                       "heading": [WORDS[w][lang] for w in ("programme", "eu", "programme_eu", "share")],
                       "rows": [[_value_view(funding["programme"], extra, lang, base),
                                 {"text": str(funding["mine"] or "—")},
                                 {"text": f"{funding['total'] or '—'} ({funding['projects']} "
                                          f"{WORDS['projects'][lang].lower()})"},
                                 {"text": f"{funding['share']:.1f} %" if funding["share"] is not None else "—"}]]})
    if rtype == "programme":
        rows = d.projects_of_programme(store, str(iri))
        extra = d.labels_of(store, {r.iri for r in rows})
        tables.append({"title": WORDS["projects"][lang],
                       "heading": [WORDS[w][lang] for w in ("project", "start", "end", "total", "eu")],
                       "rows": [[_value_view(r.iri, extra, lang, base)] +
                                [{"text": str(r.values[k] or "")} for k in ("start", "end", "total", "eu")]
                                for r in rows]})
    if rtype == "organisation":
        rows = d.projects_of_organisation(store, str(iri))
        extra = d.labels_of(store, {r.iri for r in rows} | {r.values["programme"] for r in rows if r.values["programme"]})
        tables.append({"title": WORDS["projects"][lang],
                       "heading": [WORDS[w][lang] for w in ("project", "role", "budget", "programme")],
                       "rows": [[_value_view(r.iri, extra, lang, base), {"text": pages.term(r.values["role"], lang)},
                                 {"text": str(r.values["budget"] or "")},
                                 _value_view(r.values["programme"], extra, lang, base) if r.values["programme"] else {"text": ""}]
                                for r in rows]})
    properties: dict[str, list[dict[str, Any]]] = {}
    for subject in sorted({s for s in graph.subjects() if str(s) == str(iri) or str(s).startswith(f"{iri}#")},
                          key=lambda s: (str(s) != str(iri), str(s))):
        for p, o in sorted(graph.predicate_objects(subject), key=lambda po: (str(po[0]), str(po[1]))):
            if p == RDF.type and subject != iri:
                continue
            name = pages.term(p, lang)
            if subject != iri:
                name = f"{subject.split('#')[-1]} · {name}"
            properties.setdefault(name, []).append(_value_view(o, labels, lang, base, pages.term))
    incoming: dict[str, list[dict[str, Any]]] = {}
    for s, p in description.incoming:
        incoming.setdefault(pages.term(p, lang), []).append(_value_view(s, labels, lang, base))
    title = d.pick_label(labels.get(iri, []), lang) or str(iri)
    other = {"en": d.pick_label([l for l in labels.get(iri, []) if l.language == "lv"], "lv"),
             "lv": d.pick_label([l for l in labels.get(iri, []) if l.language == "en"], "en")}[lang]
    types = [pages.term(t, lang) for t in sorted(d.types_of(graph, iri))]
    return pages.render(
        "resource.html", lang=lang, title=title, other_title=other, iri=str(iri), types=types,
        type_name=_type_name(rtype, lang),
        query=d.describe_query(str(iri)),
        properties=properties, tables=tables, incoming=incoming, path=request.url.path,
        next_cursor=description.next_cursor, cursor=description.cursor, release=release.version,
        formats=[f for f in RDF_FORMATS], rtype=rtype)
