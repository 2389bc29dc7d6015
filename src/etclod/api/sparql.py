"""HTTP layer: the SPARQL 1.1 Protocol endpoint ``/sparql`` (read-only)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from etclod.api.http import choose_format, wants_html
from etclod.api.resources import serialize
from etclod.errors import QueryError
from etclod.formats import RDF_FORMATS, Format
from etclod.namespaces import ETC, SD, VOID
from etclod.query import check_query, pick_result_format

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


def service_description(request: Request) -> Graph:
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
    for name, value, datatype in (("queryTimeout", settings.query_timeout, XSD.decimal),
                                  ("maxRows", settings.max_rows, XSD.integer),
                                  ("maxQueryLength", settings.max_query_length, XSD.integer)):
        g.add((service, ETC[name], Literal(value, datatype=datatype)))
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


@router.api_route("/sparql", methods=["GET", "POST", "HEAD"], summary="SPARQL 1.1 Protocol endpoint")
async def sparql(request: Request) -> Response:
    """Query by GET ``?query=``, POST form or POST ``application/sparql-query``.

    ``default-graph-uri`` and ``named-graph-uri`` pick the dataset; without them the default
    graph is the union of every named graph. Without a query: the Service Description (RDF),
    or a query page for a browser.
    """
    query, params = await _read_request(request)
    settings = request.app.state.settings
    if query is None:
        if wants_html(request) and not request.query_params.get("format"):
            release = request.app.state.holder.current_or_none()
            page = request.app.state.pages.render("sparql.html", lang="en", title="SPARQL", example=EXAMPLE,
                                                  release=release.version if release else "none")
            return HTMLResponse(page)
        fmt = choose_format(request, RDF_FORMATS)
        return Response(serialize(service_description(request), fmt, settings.base_uri),
                        media_type=fmt.content_type, headers={"Vary": "Accept"})
    checked = check_query(query, settings.max_query_length)
    release = request.app.state.holder.get()
    param = next((params[n][0] for n in FORMAT_PARAM_NAMES if params.get(n)), None)
    accept = request.headers.get("accept")
    browser = wants_html(request) and param is None
    chosen: dict[str, Format] = {}

    def result_format(kind: str) -> Any:
        fmt = pick_result_format(kind, "application/sparql-results+json" if browser and kind != "graph"
                                 else accept, param)
        chosen["fmt"] = fmt
        return fmt.results if fmt.kind == "results" else fmt.oxigraph

    metrics = request.app.state.metrics
    started = time.perf_counter()
    try:
        kind, body = await run_in_threadpool(
            release.store.sparql, checked.text, result_format,
            default_graphs=params.get("default-graph-uri"), named_graphs=params.get("named-graph-uri"))
    except SyntaxError as exc:
        raise QueryError(f"SPARQL syntax error: {exc}", code="syntax_error") from exc
    except (OSError, ValueError, RuntimeError) as exc:
        raise QueryError(f"the query could not be evaluated: {exc}", code="query_failed") from exc
    finally:
        metrics.observe_query(time.perf_counter() - started)
    fmt = chosen["fmt"]
    headers = {"Vary": "Accept", "X-Etclod-Release": release.version}
    if browser and kind == "select":
        return HTMLResponse(_results_page(request, checked.text, body, release.version), headers=headers)
    return Response(body, media_type=fmt.content_type, headers=headers)


def _results_page(request: Request, query: str, body: bytes, version: str) -> str:
    data = json.loads(body)
    names = data["head"]["vars"]
    rows = [[row.get(n, {}).get("value", "") for n in names] for row in data["results"]["bindings"]]
    base = request.app.state.settings.base_uri
    return request.app.state.pages.render("sparql.html", lang="en", title="SPARQL results", example=query,
                                          names=names, rows=rows, base=base, release=version)
