"""Releases: sealed folders, atomic switching, dumps that hold exactly what is published."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pyshacl
import pytest
import rdflib

from etclod.cli import main
from etclod.formats import DUMP_FORMATS, dump_name
from etclod.namespaces import RESOURCE_TYPES
from etclod.records import json_schema, load_records
from etclod.release import build_release, current_version, list_releases, rollback
from etclod.settings import PROJECT_ROOT, Settings
from etclod.validation import load_shapes

from conftest import BASE, SEED_DATA, project, seed_count, seed_records, write_records

RELEASE_FILES = {"store", "dumps", "validation.ttl", "rejected.jsonl", "changes.nq.gz", "manifest.json"}


def cli_env(settings: Settings) -> dict[str, str]:
    return {"ETCLOD_DATA": str(settings.data_dir), "ETCLOD_VAR": str(settings.var_dir),
            "ETCLOD_BASE_URI": settings.base_uri}


def test_seed_release_layout(seed_release) -> None:
    settings, result = seed_release
    folder = settings.current_link.resolve()
    assert folder == result.path.resolve()
    assert RELEASE_FILES <= {p.name for p in folder.iterdir()}
    assert {p.name for p in (folder / "dumps").iterdir()} == {dump_name(f) for f in DUMP_FORMATS} | {
        "links-keep-eu.nt.gz", "links-nuts.nt.gz"}
    manifest = result.manifest
    records = seed_records()
    assert manifest["records"] == {"read": len(records), "published": len(records), "rejected": 0, "held_back": 0, "merged": 0}
    assert result.published == manifest["records"]["published"]  # the one count, whoever reports it
    assert manifest["classes"]["https://w3id.org/etclod/def#Project"] == seed_count("project")
    assert manifest["classes"]["https://w3id.org/etclod/def#Programme"] == seed_count("programme")
    assert set(manifest["inputs"]) == {p.name for p in SEED_DATA.iterdir() if p.suffix == ".yaml"}


def test_manifest_hashes_and_sizes_match_the_files(seed_release) -> None:
    settings, result = seed_release
    folder = result.path
    for rel, entry in result.manifest["files"].items():
        data = (folder / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], rel
        assert len(data) == entry["bytes"], rel


@pytest.mark.parametrize("fmt", DUMP_FORMATS, ids=lambda f: f.key)
def test_dumps_parse_and_hold_every_triple(seed_release, fmt) -> None:
    settings, result = seed_release
    with gzip.open(result.path / "dumps" / dump_name(fmt), "rb") as handle:
        data = handle.read()
    if fmt.kind == "dataset":
        graph = rdflib.Dataset()
        graph.parse(data=data, format=fmt.rdflib_name)
        quads = list(graph.quads((None, None, None, None)))
        assert len(quads) == result.manifest["quads"]
        graphs = {str(q[3]) for q in quads}
        assert f"{BASE}graph/varam-2018-01-30" in graphs and f"{BASE}graph/themes" in graphs
    else:
        graph = rdflib.Graph()
        graph.parse(data=data, format=fmt.rdflib_name)
        assert len(graph) == result.manifest["triples"] == result.manifest["files"][f"dumps/{dump_name(fmt)}"]["triples"]


def test_dump_conforms_to_the_shapes(seed_release) -> None:
    settings, result = seed_release
    graph = rdflib.Graph()
    with gzip.open(result.path / "dumps" / "etclod.nt.gz", "rb") as handle:
        graph.parse(data=handle.read(), format="nt")
    conforms, _, text = pyshacl.validate(graph, shacl_graph=load_shapes(PROJECT_ROOT / "ontology" / "shapes.ttl"),
                                         inference="none")
    assert conforms, text


def test_seed_facts_are_published(seed_release) -> None:
    settings, result = seed_release
    graph = rdflib.Graph()
    with gzip.open(result.path / "dumps" / "etclod.nt.gz", "rb") as handle:
        graph.parse(data=handle.read(), format="nt")
    etc = rdflib.Namespace("https://w3id.org/etclod/def#")
    xsd = rdflib.namespace.XSD
    sempre = rdflib.URIRef(f"{BASE}id/project/sempre")
    assert graph.value(sempre, etc.totalBudget) == rdflib.Literal("4860664.11", datatype=xsd.decimal)
    assert graph.value(sempre, rdflib.URIRef("https://schema.org/startDate")) == rdflib.Literal("2016-03", datatype=xsd.gYearMonth)
    assert graph.value(sempre, etc.programme) == rdflib.URIRef(f"{BASE}id/programme/2014TC16M5TN001")
    seminar = rdflib.URIRef(f"{BASE}id/event/seminar-2018-01-25")
    assert int(graph.value(seminar, etc.approximateParticipants)) == 70
    assert len(set(graph.objects(seminar, etc.presentedProject))) == 5
    assert len(set(graph.objects(seminar, etc.theme))) == 3
    diakonija = rdflib.URIRef(f"{BASE}id/organisation/liepajas-diakonijas-centrs")
    assert rdflib.Literal("Liepājas Diakonijas centrs", lang="lv") in set(graph.objects(diakonija, rdflib.RDFS.label))
    prov = rdflib.namespace.PROV
    typed = {s for s in graph.subjects(rdflib.RDF.type, None) if "#" not in str(s)}
    for subject in typed:
        if "/id/source/" not in str(subject):
            assert graph.value(subject, prov.wasDerivedFrom) is not None, subject
        assert graph.value(subject, etc.record) is not None, subject


def test_same_input_gives_byte_identical_dumps(seed_settings, tmp_path: Path) -> None:
    first = build_release(seed_settings)
    second = build_release(seed_settings.with_(var_dir=tmp_path / "var2"))
    for name in ("etclod.nt.gz", "etclod.nq.gz", "etclod.ttl.gz"):
        assert (first.path / "dumps" / name).read_bytes() == (second.path / "dumps" / name).read_bytes(), name


def test_dumps_are_byte_identical_across_processes(seed_settings, tmp_path: Path) -> None:
    """Two processes hash strings differently (PYTHONHASHSEED): the themes scheme, an rdflib
    graph, must not reach the store in its set order, or the dumps differ from build to build."""
    import subprocess
    import sys

    dumps = []
    for seed in ("1", "2"):
        settings = seed_settings.with_(var_dir=tmp_path / f"var-{seed}")
        env = {**os.environ, **cli_env(settings), "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "etclod", "build"], env=env, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr.decode()
        folder = settings.current_link.resolve() / "dumps"
        dumps.append({name: (folder / name).read_bytes() for name in ("etclod.nq.gz", "etclod.nt.gz")})
    assert dumps[0] == dumps[1]


def test_bad_records_are_rejected_and_the_rest_published(make_settings, capsys) -> None:
    settings = make_settings([project(), project(id="neg", acronym="NEG", total_budget="-10")])
    code = main(["build"], environ=cli_env(settings))
    assert code == 1
    err = capsys.readouterr().err
    assert "extra.yaml:" in err and "'neg'" in err and "total_budget" in err
    assert "records rejected" in err and "rejected, shacl: total budget must be" in err  # the summary table
    assert "dumps/etclod.nt.gz" in err and "time: validate" in err
    folder = settings.current_link.resolve()
    lines = [json.loads(line) for line in (folder / "rejected.jsonl").read_text("utf-8").splitlines()]
    assert [(r["type"], r["id"], r["file"]) for r in lines] == [("project", "neg", "extra.yaml")]
    assert lines[0]["record"]["total_budget"] == "-10"
    assert lines[0]["reasons"][0]["field"] == "total_budget"
    nt = gzip.decompress((folder / "dumps" / "etclod.nt.gz").read_bytes()).decode()
    assert f"<{BASE}id/project/proj>" in nt and f"<{BASE}id/project/neg>" not in nt


def test_strict_publishes_nothing(make_settings, capsys) -> None:
    settings = make_settings([project(total_budget="-1")])
    assert main(["build", "--strict"], environ=cli_env(settings)) == 1
    assert current_version(settings) is None
    assert "not published" in capsys.readouterr().out


def test_clean_build_exits_zero_and_lists_releases(make_settings, capsys) -> None:
    settings = make_settings([project()])
    assert main(["build"], environ=cli_env(settings)) == 0
    assert main(["build"], environ=cli_env(settings)) == 0
    capsys.readouterr()
    assert main(["releases", "--json"], environ=cli_env(settings)) == 0
    listing = json.loads(capsys.readouterr().out)
    versions = [m["version"] for m in listing["releases"]]
    assert len(versions) == 2 and listing["current"] == versions[1]
    assert listing["releases"][1]["previous"] == versions[0]
    assert main(["rollback"], environ=cli_env(settings)) == 0
    assert current_version(settings) == versions[0]
    assert main(["rollback"], environ=cli_env(settings)) == 2
    assert "nothing to roll back" in capsys.readouterr().err


def test_changes_against_previous_release(make_settings) -> None:
    settings = make_settings([project(total_budget="100")])
    build_release(settings)
    write_records(settings.data_dir, "extra.yaml", [project(total_budget="200")])
    result = build_release(settings)
    assert result.manifest["changes"] == {"added": 1, "removed": 1}
    lines = gzip.decompress((result.path / "changes.nq.gz").read_bytes()).decode().splitlines()
    assert any('"200"' in l and "<urn:etclod:added:" in l for l in lines)
    assert any('"100"' in l and "<urn:etclod:removed:" in l for l in lines)
    rdflib.Dataset().parse(data="\n".join(lines), format="nquads")


def test_validate_publishes_nothing(make_settings, capsys) -> None:
    settings = make_settings([project(end="2000", start="2001")])
    assert main(["validate"], environ=cli_env(settings)) == 1
    assert "before start" in capsys.readouterr().out
    assert not settings.var_dir.exists()


def test_missing_data_folder_is_exit_2(tmp_path: Path, capsys) -> None:
    code = main(["build", "--data", str(tmp_path / "nope"), "--var", str(tmp_path / "var")], environ={})
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_bad_setting_is_exit_2(capsys) -> None:
    assert main(["releases"], environ={"ETCLOD_KEEP_RELEASES": "many"}) == 2
    assert "ETCLOD_KEEP_RELEASES must be an integer" in capsys.readouterr().err


def test_schema_prints_json_schema(capsys) -> None:
    assert main(["schema"], environ={}) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json_schema()
    # one branch per record type, each fixing its "type"
    branches = schema.get("oneOf") or schema["anyOf"]
    types = {schema["$defs"][b["$ref"].split("/")[-1]]["properties"]["type"]["const"] for b in branches}
    assert types == set(RESOURCE_TYPES)
    # and it is the schema of the records the loader makes: every seed record, written as
    # JSON, passes; one with a typo'd field does not
    import jsonschema
    validator = jsonschema.Draft202012Validator(schema)
    for item in load_records(SEED_DATA).loaded:
        as_json = item.record.model_dump(mode="json", exclude_none=True)
        assert not list(validator.iter_errors(as_json)), (item.where, list(validator.iter_errors(as_json))[:1])
    assert list(validator.iter_errors({**as_json, "titel": "typo"}))


def test_unwritable_release_folder_is_exit_2(capsys) -> None:
    import shutil
    import tempfile
    root = Path(tempfile.mkdtemp(prefix="etclod-perm-"))
    try:
        data = root / "data"
        write_records(data, "a.yaml", [{"type": "source", "id": "s", "title": {"en": "S"}}])
        var = root / "var"
        var.mkdir()
        for path in (root, data, data / "a.yaml"):
            os.chmod(path, 0o755)
        os.chmod(var, 0o555)
        argv = ["build", "--data", str(data), "--var", str(var)]
        if os.geteuid() == 0:  # root ignores permissions: build as an unprivileged user
            os.seteuid(65534)
            try:
                code = main(argv, environ={})
            finally:
                os.seteuid(0)
        else:
            code = main(argv, environ={})
        assert code == 2
        err = capsys.readouterr().err
        assert "cannot write releases to" in err and str(var) in err and "ermission denied" in err
        assert "Traceback" not in err
    finally:
        os.chmod(root / "var", 0o755)
        shutil.rmtree(root)


def test_prune_keeps_the_configured_number(make_settings) -> None:
    settings = make_settings([project()]).with_(keep_releases=2)
    for _ in range(3):
        build_release(settings)
    assert len(list_releases(settings)) == 2


def test_more_than_ten_builds_in_one_second_sort_as_time_does(make_settings, monkeypatch) -> None:
    """Regression: versions of one second are numbered -2, -3 ... and were sorted as strings,
    so -10 came before -2: listing, rollback and pruning (which keeps the newest) went wrong.
    Twelve real builds, the clock held at one second."""
    import datetime as dt

    from etclod import release as rel
    second = dt.datetime(2026, 12, 1, 21, 59, 3, tzinfo=dt.UTC)
    monkeypatch.setattr(rel, "_now", lambda: second)
    settings = make_settings([project(total_budget="100")]).with_(keep_releases=10)
    built = [build_release(settings).version for _ in range(12)]
    assert len(set(built)) == 12 and all(v.startswith(second.strftime("%Y%m%dT%H%M%SZ")) for v in built)
    # each build pruned down to the ten newest: the two oldest went, not -10 and -11
    listed = list_releases(settings)
    assert [m["version"] for m in listed] == built[2:]
    assert [m["previous"] for m in listed] == built[1:-1]
    assert current_version(settings) == built[-1]
    assert rollback(settings) == built[-2]
    assert current_version(settings) == built[-2]
