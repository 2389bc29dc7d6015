"""Issue 12's inputs that answered 500 (with a traceback in the log, twice): each is a 4xx in
the one error shape, names no internal path, and logs one line without a traceback."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from etclod.api.app import create_app

IMS = {"If-Modified-Since": "Mon, 01 Jan 2020 99999999999999999999:00:00 GMT"}
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CASES = [
    ("GET", "/id/project/sempre?cursor=%C2%B2", {}, None, 400),
    # found by schemathesis: digits outside ASCII ('¹', Arabic-Indic three, fullwidth one) crashed the lexer
    *[("GET", f"/sparql?query={q}", {}, None, 400) for q in ("%C2%B9", "ASK%20%7B%20FILTER(%D9%A3)%20%7D", "%EF%BC%91")],
    *[("GET", f"/id/project/{bad}", {}, None, 404) for bad in ("%7f", "%zz", "%", "%C0%AF", "%ED%A0%80")],
    ("GET", "/reconcile?queries=" + "[" * 2600, {}, None, 400),
    ("POST", "/reconcile", JSON, b"[" * 100_000, 400),
    ("POST", "/reconcile", FORM, b"queries=" + b"[" * 100_000, 400),
    ("GET", "/reconcile?queries=" + json.dumps({"q0": {"query": "Liepaja", "properties": 5}}), {}, None, 400),
    ("GET", "/reconcile?extend=" + json.dumps({"ids": ["organisation/varam"], "properties": 5}), {}, None, 400),
    ("GET", "/reconcile?extend=" + json.dumps([{"id": ["country"]}]), {}, None, 400),
    ("GET", "/reconcile?extend=" + json.dumps({"ids": ["organisation/varam"], "properties": [{"id": ["country"]}]}),
     {}, None, 400),
    ("GET", "/reconcile?extend=" + json.dumps({"ids": ["organisation/varam"], "properties": [{"id": {"a": 1}}]}),
     {}, None, 400),
    ("POST", "/reconcile", JSON, b'{"queries": {"q\\ud800": {"query": "liep"}}}', 400),
    ("POST", "/reconcile", JSON, json.dumps({"queries": {f"q{i}": {"query": "a"} for i in range(101)}}).encode(), 413),
    ("POST", "/reconcile/v1/match", JSON, json.dumps({"queries": [{"query": "a"}] * 101}).encode(), 413),
    ("POST", "/reconcile", FORM, b"queries=" + json.dumps({f"q{i}": "a" for i in range(60_000)}).encode(), 413),
    ("GET", "/releases/" + "9" * 300, {}, None, 404),
    ("GET", "/releases/" + "9" * 300 + "/manifest.json", {}, None, 404),
]


@pytest.fixture(scope="module")
def client(seed_release):
    settings, _ = seed_release
    app = create_app(settings)
    yield TestClient(app, raise_server_exceptions=False)
    app.state.pool.close()


@pytest.mark.parametrize("method, url, headers, body, status", CASES, ids=[f"{c[0]} {c[1][:50]}" for c in CASES])
def test_a_client_mistake_is_a_4xx_with_one_log_line(client, seed_release, caplog, method, url, headers, body,
                                                     status) -> None:
    settings, _ = seed_release
    caplog.set_level(logging.INFO, logger="etclod")
    response = client.request(method, url, headers=headers, content=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"error", "message", "status"} and error["status"] == status
    assert str(settings.var_dir.resolve()) not in error["message"] and "/tmp" not in error["message"]
    records = [r for r in caplog.records if r.name == "etclod"]
    assert len(records) == 1 and records[0].exc_info is None, [r.getMessage() for r in records]
    assert response.headers["x-request-id"] in records[0].getMessage()


@pytest.mark.parametrize("path", ["/id/project/sempre", "/catalog", "/.well-known/void"])
def test_an_overflowing_if_modified_since_is_ignored(client, path) -> None:
    response = client.get(path, headers={**IMS, "Accept": "text/turtle"})
    assert response.status_code == 200 and response.headers["etag"]


def test_a_client_request_id_is_kept(client, caplog) -> None:
    caplog.set_level(logging.INFO, logger="etclod")
    response = client.get("/releases/nope", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 404 and response.headers["x-request-id"] == "abc-123"
    assert "abc-123" in caplog.records[-1].getMessage()


def test_validate_reports_an_unreadable_literal_without_a_traceback(client, capfd) -> None:
    """rdflib logged a traceback for ``"x"^^xsd:decimal`` (in the worker, which shares stderr)."""
    body = b'<http://a> <http://b> "x"^^<http://www.w3.org/2001/XMLSchema#decimal> .'
    response = client.post("/validate", content=body, headers={"Content-Type": "text/turtle"})
    assert response.status_code == 200
    assert "Traceback" not in capfd.readouterr().err


def test_deep_or_long_rdf_is_refused_by_a_check_that_never_rescans() -> None:
    from etclod.rdfinput import _turtle_depth

    assert _turtle_depth("<" * 100_000) == 0
    assert _turtle_depth('[ [ <a#b> "x]" ] ( ) ]') == 2
    assert _turtle_depth("# [[[\n[") == 1
    assert _turtle_depth("'''x [[[") == 0  # unterminated: the parser refuses it
