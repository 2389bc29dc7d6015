"""The Reconciliation API 0.2 (/reconcile) and 1.0 draft (/reconcile/v1): every response of
every service validated against the specification's own JSON Schemas (reconciliation-api/specs,
in ../shared/reference/reconciliation-api), plus paging, type lists, ids as prefixes and
language negotiation."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from etclod.api.app import create_app  # noqa: E402

from conftest import shared_reference  # noqa: E402

ORG = "organisation/liepajas-diakonijas-centrs"


class Schemas:
    """The schemas of one version, each resolvable by its ``$id`` (``lang.json``, ``type.json``)."""

    def __init__(self, folder: Path) -> None:
        self.by_name: dict[str, dict] = {}
        resources = []
        for path in sorted(folder.glob("*.json")):
            schema = json.loads(path.read_text("utf-8"))
            self.by_name[path.stem] = schema
            resources.append((schema["$id"], Resource.from_contents(schema, default_specification=DRAFT7)))
        self.registry = Registry().with_resources(resources)

    def check(self, name: str, document: object) -> object:
        validator = jsonschema.Draft7Validator(self.by_name[name], registry=self.registry)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
        return document


@pytest.fixture(scope="module")
def schemas() -> dict[str, Schemas]:
    root = shared_reference("reconciliation-api")
    return {"0.2": Schemas(root / "0.2" / "schemas"), "1.0": Schemas(root / "1.0-draft" / "schemas")}


@pytest.fixture(scope="module")
def client(seed_release):
    settings, _ = seed_release
    with TestClient(create_app(settings.with_(query_workers=1))) as c:
        yield c


def test_the_schemas_tell_good_from_bad(schemas) -> None:
    """The schemas as loaded accept the spec's valid examples and refuse its invalid ones."""
    root = shared_reference("reconciliation-api")
    checked = 0
    for version, folder in (("0.2", "0.2"), ("1.0", "1.0-draft")):
        for name in ("manifest", "reconciliation-result-batch", "data-extension-response"):
            for path in sorted((root / folder / "examples" / name).glob("*/*.json")):
                document = json.loads(path.read_text("utf-8"))
                if "authentication" in document:  # refers to the Swagger 2 schema by URL
                    continue
                validator = jsonschema.Draft7Validator(schemas[version].by_name[name],
                                                       registry=schemas[version].registry)
                assert validator.is_valid(document) is (path.parent.name == "valid"), path
                checked += 1
    assert checked > 10


def test_each_manifest_is_valid_for_its_version_and_names_the_other(client, schemas) -> None:
    old = client.get("/reconcile")
    new = client.get("/reconcile/v1")
    schemas["0.2"].check("manifest", old.json())
    schemas["1.0"].check("manifest", new.json())
    assert "reconcile/v1>" in old.headers["link"] and "reconcile>" in new.headers["link"]
    # neither claims the other's version: each document has that version's shape only
    assert old.json()["versions"] == ["0.2"] and new.json()["versions"] == ["1.0-draft"]


def test_v02_services(client, schemas) -> None:
    s = schemas["0.2"]
    batch = {"q0": {"query": "Liepājas Diakonijas centrs", "type": "organisation"},
             "q1": {"query": "SEMPRE", "type": ["project", "programme"], "limit": 2},
             "q2": {"query": "Liepājas", "type": ["organisation", "project"]}}
    s.check("reconciliation-query-batch", batch)
    result = s.check("reconciliation-result-batch",
                     client.post("/reconcile", data={"queries": json.dumps(batch)}).json())
    assert result["q0"]["result"][0]["id"] == ORG
    assert result["q1"]["result"][0]["id"] == "project/sempre"        # a list of types finds it
    assert {c["type"][0]["id"] for c in result["q2"]["result"]} <= {"organisation", "project"}
    assert result["q2"]["result"]
    s.check("suggest-entities-response", client.get("/reconcile/suggest/entity", params={"prefix": "liep"}).json())
    s.check("suggest-types-response", client.get("/reconcile/suggest/type", params={"prefix": "org"}).json())
    s.check("suggest-properties-response", client.get("/reconcile/suggest/property", params={"prefix": "co"}).json())
    s.check("data-extension-property-proposal",
            client.get("/reconcile/propose_properties", params={"type": "organisation"}).json())
    query = {"ids": [ORG, "project/sempre"], "properties": [{"id": "country"}, {"id": "eu_funding"}]}
    s.check("data-extension-query", query)
    s.check("data-extension-response", client.post("/reconcile", data={"extend": json.dumps(query)}).json())


def test_v1_services_at_the_drafts_paths(client, schemas) -> None:
    s = schemas["1.0"]
    batch = {"queries": [
        {"conditions": [{"matchType": "name", "propertyValue": "Liepājas Diakonijas centrs"}], "type": "organisation"},
        {"conditions": [{"matchType": "name", "propertyValue": "Latvijas universitāte"},
                        {"matchType": "property", "propertyId": "country", "propertyValue": "LVA", "required": True}]},
        {"conditions": [{"matchType": "id", "propertyValue": "project/sempre"}]},
        {"conditions": [{"matchType": "name", "propertyValue": "Latvijas universitāte"},
                        {"matchType": "property", "propertyId": "country", "propertyValue": "EST", "required": True}]},
    ]}
    s.check("reconciliation-query-batch", batch)
    results = s.check("reconciliation-result-batch", client.post("/reconcile/v1/match", json=batch).json())["results"]
    assert results[0]["candidates"][0]["id"] == ORG and results[0]["candidates"][0]["match"] is True
    assert results[1]["candidates"][0]["id"] == "organisation/latvijas-universitate"
    assert [c["id"] for c in results[2]["candidates"]] == ["project/sempre"]
    assert results[3]["candidates"] == []           # a required condition no candidate meets
    # the 1.0 batch posted to the 0.2 root is understood too (it was answered with nothing)
    legacy = client.post("/reconcile", json=batch).json()["results"]
    assert legacy[0]["candidates"][0]["id"] == ORG
    for path, params, schema in (("suggest/entity", {"prefix": "liep"}, "suggest-entities-response"),
                                 ("suggest/type", {"prefix": "pro"}, "suggest-types-response"),
                                 ("suggest/property", {"prefix": "co"}, "suggest-properties-response"),
                                 ("extend/propose", {"type": "organisation"}, "data-extension-property-proposal")):
        response = client.get(f"/reconcile/v1/{path}", params=params)
        assert response.status_code == 200, (path, response.text)
        assert s.check(schema, response.json())["result" if schema.startswith("suggest") else "properties"], path
    query = {"ids": [ORG, "project/sempre"], "properties": [{"id": "country"}, {"id": "programme"},
                                                            {"id": "eu_funding"}]}
    s.check("data-extension-query", query)
    extended = s.check("data-extension-response", client.post("/reconcile/v1/extend", json=query).json())
    rows = {row["id"]: {p["id"]: p["values"] for p in row["properties"]} for row in extended["rows"]}
    assert rows["project/sempre"]["programme"][0]["id"] == "programme/2014TC16M5TN001"
    preview = client.get("/reconcile/v1/preview", params={"id": ORG})
    assert preview.status_code == 200 and "Liepājas Diakonijas centrs" in preview.text


@pytest.mark.parametrize("root", ["/reconcile", "/reconcile/v1"])
def test_suggest_pages_and_ids(client, root) -> None:
    everything = client.get(f"{root}/suggest/entity", params={"prefix": "l", "limit": 100}).json()["result"]
    assert len(everything) > 4
    pages = []
    for cursor in range(0, len(everything), 2):
        pages += client.get(f"{root}/suggest/entity", params={"prefix": "l", "limit": 2, "cursor": cursor}).json()["result"]
    assert [e["id"] for e in pages] == [e["id"] for e in everything]
    by_offset = client.get(f"{root}/suggest/entity", params={"prefix": "l", "limit": 3, "offset": 2}).json()["result"]
    assert [e["id"] for e in by_offset] == [e["id"] for e in everything[2:5]]
    types = client.get(f"{root}/suggest/type", params={"prefix": "", "limit": 2, "cursor": 1}).json()["result"]
    assert len(types) == 2 and types[0]["id"] != client.get(f"{root}/suggest/type").json()["result"][0]["id"]
    by_id = client.get(f"{root}/suggest/entity", params={"prefix": ORG}).json()["result"]
    assert by_id[0]["id"] == ORG
    assert client.get(f"{root}/suggest/entity", params={"prefix": "l", "limit": 0}).status_code == 400


def test_accept_language_picks_the_names(client) -> None:
    def top(lang: str) -> dict:
        batch = {"queries": [{"conditions": [{"matchType": "name", "propertyValue": "Liepājas Diakonijas centrs"}]}]}
        return client.post("/reconcile/v1/match", json=batch, headers={"Accept-Language": lang}).json()[
            "results"][0]["candidates"][0]

    assert (top("lv")["name"], top("lv")["lang"]) == ("Liepājas Diakonijas centrs", "lv")
    assert (top("en-GB, lv;q=0.5")["name"], top("en-GB, lv;q=0.5")["lang"]) == ("Liepāja Diaconia Centre", "en")
    suggested = client.get("/reconcile/suggest/entity", params={"prefix": "liepajas diak"},
                           headers={"Accept-Language": "en"})
    assert suggested.json()["result"][0]["name"] == "Liepāja Diaconia Centre"
    assert "Accept-Language" in suggested.headers["vary"]
    old = client.post("/reconcile", data={"queries": json.dumps({"q0": {"query": "Liepāja Diaconia"}})},
                      headers={"Accept-Language": "lv"}).json()
    assert old["q0"]["result"][0]["name"] == "Liepājas Diakonijas centrs"
