"""Execution layer for a remote store: ``/sparql`` queries answered by the SPARQL server.

The same contract as the embedded engine's workers (``executor.evaluate``): the query has
passed ``check_query``, and the server is sent the text re-written from the very tokens the
checks read (``CheckedQuery.for_server``: no comments, IRIs in full, strings in one plain
form), parsed strictly in a query worker first, so no server extension and no reading the
checks did not see reaches the server. The release's graph names are rewritten to their versioned names on the server and
back in the answer, so a client sees the same graph IRIs on both stores. The answer is
refused, never truncated, past ``max_rows``; past the time limit the query is stopped (the
server is told the limit too) and a partial answer (Virtuoso's "anytime" results) is refused
as a timeout. Results are re-written by our own writers: the same formats, CSV neutralising
and errors on both stores.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
import pyoxigraph as ox

from etclod.errors import NotAcceptableError, QueryFailedError
from etclod.executor import Answer, Job, timed_out, too_many
from etclod.oxtyped import serialized
from etclod.query import CheckedQuery
from etclod.remote import RemoteQueryError, RemoteStoreError, RemoteUnavailableError, RemoteView, versioned
from etclod.results import XSD_STRING, read_json_term, write_ask, write_select
from etclod.store import off_the_loop_past

EMPTY_GRAPH = "urn:etclod:no-graph"
"""Named as the only graph of an empty dataset part: no parameter would mean every graph."""
BYTES_PER_ROW = 2048
"""An answer may take this many bytes a row (SPARQL JSON) before it is refused as too large."""
INLINE_ANSWER_BYTES = 65536
"""Answers up to this size are read and written out again on the event loop (56 rows of JSON:
0.3 ms in a loaded server, measured; less than the hop to a thread); larger ones in a thread."""
QUERY_FAULT = re.compile(r"SPARQL query:|Virtuoso (?:37000|42000|42S\w\w|22\w\w\w)\b")
"""A server error that is about the query, not the server (Virtuoso's compile-time refusals)."""


def _dataset(view: RemoteView, graphs: tuple[str, ...] | None, whole: list[str]) -> list[str]:
    """The graphs on the server of a dataset part; ``whole``: the part for a query naming none."""
    if graphs is None:
        return whole
    names = [view.graphs.get(g, versioned(view.version, g)) for g in graphs]
    return names or [versioned(view.version, EMPTY_GRAPH)]


class _Terms:
    """Terms of the server's answer as pyoxigraph terms, with versioned graph names mapped back."""

    def __init__(self, view: RemoteView) -> None:
        self.prefix = versioned(view.version, "")

    def iri(self, value: str) -> ox.NamedNode:
        return ox.NamedNode(value.removeprefix(self.prefix))

    def from_json(self, value: dict[str, str]) -> Any:
        return read_json_term(value, self.iri)

    def from_ox(self, term: Any) -> Any:
        if isinstance(term, ox.NamedNode) and term.value.startswith(self.prefix):
            return self.iri(term.value)
        return term


async def answer(view: RemoteView, job: Job, timeout: float, checked: CheckedQuery, text: str) -> Answer:
    """Run ``job`` on the SPARQL server holding ``view``'s release; answer as a worker would.
    ``text`` is ``checked`` as the server is to read it (``CheckedQuery.for_server``, its
    syntax checked in a worker). The exchange is awaited on the event loop; an answer larger
    than ``INLINE_ANSWER_BYTES`` is read and written out again in a thread."""
    form = checked.form
    graph = form in ("construct", "describe")
    if graph and job.graph_format is None:
        raise NotAcceptableError("this CONSTRUCT/DESCRIBE query's triples cannot be given in the requested "
                         "format; ask for Turtle, N-Triples, JSON-LD or RDF/XML")
    if not graph and job.select_format is None:
        raise NotAcceptableError(f"this {form.upper() if form else 'SELECT'} query's results cannot be given in the "
                         "requested format; ask for JSON, XML, CSV or TSV")
    accept = "application/n-triples" if graph else "application/sparql-results+json"
    try:
        headers, body = await view.remote.query(text, _dataset(view, job.default_graphs, view.default_dataset()),
                                                _dataset(view, job.named_graphs, view.named_dataset(checked)),
                                                accept, timeout, (job.max_rows + 1) * BYTES_PER_ROW + 65536)
    except httpx.ConnectTimeout as exc:  # nothing was sent: another server may take it
        raise RemoteUnavailableError(f"the SPARQL server at {view.remote.endpoint} did not answer: {exc}") from exc
    except (httpx.TimeoutException, TimeoutError):  # TimeoutError: wire's deadline passed
        raise timed_out(timeout) from None
    except httpx.HTTPError as exc:  # before any answer (``query`` words a broken-off one itself)
        raise RemoteUnavailableError(f"the SPARQL server at {view.remote.endpoint} did not answer: {exc}") from exc
    except RemoteQueryError as exc:
        if exc.server_status == 413:
            raise too_many(job.max_rows, "triples" if graph else "rows") from None
        reason = exc.text.split("SPARQL query:")[0].strip()[:500]  # not the query echoed back
        if "timeout" in exc.text.lower() or "S1T00" in exc.text:
            raise timed_out(timeout) from None
        if exc.server_status < 500 or QUERY_FAULT.search(exc.text):
            raise QueryFailedError(f"the SPARQL server cannot run this query: {reason}") from None
        raise RemoteUnavailableError(f"the SPARQL server at {view.remote.endpoint} failed the query "
                                     f"({exc.server_status}): {reason[:300]}") from None
    if headers.get("x-sql-state", "").startswith("S1T"):  # Virtuoso's anytime query: a partial answer
        raise timed_out(timeout)
    return await off_the_loop_past(len(body), INLINE_ANSWER_BYTES, read_answer, _Terms(view), job, form, body)


def read_answer(terms: _Terms, job: Job, form: str | None, body: bytes) -> Answer:
    """:func:`_read`, with an answer of the wrong shape (not N-Triples, not SPARQL JSON as it
    should be) the store's error, not a crash."""
    try:
        return _read(terms, job, form, body)
    except (ValueError, SyntaxError, KeyError, TypeError, AttributeError) as exc:
        raise RemoteStoreError(f"the SPARQL server's answer cannot be read: {exc}") from exc


def _read(terms: _Terms, job: Job, form: str | None, body: bytes) -> Answer:
    """The server's answer (N-Triples or SPARQL JSON) in the format the client asked for."""
    if form in ("construct", "describe"):
        triples = []
        for triple in ox.parse(body, format=ox.RdfFormat.N_TRIPLES):
            triples.append(ox.Triple(terms.from_ox(triple.subject), triple.predicate, terms.from_ox(triple.object)))
            if len(triples) > job.max_rows:
                raise too_many(job.max_rows, "triples")
        assert job.graph_format is not None
        data = serialized(ox.serialize(triples, format=ox.RdfFormat.from_media_type(job.graph_format)))
        return Answer("graph", data, len(triples))
    assert job.select_format is not None
    results = orjson.loads(body)  # a JSONDecodeError is a ValueError: read_answer words it
    if form == "ask":
        return Answer("ask", write_ask(_boolean(results), job.select_format), 1)
    variables = results["head"]["vars"]
    bindings = results["results"]["bindings"]
    if len(bindings) > job.max_rows:
        raise too_many(job.max_rows, "rows")
    if job.select_format == "json":
        written = _json_to_json(terms.prefix, variables, bindings)
        if written is not None:
            return Answer("select", written, len(bindings))
    rows = [{v: terms.from_json(b[v]) if v in b else None for v in variables} for b in bindings]
    return Answer("select", write_select(variables, rows, job.select_format), len(rows))


def _json_to_json(prefix: str, variables: list[str], bindings: list[dict[str, Any]]) -> bytes | None:
    """SPARQL JSON results from the server as ``results.write_select`` writes the same terms
    read by ``read_json_term`` (the same bytes, tested), without making pyoxigraph terms of
    them: a fraction of the time for IRIs and plain literals, most answers. None where a value
    is of another kind (a triple term): the general path writes those."""
    out = []
    for binding in bindings:
        row: dict[str, dict[str, str]] = {}
        for name in variables:
            value = binding.get(name)
            if value is None:
                continue
            kind = value.get("type")
            if kind == "uri":
                iri = value["value"]
                row[name] = {"type": "uri", "value": iri[len(prefix):] if iri.startswith(prefix) else iri}
            elif kind == "literal" or kind == "typed-literal":
                language, datatype = value.get("xml:lang"), value.get("datatype")
                if language:
                    row[name] = {"type": "literal", "value": value["value"], "xml:lang": language.lower()}
                elif datatype and datatype != XSD_STRING:
                    row[name] = {"type": "literal", "value": value["value"], "datatype": datatype}
                else:
                    row[name] = {"type": "literal", "value": value["value"]}
            elif kind == "bnode":
                row[name] = {"type": "bnode", "value": re.sub(r"[^A-Za-z0-9]", "", value["value"]) or "b"}
            else:
                return None
        out.append(row)
    return orjson.dumps({"head": {"vars": variables}, "results": {"bindings": out}})


def _boolean(results: dict[str, Any]) -> bool:
    """An ASK answer; Virtuoso gives it as one row of ``__ASK_RETVAL`` (1) or none."""
    if "boolean" in results:
        return bool(results["boolean"])
    rows = results.get("results", {}).get("bindings", [])
    return any(value.get("value") in ("1", "true") for row in rows for value in row.values())
