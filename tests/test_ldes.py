"""The change stream: an LDES on TREE, one fragment per release; a harvester following it from
an old release ends with exactly the current release's resources."""

from __future__ import annotations

import warnings

import pyoxigraph as ox
import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from etclod import ldes  # noqa: E402
from etclod.api.app import create_app  # noqa: E402
from etclod.release import build_release  # noqa: E402

from conftest import BASE, ORGANISATION, PROGRAMME, SOURCE, project, write_records  # noqa: E402

OTHER = {**ORGANISATION, "id": "other", "name": {"en": "Other organisation"}}


@pytest.fixture
def three_releases(make_settings):
    settings = make_settings([project(total_budget="100.00"), OTHER])
    data = settings.data_dir
    first = build_release(settings)
    # release 2: a changed project, an organisation gone, a new one
    write_records(data, "extra.yaml", [project(total_budget="250.00"),
                                       {**ORGANISATION, "id": "newcomer", "name": {"en": "Newcomer"}}])
    second = build_release(settings)
    # release 3: only the programme's title changes
    write_records(data, "base.yaml", [SOURCE, {**PROGRAMME, "title": {"en": "Programme renamed"}}, ORGANISATION])
    third = build_release(settings)
    assert [r.rejected for r in (first, second, third)] == [[], [], []]
    return settings, [first, second, third]


def state_of(release) -> dict[str, set[tuple[str, ...]]]:
    """Every resource of a release with its triples (and its #parts'), read from its own store."""
    store = ox.Store.read_only(str(release.path / "store"))
    out: dict[str, set[tuple[str, ...]]] = {}
    for row in store.query(f'SELECT ?s ?p ?o WHERE {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), "{BASE}id/")) }}',
                           use_default_graph_as_union=True):
        resource = row["s"].value.split("#", 1)[0]
        out.setdefault(resource, set()).add((str(row["s"]), str(row["p"]), str(row["o"])))
    return out


def fetch(client: TestClient, url: str) -> list[ox.Triple]:
    response = client.get(url.removeprefix(BASE.rstrip("/")), headers={"Accept": "application/n-triples"})
    assert response.status_code == 200, (url, response.text)
    return [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(response.content, format=ox.RdfFormat.N_TRIPLES)]


def harvest(client: TestClient, start: str, state: dict) -> tuple[dict, list[str]]:
    seen, url = [], start
    while True:
        seen.append(url)
        nexts = ldes.apply(state, fetch(client, url), BASE)
        if not nexts:
            return state, seen
        assert len(nexts) == 1
        url = nexts[0]


def test_a_harvester_from_an_old_release_ends_with_exactly_the_current_resources(three_releases) -> None:
    settings, releases = three_releases
    versions = [r.version for r in releases]
    with TestClient(create_app(settings.with_(query_workers=1))) as client:
        stream = fetch(client, f"{BASE}ldes")
        view = next(t.object.value for t in stream if t.predicate.value == str(ldes.TREE.view))
        assert view == ldes.fragment_iri(BASE, versions[0])
        assert any(t.predicate.value == str(ldes.LDES.retentionPolicy) for t in stream)
        # from the first release's fragment on: every resource, then each release's changes
        final, pages = harvest(client, view, {})
        assert pages == [ldes.fragment_iri(BASE, v) for v in versions]
        assert final == state_of(releases[2])
        # a client that last saw release 2 reads only release 3's fragment after it
        resumed, pages = harvest(client, ldes.fragment_iri(BASE, versions[1]), state_of(releases[1]))
        assert resumed == state_of(releases[2]) and len(pages) == 2
        # one member per changed resource per release, a version object of its resource
        second = fetch(client, ldes.fragment_iri(BASE, versions[1]))
        members = {t.object.value for t in second if t.predicate.value == str(ldes.TREE.member)}
        resources = {t.object.value for t in second if t.predicate == ldes.IS_VERSION_OF}
        assert resources == {f"{BASE}id/project/proj", f"{BASE}id/organisation/other",
                             f"{BASE}id/organisation/newcomer"}
        assert len(members) == len(resources) == 3
        gone = ldes.member_iri(BASE, versions[1], f"{BASE}id/organisation/other")
        assert ox.Triple(ox.NamedNode(gone), ldes.RDF_TYPE, ox.NamedNode(str(ldes.ACTIVITY.Delete))) in second
        third = fetch(client, ldes.fragment_iri(BASE, versions[2]))
        assert {t.object.value for t in third if t.predicate == ldes.IS_VERSION_OF} == {
            f"{BASE}id/programme/{PROGRAMME['cci']}"}
        # immutable once a newer release links from it; the newest may still gain a link
        old = client.get(f"/ldes/{versions[0]}")
        assert "immutable" in old.headers["cache-control"] and "max-age=31536000" in old.headers["cache-control"]
        assert "immutable" not in client.get(f"/ldes/{versions[2]}").headers["cache-control"]
        assert client.get(f"/ldes/{versions[0]}", headers={"If-None-Match": old.headers["etag"]}).status_code == 304
        missing = client.get("/ldes/19990101T000000Z")
        assert missing.status_code == 404 and "dumps" in missing.json()["message"]
        # linked from the catalogue and from VoID
        for path in ("/catalog", "/.well-known/void"):
            body = client.get(path, headers={"Accept": "application/n-triples"}).text
            assert f"<http://www.w3.org/2000/01/rdf-schema#seeAlso> <{BASE}ldes>" in body, path
