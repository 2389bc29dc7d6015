"""The remote store's answers written out again (etclod.proxy): the JSON-to-JSON path gives
the very bytes of the general one (terms read into pyoxigraph, written by results.write_select)."""

from __future__ import annotations

import json

from etclod.executor import Job
from etclod.proxy import _json_to_json, _read, _Terms
from etclod.remote import RemoteView, versioned
from etclod.results import write_select

XSD = "http://www.w3.org/2001/XMLSchema#"
NAMES = ["g", "t", "n", "b", "x"]
BINDINGS = [
    {"g": {"type": "uri", "value": versioned("v1", "http://example.org/source/a")},
     "t": {"type": "literal", "value": "Rīga \"x\"", "xml:lang": "LV"},
     "n": {"type": "typed-literal", "value": "1.50", "datatype": f"{XSD}decimal"}},
    {"t": {"type": "literal", "value": "plain", "datatype": f"{XSD}string"},
     "n": {"type": "literal", "value": "7", "datatype": f"{XSD}integer"},
     "b": {"type": "bnode", "value": "nodeID://b-1"}},
    {"g": {"type": "uri", "value": "http://example.org/other"}, "b": {"type": "bnode", "value": "--"}},
    {},
]
TRIPLE = {"type": "triple", "value": {"subject": {"type": "uri", "value": "http://e/s"},
                                      "predicate": {"type": "uri", "value": "http://e/p"},
                                      "object": {"type": "uri", "value": "http://e/o"}}}


def general(terms: _Terms, bindings: list[dict]) -> bytes:
    rows = [{v: terms.from_json(b[v]) if v in b else None for v in NAMES} for b in bindings]
    return write_select(NAMES, rows, "json")


def test_json_answers_are_written_as_the_general_path_writes_them() -> None:
    terms = _Terms(RemoteView(None, "v1", {}))  # type: ignore[arg-type]  # no server: names only
    job = Job("", "SELECT * {}", "json", None, 100)
    for bindings in (BINDINGS, [*BINDINGS, {"x": TRIPLE}]):  # a triple term: every row the general way
        body = json.dumps({"head": {"vars": NAMES}, "results": {"bindings": bindings}}).encode()
        answer = _read(terms, job, "select", body)
        assert answer.body == general(terms, bindings) and answer.rows == len(bindings)
    assert _json_to_json(terms.prefix, NAMES, BINDINGS) == general(terms, BINDINGS)  # the path taken
    assert _json_to_json(terms.prefix, NAMES, [*BINDINGS, {"x": TRIPLE}]) is None
    first = json.loads(_read(terms, job, "select", body).body)["results"]["bindings"][0]
    assert first["g"]["value"] == "http://example.org/source/a" and first["t"]["xml:lang"] == "lv"
