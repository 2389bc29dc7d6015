"""HTTP layer: catalogue, VoID, ontology, shapes, validation report, health, metrics, home."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from etclod.api.charts import bar_chart, figures
from etclod.api.http import cache_headers, choose_format, choose_language, conditional, etag_for, get_and_head, wants_html
from etclod.api.resources import serialize
from etclod.describe import pick_label
from etclod.errors import EtclodError
from etclod.executor import ValidateJob
from etclod.formats import HTML, RDF_FORMATS
from etclod.namespaces import SH, VOID

router = APIRouter()


def _rdf(request: Request, graph: Graph, etag_parts: tuple[str, ...]) -> Response:
    fmt = choose_format(request, RDF_FORMATS)
    release = request.app.state.holder.get()
    etag = etag_for(release, *etag_parts, fmt.key)
    early = conditional(request, release, etag)
    if early is not None:
        return early
    body = serialize(graph, fmt, request.app.state.settings.base_uri)
    headers = cache_headers(release, etag)
    headers["Access-Control-Allow-Origin"] = "*"
    return Response(body, media_type=fmt.content_type, headers=headers)


@get_and_head(router, "/catalog", summary="DCAT-AP 3 catalogue of the current release")
def catalog(request: Request) -> Response:
    """Turtle, JSON-LD, N-Triples or RDF/XML by Accept or ``?format=``."""
    return _rdf(request, request.app.state.holder.get().catalog, ("catalog",))


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


def _ontology_page(request: Request, lang: str) -> str:
    pages = request.app.state.pages
    onto = pages.ontology
    terms = []
    for kind, rdf_type in (("Classes", OWL.Class), ("Object properties", OWL.ObjectProperty),
                           ("Datatype properties", OWL.DatatypeProperty)):
        items = []
        for term in sorted(onto.subjects(RDF.type, rdf_type), key=str):
            items.append({"iri": str(term), "name": str(term).split("#")[-1],
                          "label": pick_label(list(onto.objects(term, RDFS.label)), lang),
                          "comment": pick_label(list(onto.objects(term, RDFS.comment)), lang),
                          "super": [pages.term(s, lang) for s in onto.objects(term, RDFS.subClassOf)]
                          + [pages.term(s, lang) for s in onto.objects(term, RDFS.subPropertyOf)]})
        terms.append((kind, items))
    holder = request.app.state.holder.current_or_none()
    return pages.render("def.html", lang=lang, title="etclod ontology", groups=terms,
                        release=holder.version if holder else "none")


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
    check_untrusted(body, job.media_type)  # refuse early, in one place, before any worker
    answer = await run_in_threadpool(request.app.state.pool.run, job)
    return Response(answer.body, media_type="text/turtle; charset=utf-8",
                    headers={"X-Etclod-Conforms": "true" if answer.rows == 0 else "false"})


@get_and_head(router, "/validation", summary="The SHACL report of the current release")
def validation(request: Request) -> Response:
    release = request.app.state.holder.get()
    graph = Graph()
    with (release.path / "validation.ttl").open("rb") as handle:
        graph.parse(source=handle, format="turtle")
    fmt = choose_format(request, (HTML, *RDF_FORMATS))
    if fmt.key != "html":
        return Response(serialize(graph, fmt, request.app.state.settings.base_uri), media_type=fmt.content_type,
                        headers={"Vary": "Accept"})
    results = []
    for node in graph.subjects(RDF.type, SH.ValidationResult):
        results.append({k: str(graph.value(node, p) or "") for k, p in
                        (("focus", SH.focusNode), ("path", SH.resultPath), ("value", SH.value),
                         ("message", SH.resultMessage))})
    results.sort(key=lambda r: (r["focus"], r["path"]))
    conforms = graph.value(None, SH.conforms)
    page = request.app.state.pages.render(
        "validation.html", lang="en", title="Validation report", results=results,
        conforms=bool(conforms and conforms.toPython()), manifest=release.manifest, release=release.version)
    return HTMLResponse(page, headers={"Vary": "Accept"})


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
    store = {"kind": "oxigraph"} if holder.remote is None else {"kind": "sparql", "endpoint": holder.remote.endpoint}
    return JSONResponse({"status": "degraded" if warnings else "ok", "release": release.version,
                         "triples": release.manifest["triples"], "store": store, "warnings": warnings,
                         "limits": request.app.state.settings.limits(),
                         "protections": request.app.state.pool.protections()})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    release = request.app.state.holder.current_or_none()
    return PlainTextResponse(request.app.state.metrics.render(release.version if release else None,
                                                              request.app.state.pool.retired),
                             media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/", summary="Home page", response_class=HTMLResponse)
def home(request: Request) -> Response:
    release = request.app.state.holder.get()
    lang = choose_language(request)
    pages = request.app.state.pages
    classes = [(pages.term(URIRef(c), lang), n) for c, n in sorted(release.manifest["classes"].items())]
    if not wants_html(request):
        return JSONResponse({"release": release.version, "classes": release.manifest["classes"],
                             "sparql": "/sparql", "catalog": "/catalog", "dumps": "/releases"})
    if release.figures is None:
        release.figures = figures(release.store)
    base = request.app.state.settings.base_uri
    charts = [bar_chart(name, rows, lang, base) for name, rows in release.figures.items()]
    page = pages.render("index.html", lang=lang, title="etclod", classes=classes, manifest=release.manifest,
                        release=release.version, charts=charts)
    return HTMLResponse(page, headers={"Vary": "Accept, Accept-Language, Cookie"})
