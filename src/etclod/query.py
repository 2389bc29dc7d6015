"""Query layer: checks a SPARQL request before any engine sees it, and picks result formats."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urljoin

from etclod.errors import (
    AmbiguousQueryError, ExtensionRefusedError, MissingQueryError, NotAcceptableError, QueryError, QueryTooLongError,
    ReadOnlyError, ServiceRefusedError, SyntaxQueryError)
from etclod.formats import FORMAT_PARAMS, RDF_FORMATS, RESULT_FORMATS, Format, by_key, negotiate
from etclod.lexer import Token, tokenize

UPDATE_WORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
QUERY_WORDS = {"SELECT", "CONSTRUCT", "DESCRIBE", "ASK"}
FORM_WORDS = QUERY_WORDS | UPDATE_WORDS
REFUSED_NAMESPACES = ("bif:", "sql:", "java:", "http://www.openlinksw.com/", "http://jena.apache.org/arq/function",
                      "http://jena.hpl.hp.com/arq/")


class _Remembered:
    """The last results of a pure function of a text, by text, up to ``budget`` characters of
    texts in all (what they hold, their tokens, grows with the texts): the same query sent
    again (a repeated research query, the same text in another format) is not tokenised again."""

    def __init__(self, budget: int) -> None:
        self.budget, self.held = budget, 0
        self._items: OrderedDict[tuple[object, ...], tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> object | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: tuple[object, ...], size: int, value: object) -> None:
        if size > self.budget // 16:  # a long text: tokenised each time (it is checked in a thread)
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (size, value)
            self.held += size
            while self.held > self.budget:
                self.held -= self._items.popitem(last=False)[1][0]


_CHECKED = _Remembered(256 * 1024)
"""check_query's verdicts on texts that passed (refusals are worked out again)."""
_WRITTEN = _Remembered(256 * 1024)
"""for_server's texts that tokenised as expected, with what they were expected to read."""


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed the checks, with the one tokenisation every later step reads."""

    text: str
    form: str
    """select, construct, describe or ask."""
    base_iri: str | None = None
    """What relative IRIs in the query resolve against: the endpoint's IRI, as the protocol allows."""
    tokens: tuple[Token, ...] = ()
    iris: tuple[tuple[int, str], ...] = ()
    """(token index, IRI) of every IRI the query names, prefixed names and relative IRIs resolved;
    the PREFIX and BASE declarations left out."""

    @classmethod
    def read(cls, text: str, base_iri: str | None = None) -> CheckedQuery:
        """Tokenise ``text`` (once) without checking it; the form is '' when it names none."""
        tokens = tuple(tokenize(text))
        form = next((t.value for t in tokens if t.kind == "word" and t.value in FORM_WORDS), "")
        return cls(text, form.lower() if form in QUERY_WORDS else "", base_iri, tokens,
                   tuple(_resolve(tokens, base_iri or "")))

    def dataset_clauses(self) -> list[tuple[bool, str, int, int]]:
        """Each FROM / FROM NAMED clause: whether it is NAMED, its IRI, and its token span."""
        tokens, uses = self.tokens, dict(self.iris)
        found = []
        for i, token in enumerate(tokens):
            if token.kind == "word" and token.value == "FROM" and i + 1 < len(tokens):
                named = tokens[i + 1].kind == "word" and tokens[i + 1].value == "NAMED"
                j = i + 2 if named else i + 1
                if j in uses:
                    found.append((named, uses[j], i, j + 1))
        return found

    def for_server(self, mapping: dict[str, str] | None = None, *, without_dataset: bool = False) -> str:
        """The query re-written from its tokens for a SPARQL server: no comments, every IRI in
        full (``mapping`` applied), every string in one plain form, one space or the original
        line break between tokens. The server reads the very tokens the checks read; a text
        that would tokenise differently is refused."""
        mapping = mapping or {}
        skip: set[int] = set()
        if without_dataset:
            for _, _, first, last in self.dataset_clauses():
                skip.update(range(first, last))
        uses = dict(self.iris)
        declared = _declaration_tokens(self.tokens)
        out: list[str] = []
        expected: list[tuple[str, str]] = []
        previous_end = 0
        for i, token in enumerate(self.tokens):
            if i in skip or i in declared:
                continue
            gap = self.text[previous_end:token.start]
            previous_end = token.end
            if "\n" in gap:  # line numbers stay those of the query as written
                out.append("\n" * gap.count("\n"))
            elif out and gap:  # tokens written together stay together (Oxigraph refuses COALESCE (1))
                out.append(" ")
            if i in uses:
                iri = mapping.get(uses[i], uses[i])
                piece = f"<{iri}>"
                expected.append(("iri", iri))
            elif token.kind == "string":
                piece = '"' + _STRING_ESCAPES.sub(lambda m: _STRING_ESCAPE[m.group()], token.value) + '"'
                expected.append(("string", token.value))
            elif token.kind == "pname":  # an undeclared prefix: the syntax check names it
                piece = token.text
                expected.append(("pname", token.value))
            else:
                piece = token.text
                expected.append((token.kind, token.value))
            out.append(piece)
        text = "".join(out)
        reading = tuple(expected)
        if _WRITTEN.get((text,)) != reading:  # tokenize is a pure function: a text read right once reads so again
            if tuple((t.kind, t.value) for t in tokenize(text)) != reading:
                raise AmbiguousQueryError("this query cannot be passed on unambiguously: written out again it reads "
                                          "differently; write it with plain IRIs and strings")
            _WRITTEN.put((text,), len(text), reading)
        return text


_STRING_ESCAPES = re.compile(r'[\\"\n\r\t\x08\x0c]')
_STRING_ESCAPE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x08": "\\b", "\x0c": "\\f"}


def _declaration_tokens(tokens: tuple[Token, ...]) -> set[int]:
    """Token indexes of the PREFIX and BASE declarations (not needed once every IRI is written in full)."""
    found: set[int] = set()
    for i, token in enumerate(tokens):
        if token.kind == "word" and token.value == "PREFIX" and i + 2 < len(tokens) \
                and tokens[i + 1].kind == "pname" and tokens[i + 2].kind == "iri":
            found.update((i, i + 1, i + 2))
        elif token.kind == "word" and token.value == "BASE" and i + 1 < len(tokens) and tokens[i + 1].kind == "iri":
            found.update((i, i + 1))
    return found


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def resolve_iri(base: str, reference: str) -> str:
    """``reference`` resolved against ``base`` (RFC 3986); an absolute IRI is kept as written
    (urljoin would drop an empty fragment: ``org#`` is not ``org``).

    >>> resolve_iri("http://b/x/y", "z#"), resolve_iri("http://b/", "http://www.w3.org/ns/org#")
    ('http://b/x/z#', 'http://www.w3.org/ns/org#')
    """
    if not base or _SCHEME.match(reference):
        return reference
    joined = urljoin(base, reference)
    return joined + "#" if reference.endswith("#") and not joined.endswith("#") else joined


def _resolve(tokens: tuple[Token, ...], base: str = "") -> list[tuple[int, str]]:
    urljoin = resolve_iri
    prefixes: dict[str, str] = {}
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "word" and token.value == "PREFIX" and i + 2 < len(tokens) \
                and tokens[i + 1].kind == "pname" and tokens[i + 2].kind == "iri":
            prefixes[tokens[i + 1].value.rstrip(":")] = urljoin(base, tokens[i + 2].value)
            i += 3
            continue
        if token.kind == "word" and token.value == "BASE" and i + 1 < len(tokens) and tokens[i + 1].kind == "iri":
            base = urljoin(base, tokens[i + 1].value)
            i += 2
            continue
        if token.kind == "iri":
            found.append((i, urljoin(base, token.value)))
        elif token.kind == "pname":
            prefix, _, local = token.value.partition(":")
            if prefix in prefixes:
                found.append((i, prefixes[prefix] + local))
            elif prefix.lower() in ("bif", "sql"):  # predefined by Virtuoso
                found.append((i, f"{prefix.lower()}:{local}"))
        i += 1
    return found


def _read(query: str | CheckedQuery) -> CheckedQuery:
    return query if isinstance(query, CheckedQuery) else CheckedQuery.read(query)


def keywords(query: str | CheckedQuery) -> list[str]:
    """The bare words of a query, upper-cased, with comments, strings and IRIs taken out."""
    return [t.value for t in _read(query).tokens if t.kind == "word"]


def service_endpoints(query: str | CheckedQuery) -> list[str | None]:
    """The endpoint of every SERVICE clause; None where it is not a plain IRI (a variable,
    a prefixed name): those cannot be checked and are refused."""
    checked = _read(query)
    tokens, uses = checked.tokens, dict(checked.iris)
    found: list[str | None] = []
    for i, token in enumerate(tokens):
        if token.kind == "word" and token.value == "SERVICE":
            j = i + 1
            if j < len(tokens) and tokens[j].kind == "word" and tokens[j].value == "SILENT":
                j += 1
            found.append(uses.get(j) if j < len(tokens) and tokens[j].kind == "iri" else None)
    return found


def _glued_service(checked: CheckedQuery) -> Token | None:
    """A word or prefix with SERVICE inside it: Oxigraph matches keywords without a word
    boundary (``trueSERVICE``, ``SERVICESILENT``, ``SERVICEex:e`` each hold a live SERVICE)."""
    for token in checked.tokens:
        if token.kind == "word" and token.value != "SERVICE" and "SERVICE" in token.value:
            return token
        if token.kind == "pname" and "SERVICE" in token.value.partition(":")[0].upper():
            return token
    return None


def iri_uses(query: str) -> list[tuple[str, int, int]]:
    """Every IRI the query names, written in full or as a prefixed name, with its span in the
    text; the PREFIX declarations themselves are left out. Relative IRIs are resolved against
    BASE."""
    checked = _read(query)
    return [(iri, checked.tokens[i].start, checked.tokens[i].end) for i, iri in checked.iris]


def dataset_clauses(query: str | CheckedQuery) -> tuple[list[str], list[str]] | None:
    """The IRIs of the query's FROM and FROM NAMED clauses; None when it has neither."""
    clauses = _read(query).dataset_clauses()
    if not clauses:
        return None
    return [iri for named, iri, _, _ in clauses if not named], [iri for named, iri, _, _ in clauses if named]


def without_dataset_clauses(query: str) -> str:
    """The query with its FROM and FROM NAMED clauses taken out, for a server given the dataset
    by protocol parameters (Virtuoso would add the two together)."""
    checked = _read(query)
    out, last = [], 0
    for _, _, first, after in checked.dataset_clauses():
        out += [query[last:checked.tokens[first].start], " "]
        last = checked.tokens[after - 1].end
    return "".join(out) + query[last:]


def rewrite_iris(query: str, mapping: dict[str, str]) -> str:
    """The query with every IRI found in ``mapping`` replaced (written out in full)."""
    checked = _read(query)
    out, last = [], 0
    for i, iri in checked.iris:
        if iri in mapping:
            out += [query[last:checked.tokens[i].start], f"<{mapping[iri]}>"]
            last = checked.tokens[i].end
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
    evaluates ASK at once. pyoxigraph's parser recurses: call this in a query worker only
    (``executor.SyntaxJob``), never in the server process."""
    import pyoxigraph as ox

    checked = _read(query)
    ask = next((t for t in checked.tokens if t.kind == "word" and t.value in QUERY_WORDS), None)
    text = query
    if ask is not None and ask.value == "ASK":
        text = query[:ask.start] + "SELECT (1 AS ?etclod_ask_check)" + query[ask.end:]
    try:
        ox.Store().query(text, base_iri=base_iri)
    except SyntaxError as exc:
        raise SyntaxQueryError(syntax_message(str(exc))) from exc


def with_base(query: str, base_iri: str | None) -> str:
    """The query with ``BASE <base_iri>`` in front, where it declares no BASE of its own: for a
    server that would resolve relative IRIs against some other base (or refuse them)."""
    if base_iri is None or "BASE" in keywords(query):
        return query
    return f"BASE <{base_iri}>\n{query}"


def query_form(query: str | CheckedQuery) -> str | None:
    """select, construct, describe or ask (lower case); None for anything else."""
    return _read(query).form or None


def dataset(query: str | CheckedQuery, params: dict[str, list[str]]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The dataset a query runs on, as SPARQL 1.1 says: the protocol's ``default-graph-uri``
    and ``named-graph-uri`` if either is given, else the query's FROM and FROM NAMED, else
    (None, None): the union of every graph as the default graph, and every graph named."""
    if params.get("default-graph-uri") or params.get("named-graph-uri"):
        return tuple(params.get("default-graph-uri", ())), tuple(params.get("named-graph-uri", ()))
    clauses = dataset_clauses(query)
    if clauses is None:
        return None, None
    return tuple(clauses[0]), tuple(clauses[1])


def check_query(query: str, max_length: int, service_allow: tuple[str, ...] = (),
                base_iri: str | None = None) -> CheckedQuery:
    """Refuse what a read-only public endpoint must never run, naming the reason. The query is
    tokenised once, here (linear in its length); the answer carries the tokens. ``base_iri``:
    what relative IRIs resolve against (the endpoint's IRI). The verdict is a pure function of
    the four: a short text that passed is remembered (``_CHECKED``), not read again."""
    key = (query, max_length, service_allow, base_iri)
    held = _CHECKED.get(key)
    if isinstance(held, CheckedQuery):
        return held
    checked = _check_query(query, max_length, service_allow, base_iri)
    # counted by what it holds: the expanded IRIs of its prefixed names can be far longer than
    # the text (one long PREFIX used a thousand times)
    _CHECKED.put(key, len(query) + sum(len(iri) for _, iri in checked.iris), checked)
    return checked


def _check_query(query: str, max_length: int, service_allow: tuple[str, ...], base_iri: str | None) -> CheckedQuery:
    if not query.strip():
        raise MissingQueryError("the query is empty: send it as ?query=, as a form field or as an "
                         "application/sparql-query body")
    if len(query) > max_length:
        raise QueryTooLongError(f"the query is {len(query)} characters long; the limit is {max_length}")
    checked = CheckedQuery.read(query, base_iri)
    words = [t.value for t in checked.tokens if t.kind == "word"]
    form = next((w for w in words if w in FORM_WORDS), None)
    if form in UPDATE_WORDS or (form is None and any(w in UPDATE_WORDS for w in words)):
        raise ReadOnlyError(f"SPARQL Update ({form or 'update'}) is refused: this endpoint is read-only; "
                         "data changes only through a new release")
    glued = _glued_service(checked)
    if glued is not None:
        raise ServiceRefusedError(f"{glued.text!r} holds SERVICE glued to other letters, which the engine reads as "
                         "a SERVICE clause; SERVICE is refused unless its endpoint is on the allow-list "
                         "(ETCLOD_SERVICE_ALLOW)")
    if "SERVICE" in words:
        for endpoint in service_endpoints(checked):
            if endpoint is None or endpoint not in service_allow:
                raise ServiceRefusedError(f"SERVICE {('<' + endpoint + '>') if endpoint else 'with a variable or prefixed name'} "
                                 "is refused: this endpoint only calls the endpoints on its allow-list "
                                 "(ETCLOD_SERVICE_ALLOW)")
    for _, iri in checked.iris:
        if iri.lower().startswith(REFUSED_NAMESPACES):
            raise ExtensionRefusedError(f"<{iri}> is refused: functions and pragmas of a particular SPARQL server "
                             "(Virtuoso's bif: and sql:, Jena's java:) can reach its files and "
                             "system; this endpoint runs standard SPARQL only")
    if form is None:
        raise QueryError("not a SPARQL query: expected SELECT, CONSTRUCT, DESCRIBE or ASK")
    return checked




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

