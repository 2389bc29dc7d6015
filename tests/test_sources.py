"""Importers: every documented field mapped, bad rows reported with where and why."""

from __future__ import annotations

import json
from pathlib import Path

from etclod.cli import main
from etclod.release import build_release, check_data
from etclod.settings import Settings
from etclod.sources import keep, kohesio, operations

from conftest import BASE

FIXTURES = Path(__file__).parent / "fixtures"


def records_of(imported, rtype: str) -> dict[str, dict]:
    return {r["id"]: r for (t, _), r in imported.records.items() if t == rtype}


def test_keep_project_maps_every_field() -> None:
    imported = keep.import_files([FIXTURES / "keep-project.json"])
    assert imported.errors == []
    project = records_of(imported, "project")["keep-21622"]
    assert project == {
        "type": "project", "id": "keep-21622", "keep_id": 21622, "acronym": "SEMPRE",
        "programme": "keep-programme-17", "sources": ["keep-eu-project-21622"],
        "total_budget": "4860664.11", "eu_funding": "3827755.48", "start": "2016-03-01", "end": "2019-02-28",
        "cofinancing_rate": "80.0", "status": "closed",
        "title": {"en": "Social Empowerment in Rural Areas", "lv": "Sociālā spēcināšana lauku apvidos"},
        "description": {"en": "Fixture summary."}, "priority": "Capacity for innovation",
        "themes": ["keep-theme-social-inclusion-and-equal-opportunities", "keep-theme-health-and-social-services"]}
    programme = records_of(imported, "programme")["keep-programme-17"]
    assert programme["cci"] == "2014TC16M5TN001" and programme["period"] == "2014-2020"
    orgs = records_of(imported, "organisation")
    lead = orgs["pic-999999001"]
    # keep.eu gives partner names without a language: they get the language of the partner's country
    assert lead == {"type": "organisation", "id": "pic-999999001", "name": {"de": "Fixture Lead Organisation e.V."},
                    "sources": ["keep-eu-project-21622"], "country": "DEU", "town": "Rendsburg", "postcode": "24768",
                    "pic": "999999001", "kind": "NGO"}
    partnerships = records_of(imported, "partnership")
    assert partnerships["keep-21622-1"]["role"] == "lead-partner" and partnerships["keep-21622-1"]["budget"] == "1000000.00"
    assert partnerships["keep-21622-1"]["eu_funding"] == "850000"
    assert partnerships["keep-21622-2"]["organisation"] == "org-lva-liepaja-liepajas-diakonijas-centrs"
    assert orgs["org-lva-liepaja-liepajas-diakonijas-centrs"]["name"] == {"lv": "Liepājas Diakonijas centrs"}


def test_keep_list_reports_bad_rows() -> None:
    imported = keep.import_files([FIXTURES / "keep-projects.json"])
    messages = [(e.row, e.message) for e in imported.errors]
    assert any(row == 1 and "partner 3" in m and "no name" in m for row, m in messages)
    assert any(row == 3 and "not a date" in m for row, m in messages)
    assert any(row == 2 and "no CCI" in m for row, m in messages)
    assert any(row == 4 and "not an object" in m for row, m in messages)
    project = records_of(imported, "project")["keep-30001"]
    assert project["total_budget"] == "1200000.00" and project["start"] == "2017-09-01"
    # what is reported as not imported is not written, and has no source written for it
    assert set(records_of(imported, "project")) == {"keep-30001"}
    assert set(records_of(imported, "source")) == {"keep-eu-project-30001"}
    assert {p["organisation"] for p in records_of(imported, "partnership").values()} == \
        {"pic-999999001", "org-lva-liepaja-sia-liepajas-diakonijas-centrs"}  # partner 3 has no name


def test_keep_project_of_a_programme_the_steward_added_is_imported() -> None:
    imported = keep.import_files([FIXTURES / "keep-projects.json"], frozenset({("programme", "keep-programme-99")}))
    assert records_of(imported, "project")["keep-30002"]["programme"] == "keep-programme-99"
    assert not any(e.row == 2 for e in imported.errors)


def test_kohesio_maps_every_column() -> None:
    imported = kohesio.import_files([FIXTURES / "kohesio.csv"])
    project = records_of(imported, "project")["kohesio-lli-151"]
    assert project["title"] == {"lv": "ADD ME fixture operation"} and project["programme"] == "cci-2014tc16rfcb027"
    assert (project["total_budget"], project["eu_funding"]) == ("100000.00", "85000.00")
    assert (project["intervention_category"], project["cofinancing_rate"], project["inforegio_id"]) == ("112", "85", "1001")
    org = records_of(imported, "organisation")["kohesio-org-lv90000000001"]
    assert org["country"] == "LVA" and org["nuts"] == "LV005" and org["national_id"] == "LV90000000001"
    assert records_of(imported, "programme")["cci-2014tc16rfcb027"]["funds"] == ["ERDF"]
    assert len([p for p in records_of(imported, "partnership").values() if p["project"] == "kohesio-lli-151"]) == 2
    assert org["name"] == {"lv": "Aleksandrovas internātpamatskola"}  # the language of the beneficiary's country
    assert records_of(imported, "organisation")["kohesio-org-lt300000001"]["name"] == {"lt": "Fixture mokykla"}
    # a row with an error is not written at all: LLI-201 has no beneficiary, so no project either
    assert "kohesio-lli-201" not in records_of(imported, "project")
    rows = {e.row: e for e in imported.errors}
    assert "lots" in rows[4].message and "beneficiary" in rows[5].message and rows[6].field == "Operation_Unique_Identifier"


def test_list_of_operations_with_bom_semicolons_and_local_formats() -> None:
    imported = operations.import_files([FIXTURES / "operations.csv"], "2014TC16RFCB014")
    project = next(p for p in records_of(imported, "project").values() if p["acronym"] == "Empower Kids fixture")
    assert (project["start"], project["end"]) == ("2017-03-01", "2019-02-28")
    assert (project["total_budget"], project["eu_funding"]) == ("1234567.89", "1049382.71")
    assert project["description"] == {"lv": "A game for children"} and project["priority"] == "Priority 4"
    assert project["intervention_category"] == "112"
    roles = sorted(p["role"] for p in records_of(imported, "partnership").values() if p["project"] == project["id"])
    assert roles == ["lead-partner", "partner"]
    org = next(o for o in records_of(imported, "organisation").values() if o["town"] == "Turku")
    assert org["country"] == "FIN" and org["name"] == {"fi": "Fixture kommun"}
    assert not any(o["name"] in ({"und": "Someone else"}, {"lv": "Someone else"})
                   for o in records_of(imported, "organisation").values())  # its row had errors
    rows: dict = {}
    for e in imported.errors:
        rows.setdefault(e.row, []).append(e.message)
    assert "31.02.2017" in rows[4][0]
    assert any("Atlantis" in m for m in rows[5]) and any("sponsor" in m for m in rows[5])
    assert operations.import_files([FIXTURES / "operations.csv"], None).errors[0].message.startswith("a List of Operations")


def test_import_cli_then_build_merges_organisations(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    env = {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"), "ETCLOD_BASE_URI": BASE}
    assert main(["import", "keep", str(FIXTURES / "keep-project.json")], environ=env) == 0
    assert main(["import", "keep", str(FIXTURES / "keep-projects.json")], environ=env) == 1
    assert main(["import", "operations", str(FIXTURES / "operations.csv"), "--programme", "2014TC16RFCB014"],
                environ=env) == 1
    out = capsys.readouterr()
    assert "not imported keep-projects.json:1" in out.err
    assert len(list(data.glob("*.errors.jsonl"))) == 2
    settings = Settings.from_env(env)
    result = build_release(settings)
    merges = {g["kept"]: g for g in result.manifest["merges"]}
    assert merges["pic-999999001"]["records"] == 2  # the same PIC in two keep files
    ids = {"org-lva-liepaja-liepajas-diakonijas-centrs", "org-lva-liepaja-sia-liepajas-diakonijas-centrs"}
    liepaja = [g for g in result.manifest["merges"] if {g["kept"], *g["merged"]} == ids]
    assert len(liepaja) == 1 and liepaja[0]["records"] == 2  # same name: SIA and the quotes are ignored
    assert result.manifest["records"]["merged"] >= 2
    published = {m.loaded.key for m in check_data(settings).verdict.accepted}
    assert ("project", "keep-30001") in published and ("project", "keep-21622") in published
    # its programme has no CCI: reported as not imported at import time, so not written at all
    assert "project 30002 not imported" in out.err
    written = [r for f in data.glob("import-*.json") for r in json.loads(f.read_text("utf-8"))]
    assert not any(r["id"] in ("keep-30002", "keep-30003", "keep-eu-project-30003") for r in written)
    assert result.exit_code == 0, result.rejected


def test_steward_can_split_and_pin(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"), "ETCLOD_BASE_URI": BASE}
    main(["import", "keep", str(FIXTURES / "keep-project.json"), str(FIXTURES / "keep-projects.json")], environ=env)
    main(["import", "operations", str(FIXTURES / "operations.csv"), "--programme", "2014TC16RFCB014"], environ=env)
    (data / "merges.csv").write_text(
        "organisation,action,target\n"
        "pic-999999001,split,\n"
        "org-fin-turku-fixture-kommun,pin,org-lva-jurmala-jurmalas-pilsetas-labklajibas-parvalde\n", "utf-8")
    result = build_release(Settings.from_env(env))
    kept = {g["kept"]: g for g in result.manifest["merges"]}
    assert "pic-999999001" not in kept or kept["pic-999999001"]["records"] == 1
    assert kept["org-lva-jurmala-jurmalas-pilsetas-labklajibas-parvalde"]["merged"] == ["org-fin-turku-fixture-kommun"]
    import gzip
    nt = gzip.decompress((result.path / "dumps" / "etclod.nt.gz").read_bytes()).decode()
    assert "/id/organisation/org-fin-turku-fixture-kommun>" not in nt


def test_partner_countries_by_any_code_or_name(tmp_path: Path) -> None:
    """keep.eu and the Lists of Operations give a partner's country as an ISO code, the EU's own
    code or a name in English or in the country's language; every one reaches the same alpha-3
    code, and a name given without a language gets that country's language."""
    given = {"France": ("FRA", "fr"), "Deutschland": ("DEU", "de"), "EL": ("GRC", "el"), "uk": ("GBR", "en"),
             "Россия": ("RUS", "ru"), "  Lietuva ": ("LTU", "lt"), "bih": ("BIH", "bs"), "Japan": ("JPN", "ja")}
    project = json.loads((FIXTURES / "keep-project.json").read_text(encoding="utf-8"))
    project["partners"] = [{"name": f"Fixture partner {i}", "type": "Partner", "country": country,
                            "town": f"Town {i}", "total_budget": "1000.00"}
                           for i, country in enumerate(given, start=1)]
    project["partners"][0]["type"] = "Lead partner"
    path = tmp_path / "keep-project.json"
    path.write_text(json.dumps(project), encoding="utf-8")
    imported = keep.import_files([path])
    assert imported.errors == []
    orgs = {next(iter(org["name"].values())): org for org in records_of(imported, "organisation").values()}
    got = {country: (orgs[f"Fixture partner {i}"]["country"], next(iter(orgs[f"Fixture partner {i}"]["name"])))
           for i, country in enumerate(given, start=1)}
    assert got == given


def test_an_unknown_country_is_reported_not_guessed(tmp_path: Path) -> None:
    project = json.loads((FIXTURES / "keep-project.json").read_text(encoding="utf-8"))
    project["partners"][1]["country"] = "Atlantis"
    path = tmp_path / "keep-project.json"
    path.write_text(json.dumps(project), encoding="utf-8")
    imported = keep.import_files([path])
    # the field is a JSON path into the file (0-based, as JSON indexes), the message counts from 1
    assert [(e.field, e.value) for e in imported.errors] == [("partners[1].country", "Atlantis")]
    assert "partner 2 of project 21622" in imported.errors[0].message
    assert "unknown country 'Atlantis'" in imported.errors[0].message
    assert all(org.get("country") != "Atlantis" for org in records_of(imported, "organisation").values())
