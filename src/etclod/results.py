"""Result layer: SPARQL results written from a bounded list of solutions (JSON, XML, CSV, TSV).

The engine's own writers consume an unbounded iterator; writing from a list lets the caller
refuse an oversized result instead of truncating it. Imported by query worker processes:
it needs nothing but pyoxigraph and orjson (JSON written compact, by the same writer on every
store, several times as fast as the standard library's).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson
import pyoxigraph as ox

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
NUMERIC = {f"http://www.w3.org/2001/XMLSchema#{t}" for t in ("integer", "decimal", "double", "float")}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _json_term(term: Any) -> dict[str, Any]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    # SPARQL 1.2 Query Results JSON: a triple term is its three terms, each in this form
    return {"type": "triple", "value": {"subject": _json_term(term.subject), "predicate": _json_term(term.predicate),
                                        "object": _json_term(term.object)}}


def read_json_term(value: dict[str, Any], iri: Callable[[str], Any] = ox.NamedNode) -> Any:
    """A term of SPARQL JSON results as a pyoxigraph term: the one reader of that form (the
    remote store's answers, the proxy's, the tests'). ``iri`` makes the named nodes (the proxy
    maps a release's versioned graph names back). A blank node keeps the letters and digits
    of its label, which is all a pyoxigraph label may hold.

    >>> read_json_term({"type": "literal", "value": "Rīga", "xml:lang": "lv"})
    <Literal value=Rīga language=lv>
    >>> read_json_term({"type": "bnode", "value": "b-1"})
    <BlankNode value=b1>
    """
    kind = value.get("type")
    if kind == "uri":
        return iri(value["value"])
    if kind == "bnode":
        return ox.BlankNode(re.sub(r"[^A-Za-z0-9]", "", value["value"]) or "b")
    if kind == "triple":  # SPARQL 1.2 (and the RDF-star note's "s", "p", "o")
        parts = value["value"]
        return ox.Triple(*(read_json_term(parts.get(long, parts.get(long[0], {})), iri)
                           for long in ("subject", "predicate", "object")))
    if value.get("xml:lang"):
        return ox.Literal(value["value"], language=value["xml:lang"])
    datatype = value.get("datatype")  # "typed-literal" (the 2005 note) reads the same way
    return ox.Literal(value["value"], datatype=ox.NamedNode(datatype) if datatype else None)


def _xml_term(term: Any) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Triple):  # SPARQL 1.2 Query Results XML
        return (f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>{_xml_term(term.predicate)}"
                f"</predicate><object>{_xml_term(term.object)}</object></triple>")
    if term.language:
        return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
    if term.datatype.value != XSD_STRING:
        return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
    return f"<literal>{escape(term.value)}</literal>"


def csv_cell(term: Any) -> str:
    """A CSV value; text that a spreadsheet would run as a formula is neutralised with ``'``."""
    if term is None:
        return ""
    value = term.value if hasattr(term, "value") else str(term)
    numeric = isinstance(term, ox.Literal) and term.datatype.value in NUMERIC
    if isinstance(term, ox.BlankNode):
        return f"_:{value}"
    if not numeric and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_select(variables: list[str], rows: list[Any], key: str) -> bytes:
    """SELECT results in format ``key`` (json, xml, csv, tsv)."""
    if key == "json":
        bindings = [{v: _json_term(row[v]) for v in variables if row[v] is not None} for row in rows]
        return orjson.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}})
    if key == "xml":
        out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
        out += [f"<variable name={quoteattr(v)}/>" for v in variables]
        out.append("</head><results>")
        for row in rows:
            out.append("<result>")
            out += [f"<binding name={quoteattr(v)}>{_xml_term(row[v])}</binding>"
                    for v in variables if row[v] is not None]
            out.append("</result>")
        out.append("</results></sparql>\n")
        return "".join(out).encode("utf-8")
    if key == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(variables)
        for row in rows:
            writer.writerow([csv_cell(row[v]) for v in variables])
        return buffer.getvalue().encode("utf-8")
    if key == "tsv":
        lines = ["\t".join(f"?{v}" for v in variables)]
        for row in rows:
            lines.append("\t".join(_tsv_term(row[v]) for v in variables))
        return ("\n".join(lines) + "\n").encode("utf-8")
    raise ValueError(f"unknown results format {key!r}")


def _tsv_term(term: Any) -> str:
    """A term as SPARQL TSV writes it; a triple term in SPARQL 1.2's ``<<( s p o )>>`` form."""
    if term is None:
        return ""
    if isinstance(term, ox.Triple):
        return f"<<( {_tsv_term(term.subject)} {_tsv_term(term.predicate)} {_tsv_term(term.object)} )>>"
    return str(term)


def write_ask(value: bool, key: str) -> bytes:
    if key == "json":
        return orjson.dumps({"head": {}, "boolean": bool(value)})
    if key == "xml":
        return (f'<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head/>'
                f"<boolean>{'true' if value else 'false'}</boolean></sparql>\n").encode()
    return ("true\n" if value else "false\n").encode()
