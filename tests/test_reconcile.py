"""The W3C Reconciliation API over real HTTP, as OpenRefine drives it, with every response
checked against JSON Schemas written from the specification's documented shapes."""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest

from etclod.api.app import create_app
from etclod.names import tokens
from etclod.reconcile import similarity

from conftest import LiveServer

TYPE = {"type": "object", "required": ["id", "name"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}
SERVICE = {"type": "object", "required": ["service_url", "service_path"],
           "properties": {"service_url": {"type": "string"}, "service_path": {"type": "string"}}}
MANIFEST = {
    "type": "object", "required": ["name", "identifierSpace", "schemaSpace"],
    "properties": {
        "versions": {"type": "array", "items": {"type": "string"}},
        "name": {"type": "string"}, "identifierSpace": {"type": "string"}, "schemaSpace": {"type": "string"},
        "defaultTypes": {"type": "array", "items": TYPE},
        "view": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string", "pattern": "\\{\\{id\\}\\}"}}},
        "preview": {"type": "object", "required": ["url", "width", "height"],
                    "properties": {"url": {"type": "string", "pattern": "\\{\\{id\\}\\}"}, "width": {"type": "integer"},
                                   "height": {"type": "integer"}}},
        "suggest": {"type": "object", "properties": {"entity": SERVICE, "type": SERVICE, "property": SERVICE}},
        "extend": {"type": "object", "properties": {"propose_properties": SERVICE,
                                                    "property_settings": {"type": "array"}}},
    },
}
CANDIDATE = {"type": "object", "required": ["id", "name", "score", "match"],
             "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "score": {"type": "number"},
                            "match": {"type": "boolean"}, "type": {"type": "array", "items": TYPE},
                            "description": {"type": "string"}}}
BATCH = {"type": "object", "additionalProperties": {"type": "object", "required": ["result"],
                                                     "properties": {"result": {"type": "array", "items": CANDIDATE}}}}
DRAFT_BATCH = {"type": "object", "required": ["results"],
               "properties": {"results": {"type": "array", "items": {
                   "type": "object", "required": ["candidates"],
                   "properties": {"candidates": {"type": "array", "items": CANDIDATE}}}}}}
SUGGEST = {"type": "object", "required": ["result"], "properties": {"result": {"type": "array", "items": {
    "type": "object", "required": ["id", "name"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"}}}}}}
PROPOSE = {"type": "object", "required": ["properties"], "properties": {"type": {"type": "string"},
                                                                          "properties": {"type": "array", "items": TYPE}}}
CELL = {"type": "object", "oneOf": [{"required": ["str"]}, {"required": ["float"]}, {"required": ["int"]},
                                    {"required": ["date"]}, {"required": ["bool"]}, {"required": ["id", "name"]}]}
EXTEND = {"type": "object", "required": ["meta", "rows"],
          "properties": {"meta": {"type": "array", "items": TYPE},
                         "rows": {"type": "object", "additionalProperties": {
                             "type": "object", "additionalProperties": {"type": "array", "items": CELL}}}}}


@pytest.fixture(scope="module")
def service(served):
    settings = served
    live = LiveServer(create_app(settings))
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client
    live.stop()


def batch(client, queries: dict) -> dict:
    response = client.post("/reconcile", data={"queries": json.dumps(queries)})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    jsonschema.validate(body, BATCH)
    return body


@pytest.mark.parametrize("query", [
    "Liepajas Diakonijas centrs",            # no diacritics
    "SIA „Liepājas Diakonijas centrs”",      # legal form and quotes
    "centrs Diakonijas Liepājas",            # word order
    "Liepāja diakonijas centra",             # declined differently
    "LIEPAJAS DIAKONIJAS CENTRS, SIA",
])
def test_real_names_find_the_organisation_first(service, query) -> None:
    result = batch(service, {"q0": {"query": query, "type": "organisation"}})["q0"]["result"]
    assert result[0]["id"] == "organisation/liepajas-diakonijas-centrs"
    assert result[0]["match"] is True and result[0]["type"][0]["id"] == "organisation"


def test_a_near_miss_is_a_candidate_not_a_match(service) -> None:
    result = batch(service, {"q0": {"query": "Liepājas sporta"}})["q0"]["result"]
    assert result[0]["id"] == "organisation/liepajas-sporta-parvalde"
    assert result[0]["match"] is False and len(result) > 1


def test_properties_refine_the_score(service) -> None:
    plain = batch(service, {"q0": {"query": "Latvijas universitāte"}})["q0"]["result"][0]
    right = batch(service, {"q0": {"query": "Latvijas universitāte", "properties": [{"pid": "country", "v": "LV"},
                                                                                   {"pid": "town", "v": "Riga"}]}})
    wrong = batch(service, {"q0": {"query": "Latvijas universitāte", "properties": [{"pid": "country", "v": "EST"}]}})
    assert right["q0"]["result"][0]["score"] >= plain["score"] > wrong["q0"]["result"][0]["score"]
    assert wrong["q0"]["result"][0]["match"] is False


def test_types_and_limits(service) -> None:
    result = batch(service, {"q0": {"query": "SEMPRE", "type": "project", "limit": 1},
                             "q1": {"query": "Baltic Sea Region", "type": "programme"}})
    assert [c["id"] for c in result["q0"]["result"]] == ["project/sempre"]
    assert result["q1"]["result"][0]["id"] == "programme/2014TC16M5TN001"
    assert result["q1"]["result"][0]["name"].startswith("Interreg")
    bad = service.post("/reconcile", data={"queries": json.dumps({"q0": {"query": "x", "type": "planet"}})})
    assert bad.status_code == 400 and bad.json()["error"] == "bad_type"
    assert service.post("/reconcile", data={"queries": "{not json"}).status_code == 400


def test_openrefine_flow_step_by_step(service) -> None:
    manifest = service.get("/reconcile").json()
    jsonschema.validate(manifest, MANIFEST)
    assert manifest["identifierSpace"].endswith("/id/")
    jsonp = service.get("/reconcile", params={"callback": "jQuery123_456"})
    assert jsonp.text.startswith("/**/jQuery123_456(") and jsonp.headers["content-type"].startswith("application/javascript")
    assert service.get("/reconcile", params={"callback": "alert(1)//"}).status_code == 400
    # 1. a batch of queries, as OpenRefine sends it (form POST)
    first = batch(service, {"q0": {"query": "Aleksandrovas internatpamatskola", "type": "organisation", "limit": 3},
                            "q1": {"query": "Jurmalas labklajibas parvalde", "type": "organisation"}})
    ids = [first["q0"]["result"][0]["id"], first["q1"]["result"][0]["id"]]
    assert ids == ["organisation/aleksandrovas-internatpamatskola", "organisation/jurmalas-labklajibas-parvalde"]
    # the 1.0 draft's JSON body
    draft = service.post("/reconcile", json={"queries": [{"query": "Aleksandrova school Aleksandrovas"}]}).json()
    jsonschema.validate(draft, DRAFT_BATCH)
    # 2. suggest
    for path, params in (("/reconcile/suggest/entity", {"prefix": "liep"}), ("/reconcile/suggest/type", {"prefix": "org"}),
                         ("/reconcile/suggest/property", {"prefix": "co"})):
        body = service.get(path, params=params).json()
        jsonschema.validate(body, SUGGEST)
        assert body["result"]
    # 3. preview, through the manifest's template
    preview_url = manifest["preview"]["url"].replace("{{id}}", ids[0])
    preview = service.get(httpx.URL(preview_url).raw_path.decode())
    assert preview.status_code == 200 and "Aleksandrovas internātpamatskola" in preview.text
    # 4. data extension
    proposed = service.get("/reconcile/propose_properties", params={"type": "organisation"}).json()
    jsonschema.validate(proposed, PROPOSE)
    extend = service.post("/reconcile", data={"extend": json.dumps(
        {"ids": ids + ["project/sempre"], "properties": [{"id": "country"}, {"id": "nuts"}, {"id": "programme"},
                                                         {"id": "eu_funding"}]})}).json()
    jsonschema.validate(extend, EXTEND)
    assert extend["rows"]["organisation/jurmalas-labklajibas-parvalde"]["nuts"] == [{"str": "LV007"}]
    assert extend["rows"]["project/sempre"]["eu_funding"] == [{"float": 3827755.48}]
    assert extend["rows"]["project/sempre"]["programme"][0]["id"] == "programme/2014TC16M5TN001"


def test_tokens_and_similarity() -> None:
    assert tokens("Liepājas Diakonijas centrs") == tokens("LIEPAJA diakonija centra")
    assert similarity(tokens("a b c"), tokens("c b a")) == 100.0
    assert similarity(tokens("Rīgas dome"), tokens("Liepājas dome")) < 85
