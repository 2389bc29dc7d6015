"""HTTP layer: the SPARQL 1.1 Protocol endpoint ``/sparql`` (read-only)."""

from __future__ import annotations

from typing import Any

import json
import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD  # noqa: F401

from etclod import i18n
from etclod.api.http import choose_format, choose_language, etag_for, etag_matches, fresh_for, wants_html
from etclod.api.resources import serialize
from etclod.errors import (
    BadEncodingError, MissingQueryError, MultipleQueriesError, NotAcceptableError, ReadOnlyError,
    UnsupportedCharsetError, UnsupportedMediaTypeError)
from etclod.examples import examples
from etclod.cache import cache_key
from etclod.executor import QueryTimeoutError
from etclod.formats import FORMATS, RDF_FORMATS, Format
from etclod.namespaces import DCTERMS, endpoint_iri, ETC, ORG, SD, service_iri, service_node, VOID
from etclod.query import CheckedQuery, check_query, dataset, keywords, pick_result_format
from etclod.store import Dataset, ResultFormat

router = APIRouter()
FORMAT_PARAM_NAMES = ("format", "output", "results")
INLINE_CHECK_CHARS = 4096
"""Queries up to this long are checked on the event loop; longer ones in a thread."""
EXAMPLE = f"PREFIX etc: <{ETC}>\nPREFIX dct: <{DCTERMS}>\nPREFIX org: <{ORG}>\n" + \
    """SELECT ?project ?acronym ?programme (COUNT(?membership) AS ?partners) WHERE {
  ?project a etc:Project ; etc:acronym ?acronym ; etc:programme ?p .
  ?p dct:title ?programme . FILTER(LANG(?programme) = "en")
  OPTIONAL { ?membership org:organization ?project }
} GROUP BY ?project ?acronym ?programme ORDER BY ?acronym"""
RESULT_FORMAT_IRIS = {f.key: f.w3c for f in FORMATS if f.w3c}


def service_description(request: Request, protections: dict[str, str] | None = None) -> Graph:
    settings = request.app.state.settings
    release = request.app.state.holder.get()
    base = settings.base_uri
    endpoint = endpoint_iri(base)
    service, dataset = service_iri(base), service_node(base, "dataset")
    g = Graph()
    g.bind("sd", SD)
    g.bind("void", VOID)
    g.bind("etc", ETC)
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, endpoint))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    for name in RESULT_FORMAT_IRIS.values():
        g.add((service, SD.resultFormat, URIRef(f"http://www.w3.org/ns/formats/{name}")))
    for name, value in settings.limits().items():
        words = name.split("_")
        prop = ETC["limit" + "".join(w.capitalize() for w in words)]
        for item in value if isinstance(value, list) else [] if value is None else [value]:
            g.add((service, prop, Literal(item)))
    for name, held in (protections or {}).items():  # what the query workers give up on this host
        g.add((service, ETC["worker" + name.capitalize()], Literal(held)))
    g.add((service, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    default = service_node(base, "default-graph")
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    g.add((default, VOID.triples, Literal(release.manifest["triples"], datatype=XSD.integer)))
    for index, (name, count) in enumerate(sorted(release.manifest["graphs"].items()), start=1):
        named = service_node(base, f"named-graph-{index}")
        graph_node = service_node(base, f"graph-{index}")
        g.add((dataset, SD.namedGraph, named))
        g.add((named, RDF.type, SD.NamedGraph))
        g.add((named, SD.name, URIRef(name)))
        g.add((named, SD.graph, graph_node))
        g.add((graph_node, RDF.type, SD.Graph))
        g.add((graph_node, VOID.triples, Literal(count, datatype=XSD.integer)))
    return g


READ_ONLY = "SPARQL Update is refused: this endpoint is read-only; data changes only through a new release"
UPDATE_PARAMS = ("update", "using-graph-uri", "using-named-graph-uri")
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"


def _one_query(values: list[str], where: str) -> str | None:
    if len(values) > 1:
        raise MultipleQueriesError(f"{where} gives the query parameter {len(values)} times; the SPARQL Protocol takes "
                         "exactly one query per request")
    return values[0] if values else None


def _content_type(request: Request) -> tuple[str, str | None]:
    """The body's media type (lower case) and its charset parameter, if any."""
    header = request.headers.get("content-type", "")
    pieces = [p.strip() for p in header.split(";")]
    charset = None
    for param in pieces[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return pieces[0].lower(), charset


def _utf8(body: bytes, charset: str | None, what: str) -> str:
    if charset not in (None, "utf-8", "utf8"):
        raise UnsupportedCharsetError(f"the {what} is declared as {charset}; the SPARQL Protocol takes UTF-8 only: send it "
                         "encoded as UTF-8 (charset=utf-8)")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadEncodingError(f"the {what} is not UTF-8 (byte {exc.start}): send it encoded as UTF-8") from exc


async def read_protocol(request: Request) -> tuple[str | None, dict[str, list[str]]]:
    """The query text and every protocol parameter of a SPARQL 1.1 Protocol request, however it
    was sent (GET ``?query=``, a POST form, a POST ``application/sparql-query`` body); None as
    the query where a GET names none (the Service Description is asked for).

    Refused with a QueryError, as the protocol says: an update in any form (this endpoint is
    read-only), more than one query, a query both in the URL and in the body, a form with no
    query, a body of another media type, or not in UTF-8.
    """
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if any(name in params for name in UPDATE_PARAMS):
        raise ReadOnlyError(READ_ONLY)
    if request.method not in ("POST",):
        return _one_query(params.get("query", []), "the URL"), params
    ctype, charset = _content_type(request)
    if ctype == "application/sparql-update":
        raise ReadOnlyError(READ_ONLY)
    if ctype not in (FORM, DIRECT):
        raise UnsupportedMediaTypeError(f"POST a query as {FORM} or {DIRECT}, not {ctype or 'a body with no Content-Type'}")
    body = await request.body()
    if ctype == DIRECT:
        if "query" in params:
            raise MultipleQueriesError(f"a POST of {DIRECT} carries the query in its body; the URL names one too: "
                             "send it once")
        return _utf8(body, charset, "query body"), params
    form = parse_qs(_utf8(body, charset, "form body"), keep_blank_values=True)
    if any(name in form for name in UPDATE_PARAMS):
        raise ReadOnlyError(READ_ONLY)
    if "query" in params and "query" in form:
        raise MultipleQueriesError("the query is given both in the URL and in the form body; send it once, in the body")
    query = _one_query(form.get("query", []) or params.get("query", []), "the form")
    if query is None:
        raise MissingQueryError("the form has no query field: POST query=... (URL-encoded) or the query itself as "
                         f"{DIRECT}")
    for key, values in form.items():
        params.setdefault(key, []).extend(values)
    return query, params


def _parameter(name: str, description: str, many: bool = False) -> dict[str, Any]:
    """A query parameter in the OpenAPI description, as FastAPI writes one declared ``Query(None)``."""
    kind: dict[str, Any] = {"type": "array", "items": {"type": "string"}} if many else {"type": "string"}
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"anyOf": [kind, {"type": "null"}], "description": description, "title": name.title()}}


PROTOCOL_PARAMETERS = {"parameters": [
    _parameter("query", "the SPARQL query (GET; or a form field by POST)"),
    _parameter("default-graph-uri", "graphs whose union is the default graph", many=True),
    _parameter("named-graph-uri", "the named graphs GRAPH may reach", many=True),
    _parameter("format", "json, xml, csv, tsv, ttl, nt, jsonld or rdf; overrides Accept")]}
"""What ``/sparql`` takes, for the OpenAPI description only: ``read_protocol`` reads them
(declared as FastAPI parameters they were parsed and validated on every request for nothing)."""


async def sparql(request: Request) -> Response:
    """Query by GET ``?query=``, POST form or POST ``application/sparql-query``.

    ``default-graph-uri`` and ``named-graph-uri`` pick the dataset; without them the default
    graph is the union of every named graph. Without a query: the Service Description (RDF),
    or a query page for a browser.
    """
    query, params = await read_protocol(request)
    settings = request.app.state.settings
    if query is None:
        if wants_html(request) and not request.query_params.get("format"):
            release = request.app.state.holder.current_or_none()
            lang = choose_language(request)
            page = request.app.state.pages.render(
                "sparql.html", lang=lang, request=request, title="SPARQL", example=EXAMPLE, examples=examples(),
                release=release.version if release else "—", crumbs=_crumbs(lang))
            return HTMLResponse(page, headers={"Vary": "Accept, Accept-Language, Cookie"})
        fmt = choose_format(request, RDF_FORMATS)
        protections = await run_in_threadpool(request.app.state.pool.protections)
        return Response(serialize(service_description(request, protections), fmt, settings.base_uri),
                        media_type=fmt.content_type, headers={"Vary": "Accept"})
    # tokenised once; a long query off the event loop, so that it never stalls other clients (a
    # short one costs less than the hop to a thread: about 0.1 ms for a research query)
    args = (query, settings.max_query_length, settings.service_allow, f"{settings.base_uri}sparql")
    checked = check_query(*args) if len(query) <= INLINE_CHECK_CHARS else await run_in_threadpool(check_query, *args)
    release = request.app.state.holder.get()
    param = next((params[n][0] for n in FORMAT_PARAM_NAMES if params.get(n)), None)
    accept = request.headers.get("accept")
    browser = wants_html(request) and param is None
    select_fmt, select_error = _try_format("select", "application/sparql-results+json" if browser else accept, param)
    graph_fmt, graph_error = _try_format("graph", accept, param)
    if select_fmt is None and graph_fmt is None:
        error = select_error if checked.form in ("select", "ask") else graph_error
        assert error is not None  # _try_format gives an error wherever it gives no format
        raise error
    default, named = dataset(checked, params)
    wanted = ResultFormat(select_fmt.key if select_fmt else None, graph_fmt.media_type if graph_fmt else None)
    data = Dataset(default, named)
    parts = (checked.text, repr(data.default), repr(data.named), repr(wanted.select), repr(wanted.graph))
    etag = etag_for(release, "sparql", *parts, "html" if browser else "")
    headers = {"Vary": "Accept", "X-Etclod-Release": release.version, "ETag": etag,
               "Cache-Control": fresh_for(settings.cache_seconds)}
    cacheable = deterministic(checked)
    if cacheable and etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return _head(checked.form, select_fmt, graph_fmt, browser, headers, cacheable)
    cache = request.app.state.answers
    key = cache_key(*parts)
    answer = cache.get(release.version, key) if cacheable else None
    headers["X-Etclod-Cache"] = "hit" if answer is not None else "miss"
    if answer is None:
        metrics = request.app.state.metrics
        started = time.perf_counter()
        try:
            answer = await release.store.answer(checked, wanted, data)  # never blocks the event loop
        except QueryTimeoutError:
            metrics.timeouts += 1
            raise
        finally:
            metrics.observe_query(time.perf_counter() - started)
        if cacheable:
            cache.put(release.version, key, answer)
        else:
            del headers["ETag"]
            headers["Cache-Control"] = "no-store"
    assert answer is not None
    answer_fmt = graph_fmt if answer.kind == "graph" else select_fmt
    assert answer_fmt is not None
    if browser and answer.kind == "select":
        return HTMLResponse(_results_page(request, checked.text, answer.body, release.version), headers=headers)
    return Response(answer.body, media_type=answer_fmt.content_type, headers=headers)


NONDETERMINISTIC = {"RAND", "NOW", "UUID", "STRUUID", "SERVICE"}
"""Words of a query whose answer may differ from one run to the next: never cached."""


def deterministic(query: str | CheckedQuery) -> bool:
    """Whether the same query on the same release always has the same answer (no clock, no
    random numbers, no other endpoint)."""
    return not NONDETERMINISTIC.intersection(keywords(query))


def _head(form: str, select_fmt: Format | None, graph_fmt: Format | None, browser: bool,
          headers: dict[str, str], cacheable: bool) -> Response:
    """HEAD of a query: the headers a GET would have, from the query checked but never
    evaluated (so no Content-Length: the answer's size is not known without running it)."""
    fmt = graph_fmt if form in ("construct", "describe") else select_fmt
    if fmt is None:
        raise NotAcceptableError(f"this {form.upper()} query's answer cannot be given in the requested format")
    media = "text/html; charset=utf-8" if browser and form == "select" else fmt.content_type
    headers = {**headers, "X-Etclod-Evaluated": "no"}
    if not cacheable:
        headers.pop("ETag", None)
        headers["Cache-Control"] = "no-store"
    response = Response(media_type=media, headers=headers)
    del response.headers["content-length"]
    return response


def _try_format(kind: str, accept: str | None, param: str | None) -> tuple[Format | None, NotAcceptableError | None]:
    try:
        return pick_result_format(kind, accept, param), None
    except NotAcceptableError as exc:
        return None, exc


router.add_api_route("/sparql", sparql, methods=["GET"], summary="SPARQL 1.1 Protocol endpoint (GET ?query=)",
                     operation_id="sparql_get", openapi_extra=PROTOCOL_PARAMETERS)
router.add_api_route("/sparql", sparql, methods=["POST"], operation_id="sparql_post", openapi_extra=PROTOCOL_PARAMETERS,
                     summary="SPARQL 1.1 Protocol endpoint (form or application/sparql-query body)")
router.add_api_route("/sparql", sparql, methods=["HEAD"], include_in_schema=False, operation_id="sparql_head")


ALLOWED = "GET, HEAD, POST"  # the methods of /sparql, in the order the Allow header names them


class SparqlRoute(Route):
    """``/sparql`` as a plain Starlette route, tried before every other (``create_app`` puts it
    first): FastAPI's own handling of a request (its dependency solving, exit stack and
    response checks, through the routers it nests) costs about 0.1 ms a query, and ``sparql``
    needs none of it (it reads its parameters itself). The same function answers, through
    the same middlewares and exception handlers; the routes of ``router`` above stay for the
    OpenAPI description and are never reached."""

    def __init__(self) -> None:
        super().__init__("/sparql", sparql, methods=ALLOWED.split(", "), include_in_schema=False)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self  # what the metrics name a request by, as FastAPI sets it for its routes
        if scope["method"] not in (self.methods or ()):  # Starlette joins a set: the order would change per process
            raise HTTPException(status_code=405, headers={"Allow": ALLOWED})
        await super().handle(scope, receive, send)


def _crumbs(lang: str) -> list[tuple[str, str | None]]:
    return [(i18n.tr(lang, "Home"), "/"), (i18n.tr(lang, "Query"), None)]


NUMERIC = ("integer", "decimal", "double", "float", "int", "long", "short", "byte", "nonNegativeInteger",
           "positiveInteger", "negativeInteger", "nonPositiveInteger", "unsignedInt", "unsignedLong")


def _cell(term: dict[str, Any] | None, base: str) -> dict[str, Any]:
    """One value of a result as a person reads it: an IRI as a link, a number as a number, a
    text with its language tag."""
    if not term:
        return {"text": ""}
    value = term.get("value", "")
    if term.get("type") == "uri":
        return {"text": value, "href": "/" + value[len(base):] if value.startswith(base) else value}
    if term.get("xml:lang"):
        return {"text": value, "lang": term["xml:lang"]}
    if term.get("datatype", "").rsplit("#", 1)[-1] in NUMERIC:
        return {"text": value, "number": True}
    return {"text": value}


def _results_page(request: Request, query: str, body: bytes, version: str) -> str:
    data = json.loads(body)
    names = data["head"]["vars"]
    base = request.app.state.settings.base_uri
    rows = [[_cell(row.get(n), base) for n in names] for row in data["results"]["bindings"]]
    lang = choose_language(request)
    html: str = request.app.state.pages.render("sparql.html", lang=lang, request=request, title="SPARQL",
                                               example=query, names=names, rows=rows, release=version,
                                               examples=examples(), crumbs=_crumbs(lang))
    return html
