"""/sparql answered by its own Starlette route (api.sparql.SparqlRoute, tried first) keeps
every layer the FastAPI routes had: the middlewares (CORS, metrics, body limit), the
exception handlers and their one error shape, 405 for other methods, the OpenAPI description."""

from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from etclod.api.app import create_app  # noqa: E402
from etclod.api.sparql import SparqlRoute  # noqa: E402


@pytest.fixture(scope="module")
def app(seed_release):
    return create_app(seed_release[0])


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def test_the_starlette_route_answers_first(app, client) -> None:
    assert isinstance(app.router.routes[0], SparqlRoute)
    served = []
    original = SparqlRoute.handle

    async def spy(self, scope, receive, send):  # type: ignore[no-untyped-def]
        served.append(scope["method"])
        await original(self, scope, receive, send)

    SparqlRoute.handle = spy  # type: ignore[method-assign]
    try:
        assert client.get("/sparql", params={"query": "ASK {}"}).status_code == 200
        assert client.post("/sparql", data={"query": "ASK {}"}).status_code == 200
        assert client.head("/sparql", params={"query": "ASK {}"}).status_code == 200
    finally:
        SparqlRoute.handle = original  # type: ignore[method-assign]
    assert served == ["GET", "POST", "HEAD"]


def test_every_layer_still_applies(client) -> None:
    origin = {"Origin": "https://yasgui.example"}
    answer = client.post("/sparql", data={"query": "ASK { ?s ?p ?o }"},
                         headers={**origin, "Accept": "application/sparql-results+json"})
    assert answer.status_code == 200 and answer.json()["boolean"] is True
    assert answer.headers["access-control-allow-origin"] == "*" and answer.headers["etag"]
    refused = client.post("/sparql", data={"query": "DELETE WHERE { ?s ?p ?o }"}, headers=origin)
    assert refused.status_code == 400 and refused.json()["error"] == "read_only"
    assert refused.headers["x-request-id"] and refused.headers["access-control-allow-origin"] == "*"
    wrong = client.put("/sparql", content=b"ASK {}")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET, HEAD, POST"  # one order, whatever the hash seed
    big = client.post("/sparql", content=b"x" * 64, headers={"Content-Type": "application/sparql-query",
                                                             "Content-Length": str(10**9)})
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    metrics = client.get("/metrics").text
    for status in (200, 400, 405):
        assert f'route="/sparql",status="{status}"' in metrics, status


def test_the_openapi_description_still_lists_sparql(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operations = {method: op["operationId"] for method, op in paths["/sparql"].items()}
    assert operations == {"get": "sparql_get", "post": "sparql_post"}
    assert {p["name"] for p in paths["/sparql"]["get"]["parameters"]} >= {"query", "default-graph-uri", "format"}
