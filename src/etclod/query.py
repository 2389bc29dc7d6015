"""Query layer: checks a SPARQL request before any engine sees it, and picks result formats."""

from __future__ import annotations

import re
from dataclasses import dataclass

from etclod.errors import ExtensionRefusedError, MissingQueryError, NotAcceptableError, QueryError, QueryTooLongError, ReadOnlyError, ServiceRefusedError, SyntaxQueryError
from etclod.formats import FORMAT_PARAMS, RDF_FORMATS, RESULT_FORMATS, Format, by_key, negotiate

_TOKENS = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00b7-\U000effff]+)
  | (?P<pname>(?:[A-Za-z][\w.-]*)?:(?:[\w:%-](?:[\w.:%-]*[\w:%-])?)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<other>\S)
""", re.VERBOSE | re.DOTALL)

UPDATE_WORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
QUERY_WORDS = {"SELECT", "CONSTRUCT", "DESCRIBE", "ASK"}
REFUSED_NAMESPACES = ("bif:", "sql:", "java:", "http://www.openlinksw.com/", "http://jena.apache.org/arq/function",
                      "http://jena.hpl.hp.com/arq/")


@dataclass(frozen=True)
class CheckedQuery:
    text: str
    form: str
    """select, construct, describe or ask."""
    base_iri: str | None = None
    """What relative IRIs in the query resolve against: the endpoint's IRI, as the protocol allows."""


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


def _tokens(query: str) -> list[tuple[str, str, int, int]]:
    return [(m.lastgroup or "", m.group(), m.start(), m.end()) for m in _TOKENS.finditer(query)
            if m.lastgroup != "comment"]


def iri_uses(query: str, tokens: list[tuple[str, str, int, int]] | None = None) -> list[tuple[str, int, int]]:
    """Every IRI the query names, written in full or as a prefixed name, with its span in the
    text; the PREFIX declarations themselves are left out. Relative IRIs are resolved against
    BASE. ``tokens``: the query's tokens, where the caller has them already."""
    from urllib.parse import urljoin

    tokens = _tokens(query) if tokens is None else tokens
    prefixes: dict[str, str] = {}
    base = ""
    found: list[tuple[str, int, int]] = []
    i = 0
    while i < len(tokens):
        kind, text, start, end = tokens[i]
        upper = text.upper() if kind == "word" else ""
        if upper == "PREFIX" and i + 2 < len(tokens) and tokens[i + 1][0] == "pname" and tokens[i + 2][0] == "iri":
            prefixes[tokens[i + 1][1][:-1]] = urljoin(base, tokens[i + 2][1][1:-1])
            i += 3
            continue
        if upper == "BASE" and i + 1 < len(tokens) and tokens[i + 1][0] == "iri":
            base = urljoin(base, tokens[i + 1][1][1:-1])
            i += 2
            continue
        if kind == "iri":
            found.append((urljoin(base, text[1:-1]), start, end))
        elif kind == "pname":
            prefix, _, local = text.partition(":")
            if prefix in prefixes:
                found.append((prefixes[prefix] + local, start, end))
            elif prefix.lower() in ("bif", "sql"):  # predefined by Virtuoso
                found.append((f"{prefix.lower()}:{local}", start, end))
        i += 1
    return found


def _dataset_clauses(query: str) -> list[tuple[bool, str, int, int]]:
    """Each FROM / FROM NAMED clause: whether it is NAMED, its IRI, and its span in the text."""
    tokens = _tokens(query)
    uses = {start: iri for iri, start, _ in iri_uses(query, tokens)}
    found = []
    for i, (kind, text, start, _) in enumerate(tokens):
        if kind == "word" and text.upper() == "FROM" and i + 1 < len(tokens):
            is_named = tokens[i + 1][0] == "word" and tokens[i + 1][1].upper() == "NAMED"
            j = i + 2 if is_named else i + 1
            if j < len(tokens) and tokens[j][2] in uses:
                found.append((is_named, uses[tokens[j][2]], start, tokens[j][3]))
    return found


def dataset_clauses(query: str) -> tuple[list[str], list[str]] | None:
    """The IRIs of the query's FROM and FROM NAMED clauses; None when it has neither."""
    clauses = _dataset_clauses(query)
    if not clauses:
        return None
    return [iri for named, iri, _, _ in clauses if not named], [iri for named, iri, _, _ in clauses if named]


def without_dataset_clauses(query: str) -> str:
    """The query with its FROM and FROM NAMED clauses taken out, for a server given the dataset
    by protocol parameters (Virtuoso would add the two together)."""
    out, last = [], 0
    for _, _, start, end in _dataset_clauses(query):
        out += [query[last:start], " "]
        last = end
    return "".join(out) + query[last:]


def rewrite_iris(query: str, mapping: dict[str, str]) -> str:
    """The query with every IRI found in ``mapping`` replaced (written out in full)."""
    out, last = [], 0
    for iri, start, end in iri_uses(query):
        if iri in mapping:
            out += [query[last:start], f"<{mapping[iri]}>"]
            last = end
    return "".join(out) + query[last:]


def syntax_message(raw: str) -> str:
    """The parser's complaint with its line and column spelled out.

    >>> syntax_message("error at 2:9: expected one of LATERAL, SERVICE")
    'SPARQL syntax error at line 2, column 9: expected one of LATERAL, SERVICE'
    """
    match = re.match(r"error at (\d+):(\d+): (.*)", raw, re.DOTALL)
    if match:
        return f"SPARQL syntax error at line {match.group(1)}, column {match.group(2)}: {match.group(3)}"
    return f"SPARQL syntax error: {raw}"


def check_syntax(query: str, base_iri: str | None = None) -> None:
    """Refuse what is not SPARQL 1.1 (and 1.2) as Oxigraph parses it, before a remote server
    sees it: a server's own extensions (Virtuoso's DEFINE pragmas, which can fetch from the
    web) never pass. Nothing is evaluated: an ASK is checked as a SELECT, since Oxigraph
    evaluates ASK at once."""
    import pyoxigraph as ox

    tokens = _tokens(query)
    ask = next((t for t in tokens if t[0] == "word" and t[1].upper() in QUERY_WORDS), None)
    text = query
    if ask is not None and ask[1].upper() == "ASK":
        text = query[:ask[2]] + "SELECT (1 AS ?etclod_ask_check)" + query[ask[3]:]
    try:
        ox.Store().query(text, base_iri=base_iri)
    except SyntaxError as exc:
        raise SyntaxQueryError(syntax_message(str(exc))) from exc


def with_base(query: str, base_iri: str | None) -> str:
    """The query with ``BASE <base_iri>`` in front, where it declares no BASE of its own: for a
    server that would resolve relative IRIs against some other base (or refuse them)."""
    if base_iri is None or any(t[0] == "word" and t[1].upper() == "BASE" for t in _tokens(query)):
        return query
    return f"BASE <{base_iri}>\n{query}"


def query_form(query: str) -> str | None:
    """select, construct, describe or ask (lower case); None for anything else."""
    form = next((w for w in keywords(query) if w in QUERY_WORDS | UPDATE_WORDS), None)
    return form.lower() if form in QUERY_WORDS else None


def dataset(query: str, params: dict[str, list[str]]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The dataset a query runs on, as SPARQL 1.1 says: the protocol's ``default-graph-uri``
    and ``named-graph-uri`` if either is given, else the query's FROM and FROM NAMED, else
    (None, None): the union of every graph as the default graph, and every graph named."""
    if params.get("default-graph-uri") or params.get("named-graph-uri"):
        return tuple(params.get("default-graph-uri", ())), tuple(params.get("named-graph-uri", ()))
    clauses = dataset_clauses(query)
    if clauses is None:
        return None, None
    return tuple(clauses[0]), tuple(clauses[1])


def check_query(query: str, max_length: int, service_allow: tuple[str, ...] = ()) -> CheckedQuery:
    """Refuse what a read-only public endpoint must never run, naming the reason."""
    if not query.strip():
        raise MissingQueryError("the query is empty: send it as ?query=, as a form field or as an "
                         "application/sparql-query body")
    if len(query) > max_length:
        raise QueryTooLongError(f"the query is {len(query)} characters long; the limit is {max_length}")
    words = keywords(query)
    form = next((w for w in words if w in QUERY_WORDS | UPDATE_WORDS), None)
    if form in UPDATE_WORDS or (form is None and any(w in UPDATE_WORDS for w in words)):
        raise ReadOnlyError(f"SPARQL Update ({form or 'update'}) is refused: this endpoint is read-only; "
                         "data changes only through a new release")
    if "SERVICE" in words:
        for endpoint in service_endpoints(query):
            if endpoint is None or endpoint not in service_allow:
                raise ServiceRefusedError(f"SERVICE {('<' + endpoint + '>') if endpoint else 'with a variable or prefixed name'} "
                                 "is refused: this endpoint only calls the endpoints on its allow-list "
                                 "(ETCLOD_SERVICE_ALLOW)")
    for iri, _, _ in iri_uses(query):
        if iri.lower().startswith(REFUSED_NAMESPACES):
            raise ExtensionRefusedError(f"<{iri}> is refused: functions and pragmas of a particular SPARQL server "
                             "(Virtuoso's bif: and sql:, Jena's java:) can reach its files and "
                             "system; this endpoint runs standard SPARQL only")
    if form is None:
        raise QueryError("not a SPARQL query: expected SELECT, CONSTRUCT, DESCRIBE or ASK")
    return CheckedQuery(query, form.lower())




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
        raise NotAcceptableError(f"result format {param!r} is not available for this query; use one of "
                         + ", ".join(f.key for f in offered))
    fmt = negotiate(accept, offered)
    if fmt is None:
        raise NotAcceptableError(f"cannot answer this {'graph' if kind == 'graph' else kind} query as {accept!r}; "
                         "available: " + ", ".join(f.media_type for f in offered))
    return fmt

