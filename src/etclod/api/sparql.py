"""HTTP layer: the SPARQL 1.1 Protocol endpoint ``/sparql`` (read-only)."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from etclod import proxy
from etclod.api.http import choose_format, wants_html
from etclod.api.resources import serialize
from etclod.errors import QueryError
from etclod.examples import examples
from etclod.executor import Job, QueryTimeoutError, SyntaxJob
from etclod.formats import RDF_FORMATS, Format
from etclod.namespaces import ETC, SD, VOID
from etclod.query import check_query, dataset, pick_result_format
from etclod.remote import RemoteView

router = APIRouter()
FORMAT_PARAM_NAMES = ("format", "output", "results")
EXAMPLE = """PREFIX etc: <https://w3id.org/etclod/def#>
PREFIX dct: <http://purl.org/dc/terms/>
SELECT ?project ?acronym ?programme ?title WHERE {
  ?project a etc:Project ; etc:acronym ?acronym ; etc:programme ?p .
  ?p dct:title ?programme . FILTER(LANG(?programme) = "en")
  OPTIONAL { ?project dct:title ?title }
} ORDER BY ?acronym"""
RESULT_FORMAT_IRIS = {
    "json": "SPARQL_Results_JSON", "xml": "SPARQL_Results_XML", "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV", "ttl": "Turtle", "nt": "N-Triples", "jsonld": "JSON-LD", "rdf": "RDF_XML",
}


def service_description(request: Request, protections: dict[str, str] | None = None) -> Graph:
    settings = request.app.state.settings
    release = request.app.state.holder.get()
    base = settings.base_uri
    endpoint = URIRef(f"{base}sparql")
    service, dataset = URIRef(f"{base}sparql#service"), URIRef(f"{base}sparql#dataset")
    g = Graph()
    g.bind("sd", SD)
    g.bind("void", VOID)
    g.bind("etc", ETC)
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, endpoint))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    for key, name in RESULT_FORMAT_IRIS.items():
        g.add((service, SD.resultFormat, URIRef(f"http://www.w3.org/ns/formats/{name}")))
    for name, value in settings.limits().items():
        words = name.split("_")
        prop = ETC["limit" + "".join(w.capitalize() for w in words)]
        for item in value if isinstance(value, list) else [value]:
            g.add((service, prop, Literal(item)))
    for name, held in (protections or {}).items():  # what the query workers give up on this host
        g.add((service, ETC["worker" + name.capitalize()], Literal(held)))
    g.add((service, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    default = URIRef(f"{base}sparql#default-graph")
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    g.add((default, VOID.triples, Literal(release.manifest["triples"], datatype=XSD.integer)))
    for index, (name, count) in enumerate(sorted(release.manifest["graphs"].items()), start=1):
        named = URIRef(f"{base}sparql#named-graph-{index}")
        graph_node = URIRef(f"{base}sparql#graph-{index}")
        g.add((dataset, SD.namedGraph, named))
        g.add((named, RDF.type, SD.NamedGraph))
        g.add((named, SD.name, URIRef(name)))
        g.add((named, SD.graph, graph_node))
        g.add((graph_node, RDF.type, SD.Graph))
        g.add((graph_node, VOID.triples, Literal(count, datatype=XSD.integer)))
    return g


async def _read_request(request: Request) -> tuple[str | None, dict[str, list[str]]]:
    """The query text and every protocol parameter, however they were sent."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method != "POST":
        return (params.get("query") or [None])[0], params
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if ctype == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise QueryError("the form body is not UTF-8") from exc
        if "update" in form:
            raise QueryError("SPARQL Update is refused: this endpoint is read-only", code="read_only")
        for key, values in form.items():
            params.setdefault(key, []).extend(values)
        return (form.get("query") or [None])[0], params
    if ctype == "application/sparql-query":
        try:
            return body.decode("utf-8"), params
        except UnicodeDecodeError as exc:
            raise QueryError("the query body is not UTF-8") from exc
    if ctype == "application/sparql-update":
        raise QueryError("SPARQL Update is refused: this endpoint is read-only", code="read_only")
    raise QueryError(f"POST a query as application/x-www-form-urlencoded or application/sparql-query, "
                     f"not {ctype or 'no content type'}", code="unsupported_media_type", status=415)


async def sparql(
    request: Request,
    query: str | None = Query(None, description="the SPARQL query (GET; or a form field by POST)"),
    default_graph_uri: list[str] | None = Query(None, alias="default-graph-uri",
                                                description="graphs whose union is the default graph"),
    named_graph_uri: list[str] | None = Query(None, alias="named-graph-uri",
                                              description="the named graphs GRAPH may reach"),
    format: str | None = Query(None, description="json, xml, csv, tsv, ttl, nt, jsonld or rdf; overrides Accept"),
) -> Response:
    """Query by GET ``?query=``, POST form or POST ``application/sparql-query``.

    ``default-graph-uri`` and ``named-graph-uri`` pick the dataset; without them the default
    graph is the union of every named graph. Without a query: the Service Description (RDF),
    or a query page for a browser.
    """
    query, params = await _read_request(request)  # the declared parameters document the protocol
    settings = request.app.state.settings
    if query is None:
        if wants_html(request) and not request.query_params.get("format"):
            release = request.app.state.holder.current_or_none()
            page = request.app.state.pages.render("sparql.html", lang="en", title="SPARQL", example=EXAMPLE,
                                                  examples=examples(), release=release.version if release else "none")
            return HTMLResponse(page)
        fmt = choose_format(request, RDF_FORMATS)
        protections = await run_in_threadpool(request.app.state.pool.protections)
        return Response(serialize(service_description(request, protections), fmt, settings.base_uri),
                        media_type=fmt.content_type, headers={"Vary": "Accept"})
    # tokenised once, off the event loop: a long query never stalls other clients
    checked = await run_in_threadpool(check_query, query, settings.max_query_length, settings.service_allow)
    release = request.app.state.holder.get()
    param = next((params[n][0] for n in FORMAT_PARAM_NAMES if params.get(n)), None)
    accept = request.headers.get("accept")
    browser = wants_html(request) and param is None
    select_fmt, select_error = _try_format("select", "application/sparql-results+json" if browser else accept, param)
    graph_fmt, graph_error = _try_format("graph", accept, param)
    if select_fmt is None and graph_fmt is None:
        raise select_error if checked.form in ("select", "ask") else graph_error  # type: ignore[misc]
    default, named = dataset(checked, params)
    job = Job(str(release.path / "store"), checked.text, select_fmt.key if select_fmt else None,
              graph_fmt.media_type if graph_fmt else None, settings.max_rows, default, named)
    pool = request.app.state.pool
    metrics = request.app.state.metrics
    started = time.perf_counter()
    try:
        if isinstance(release.store, RemoteView):
            # the server gets the query re-written from the checked tokens, parsed in a worker first
            text = checked.for_server(dict(release.store.graphs), without_dataset=True)
            await run_in_threadpool(pool.run, SyntaxJob(text))
            answer = await run_in_threadpool(pool.run_here, proxy.answer, release.store, job, settings.query_timeout,
                                             checked.form, text)
        else:
            answer = await run_in_threadpool(pool.run, job)
    except QueryTimeoutError:
        metrics.timeouts += 1
        raise
    finally:
        metrics.observe_query(time.perf_counter() - started)
    fmt = graph_fmt if answer.kind == "graph" else select_fmt
    assert fmt is not None
    headers = {"Vary": "Accept", "X-Etclod-Release": release.version}
    if browser and answer.kind == "select":
        return HTMLResponse(_results_page(request, checked.text, answer.body, release.version), headers=headers)
    return Response(answer.body, media_type=fmt.content_type, headers=headers)


def _try_format(kind: str, accept: str | None, param: str | None) -> tuple[Format | None, QueryError | None]:
    try:
        return pick_result_format(kind, accept, param), None
    except QueryError as exc:
        return None, exc


router.add_api_route("/sparql", sparql, methods=["GET"], summary="SPARQL 1.1 Protocol endpoint (GET ?query=)",
                     operation_id="sparql_get")
router.add_api_route("/sparql", sparql, methods=["POST"], operation_id="sparql_post",
                     summary="SPARQL 1.1 Protocol endpoint (form or application/sparql-query body)")
router.add_api_route("/sparql", sparql, methods=["HEAD"], include_in_schema=False, operation_id="sparql_head")


def _results_page(request: Request, query: str, body: bytes, version: str) -> str:
    data = json.loads(body)
    names = data["head"]["vars"]
    rows = [[row.get(n, {}).get("value", "") for n in names] for row in data["results"]["bindings"]]
    base = request.app.state.settings.base_uri
    return request.app.state.pages.render("sparql.html", lang="en", title="SPARQL results", example=query,
                                          names=names, rows=rows, base=base, release=version, examples=examples())
