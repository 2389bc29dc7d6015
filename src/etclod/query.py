"""Query layer: checks a SPARQL request before any engine sees it, and picks result formats."""

from __future__ import annotations

import re
from dataclasses import dataclass

from etclod.errors import QueryError
from etclod.formats import RDF_FORMATS, RESULT_FORMATS, Format, by_key, negotiate

_TOKENS = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<other>\S)
""", re.VERBOSE | re.DOTALL)

UPDATE_WORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
QUERY_WORDS = {"SELECT", "CONSTRUCT", "DESCRIBE", "ASK"}


@dataclass(frozen=True)
class CheckedQuery:
    text: str
    form: str
    """select, construct, describe or ask."""


def keywords(query: str) -> list[str]:
    """The bare words of a query, upper-cased, with comments, strings and IRIs taken out."""
    return [m.group("word").upper() for m in _TOKENS.finditer(query) if m.lastgroup == "word"]


def service_endpoints(query: str) -> list[str | None]:
    """The endpoint of every SERVICE clause; None where it is not a plain IRI (a variable,
    a prefixed name): those cannot be checked and are refused."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKENS.finditer(query) if m.lastgroup != "comment"]
    found: list[str | None] = []
    for i, (kind, text) in enumerate(tokens):
        if kind == "word" and text.upper() == "SERVICE":
            j = i + 1
            if j < len(tokens) and tokens[j][0] == "word" and tokens[j][1].upper() == "SILENT":
                j += 1
            found.append(tokens[j][1][1:-1] if j < len(tokens) and tokens[j][0] == "iri" else None)
    return found


def check_query(query: str, max_length: int, service_allow: tuple[str, ...] = ()) -> CheckedQuery:
    """Refuse what a read-only public endpoint must never run, naming the reason."""
    if not query.strip():
        raise QueryError("the query is empty: send it as ?query=, as a form field or as an "
                         "application/sparql-query body", code="missing_query")
    if len(query) > max_length:
        raise QueryError(f"the query is {len(query)} characters long; the limit is {max_length}",
                         code="query_too_long", status=413)
    words = keywords(query)
    form = next((w for w in words if w in QUERY_WORDS | UPDATE_WORDS), None)
    if form in UPDATE_WORDS or (form is None and any(w in UPDATE_WORDS for w in words)):
        raise QueryError(f"SPARQL Update ({form or 'update'}) is refused: this endpoint is read-only; "
                         "data changes only through a new release", code="read_only")
    if "SERVICE" in words:
        for endpoint in service_endpoints(query):
            if endpoint is None or endpoint not in service_allow:
                raise QueryError(f"SERVICE {('<' + endpoint + '>') if endpoint else 'with a variable or prefixed name'} "
                                 "is refused: this endpoint only calls the endpoints on its allow-list "
                                 "(ETCLOD_SERVICE_ALLOW)", code="service_refused")
    if form is None:
        raise QueryError("not a SPARQL query: expected SELECT, CONSTRUCT, DESCRIBE or ASK",
                         code="bad_query")
    return CheckedQuery(query, form.lower())


FORMAT_PARAMS = {
    "json": "json", "srj": "json", "application/sparql-results+json": "json",
    "xml": "xml", "srx": "xml", "csv": "csv", "tsv": "tsv", "turtle": "ttl", "ttl": "ttl",
    "n3": "ttl", "nt": "nt", "ntriples": "nt", "n-triples": "nt", "jsonld": "jsonld",
    "json-ld": "jsonld", "rdf": "rdf", "rdfxml": "rdf", "rdf+xml": "rdf",
}


def pick_result_format(kind: str, accept: str | None, param: str | None) -> Format:
    """The format of an answer: ``select``/``ask`` results or ``graph`` (CONSTRUCT, DESCRIBE).

    A ``format``/``output``/``results`` parameter (SPARQLWrapper sends them) wins over Accept;
    ``xml`` and ``json`` mean RDF/XML and JSON-LD for graphs.
    """
    offered = RDF_FORMATS if kind == "graph" else RESULT_FORMATS
    if param:
        key = FORMAT_PARAMS.get(param.lower().strip(), param.lower().strip())
        if kind == "graph":
            key = {"xml": "rdf", "json": "jsonld"}.get(key, key)
        elif key in ("ttl", "nt", "rdf", "jsonld"):
            key = "json" if key == "jsonld" else "xml" if key == "rdf" else key
        fmt = by_key(key)
        if fmt is not None and fmt in offered:
            return fmt
        raise QueryError(f"result format {param!r} is not available for this query; use one of "
                         + ", ".join(f.key for f in offered), code="not_acceptable", status=406)
    fmt = negotiate(accept, offered)
    if fmt is None:
        raise QueryError(f"cannot answer this {'graph' if kind == 'graph' else kind} query as {accept!r}; "
                         "available: " + ", ".join(f.media_type for f in offered),
                         code="not_acceptable", status=406)
    return fmt

