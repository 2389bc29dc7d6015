"""SHACL verdicts per record: bad records rejected with field, value and message; the rest kept."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from etclod.release import check_data

from conftest import ORGANISATION, PROGRAMME, SOURCE, project


def reasons_of(checked, rtype: str, rid: str):
    found = [r for r in checked.rejected if (r.type, r.id) == (rtype, rid)]
    assert found, f"{rtype} {rid} was not rejected: {[r.to_dict() for r in checked.rejected]}"
    return found[0].reasons


def accepted_ids(checked) -> set[tuple[str, str]]:
    return {m.loaded.key for m in checked.verdict.accepted}


@pytest.mark.parametrize("fields, field, fragment", [
    ({"start": "2019-02-01", "end": "2018-12"}, "end", "before start"),
    ({"total_budget": "-5"}, "total_budget", "non-negative"),
    ({"title": "Just a string"}, "title", "needs a language"),
    ({"programme": "no-such-programme"}, "programme", "points at programme 'no-such-programme', which is not in the data"),
    ({"themes": ["no-such-theme"]}, "themes", "points at theme 'no-such-theme', which is not in the data"),
    ({"total_budget": "10", "eu_funding": "20"}, "eu_funding", "more than the total budget"),
])
def test_bad_project_is_rejected_with_reason(make_settings, fields, field, fragment) -> None:
    checked = check_data(make_settings([project(**fields)]))
    reasons = reasons_of(checked, "project", "proj")
    check = "reference" if "points at" in fragment else "shacl"  # unknown ids are found before SHACL
    assert any(r.field == field and fragment in r.message and r.check == check for r in reasons), reasons
    assert ("programme", "prog") in accepted_ids(checked)


def test_a_post_role_without_language_names_the_posts_role_field(make_settings) -> None:
    person = {"type": "person", "id": "pp", "name": "P", "posts": [{"organisation": "org", "role": "5"}],
              "sources": ["src"]}
    checked = check_data(make_settings([person]))
    reason = reasons_of(checked, "person", "pp")[0]
    assert reason.check == "shacl" and reason.field == "posts.role" and "role" in reason.message


def test_unknown_programme_reference_names_the_id(make_settings) -> None:
    checked = check_data(make_settings([project(programme="ghost")]))
    reason = reasons_of(checked, "project", "proj")[0]
    assert reason.value == "ghost" and "'ghost'" in reason.message and reason.field == "programme"


def test_wrong_cci_code(make_settings) -> None:
    checked = check_data(make_settings([{**PROGRAMME, "id": "p2", "cci": "2014TC16RFXX027"}]))
    reason = reasons_of(checked, "programme", "p2")[0]
    assert reason.field == "cci" and reason.value == "2014TC16RFXX027" and "CCI code" in reason.message


def test_month_precision_dates_compare_correctly(make_settings) -> None:
    checked = check_data(make_settings([project(start="2016-03", end="2019-02")]))
    assert checked.rejected == []


def test_referencing_a_rejected_record_is_rejected_too(make_settings) -> None:
    partnership = {"type": "partnership", "id": "pp", "project": "proj", "organisation": "org",
                   "role": "lead-partner", "sources": ["src"]}
    checked = check_data(make_settings([project(total_budget="-1"), partnership]))
    reason = reasons_of(checked, "partnership", "pp")[0]
    assert reason.check == "reference" and reason.field == "project"
    assert "project 'proj', which is rejected" in reason.message
    assert ("organisation", "org") in accepted_ids(checked)


def test_referencing_a_record_that_failed_to_load(make_settings) -> None:
    partnership = {"type": "partnership", "id": "pp", "project": "proj", "organisation": "org",
                   "sources": ["src"]}
    checked = check_data(make_settings([project(start="2018-02-30"), partnership]))
    reason = reasons_of(checked, "partnership", "pp")[0]
    assert "which is rejected" in reason.message


def test_seed_data_is_all_valid(seed_settings) -> None:
    checked = check_data(seed_settings)
    assert checked.rejected == []
    assert checked.verdict.final_report.conforms


BREAKERS = {
    "negative budget": lambda: project(total_budget="-1"),
    "bad date": lambda: project(start="2018-02-31"),
    "no language": lambda: project(title="plain"),
    "missing programme": lambda: project(programme="nope"),
    "bad cci": lambda: {**PROGRAMME, "cci": "XX"},
    "bad org country": lambda: {**ORGANISATION, "country": "Latvia"},
    "source without title": lambda: {k: v for k, v in SOURCE.items() if k != "title"},
    "unknown type": lambda: {"type": "thing", "id": "x"},
}


@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.sampled_from(sorted(BREAKERS)), max_size=4))
def test_every_record_is_published_or_rejected(make_settings, breakers: set[str]) -> None:
    """The invariant: nothing is silently dropped, whatever breaks."""
    good = [project(id=f"ok{i}", acronym=f"OK{i}") for i in range(3)]
    partnership = {"type": "partnership", "id": "pp", "project": "ok0", "organisation": "org",
                   "sources": ["src"]}
    bad = [{**BREAKERS[name](), "id": f"bad{i}"} if "id" in BREAKERS[name]() else BREAKERS[name]()
           for i, name in enumerate(sorted(breakers))]
    records = good + [partnership] + bad
    settings = make_settings(records, base=False)
    base_records = [SOURCE, PROGRAMME, ORGANISATION]
    from conftest import write_records
    write_records(settings.data_dir, "base.yaml", base_records)
    checked = check_data(settings)
    published = accepted_ids(checked)
    rejected = {(r.type, r.id) for r in checked.rejected}
    every = {(r["type"], r["id"]) for r in base_records + records}
    assert published | rejected == every
    assert not published & rejected
    assert len(checked.verdict.accepted) + len(checked.rejected) == len(base_records) + len(records)


@pytest.mark.parametrize("severity, conforms", [("Warning", "true"), ("Violation", "false")])
def test_validate_says_conforms_for_a_report_of_warnings_only(seed_release, tmp_path, severity, conforms) -> None:
    """Regression: X-Etclod-Conforms said false whenever the report had any result, though
    results of severity sh:Warning or sh:Info alone conform (SHACL 3.6). The seed dump, which
    conforms, against the shapes plus one that every project fails with the given severity."""
    import gzip
    import shutil
    import warnings

    import rdflib
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from fastapi.testclient import TestClient

    from etclod.api.app import create_app
    from etclod.settings import PROJECT_ROOT

    ontology = tmp_path / "ontology"
    shutil.copytree(PROJECT_ROOT / "ontology", ontology)
    with (ontology / "shapes.ttl").open("a", encoding="utf-8") as shapes:
        shapes.write(f"""
<urn:test:ProjectHasAMotto> a <http://www.w3.org/ns/shacl#NodeShape> ;
  <http://www.w3.org/ns/shacl#targetClass> <https://w3id.org/etclod/def#Project> ;
  <http://www.w3.org/ns/shacl#property> [ <http://www.w3.org/ns/shacl#path> <urn:test:motto> ;
                                           <http://www.w3.org/ns/shacl#minCount> 1 ;
                                           <http://www.w3.org/ns/shacl#severity> <http://www.w3.org/ns/shacl#{severity}> ] .
""")
    settings, result = seed_release
    dump = gzip.decompress((result.path / "dumps" / "etclod.nt.gz").read_bytes())
    with TestClient(create_app(settings.with_(ontology_dir=ontology, query_timeout=60.0))) as client:
        response = client.post("/validate", content=dump, headers={"Content-Type": "application/n-triples"})
    assert response.status_code == 200, response.text
    report = rdflib.Graph().parse(data=response.text, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    severities = set(report.objects(None, sh.resultSeverity))
    assert severities == {sh[severity]}, severities  # the report does hold results, all of that severity
    assert response.headers["x-etclod-conforms"] == conforms


def test_the_validation_report_is_written_in_the_same_bytes_every_time(make_settings) -> None:
    """validation.ttl of the same data is the same file (its sha256 is in the catalogue): two
    results of one shape name it by the same blank node, which used to be a random id."""
    from pathlib import Path

    from etclod.release import build_release

    settings = make_settings([project(id=f"over-{n}", acronym=f"O{n}", total_budget="10", eu_funding="20")
                              for n in range(2)])
    written = []
    for n in range(2):
        release = build_release(settings.with_(var_dir=Path(f"{settings.var_dir}{n}")), full=True)
        written.append((release.path / "validation.ttl").read_bytes())
    assert written[0] == written[1]
    assert written[0].count(b"sh:sourceShape _:") == 2 and written[0].count(b"a sh:ValidationResult") == 2
