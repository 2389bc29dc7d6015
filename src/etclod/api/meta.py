"""HTTP layer: catalogue, VoID, ontology, shapes, validation report, health, metrics, home."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from markupsafe import Markup
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from etclod import i18n
from etclod.api import rejections
from etclod.api.charts import bar_chart, figures
from etclod.api.info_pages import catalog_page, validation_rows
from etclod.recordtypes import TYPES
from etclod.api.http import cache_headers, choose_format, choose_language, conditional, etag_for, get_and_head, wants_html
from etclod.api.resources import serialize
from etclod.describe import labels_of, pick_label
from etclod.i18n import N_
from etclod.listing import count_types
from etclod.search import SEARCH_FILE
from etclod.errors import EtclodError
from etclod.executor import ValidateJob
from etclod.formats import HTML, RDF_FORMATS
from etclod.namespaces import PREFIXES, SH, VOID
from etclod.pool import BALANCING

router = APIRouter()


def _rdf(request: Request, graph: Graph, etag_parts: tuple[str, ...]) -> Response:
    fmt = choose_format(request, RDF_FORMATS)
    release = request.app.state.holder.get()
    etag = etag_for(release, *etag_parts, fmt.key)
    early = conditional(request, release, etag)
    if early is not None:
        return early
    body = serialize(graph, fmt, request.app.state.settings.base_uri)
    headers = cache_headers(release, etag, max_age=request.app.state.settings.cache_seconds)
    headers["Access-Control-Allow-Origin"] = "*"
    return Response(body, media_type=fmt.content_type, headers=headers)


@get_and_head(router, "/catalog", summary="DCAT-AP 3 catalogue of the current release")
def catalog(request: Request) -> Response:
    """Turtle, JSON-LD, N-Triples or RDF/XML by Accept or ``?format=``; a page for a browser."""
    release = request.app.state.holder.get()
    if wants_html(request) and not request.query_params.get("format"):
        lang = choose_language(request)
        page = catalog_page(request.app.state.pages, request, release.catalog, lang, release.version)
        return HTMLResponse(page, headers={"Vary": "Accept, Accept-Language, Cookie"})
    return _rdf(request, release.catalog, ("catalog",))


@get_and_head(router, "/.well-known/void", summary="VoID description")
def void(request: Request) -> Response:
    catalog = request.app.state.holder.get().catalog
    graph = Graph()
    graph.bind("void", VOID)
    datasets = set(catalog.subjects(RDF.type, VOID.Dataset))
    partitions = {o for s in datasets for p in (VOID.classPartition, VOID.propertyPartition)
                  for o in catalog.objects(s, p)}
    for subject in datasets | partitions:
        for p, o in catalog.predicate_objects(subject):
            graph.add((subject, p, o))
    return _rdf(request, graph, ("void",))


ONTOLOGY_GROUPS = ((N_("Classes"), OWL.Class), (N_("Relations to other resources"), OWL.ObjectProperty),
                   (N_("Properties with values"), OWL.DatatypeProperty))


CURIE_IN_TEXT = re.compile(r"\b({}):([A-Za-z][A-Za-z0-9_]*)".format("|".join(sorted(PREFIXES, key=len, reverse=True))))


def _linked(pages: Any, text: str, lang: str) -> Markup:
    """A term's comment with the terms it names (``etc:keptFromRelease``, ``rdf:Statement``)
    as links labelled by their names, not as prefixed names."""
    out = Markup("")
    last = 0
    for match in CURIE_IN_TEXT.finditer(text):
        iri = f"{PREFIXES[match.group(1)]}{match.group(2)}"
        href = f"#{match.group(2)}" if match.group(1) == "etc" else iri
        out += text[last:match.start()]
        out += Markup('<a href="{0}">{1}</a>').format(href, pages.term(iri, lang))
        last = match.end()
    return out + text[last:]


def _ontology_page(request: Request, lang: str) -> str:
    pages = request.app.state.pages
    onto = pages.ontology
    terms = []
    for kind, rdf_type in ONTOLOGY_GROUPS:
        items: list[dict[str, Any]] = []
        for term in onto.subjects(RDF.type, rdf_type):
            comment = pick_label(list(onto.objects(term, RDFS.comment)), lang)
            label = pick_label(list(onto.objects(term, RDFS.label)), lang) or pages.term(term, lang)
            items.append({"iri": str(term), "name": str(term).split("#")[-1], "label": label[:1].upper() + label[1:],
                          "comment": _linked(pages, comment, lang) if comment and comment != "None" else None,
                          "super": [pages.term(s, lang) for s in onto.objects(term, RDFS.subClassOf)]
                          + [pages.term(s, lang) for s in onto.objects(term, RDFS.subPropertyOf)]})
        items.sort(key=lambda item: item["label"].casefold())
        terms.append((i18n.tr(lang, kind), items))
    holder = request.app.state.holder.current_or_none()
    crumbs = [(i18n.tr(lang, "Home"), "/"), (i18n.tr(lang, "Ontology"), None)]
    html: str = pages.render("def.html", lang=lang, request=request, title=i18n.tr(lang, "The etclod ontology"),
                             groups=terms, crumbs=crumbs, release=holder.version if holder else "—")
    return html


@get_and_head(router, "/def", summary="The ontology (HTML documentation or RDF)")
def ontology(request: Request) -> Response:
    fmt = choose_format(request, (HTML, *RDF_FORMATS))
    if fmt.key == "html":
        return HTMLResponse(_ontology_page(request, choose_language(request)),
                            headers={"Vary": "Accept, Accept-Language, Cookie"})
    body = serialize(request.app.state.pages.ontology, fmt, request.app.state.settings.base_uri)
    return Response(body, media_type=fmt.content_type, headers={"Vary": "Accept", "Access-Control-Allow-Origin": "*"})


@get_and_head(router, "/shapes", summary="The SHACL shapes every release conforms to")
def shapes(request: Request) -> Response:
    fmt = choose_format(request, RDF_FORMATS)
    body = serialize(request.app.state.shapes, fmt, request.app.state.settings.base_uri)
    return Response(body, media_type=fmt.content_type, headers={"Vary": "Accept", "Access-Control-Allow-Origin": "*"})


@router.post("/validate", summary="Validate your RDF against the etclod shapes (nothing is stored)",
             responses={200: {"content": {"text/turtle": {}}}})
async def validate(request: Request) -> Response:
    """POST Turtle, N-Triples, JSON-LD or RDF/XML; the answer is the SHACL validation report
    (Turtle) and ``X-Etclod-Conforms: true|false``. Remote JSON-LD contexts, XML entities and
    deep nesting are refused; parsing and validation run in a worker under the query time limit."""
    settings = request.app.state.settings
    body = await request.body()
    job = ValidateJob(body, request.headers.get("content-type", ""),
                      str(settings.ontology_dir / "shapes.ttl"), settings.max_rows)
    from etclod.rdfinput import check_untrusted
    # refuse early, before any worker; the checks are bounded and never recurse, but a few MB
    # of them is still work: off the event loop
    await run_in_threadpool(check_untrusted, body, job.media_type)
    answer = await run_in_threadpool(request.app.state.pool.run, job)
    return Response(answer.body, media_type="text/turtle; charset=utf-8",
                    headers={"X-Etclod-Conforms": "true" if answer.conforms else "false"})


@get_and_head(router, "/validation", summary="The SHACL report of the current release")
def validation(request: Request) -> Response:
    release = request.app.state.holder.get()
    graph = Graph()
    with (release.path / "validation.ttl").open("rb") as handle:
        graph.parse(source=handle, format="turtle")
    fmt = choose_format(request, (HTML, *RDF_FORMATS))
    base = request.app.state.settings.base_uri
    held_iris = {(h["type"], h["id"]): h.get("iri") for h in release.manifest.get("held_back", [])}
    conflicts = [f"/releases/{release.version}/{name}" for name in ("conflicts.ttl", "conflicts.csv")
                 if name in release.manifest.get("files", {})]
    if fmt.key != "html":
        headers = {"Vary": "Accept"}
        if conflicts:  # the conflict report of the release: where sources disagree, and whose value won
            headers["Link"] = ", ".join(f'<{href}>; rel="related"' for href in conflicts)
        rejections.add_to_report(graph, release.path, held_iris)
        return Response(serialize(graph, fmt, base), media_type=fmt.content_type, headers=headers)
    lang = choose_language(request)
    pages = request.app.state.pages
    focus = {o for o in graph.objects(None, SH.focusNode) if isinstance(o, URIRef)}
    labels = labels_of(release.store, focus) if focus else {}
    results = validation_rows(pages, graph, labels, lang, base, SH)
    conforms = graph.value(None, SH.conforms)
    crumbs = [(i18n.tr(lang, "Home"), "/"), (i18n.tr(lang, "Validation"), None)]
    page = pages.render(
        "validation.html", lang=lang, request=request, title=i18n.tr(lang, "Validation report"), results=results,
        conforms=bool(conforms and conforms.toPython()), manifest=release.manifest, release=release.version,
        crumbs=crumbs, conflicts=conflicts, **rejections.rows(release.path, held_iris, base))
    return HTMLResponse(page, headers={"Vary": "Accept, Accept-Language, Cookie"})


@router.get("/health", summary="Liveness and the release being served")
def health(request: Request) -> JSONResponse:
    try:
        release = request.app.state.holder.get()
    except EtclodError as exc:
        return JSONResponse({"status": "no_release", "release": None, "message": exc.message,
                             "limits": request.app.state.settings.limits(),
                             "protections": request.app.state.pool.protections()}, status_code=503)
    holder = request.app.state.holder
    warnings = holder.warnings
    store: dict[str, object] = {"kind": "oxigraph"}
    if holder.remote is not None:
        store = {"kind": "sparql", "endpoint": holder.remote.members[0].endpoint, "balancing": BALANCING,
                 "servers": holder.remote.states()}
    return JSONResponse({"status": "degraded" if warnings else "ok", "release": release.version,
                         "triples": release.manifest["triples"], "store": store, "warnings": warnings,
                         "held_back": release.manifest.get("records", {}).get("held_back", 0),
                         "limits": request.app.state.settings.limits(),
                         "protections": request.app.state.pool.protections()})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    release = request.app.state.holder.current_or_none()
    remote = request.app.state.holder.remote
    text = request.app.state.metrics.render(release.version if release else None, request.app.state.pool.retired,
                                            remote.states() if remote else None, remote.retries if remote else 0)
    answers = request.app.state.answers
    stats = answers.stats
    text += ("# HELP etclod_sparql_cache_total /sparql answers served from the cache (hit) or worked out (miss).\n"
             "# TYPE etclod_sparql_cache_total counter\n"
             f'etclod_sparql_cache_total{{result="hit"}} {stats.hits}\n'
             f'etclod_sparql_cache_total{{result="miss"}} {stats.misses}\n'
             "# HELP etclod_sparql_cache_bytes Bytes of answers kept (bounded by ETCLOD_CACHE_MB).\n"
             "# TYPE etclod_sparql_cache_bytes gauge\n"
             f"etclod_sparql_cache_bytes {answers.bytes}\n")
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/", summary="Home page", response_class=HTMLResponse)
def home(request: Request) -> Response:
    release = request.app.state.holder.get()
    lang = choose_language(request)
    pages = request.app.state.pages
    if not wants_html(request):
        return JSONResponse({"release": release.version, "classes": release.manifest["classes"],
                             "sparql": "/sparql", "catalog": "/catalog", "dumps": "/releases"})
    if release.figures is None:
        release.figures = figures(release.store)
    base = request.app.state.settings.base_uri
    charts = [bar_chart(name, rows, lang, base) for name, rows in release.figures.items()]
    index = release.path / SEARCH_FILE
    counts = count_types(index) if index.is_file() else {}
    lists = [(rtype, pages.type_name(rtype, lang, 1), pages.type_count(rtype, counts[rtype], lang))
             for rtype in TYPES if counts.get(rtype)]
    page = pages.render("index.html", lang=lang, request=request, title="etclod", lists=lists,
                        manifest=release.manifest, release=release.version, charts=charts)
    return HTMLResponse(page, headers={"Vary": "Accept, Accept-Language, Cookie"})
