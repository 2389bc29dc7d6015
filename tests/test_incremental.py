"""Incremental builds: after random edits, a build on the current release gives the release a
full build of the same data gives (N-Quads, counts, catalogue, search, lists, reconciliation,
validation, rejections, conflicts), and a change that is not local falls back to a full build."""

from __future__ import annotations

import copy
import gzip
import json
import shutil
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st
from rdflib import Graph
from rdflib.compare import isomorphic

from etclod.release import build_release, current_path
from etclod.settings import Settings
from etclod.synth import write as write_synthetic

FILES = ("organisations", "partnerships", "programmes", "projects", "sources")
VOLATILE = {"version", "previous", "created"}


def _lines(path: Path) -> set[bytes]:
    with gzip.open(path, "rb") as handle:
        return {line for line in handle.read().splitlines() if line}


def _triples(path: Path, fmt: ox.RdfFormat) -> set[ox.Triple]:
    with gzip.open(path, "rb") as handle:
        return {q.triple for q in ox.parse(handle.read(), format=fmt)}


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(path)
    try:
        names = [n for (n,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'search_%'")]
        return {n: sorted(connection.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        connection.close()


def _catalog(path: Path, version: str) -> set[tuple[str, str, str]]:
    graph = Graph().parse(path, format="turtle")
    # the version and build time differ between any two releases, and the dumps' sizes and
    # checksums (their lines are in the store's order); everything else must not
    return {(s.replace(version, "V"), str(p), o.replace(version, "V")) for s, p, o in
            ((str(s), p, str(o)) for s, p, o in graph) if not any(w in str(p) for w in ("modified", "issued", "byteSize", "checksumValue"))}


def content(release: Path) -> dict[str, Any]:
    """Everything a release says, with what differs between any two builds (version, time) left out."""
    manifest = json.loads((release / "manifest.json").read_text("utf-8"))
    version = manifest["version"]
    files = {name: {k: v for k, v in entry.items() if k not in ("sha256", "bytes")} | (
        {"sha256": entry["sha256"]} if name in ("rejected.jsonl", "conflicts.csv", "conflicts.ttl") else {})
        for name, entry in manifest["files"].items()}
    return {
        "manifest": {k: v for k, v in manifest.items() if k not in VOLATILE} | {"files": files},
        "nquads": _lines(release / "dumps" / "etclod.nq.gz"),
        "ntriples": _lines(release / "dumps" / "etclod.nt.gz"),
        "turtle": _triples(release / "dumps" / "etclod.ttl.gz", ox.RdfFormat.TURTLE),
        "jsonld": _triples(release / "dumps" / "etclod.jsonld.gz", ox.RdfFormat.JSON_LD),
        "changes": _lines(release / "changes.nq.gz"),
        "store": {str(q) for q in ox.Store.read_only(str(release / "store"))},
        "search": _tables(release / "search.sqlite"),
        "reconcile": json.loads(gzip.open(release / "reconcile.json.gz").read()),
        "rejected": sorted((release / "rejected.jsonl").read_text("utf-8").splitlines()),
        "conflicts": (release / "conflicts.csv").read_text("utf-8"),
        "catalog": _catalog(release / "catalog.ttl", version),
    }


def one_member(path: Path) -> bytes:
    """A gzip file read as HTTP clients read ``Content-Encoding: gzip`` (curl, httpx): its first
    member only."""
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(path.read_bytes())


def same_release(a: Path, b: Path) -> None:
    for release in (a, b):  # each dump is whole as one gzip member (chunks are segments, not members)
        for dump in (release / "dumps").glob("etclod.*.gz"):
            assert one_member(dump) == gzip.decompress(dump.read_bytes()), dump
    ca, cb = content(a), content(b)
    for key in ca:
        assert ca[key] == cb[key], f"{key} differs between {a.name} and {b.name}"
    assert isomorphic(Graph().parse(a / "validation.ttl"), Graph().parse(b / "validation.ttl"))


@pytest.fixture(scope="module", autouse=True)
def small_segments() -> Any:
    """Reconciliation-index segments of a few entities, so a change patches one of many."""
    from etclod import chunks

    kept, chunks.PER_SEGMENT = chunks.PER_SEGMENT, 4
    yield
    chunks.PER_SEGMENT = kept


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Synthetic data of 15 projects and a var folder with its full release."""
    root = tmp_path_factory.mktemp("incremental")
    data = root / "data"
    write_synthetic(data, 15, seed=7)
    var = root / "var"
    first = build_release(Settings(data_dir=data, var_dir=var))
    # link tables (the seed data has them): a project, an organisation and a partnership linked
    ids = [e["id"] for e in json.loads(gzip.open(first.path / "reconcile.json.gz").read())]
    parts = json.loads((data / "partnerships.json").read_text("utf-8"))
    linked = [next(i for i in ids if i.startswith(f"{t}/")) for t in ("project", "organisation")]
    linked.append(f"partnership/{parts[0]['id']}")
    (data / "links").mkdir()
    (data / "links" / "test.csv").write_text("resource,relation,target,source\n" + "".join(
        f"{r},skos:closeMatch,https://www.wikidata.org/entity/Q{n + 1},test fixture\n" for n, r in enumerate(linked)),
        "utf-8")
    second = build_release(Settings(data_dir=data, var_dir=var))
    assert second.manifest["linksets"] and not second.rejected, second.rejected
    return data, var


def _read(data: Path) -> dict[str, list[dict[str, Any]]]:
    return {name: json.loads((data / f"{name}.json").read_text("utf-8")) for name in FILES}


def _write(data: Path, records: dict[str, list[dict[str, Any]]]) -> None:
    for name, items in records.items():
        (data / f"{name}.json").write_text(json.dumps(items, ensure_ascii=False, indent=1), "utf-8")


EDITS = ("title", "acronym", "org-name", "budget", "move-partnership", "org-country", "period", "public", "add-partnership", "add-organisation", "add-project",
         "remove-partnership", "remove-organisation", "remove-linked", "invalid", "dangling", "duplicate", "bad-type",
         "fix", "fix", "invalid-org")
BREAKS = ("invalid", "dangling", "bad-type", "invalid-org")
"""The edits that make a record rejected (held back, if it was published); ``fix`` undoes one."""
BROKEN = {"projects": ("total_budget", "eu_funding"), "partnerships": ("organisation", "budget"),
          "organisations": ("country",)}


def fix(records: dict[str, list[dict[str, Any]]], pristine: dict[str, list[dict[str, Any]]], n: int) -> None:
    """Undo a break: the ``n``-th record (modulo the count) whose breakable fields differ from
    the pristine data gets them back."""
    broken = []
    for name, fields in BROKEN.items():
        first = {r["id"]: r for r in pristine[name]}
        for record in records[name]:
            if record["id"] in first and any(record.get(f) != first[record["id"]].get(f) for f in fields):
                broken.append((record, first[record["id"]], fields))
    if broken:
        record, original, fields = broken[n % len(broken)]
        for f in fields:
            if f in original:
                record[f] = original[f]
            else:
                record.pop(f, None)


def edit(records: dict[str, list[dict[str, Any]]], kind: str, n: int,
         pristine: dict[str, list[dict[str, Any]]] | None = None) -> None:
    """One edit of the kind, on the record ``n`` (modulo the count)."""
    projects, orgs, parts = records["projects"], records["organisations"], records["partnerships"]
    if kind == "fix" and pristine is not None:
        fix(records, pristine, n)
    elif kind == "invalid-org":  # not a country code: the schema rejects it (its partnerships point at it)
        orgs[n % len(orgs)]["country"] = "Narnia"
    elif kind == "title":
        projects[n % len(projects)]["title"] = {"en": f"Changed title {n}"}
    elif kind == "acronym":  # partnership labels use it
        projects[n % len(projects)]["acronym"] = f"NEW{n}"
    elif kind == "org-name":
        orgs[n % len(orgs)]["name"] = {"en": f"Renamed Organisation Number {n}"}
    elif kind == "budget":
        parts[n % len(parts)]["budget"] = f"{1000 + n}.50"
    elif kind == "move-partnership":  # both projects' country facets change
        parts[n % len(parts)]["project"] = projects[(n * 5 + 1) % len(projects)]["id"]
    elif kind == "org-country":  # the country facet of its partners' projects changes
        orgs[n % len(orgs)]["country"] = ["EST", "LTU", "FIN", "SWE"][n % 4]
    elif kind == "period":  # the period facet of the programme's projects changes
        programmes = records["programmes"]
        programmes[n % len(programmes)]["period"] = "2021-2027"
    elif kind == "public":  # a type more or less (cv:PublicOrganisation)
        org = orgs[n % len(orgs)]
        org["public"] = not org.get("public")
    elif kind == "add-partnership":  # the same project and organisation as another: merges
        new = copy.deepcopy(parts[n % len(parts)])
        new["id"] = f"added-part-{n}"
        if n % 2:
            new["organisation"] = orgs[(n * 7 + 3) % len(orgs)]["id"]
        parts.append(new)
    elif kind == "add-organisation":
        new = copy.deepcopy(orgs[n % len(orgs)])
        new.update(id=f"added-org-{n}", name={"en": f"Fresh Body {n} Zq"})
        for unique in ("pic", "national_id"):
            new.pop(unique, None)
        orgs.append(new)
    elif kind == "add-project":
        new = copy.deepcopy(projects[n % len(projects)])
        new.update(id=f"added-proj-{n}", acronym=f"ADD{n}", keep_id=900000 + n)
        projects.append(new)
    elif kind == "remove-partnership":
        parts.pop(n % len(parts))
    elif kind == "remove-linked":  # the first partnership is in the link table: its row no longer holds
        if parts:
            parts.pop(0)
    elif kind == "remove-organisation":  # partnerships point at it: they are held back
        target = parts[n % len(parts)]["organisation"]
        records["organisations"] = [o for o in orgs if o["id"] != target]
    elif kind == "invalid":  # EU funding over the budget: SHACL rejects it, its last good version stays
        p = projects[n % len(projects)]
        p["total_budget"], p["eu_funding"] = "10.00", "20.00"
    elif kind == "dangling":
        parts[n % len(parts)]["organisation"] = "no-such-org"
    elif kind == "duplicate":
        orgs.append(copy.deepcopy(orgs[n % len(orgs)]))
    elif kind == "bad-type":
        parts[n % len(parts)]["budget"] = "lots"


def _twin(var: Path, where: Path) -> Path:
    shutil.copytree(var, where, symlinks=True)
    return where


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(start=[], rounds=[[("duplicate", 0), ("invalid-org", 0), ("title", 0)], [("title", 0)]])  # found in CI
@given(start=st.lists(st.tuples(st.sampled_from(BREAKS), st.integers(0, 200)), max_size=2),
       rounds=st.lists(st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 200)), min_size=1, max_size=3),
                       min_size=1, max_size=3))
def test_incremental_equals_full(base: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory,
                                 start: list[tuple[str, int]], rounds: list[list[tuple[str, int]]]) -> None:
    """``start``: records broken before the first round, in a full build (a release that
    rejects records, holding back those it published); then rounds of edits, each built both
    ways, breaking records, fixing them and changing others."""
    root = tmp_path_factory.mktemp("example")
    data = root / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], root / "var")
    pristine = _read(base[0])
    records = _read(data)
    if start:
        for kind, i in start:
            edit(records, kind, i)
        _write(data, records)
        first = build_release(Settings(data_dir=data, var_dir=var, max_removals=1000), full=True)
        assert first.rejected
    for n, edits in enumerate(rounds):
        for kind, i in edits:
            edit(records, kind, i, pristine)
        _write(data, records)
        twin = _twin(var, root / f"twin{n}")
        settings = Settings(data_dir=data, var_dir=var, max_removals=1000)
        incremental = build_release(settings)
        full = build_release(settings.with_(var_dir=twin), full=True)
        assert full.kind == "full" and full.why_full is None
        assert incremental.path is not None and full.path is not None
        if incremental.kind == "full":
            assert incremental.why_full  # a fallback says why
        same_release(incremental.path, full.path)


def test_local_change_is_incremental(base: tuple[Path, Path], tmp_path: Path) -> None:
    """A changed title, an added organisation, a removed partnership: each an incremental
    build, equal to the full one; the second builds on the first's state."""
    data = tmp_path / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], tmp_path / "var")
    settings = Settings(data_dir=data, var_dir=var)
    for n, kind in enumerate(("title", "acronym", "add-organisation", "remove-partnership", "org-name",
                              "org-country", "period")):
        records = _read(data)
        edit(records, kind, n)
        _write(data, records)
        twin = _twin(var, tmp_path / f"twin{n}")
        result = build_release(settings)
        assert (result.kind, result.why_full) == ("incremental", None), kind
        manifest = result.manifest
        assert manifest["changes"]["added"] + manifest["changes"]["removed"] > 0
        same_release(result.path, build_release(settings.with_(var_dir=twin), full=True).path)


@pytest.mark.parametrize("kind, why", [("duplicate", "twice"), ("remove-organisation", "points at it"),
                                       ("remove-linked", "link table row")])
def test_fallback_says_why(base: tuple[Path, Path], tmp_path: Path, kind: str, why: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], tmp_path / "var")
    records = _read(data)
    edit(records, kind, 3)
    _write(data, records)
    result = build_release(Settings(data_dir=data, var_dir=var, max_removals=1000))
    assert result.kind == "full" and why in (result.why_full or ""), result.why_full
    # the release it made has a duplicate id: the next build cannot build on it either; on its
    # rejected partnerships (the organisation gone) or link row it can, while that row is
    # rejected: when it holds again (its partnership back), the build is a full one
    twin = _twin(var, tmp_path / "twin")
    again = build_release(Settings(data_dir=data, var_dir=var, max_removals=1000))
    if kind in ("remove-organisation", "remove-linked"):
        assert again.kind == "incremental" and again.rejected, again.why_full
        same_release(again.path, build_release(Settings(data_dir=data, var_dir=twin), full=True).path)
    else:
        assert again.kind == "full" and again.why_full
    if kind == "remove-linked":
        records["partnerships"].insert(0, _read(base[0])["partnerships"][0])
        _write(data, records)
        back = build_release(Settings(data_dir=data, var_dir=var, max_removals=1000))
        assert back.kind == "full" and "holds now" in (back.why_full or ""), back.why_full
        assert not back.rejected


@pytest.mark.parametrize("kind", ["invalid", "dangling", "bad-type"])
def test_rejected_record_is_incremental(base: tuple[Path, Path], tmp_path: Path, kind: str) -> None:
    """A steward's mistake (the shapes, a reference, the schema reject the record), another
    change while it stands, then its fix: each an incremental build equal to the full one; the
    published record is held back at its last good version meanwhile, then published again."""
    data = tmp_path / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], tmp_path / "var")
    settings = Settings(data_dir=data, var_dir=var, max_removals=1000)
    pristine = _read(data)
    steps = [(kind, 3), ("title", 5), ("org-name", 2)]
    for n, (what, i) in enumerate([*steps, ("fix", 0)]):
        records = _read(data)
        if what == "fix":  # the broken record as it was, the other edits kept
            for name in FILES:
                broken = {json.dumps(r, sort_keys=True) for r in records[name]} - {
                    json.dumps(r, sort_keys=True) for r in _read(base[0])[name]}
                for index, record in enumerate(records[name]):
                    if json.dumps(record, sort_keys=True) in broken and (kind in ("bad-type", "dangling")) == (
                            name == "partnerships"):
                        original = next(p for p in pristine[name] if p["id"] == record["id"])
                        changed = {k for k in record if record.get(k) != original.get(k)}
                        if changed & {"total_budget", "eu_funding", "organisation", "budget"}:
                            records[name][index] = dict(record, **{k: original[k] for k in changed & {
                                "total_budget", "eu_funding", "organisation", "budget"}})
        else:
            edit(records, what, i)
        _write(data, records)
        twin = _twin(var, tmp_path / f"twin{n}")
        result = build_release(settings)
        assert (result.kind, result.why_full) == ("incremental", None), (what, result.why_full)
        held = result.manifest["held_back"]
        assert bool(held) == (what != "fix") and bool(result.rejected) == (what != "fix"), (what, held)
        full = build_release(settings.with_(var_dir=twin), full=True)
        assert full.exit_code == result.exit_code
        same_release(result.path, full.path)


def test_removal_guard_holds(base: tuple[Path, Path], tmp_path: Path) -> None:
    """An incremental build unpublishing more records than allowed publishes nothing."""
    from etclod.lastgood import RemovalsError

    data = tmp_path / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], tmp_path / "var")
    records = _read(data)
    records["partnerships"] = records["partnerships"][:1] + records["partnerships"][4:]  # the first is linked
    _write(data, records)
    before = current_path(Settings(data_dir=data, var_dir=var))
    with pytest.raises(RemovalsError):
        build_release(Settings(data_dir=data, var_dir=var, max_removals=2))
    assert current_path(Settings(data_dir=data, var_dir=var)) == before
    result = build_release(Settings(data_dir=data, var_dir=var, max_removals=2), allow_removals=True)
    assert result.kind == "incremental" and len(result.manifest["removed"]) == 3


def test_upload_is_judged_and_built_incrementally(base: tuple[Path, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin upload of new records: judged on the current release and built on it, equal to
    a full build; an upload with a bad record is rejected, judged on the current release too,
    with the reasons a full check gives; the same on a release that rejects a record."""
    from etclod import inbox

    data = tmp_path / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], tmp_path / "var")
    settings = Settings(data_dir=data, var_dir=var)
    org = _read(data)["organisations"][0]
    good = [dict(org, id=f"uploaded-{n}", name={"en": f"Uploaded Body {n} Qx"}) for n in range(2)]
    for record in good:
        record.pop("pic", None)
        record.pop("national_id", None)
    twin = _twin(var, tmp_path / "twin")
    full_check = inbox.check_data

    def no_full_check(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the upload was judged by a full check")

    monkeypatch.setattr(inbox, "check_data", no_full_check)
    upload, _ = inbox.submit(settings, json.dumps(good).encode(), "application/json")
    monkeypatch.setattr(inbox, "check_data", full_check)
    assert upload.status["status"] == "published" and upload.status["records"] == 2
    release = current_path(settings)
    assert release is not None and json.loads((release / "manifest.json").read_text())["records"]["published"] \
        == json.loads((base[1] / "current" / "manifest.json").read_text())["records"]["published"] + 2
    shutil.copytree(var / "inbox", twin / "inbox")
    same_release(release, build_release(settings.with_(var_dir=twin), full=True).path)
    bad = [dict(good[0], id="uploaded-bad", name={"en": "Bad Body"}, parent="no-such-org")]
    monkeypatch.setattr(inbox, "check_data", no_full_check)
    with pytest.raises(inbox.UploadRejectedError) as refused:
        inbox.submit(settings, json.dumps(bad).encode(), "application/json")
    assert current_path(settings) == release
    [reason] = refused.value.document["rejected"][0]["reasons"]
    assert reason["check"] == "reference" and "no-such-org" in reason["message"]
    # a release that rejects a record (a published project held back): uploads still build on it
    records = _read(data)
    edit(records, "invalid", 2)
    _write(data, records)
    held = build_release(settings)
    assert held.kind == "incremental" and held.manifest["held_back"]
    more = [dict(good[0], id="uploaded-late", name={"en": "Late Body Qz"})]
    twin = _twin(var, tmp_path / "twin2")
    upload, _ = inbox.submit(settings, json.dumps(more).encode(), "application/json")
    assert upload.status["status"] == "published" and upload.status["records"] == 1
    monkeypatch.setattr(inbox, "check_data", full_check)
    shutil.rmtree(twin / "inbox")
    shutil.copytree(var / "inbox", twin / "inbox")
    release = current_path(settings)
    assert json.loads((release / "manifest.json").read_text())["held_back"]
    same_release(release, build_release(settings.with_(var_dir=twin), full=True).path)


def test_no_combining_characters_past_the_bound() -> None:
    """``listing._combining`` scans code points below ``COMBINING_BELOW`` only."""
    import sys
    import unicodedata

    from etclod.listing import COMBINING_BELOW

    assert not [cp for cp in range(COMBINING_BELOW, sys.maxunicode + 1) if unicodedata.combining(chr(cp))]


def test_cli_says_which_build_ran(base: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``etclod build`` says it built incrementally, or why not; ``--full`` forces a full build."""
    from etclod.cli import main

    data = tmp_path / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], tmp_path / "var")
    records = _read(data)
    edit(records, "title", 1)
    _write(data, records)
    argv = ["build", "--data", str(data), "--var", str(var)]
    assert main(argv, {}) == 0
    assert "build: incremental" in capsys.readouterr().err
    assert main([*argv, "--full"], {}) == 0
    assert "build: full (--full)" in capsys.readouterr().err
    edit(records, "invalid", 1)
    _write(data, records)
    assert main(argv, {}) == 1  # rejected (exit 1), its last good version kept published
    err = capsys.readouterr().err
    assert "build: incremental" in err and "rejected" in err, err


def test_state_of_an_older_format_builds_in_full(base: tuple[Path, Path], tmp_path: Path) -> None:
    """A release whose build state is the pickle of format 1 (or another format number) is
    built on by a full build that says why; the release it makes has the new state."""
    from etclod import incremental

    data = tmp_path / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], tmp_path / "var")
    settings = Settings(data_dir=data, var_dir=var)
    state_dir = current_path(settings) / incremental.STATE_DIR
    (state_dir / incremental.STATE_FILE).unlink()
    (state_dir / "state.pickle").write_bytes(b"format 1")
    records = _read(data)
    edit(records, "title", 2)
    _write(data, records)
    result = build_release(settings)
    assert result.kind == "full" and "older format" in (result.why_full or ""), result.why_full
    connection = sqlite3.connect(result.path / incremental.STATE_DIR / incremental.STATE_FILE)
    connection.execute("UPDATE meta SET value = '1' WHERE key = 'format'")
    connection.commit()
    connection.close()
    edit(records, "title", 3)
    _write(data, records)
    again = build_release(settings)
    assert again.kind == "full" and "format 1" in (again.why_full or ""), again.why_full
    edit(records, "title", 4)
    _write(data, records)
    assert build_release(settings).kind == "incremental"


def test_deep_changed_record_is_judged_in_full(base: tuple[Path, Path], tmp_path: Path) -> None:
    """The nesting of a changed JSON list file is checked on its changed records only; one
    nested past the bound sends the build to the full path, which refuses the file."""
    from etclod.recordfile import MAX_DEPTH

    data = tmp_path / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], tmp_path / "var")
    records = _read(data)
    deep: Any = "x"
    for _ in range(MAX_DEPTH):
        deep = [deep]
    records["projects"][1]["title"] = {"en": deep}
    _write(data, records)
    result = build_release(Settings(data_dir=data, var_dir=var))
    assert result.kind == "full" and "nested more than" in (result.why_full or ""), result.why_full
    assert any("nested more than" in str(r.to_dict()) for r in result.rejected)


def test_value_depth_counts_as_the_text_check() -> None:
    """``value_depth`` of a parsed document is the depth ``json_depth_over`` reads in its text."""
    from etclod.recordfile import json_depth_over, value_depth

    for text in ('[{"a": [1, {"b": []}]}]', '{"a": "[[[["}', "[]", '[[], [[]], {"x": {"y": {}}}]', '"s"'):
        depth = value_depth(json.loads(text))
        assert not json_depth_over(text, depth) and (depth == 0 or json_depth_over(text, depth - 1)), text


def test_state_base_is_shared_and_overlay_bounded(base: tuple[Path, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A delta release hard-links the base of the build state (not a byte of it written again)
    and keeps its changes in an overlay; past ``MAX_OVERLAY`` records the next build is full."""
    import hashlib

    from etclod import incremental, statedb

    data = tmp_path / "data"
    shutil.copytree(base[0], data)
    var = _twin(base[1], tmp_path / "var")
    settings = Settings(data_dir=data, var_dir=var)
    first = current_path(settings) / incremental.STATE_DIR / statedb.STATE_FILE
    sealed = hashlib.sha256(first.read_bytes()).hexdigest()
    records = _read(data)
    for n in range(2):
        edit(records, "title", n)
        _write(data, records)
        result = build_release(settings)
        assert result.kind == "incremental"
        state = result.path / incremental.STATE_DIR
        assert (state / statedb.STATE_FILE).stat().st_ino == first.stat().st_ino
        assert (state / statedb.OVERLAY_FILE).is_file()
    assert hashlib.sha256(first.read_bytes()).hexdigest() == sealed
    monkeypatch.setattr(statedb, "MAX_OVERLAY", 1)
    edit(records, "title", 5)
    _write(data, records)
    result = build_release(settings)
    assert result.kind == "full" and "changed since the last full build" in (result.why_full or "")
    assert not (result.path / incremental.STATE_DIR / statedb.OVERLAY_FILE).exists()


def test_seed_data_change_is_incremental(tmp_path: Path) -> None:
    """The bundled data has link tables: a corrected figure in it is built incrementally, equal
    to a full build (link tables used to send every build of it to the full path)."""
    data = tmp_path / "data"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data", data)
    var = tmp_path / "var"
    settings = Settings(data_dir=data, var_dir=var)
    first = build_release(settings)
    assert first.manifest["linksets"]
    projects = data / "projects.yaml"
    text = projects.read_text("utf-8")
    figure = next(line for line in text.splitlines() if line.strip().startswith("eu_funding:"))
    projects.write_text(text.replace(figure, '  eu_funding: "1000.25"', 1), "utf-8")
    twin = _twin(var, tmp_path / "twin")
    result = build_release(settings)
    assert (result.kind, result.why_full) == ("incremental", None)
    same_release(result.path, build_release(settings.with_(var_dir=twin), full=True).path)


def test_state_rows_keep_any_id() -> None:
    """References and identity keys are stored with control-character separators; values that
    hold one (or look like JSON) are stored as JSON instead, and all read back as written."""
    from etclod.statedb import _pack, _unpack

    cases = [((), True), ((("project", "a"),), True), ((("project", "a"), ("organisation", "b\x1fc")), True),
             ((("x\x1e", ""),), True), (("organisation|0|a",), False), (("[a",), False), (("",), False),
             (("a\x1eb", "c"), False), ((), False)]
    for items, pairs in cases:
        assert _unpack(_pack(items, pairs), pairs) == items, items


def test_json_lines_of_one_record_as_the_token_pass(base: tuple[Path, Path]) -> None:
    """``json_lines_of`` (the C decoder skipping the other records) finds the lines the token
    pass over the whole file finds, in indented and one-line files, with a BOM-less text that
    has strings and lists before the wanted records."""
    from etclod.jsonlines import json_lines, json_lines_of

    records = _read(base[0])["partnerships"]
    for text in (json.dumps(records, indent=1), json.dumps(records), json.dumps(["x", [1], *records], indent=2),
                 '  \n[ ' + json.dumps(records, indent=3)[1:]):
        whole = json_lines(text)
        wanted = {0, 3, len(whole) - 1}
        assert json_lines_of(text, wanted) == {n: whole[n] for n in wanted}
    assert json_lines_of('{"records": []}', {0}) is None
