"""A steward's mistake never takes published data offline: last known good per record, the
removal guard, the published record winning a clash. Each mistake is made on a copy of the
seed data, one at a time, and built with `etclod build`."""

from __future__ import annotations

import gzip
import html
import json
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest

from etclod.cli import main
from etclod.namespaces import ETC
from etclod.release import current_path

from conftest import BASE, SEED_DATA

MARKS = {str(ETC.keptFromRelease), str(ETC.heldBackReason)}


@pytest.fixture
def steward(tmp_path: Path):
    """A copy of the seed data, built once; ``build()`` runs `etclod build` on it."""
    data, var = tmp_path / "data", tmp_path / "var"
    shutil.copytree(SEED_DATA, data)
    env = {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(var), "ETCLOD_BASE_URI": BASE}

    class Steward:
        def __init__(self) -> None:
            self.data, self.var, self.env = data, var, env

        def build(self, *flags: str, **extra: str) -> int:
            return main(["build", *flags], {**env, **extra})

        def current(self) -> Path:
            from etclod.settings import Settings

            path = current_path(Settings.from_env(env))
            assert path is not None
            return path

        def rejected(self) -> list[dict]:
            lines = (self.current() / "rejected.jsonl").read_text("utf-8").splitlines()
            return [json.loads(line) for line in lines if line]

        def edit(self, name: str, old: str, new: str) -> int:
            """Replace ``old`` (once) in a data file; the 1-based line where the change is."""
            path = data / name
            text = path.read_text("utf-8")
            assert old in text, f"{old!r} is not in {name}"
            path.write_text(text.replace(old, new, 1), "utf-8")
            return text[: text.index(old)].count("\n") + 1

    s = Steward()
    assert s.build() == 0
    s.first = s.current()
    return s


def records_of(release: Path) -> dict[str, set[str]]:
    """Every published resource (with the nodes that belong to it, ``{iri}#...``) and its
    quads, from the release's N-Quads dump, leaving out the held-back marks."""
    out: dict[str, set[str]] = {}
    with gzip.open(release / "dumps" / "etclod.nq.gz", "rb") as handle:
        for quad in ox.parse(handle.read(), format=ox.RdfFormat.N_QUADS):
            if quad.predicate.value in MARKS or not isinstance(quad.subject, ox.NamedNode):
                continue
            out.setdefault(quad.subject.value.split("#")[0], set()).add(str(quad))
    return out


def assert_all_kept(before: Path, after: Path) -> None:
    """Every resource of ``before`` is served in ``after`` with the same quads."""
    old, new = records_of(before), records_of(after)
    missing = sorted(set(old) - set(new))
    assert not missing, f"unpublished: {missing}"
    changed = {iri: (sorted(old[iri] - new[iri]), sorted(new[iri] - old[iri])) for iri in old if old[iri] != new[iri]}
    assert not changed, f"changed: {changed}"


def marks(release: Path, iri: str) -> dict[str, str]:
    store = ox.Store()
    with gzip.open(release / "dumps" / "etclod.nq.gz", "rb") as handle:
        store.bulk_load(handle.read(), format=ox.RdfFormat.N_QUADS)
    return {q.predicate.value: q.object.value for q in store.quads_for_pattern(ox.NamedNode(iri), None, None, None)
            if q.predicate.value in MARKS}


def test_impossible_date_is_one_field_error_and_the_project_stays(steward, capsys) -> None:
    line = steward.edit("projects.yaml", "  end: 2019-02\n", "  end: 2019-02-30\n")
    capsys.readouterr()
    assert steward.build() == 1
    err = capsys.readouterr().err
    assert (f"rejected projects.yaml:{line} project 'sempre' field 'end': 2019-02-30 is not a date "
            "(day 30 of February)") in err
    assert steward.current() != steward.first
    assert_all_kept(steward.first, steward.current())
    [entry] = steward.rejected()
    assert (entry["id"], entry["kept_from"]) == ("sempre", steward.first.name)
    assert entry["reasons"][0]["line"] == line and entry["reasons"][0]["field"] == "end"
    held = marks(steward.current(), f"{BASE}id/project/sempre")
    assert held[str(ETC.keptFromRelease)] == steward.first.name
    assert f"projects.yaml:{line}" in held[str(ETC.heldBackReason)]
    manifest = json.loads((steward.current() / "manifest.json").read_text("utf-8"))
    assert manifest["records"]["held_back"] == 1 and manifest["held_back"][0]["id"] == "sempre"


def test_month_13_names_the_month(steward, capsys) -> None:
    steward.edit("projects.yaml", "  start: 2016-03 ", "  start: 2016-13 ")
    assert steward.build() == 1
    assert "2016-13 is not a date (there is no month 13" in capsys.readouterr().err
    assert_all_kept(steward.first, steward.current())


def test_yaml_typo_takes_out_only_its_record(steward, capsys) -> None:
    text = (steward.data / "organisations.yaml").read_text("utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if t.strip().startswith("kind:") and i > 100)
    owner = next(t.split(":", 1)[1].strip() for t in reversed(text[:line]) if t.strip().startswith("id:"))
    text[line - 1] = text[line - 1] + ": x"
    (steward.data / "organisations.yaml").write_text("\n".join(text) + "\n", "utf-8")
    assert steward.build() == 1
    err = capsys.readouterr().err
    assert f"rejected organisations.yaml:{line} organisation {owner!r}: malformed YAML" in err
    assert f"line {line} column" in err
    assert_all_kept(steward.first, steward.current())
    [entry] = steward.rejected()
    assert entry["id"] == owner and entry["kept_from"] == steward.first.name


@pytest.mark.parametrize("damage", ["empty", "binary", "garbage"])
def test_a_damaged_file_keeps_all_its_records(steward, capsys, damage) -> None:
    path = steward.data / "people.yaml"
    people = path.read_text("utf-8").count("- type: person")
    path.write_bytes({"empty": b"", "binary": bytes(range(256)) * 4, "garbage": b"[{: :\n"}[damage])
    assert steward.build() == 1
    assert_all_kept(steward.first, steward.current())
    held = [r for r in steward.rejected() if r["kept_from"]]
    assert len(held) == people and {r["file"] for r in held} == {"people.yaml"}


def test_a_deleted_file_trips_the_guard(steward, capsys) -> None:
    organisations = (steward.data / "organisations.yaml").read_text("utf-8").count("- type: organisation")
    (steward.data / "organisations.yaml").unlink()
    capsys.readouterr()
    assert steward.build() == 2
    err = capsys.readouterr().err
    assert f"would unpublish {organisations} records" in err or "would unpublish" in err
    assert "organisation 'latvijas-universitate' (from organisations.yaml)" in err
    assert steward.current() == steward.first  # nothing published
    assert steward.build("--allow-removals") == 1  # the rest is published; references to them rejected
    assert steward.current() != steward.first


def test_a_moved_record_is_not_a_removal(steward) -> None:
    text = (steward.data / "projects.yaml").read_text("utf-8")
    start = text.index("- type: project\n  id: vital-cities")
    (steward.data / "projects.yaml").write_text(text[:start], "utf-8")
    (steward.data / "more-projects.yaml").write_text(text[start:], "utf-8")
    assert steward.build(ETCLOD_MAX_REMOVALS="0") == 0
    before, after = records_of(steward.first), records_of(steward.current())
    iri = f"{BASE}id/project/vital-cities"
    assert {q.replace("projects.yaml", "") for q in before[iri]} == \
        {q.replace("more-projects.yaml", "") for q in after[iri]}  # only etc:record names the new file


def test_a_renamed_id_is_a_removal_the_guard_counts(steward, capsys) -> None:
    steward.edit("partnerships.yaml", "id: vital-cities-liepaja", "id: vital-cities-liepajas-pilseta")
    assert steward.build(ETCLOD_MAX_REMOVALS="0") == 2
    assert "partnership 'vital-cities-liepaja' (from partnerships.yaml)" in capsys.readouterr().err
    assert steward.current() == steward.first
    assert steward.build() == 0  # 1 removal is within the default 5 %
    manifest = json.loads((steward.current() / "manifest.json").read_text("utf-8"))
    assert [(g["type"], g["id"]) for g in manifest["removed"]] == [("partnership", "vital-cities-liepaja")]
    assert f"{BASE}id/partnership/vital-cities-liepajas-pilseta" in records_of(steward.current())


def test_a_typo_in_a_reference_holds_the_published_record(steward, capsys) -> None:
    line = steward.edit("partnerships.yaml", "organisation: latvijas-universitate\n",
                        "organisation: latvijas-universitat\n")
    capsys.readouterr()
    assert steward.build() == 1
    err = capsys.readouterr().err
    assert (f"rejected partnerships.yaml:{line} partnership 'sempre-latvijas-universitate' field 'organisation': "
            "points at organisation 'latvijas-universitat', which is not in the data; did you mean "
            "'latvijas-universitate'?") in err
    assert "unpublished" not in err
    assert_all_kept(steward.first, steward.current())
    [entry] = steward.rejected()
    assert (entry["id"], entry["kept_from"]) == ("sempre-latvijas-universitate", steward.first.name)
    manifest = json.loads((steward.current() / "manifest.json").read_text("utf-8"))
    assert manifest["records"]["held_back"] == 1 and manifest["removed"] == []


def test_a_held_version_pointing_at_a_removed_record_is_not_counted_as_kept(steward, capsys) -> None:
    text = (steward.data / "people.yaml").read_text("utf-8")
    start = text.index("- type: person\n  id: diana-jakaite")
    end = text.index("- type: person", start + 1)
    (steward.data / "people.yaml").write_text(text[:start] + text[end:], "utf-8")  # the moderator taken out
    capsys.readouterr()
    assert steward.build("--allow-removals") == 1
    err = capsys.readouterr().err
    assert "unpublished: event 'seminar-2018-01-25' (was in events.yaml; its record is rejected" in err
    assert "unpublished: person 'diana-jakaite' (was in people.yaml; no record has that id now)" in err
    [entry] = steward.rejected()  # one entry for the seminar, not kept: its published version points at her
    assert entry["id"] == "seminar-2018-01-25" and entry["kept_from"] is None
    assert [r["check"] for r in entry["reasons"]] == ["reference", "shacl"]
    manifest = json.loads((steward.current() / "manifest.json").read_text("utf-8"))
    assert manifest["records"]["held_back"] == 0 and manifest["held_back"] == []
    assert {g["id"] for g in manifest["removed"]} == {"seminar-2018-01-25", "diana-jakaite"}


def test_the_published_record_wins_a_clash(steward, capsys) -> None:
    (steward.data / "new-project.yaml").write_text(
        "- type: project\n  id: sempre\n  acronym: BRIDGES\n  programme: urbact-iii\n"
        "  sources: [varam-2018-01-30]\n", "utf-8")
    capsys.readouterr()
    assert steward.build() == 1
    err = capsys.readouterr().err
    line = next(t for t in err.splitlines() if t.startswith("rejected new-project.yaml:2 project 'sempre' field 'id'"))
    assert "is published from projects.yaml:2" in line and "give it another id" in line
    assert_all_kept(steward.first, steward.current())
    [entry] = steward.rejected()
    assert entry["file"] == "new-project.yaml" and entry["kept_from"] is None


def test_a_clash_with_no_release_goes_to_the_first_file(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    shutil.copytree(SEED_DATA, data)
    (data / "a-project.yaml").write_text(
        "- type: project\n  id: sempre\n  acronym: BRIDGES\n  programme: urbact-iii\n"
        "  sources: [varam-2018-01-30]\n", "utf-8")
    assert main(["build"], {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"),
                            "ETCLOD_BASE_URI": BASE}) == 1
    assert ("rejected projects.yaml:3 project 'sempre' field 'id': duplicate id: project 'sempre' is already "
            "defined at a-project.yaml:1") in capsys.readouterr().err


def test_an_invalid_published_record_still_wins_its_id(steward, capsys) -> None:
    steward.edit("projects.yaml", "  end: 2019-02\n", "  end: 2019-02-30\n")
    (steward.data / "new-project.yaml").write_text(
        "- type: project\n  id: sempre\n  acronym: BRIDGES\n  programme: urbact-iii\n"
        "  sources: [varam-2018-01-30]\n", "utf-8")
    assert steward.build() == 1
    assert_all_kept(steward.first, steward.current())
    assert {(r["file"], bool(r["kept_from"])) for r in steward.rejected()} >= {("projects.yaml", True),
                                                                            ("new-project.yaml", False)}


def test_fixing_a_held_record_publishes_the_fix_and_ends_the_hold(steward) -> None:
    steward.edit("projects.yaml", "  end: 2019-02\n", "  end: 2019-02-30\n")
    assert steward.build() == 1
    held = steward.current()
    steward.edit("projects.yaml", "  end: 2019-02-30\n", "  end: 2019-03\n")
    assert steward.build() == 0
    iri = f"{BASE}id/project/sempre"
    assert marks(steward.current(), iri) == {}
    assert any('"2019-03"' in q for q in records_of(steward.current())[iri])
    assert held != steward.current()


def test_held_since_the_first_release_it_was_good_in(steward) -> None:
    steward.edit("projects.yaml", "  end: 2019-02\n", "  end: 2019-02-30\n")
    assert steward.build() == 1
    steward.edit("projects.yaml", "  start: 2016-03 ", "  start: 2016-3 ")
    assert steward.build() == 1
    iri = f"{BASE}id/project/sempre"
    assert marks(steward.current(), iri)[str(ETC.keptFromRelease)] == steward.first.name
    assert_all_kept(steward.first, steward.current())


def test_strict_with_held_records_publishes_nothing(steward, capsys) -> None:
    steward.edit("projects.yaml", "  end: 2019-02\n", "  end: 2019-02-30\n")
    assert steward.build("--strict") == 1
    assert steward.current() == steward.first


def test_a_shacl_failure_of_a_published_record_is_held_too(steward, capsys) -> None:
    steward.edit("projects.yaml", 'eu_funding: "3827755.48"', 'eu_funding: "9999999999.00"')
    assert steward.build() == 1
    assert_all_kept(steward.first, steward.current())
    [entry] = steward.rejected()
    assert entry["id"] == "sempre" and entry["reasons"][0]["check"] == "shacl" and entry["kept_from"]


def test_validate_lists_held_records(steward, capsys) -> None:
    steward.edit("projects.yaml", "  end: 2019-02\n", "  end: 2019-02-30\n")
    capsys.readouterr()
    assert main(["validate"], steward.env) == 1
    out = capsys.readouterr().out
    assert f"kept from release {steward.first.name}: project 'sempre'" in out


def test_validation_shows_every_rejection_held_and_cascaded_in_both_languages_and_turtle(steward, capsys) -> None:
    from fastapi.testclient import TestClient
    from rdflib import Graph

    from etclod.api.app import create_app
    from etclod.settings import Settings

    steward.edit("projects.yaml", "  end: 2019-02\n", "  end: 2019-02-30\n")
    (steward.data / "new.yaml").write_text(
        "- type: project\n  id: bridges\n  acronym: BRIDGES\n  programme: urbact-iii\n  start: 2019-13\n"
        "  sources: [varam-2018-01-30]\n"
        "- type: partnership\n  id: bridges-liepaja\n  project: bridges\n  organisation: liepajas-pilseta\n"
        "  sources: [varam-2018-01-30]\n", "utf-8")
    (steward.data / "broken.json").write_text("[{", "utf-8")
    capsys.readouterr()
    assert steward.build() == 1
    summary = capsys.readouterr().out
    manifest = json.loads((steward.current() / "manifest.json").read_text("utf-8"))
    records = manifest["records"]
    assert f"{records['published']} records published ({records['held_back']} kept" in summary
    assert f"{records['rejected']} rejected" in summary
    with TestClient(create_app(Settings.from_env(steward.env))) as client:
        en = html.unescape(client.get("/validation", headers={"Accept": "text/html", "Accept-Language": "en"}).text)
        lv = html.unescape(client.get("/validation", headers={"Accept": "text/html", "Accept-Language": "lv"}).text)
        ttl = client.get("/validation?format=ttl").text
        health = client.get("/health").json()
    assert f"{records['rejected']} records rejected" in en and f"{records['published']} records published" in en
    assert "Held back: kept as published before" in en and "Aizturēti: saglabāti" in lv
    assert "project 'sempre'" in en and f"kept from release {steward.first.name}" in en
    assert 'href="/id/project/sempre"' in en
    assert "2019-13 is not a date" in en and "project 'bridges'" in en
    assert "points at project 'bridges', which is rejected" in en  # cascaded, with what it depended on
    assert "broken.json" in en and "the whole file" in en and "viss fails" in lv
    graph = Graph().parse(data=ttl, format="turtle")
    rejected = list(graph.subjects(RDF_TYPE, ETC.RejectedRecord))
    assert len(rejected) == records["rejected"] == len(steward.rejected())
    assert len(list(graph.subjects(ETC.keptFromRelease, None))) == records["held_back"] == health["held_back"] == 1


from rdflib.namespace import RDF as _RDF  # noqa: E402

RDF_TYPE = _RDF.type


def test_validation_counts_and_words_agree_when_the_only_rejection_is_held_back(steward, capsys) -> None:
    """A held-back record is a rejected record (the count says so), so the page must not also
    say that no record is rejected; it says none is besides the held-back ones, in both languages."""
    from fastapi.testclient import TestClient

    from etclod.api.app import create_app
    from etclod.settings import Settings

    steward.edit("projects.yaml", "  end: 2019-02\n", "  end: 2019-02-30\n")
    capsys.readouterr()
    assert steward.build() == 1
    records = json.loads((steward.current() / "manifest.json").read_text("utf-8"))["records"]
    assert records["rejected"] == records["held_back"] == len(steward.rejected()) == 1
    with TestClient(create_app(Settings.from_env(steward.env))) as client:
        page = {lang: " ".join(html.unescape(client.get("/validation", headers={
            "Accept": "text/html", "Accept-Language": lang}).text).split()) for lang in ("en", "lv")}
    assert f"{records['published']} records published (1 of them kept from an earlier release)," in page["en"]
    assert "1 record rejected (1 of them held back)" in page["en"]
    assert "No record is rejected." not in page["en"]
    assert "No record is rejected besides the held-back ones above." in page["en"]
    assert "noraidīts 1 ieraksts (1 no tiem aizturēts)" in page["lv"]
    assert "Neviens ieraksts nav noraidīts." not in page["lv"]
    assert "Neviens ieraksts, izņemot augstāk aizturētos, nav noraidīts." in page["lv"]


def test_a_held_version_the_shapes_reject_in_the_same_pass_is_not_kept(steward, capsys) -> None:
    """The event is rejected by the shapes (a place with no language), its published version is
    held in its place, and that version is rejected too: it names an organisation that is gone
    (the event no longer does). One rejection, not kept, with both reasons; no traceback."""
    steward.edit("events.yaml", "    - kulturas-ministrija\n", "")
    steward.edit("events.yaml", "  participants_approx: 70", '  place: "Riga"\n  participants_approx: 70')
    text = (steward.data / "organisations.yaml").read_text("utf-8")
    at = text.index("  id: kulturas-ministrija")
    start, end = text.rfind("\n- ", 0, at) + 1, text.index("\n- ", at) + 1
    (steward.data / "organisations.yaml").write_text(text[:start] + text[end:], "utf-8")
    capsys.readouterr()
    assert steward.build("--allow-removals") == 1
    [entry] = steward.rejected()
    assert entry["id"] == "seminar-2018-01-25" and entry["kept_from"] is None
    messages = [r["message"] for r in entry["reasons"]]
    assert messages[0].startswith("place needs a language")
    assert messages[1].startswith("its published version cannot be kept either: participants must point at")
    manifest = json.loads((steward.current() / "manifest.json").read_text("utf-8"))
    assert manifest["records"]["held_back"] == 0
    assert {g["id"] for g in manifest["removed"]} == {"seminar-2018-01-25", "kulturas-ministrija"}
