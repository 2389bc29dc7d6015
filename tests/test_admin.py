"""Writes only with a token: uploads are kept, validated and released like `etclod build`."""

from __future__ import annotations

import json
import warnings

import pytest
import yaml

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from etclod.api.app import create_app  # noqa: E402
from etclod.release import build_release, current_version, list_releases  # noqa: E402

from conftest import Virtuoso, project  # noqa: E402

TOKEN = "s3cret-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
def admin(request, make_settings):
    """An app with admin routes on the embedded store, or (parametrised ``virtuoso``) on a
    fresh Virtuoso, where an upload's release must be pushed to be served."""
    settings = make_settings([project()]).with_(admin_token=TOKEN)
    release = build_release(settings)
    server = None
    if getattr(request, "param", "oxigraph") == "virtuoso":
        from etclod.remote import RemoteStore

        server = Virtuoso()
        settings = server.settings(settings)
        RemoteStore.from_settings(settings).push(release.path)
    try:
        with TestClient(create_app(settings)) as client:
            yield settings, client
    finally:
        if server is not None:
            server.stop()


def body(records) -> bytes:
    return yaml.safe_dump(records, allow_unicode=True).encode("utf-8")


def test_without_a_configured_token_admin_routes_do_not_exist(make_settings) -> None:
    settings = make_settings([project()])
    build_release(settings)
    with TestClient(create_app(settings)) as client:
        response = client.post("/admin/records", content=body([project(id="x")]), headers={**YAML, **AUTH})
        assert response.status_code == 404
        assert client.post("/admin/build", headers=AUTH).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-wrong-token"},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer "}])
def test_bad_or_missing_token_is_401(admin, headers) -> None:
    settings, client = admin
    before = current_version(settings)
    response = client.post("/admin/records", content=body([project(id="x", acronym="X")]), headers={**YAML, **headers})
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert current_version(settings) == before
    assert not settings.inbox_dir.exists()


@pytest.mark.parametrize("admin", ["oxigraph", "virtuoso"], indirect=True)
def test_good_upload_is_released(admin) -> None:
    settings, client = admin
    before = current_version(settings)
    response = client.post("/admin/records", content=body([project(id="new", acronym="NEW")]), headers={**YAML, **AUTH})
    assert response.status_code == 201, response.text
    status = response.json()
    assert status["status"] == "published" and status["records"] == 1 and status["release"] != before
    assert current_version(settings) == status["release"]
    assert client.get("/id/project/new?format=nt").status_code == 200
    kept = settings.inbox_dir / status["id"]
    assert (kept / "upload.yaml").is_file() and json.loads((kept / "status.json").read_text())["status"] == "published"
    listing = client.get("/admin/records", headers=AUTH).json()["uploads"]
    assert [u["id"] for u in listing] == [status["id"]]
    # a later plain build keeps the uploaded records
    build_release(settings)
    assert client.get("/id/project/new?format=nt").status_code == 200


def test_same_upload_twice_publishes_once(admin) -> None:
    settings, client = admin
    payload = body([project(id="twice", acronym="TWICE")])
    first = client.post("/admin/records", content=payload, headers={**YAML, **AUTH})
    releases = len(list_releases(settings))
    second = client.post("/admin/records", content=payload, headers={**YAML, **AUTH})
    assert first.status_code == 201 and second.status_code == 200 and second.json()["duplicate"] is True
    assert len(list_releases(settings)) == releases
    nt = client.get("/dumps/etclod.nt.gz")
    import gzip
    assert gzip.decompress(nt.content).decode().count("/id/project/twice> <https://w3id.org/etclod/def#acronym>") == 1


@pytest.mark.parametrize("records, field, fragment", [
    ([project(id="neg", acronym="NEG", total_budget="-1")], "total_budget", "non-negative"),
    ([project(id="wrong", acronym="W", total_budget="a lot")], "total_budget", "not a number"),
    ([project(id="huge", acronym="H", title={"en": "x" * 100_001})], "title", "at most 100000"),
    ([project(id="proj")], "id", "duplicate id"),
    ([project(id="bad-lang", acronym="B", title={"English": "x"})], "title", "language tag"),
    ([project(id="js", acronym="J", homepage="javascript:alert(1)")], "homepage", "match pattern"),
])
def test_bad_upload_is_422_and_publishes_nothing(admin, records, field, fragment) -> None:
    settings, client = admin
    before = current_version(settings)
    response = client.post("/admin/records", content=body(records), headers={**YAML, **AUTH})
    assert response.status_code == 422, response.text
    document = response.json()
    assert set(document) >= {"error", "message", "status"} and document["status"] == 422
    reasons = [r for rec in document["upload"]["rejected"] for r in rec["reasons"]]
    assert any(r["field"] and r["field"].startswith(field) and fragment in r["message"] for r in reasons), reasons
    assert current_version(settings) == before
    kept = settings.inbox_dir / document["upload"]["id"]
    assert (kept / "upload.yaml").read_bytes() == body(records), "an upload is never lost"
    assert json.loads((kept / "status.json").read_text())["status"] == "rejected"


@pytest.mark.parametrize("payload, ctype", [
    ("- type: project\n  id: big\n  acronym: G\n  programme: prog\n  sources: [src]\n  keep_id: " + "9" * 5000 + "\n",
     "application/yaml"),
    ('[{"type": "project", "id": "big", "acronym": "G", "programme": "prog", "sources": ["src"], "keep_id": '
     + "9" * 5000 + "}]", "application/json"),
])
def test_an_integer_of_5000_digits(admin, payload, ctype) -> None:
    settings, client = admin
    response = client.post("/admin/records", content=payload.encode(), headers={"Content-Type": ctype, **AUTH})
    assert response.status_code == 422
    message = json.dumps(response.json()["upload"]["rejected"])
    assert "digits" in message


def test_every_records_errors_are_listed(admin) -> None:
    settings, client = admin
    records = [project(id="a1", acronym="A", total_budget="-1"), project(id="a2", acronym="B", start="2018-02-30"),
               {"type": "nonsense", "id": "n"}]
    document = client.post("/admin/records", content=body(records), headers={**YAML, **AUTH}).json()
    assert {(r["type"], r["id"]) for r in document["upload"]["rejected"]} == {
        ("project", "a1"), ("project", "a2"), ("nonsense", "n")}


def test_csv_uploads_encodings_and_formula_cells(admin) -> None:
    settings, client = admin
    header = "type,id,name@lv,country,sources\n"
    row = "organisation,riga-org,Rīgas dome,LVA,src\n"
    cp1257 = client.post("/admin/records", content=(header + row).encode("cp1257"),
                         headers={"Content-Type": "text/csv", **AUTH})
    assert cp1257.status_code == 422
    assert "not UTF-8" in cp1257.json()["upload"]["rejected"][0]["reasons"][0]["message"]
    bom = client.post("/admin/records", content=("\ufeff" + header + row).encode("utf-8"),
                      headers={"Content-Type": "text/csv", **AUTH})
    assert bom.status_code == 201, bom.text
    formula = "organisation,formula,=HYPERLINK(\"http://evil\"),LVA,src\n"
    assert client.post("/admin/records", content=(header + formula).encode(), headers={"Content-Type": "text/csv", **AUTH}).status_code == 201
    csv_out = client.get("/sparql", params={"query": "SELECT ?n WHERE { <http://localhost:8000/id/organisation/formula> <http://www.w3.org/2004/02/skos/core#prefLabel> ?n }"},
                         headers={"Accept": "text/csv"}).text
    assert csv_out.splitlines()[1].startswith("\"'=HYPERLINK") or csv_out.splitlines()[1].startswith("'=HYPERLINK")


def test_wrong_content_type_is_415(admin) -> None:
    settings, client = admin
    response = client.post("/admin/records", content=b"<x/>", headers={"Content-Type": "application/xml", **AUTH})
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize("admin", ["oxigraph", "virtuoso"], indirect=True)
def test_admin_build(admin) -> None:
    settings, client = admin
    before = current_version(settings)
    response = client.post("/admin/build", headers=AUTH)
    assert response.status_code == 200 and response.json()["release"] != before
    assert current_version(settings) == response.json()["release"]
    assert response.json()["pushed_to"] == (settings.store_url.removeprefix("sparql+") if settings.store_url else None)
    assert client.get("/health").json()["release"] == response.json()["release"]


class HeldBuild:
    """A real ``build_release`` in a thread, held at its first stage (so it holds the project's
    build lock) until :meth:`release`; entering waits, with a deadline, until it is held."""

    def __init__(self, settings) -> None:
        import concurrent.futures as cf
        import threading

        from etclod.release import NullReporter

        self.settings, self.in_build, self.go_on = settings, threading.Event(), threading.Event()
        held = self

        class Held(NullReporter):
            def stage(self, name: str, total: int | None = None) -> None:
                held.in_build.set()
                held.go_on.wait(60)

        self.pool = cf.ThreadPoolExecutor(max_workers=2)
        self.running = self.pool.submit(build_release, settings, reporter=Held())

    def __enter__(self) -> HeldBuild:
        assert self.in_build.wait(60), "the build did not start"
        from etclod.errors import BuildRunningError
        from etclod.release import build_lock

        with pytest.raises(BuildRunningError), build_lock(self.settings):  # the lock is really held
            pass
        return self

    def release(self):
        self.go_on.set()
        return self.running.result(timeout=120)

    def __exit__(self, *exc) -> None:
        self.go_on.set()
        self.pool.shutdown(wait=True)


def upload_statuses(client) -> list[dict]:
    return client.get("/admin/records", headers=AUTH).json()["uploads"]


def until(predicate, what: str, seconds: float = 60.0):
    """Wait for ``predicate()`` to be true, with a deadline."""
    import threading
    import time

    deadline, tick = time.monotonic() + seconds, threading.Event()
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        tick.wait(0.02)
    return value


def test_an_upload_during_a_build_waits_for_it_and_ends_published(admin) -> None:
    """A real build holds the build lock while an upload arrives: the upload waits (its status
    says so), the build finishes, and the upload is judged and published in a release after
    that build's; it never stays ``received``."""
    settings, client = admin
    payload = body([project(id="during", acronym="DURING")])
    with HeldBuild(settings) as build:
        answer = build.pool.submit(client.post, "/admin/records", content=payload, headers={**YAML, **AUTH})
        waiting = until(lambda: [u for u in upload_statuses(client) if u.get("waiting")], "the upload to wait")
        assert [u["status"] for u in waiting] == ["received"] and not answer.done()
        built = build.release()
        during = answer.result(timeout=120)
    assert during.status_code == 201, during.text
    assert during.json()["status"] == "published" and "waiting" not in during.json()
    assert during.json()["release"] != built.version and current_version(settings) == during.json()["release"]
    assert [m["version"] for m in list_releases(settings)][-2:] == [built.version, during.json()["release"]]
    assert [u["status"] for u in upload_statuses(client)] == ["published"]
    assert client.get("/id/project/during?format=nt").status_code == 200


def test_an_upload_that_outwaits_its_deadline_ends_failed_and_is_judged_again_when_sent_again(admin) -> None:
    """With a build holding the lock past ETCLOD_UPLOAD_BUILD_WAIT, the upload ends ``failed``
    with the reason and the answer (503, Retry-After) says to send it again; sent again after
    the build, it is judged anew and published."""
    settings, _ = admin
    payload = body([project(id="late", acronym="LATE")])
    with TestClient(create_app(settings.with_(upload_build_wait=0.2))) as client, HeldBuild(settings) as build:
        during = client.post("/admin/records", content=payload, headers={**YAML, **AUTH})
        assert during.status_code == 503, during.text
        assert int(during.headers["Retry-After"]) > 0
        assert during.json()["error"] == "upload_build_running" and "send it again" in during.json()["message"]
        [kept] = upload_statuses(client)
        assert kept["status"] == "failed" and kept["reason"] == "a build was running; send it again"
        built = build.release()
        again = client.post("/admin/records", content=payload, headers={**YAML, **AUTH})
        assert again.status_code == 201, again.text
        assert again.json()["release"] != built.version and current_version(settings) == again.json()["release"]
        assert [u["status"] for u in upload_statuses(client)] == ["published"]


def guarded(settings):
    """A client whose settings allow no removal (the default allows 1 in a release this small)."""
    return TestClient(create_app(settings.with_(max_removals=0)))


def test_admin_build_obeys_the_removal_guard(admin) -> None:
    settings, _ = admin
    before = current_version(settings)
    (settings.data_dir / "extra.yaml").unlink()  # deleted by mistake: the project goes
    with guarded(settings) as client:
        response = client.post("/admin/build", headers=AUTH)
    assert response.status_code == 409, response.text
    answer = response.json()
    assert answer["error"] == "too_many_removals" and "--allow-removals" in answer["message"]
    assert [(r["type"], r["id"], r["file"]) for r in answer["removals"]] == [("project", "proj", "extra.yaml")]
    assert current_version(settings) == before


def test_an_upload_obeys_the_removal_guard(admin) -> None:
    settings, _ = admin
    before = current_version(settings)
    (settings.data_dir / "extra.yaml").unlink()
    with guarded(settings) as client:
        response = client.post("/admin/records", content=body([project(id="new", acronym="NEW")]),
                               headers={**YAML, **AUTH})
    assert response.status_code == 409 and response.json()["removals"][0]["id"] == "proj"
    assert current_version(settings) == before
    assert not any((settings.inbox_dir / "accepted").iterdir())  # not left to publish with a later build


def test_an_upload_claiming_a_published_id_names_both_places(admin) -> None:
    settings, client = admin
    response = client.post("/admin/records", content=body([project(acronym="OTHER")]), headers={**YAML, **AUTH})
    assert response.status_code == 422
    [rejected] = response.json()["upload"]["rejected"]
    message = rejected["reasons"][0]["message"]
    assert rejected["file"].startswith("inbox/") and "is published from extra.yaml:1" in message


def test_the_same_bad_upload_twice(admin) -> None:
    settings, client = admin
    before = current_version(settings)
    payload = body([project(id="bad", acronym="B", end="2019-02-30")])
    first = client.post("/admin/records", content=payload, headers={**YAML, **AUTH})
    second = client.post("/admin/records", content=payload, headers={**YAML, **AUTH})
    assert first.status_code == second.status_code == 422 and second.json()["duplicate"] is True
    reason = first.json()["upload"]["rejected"][0]["reasons"][0]
    assert reason["field"] == "end" and reason["message"] == "2019-02-30 is not a date (day 30 of February)"
    assert reason["line"] is not None
    assert current_version(settings) == before


def test_an_alias_bomb_upload_is_refused_and_its_status_stays_small(admin) -> None:
    from test_record_files import BOMB

    settings, client = admin
    response = client.post("/admin/records", content=BOMB.encode(), headers={**YAML, **AUTH})
    assert response.status_code == 422 and len(response.content) < 5000
    status = settings.inbox_dir / response.json()["upload"]["id"] / "status.json"
    assert status.stat().st_size < 5000 and "expands to more than" in status.read_text("utf-8")


def test_a_long_rejected_value_is_cut_in_the_status_with_its_length(admin) -> None:
    settings, client = admin
    response = client.post("/admin/records", content=body([project(id="long", acronym="L", titel="x" * 200_000)]),
                           headers={**YAML, **AUTH})
    assert response.status_code == 422
    status = (settings.inbox_dir / response.json()["upload"]["id"] / "status.json").read_text("utf-8")
    assert len(status) < 20_000 and "(cut: 200000 characters)" in status
