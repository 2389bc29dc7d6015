"""Record files as stewards and attackers write them: no implicit YAML typing, every mistake
at its field's line, syntax errors that take out only their records, hints that say how to
fix, and hostile files (bombs, deep nesting, links out of the folder, huge or oddly named
files) refused with a reason, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from etclod import records as rec
from etclod.cli import main
from etclod.release import check_data
from etclod.settings import Settings

from conftest import BASE, PROGRAMME, SOURCE, project, write_records

BASE_YAML = (
    "- type: source\n  id: src\n  title: {en: A source, lv: Avots}\n"
    "- type: programme\n  id: prog\n  cci: 2014TC16RFCB027\n  title: {en: Programme, lv: Programma}\n"
    "  sources: [src]\n")


def load(tmp_path: Path, name: str, content: str | bytes) -> rec.LoadResult:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / name).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return rec.load_records(data)


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def settings_for(tmp_path: Path, **extra: str) -> Settings:
    return Settings.from_env({"ETCLOD_DATA": str(tmp_path / "data"), "ETCLOD_VAR": str(tmp_path / "var"),
                              "ETCLOD_BASE_URI": BASE, **extra})


# ---------------------------------------------------------------- no implicit typing, field lines

def test_yaml_values_are_text_as_written(tmp_path: Path) -> None:
    text = ("- type: project\n  id: 0123\n  acronym: no\n  code: 1e3\n  priority: 2019-02-30T10:00\n"
            "  programme: prog\n  title: {no: Prosjekt, lv: Projekts}\n  keep_id: 21622\n  sources: [src]\n")
    [item] = load(tmp_path, "p.yaml", text).loaded
    record = item.record
    assert (record.id, record.acronym, record.code, record.priority) == ("0123", "no", "1e3", "2019-02-30T10:00")
    assert record.title == {"no": "Prosjekt", "lv": "Projekts"} and record.keep_id == 21622


@pytest.mark.parametrize(("field", "number", "written"), [("id", 123, "123"), ("acronym", 1.5, "1.5"),
                                                        ("code", True, "true")])
def test_a_json_number_for_a_text_field_is_a_field_error_not_made_text(tmp_path: Path, capsys, field: str,
                                                                       number: object, written: str) -> None:
    """YAML and CSV values are text as written; JSON says what a value is, and a number (or
    true/false) where text belongs is the steward's mistake: named, at its line, with the fix."""
    text = json.dumps([SOURCE, PROGRAMME, project(id="other"), project(**{field: number})], indent=2)
    result = load(tmp_path, "projects.json", text)
    [rejection] = result.rejected
    [reason] = rejection.reasons
    expected = text.index(f'"{field}": {json.dumps(number)}')
    expected_line = text[:expected].count("\n") + 1
    record = written if field == "id" else "proj"
    assert (rejection.type, rejection.id, reason.field) == ("project", record, field)
    assert rejection.line_of(reason) == expected_line
    assert reason.message == f'{field} must be text: write "{written}" in quotes'
    assert sorted(item.record.id for item in result.loaded) == ["other", "prog", "src"]
    assert main(["validate", "--data", str(tmp_path / "data")]) == 1
    assert (f"rejected projects.json:{expected_line} project '{record}' field '{field}': {field} must be text: "
            f'write "{written}" in quotes') in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["yaml", "json", "csv"])
def test_impossible_date_is_a_field_error_at_the_fields_line(tmp_path: Path, fmt: str) -> None:
    if fmt == "yaml":
        text = "- type: project\n  id: sempre\n  acronym: S\n  programme: prog\n  end: 2019-02-30\n  sources: [src]\n"
    elif fmt == "json":
        text = json.dumps([project(id="other"), project(id="sempre", end="2019-02-30")], indent=2)
    else:
        text = "type,id,acronym,programme,sources,end\nproject,other,O,prog,src,\nproject,sempre,S,prog,src,2019-02-30\n"
    result = load(tmp_path, f"projects.{fmt}", text)
    [rejection] = result.rejected
    [reason] = rejection.reasons
    expected = line_of(text, '"end"' if fmt == "json" else "2019-02-30" if fmt == "csv" else "end:")
    assert (rejection.id, reason.field, rejection.line_of(reason)) == ("sempre", "end", expected)
    assert reason.message == "2019-02-30 is not a date (day 30 of February)"
    assert rejection.to_dict()["reasons"][0]["line"] == expected


@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("before", ['"a note"', "42", "null", '[{"id": "nested", "type": "project"}]'])
def test_an_item_that_is_not_a_record_keeps_the_lines_of_those_after_it(tmp_path: Path, before: str,
                                                                        wrapped: bool) -> None:
    """Each item of the list has its place, record or not: the rejected record after a string,
    a number, null or a list is named at its own field's line, not at its neighbour's."""
    items = [project(id="other"), project(id="sempre", end="2019-02-30"), project(id="third")]
    text = "[\n" + before + ",\n" + json.dumps(items, indent=2)[2:]
    if wrapped:
        text = '{"records": ' + text + "}"
    result = load(tmp_path, "projects.json", text)
    bad = [r for r in result.rejected if r.id == "sempre"]
    assert len(bad) == 1 and bad[0].reasons[0].field == "end"
    assert bad[0].line_of(bad[0].reasons[0]) == line_of(text, '"end"')
    brace = text.rindex("{", 0, text.index('"id": "sempre"'))
    assert bad[0].line == text[:brace].count("\n") + 1  # the record's opening brace
    assert sorted(item.record.id for item in result.loaded) == ["other", "third"]


@pytest.mark.parametrize("shape", ["record in records", "record with records"])
def test_a_record_file_that_is_one_object_names_the_fields_line(tmp_path: Path, shape: str) -> None:
    """{"records": {record}} is that record; {"type": ..., "records": [...]} is a record too
    (the reader's reading): a rejection is at its field's line either way."""
    record = project(id="sempre", end="2019-02-30")
    if shape == "record in records":
        text = json.dumps({"records": record}, indent=2)
    else:
        text = json.dumps({"records": ["x"], **record}, indent=2)
    [bad] = [r for r in load(tmp_path, "projects.json", text).rejected if r.id == "sempre"]
    [reason] = [r for r in bad.reasons if r.field == "end"]
    assert bad.line_of(reason) == line_of(text, '"end"')


def test_the_cli_prints_file_line_record_and_field(tmp_path: Path, capsys) -> None:
    text = BASE_YAML + "- type: project\n  id: sempre\n  acronym: S\n  programme: prog\n  end: 2019-13\n  sources: [src]\n"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "projects.yaml").write_text(text, "utf-8")
    assert main(["validate", "--data", str(tmp_path / "data")]) == 1
    out = capsys.readouterr().out
    assert (f"rejected projects.yaml:{line_of(text, 'end:')} project 'sempre' field 'end': 2019-13 is not a date "
            "(there is no month 13") in out


def test_a_field_written_twice_is_named_with_both_lines(tmp_path: Path) -> None:
    text = "- type: source\n  id: a\n  title: {en: A}\n  title: {en: B}\n"
    [rejection] = load(tmp_path, "s.yaml", text).rejected
    assert "field 'title' is written twice (lines 3 and 4)" in rejection.reasons[0].message


# ---------------------------------------------------------------- syntax errors affect their records only

def test_a_yaml_syntax_error_takes_out_only_its_item(tmp_path: Path) -> None:
    text = BASE_YAML + "- type: source\n  id: broken\n  title: {en: [unclosed\n- type: source\n  id: fine\n  title: {en: Fine}\n"
    result = load(tmp_path, "s.yaml", text)
    assert sorted(item.record.id for item in result.loaded) == ["fine", "prog", "src"]
    [rejection] = result.rejected
    assert rejection.id == "broken" and rejection.type == "source"
    assert "malformed YAML" in rejection.reasons[0].message and "column" in rejection.reasons[0].message
    assert line_of(text, "id: broken") <= rejection.line <= line_of(text, "id: fine")


def test_a_json_syntax_error_takes_out_only_its_record(tmp_path: Path) -> None:
    text = json.dumps([SOURCE, {**SOURCE, "id": "broken"}, {**SOURCE, "id": "fine"}], indent=2)
    text = text.replace('"id": "broken",', '"id": "broken",,')
    result = load(tmp_path, "s.json", text)
    assert sorted(item.record.id for item in result.loaded) == ["fine", "src"]
    [rejection] = result.rejected
    assert rejection.id == "broken" and rejection.line == line_of(text, ",,")
    assert "malformed JSON" in rejection.reasons[0].message and "column" in rejection.reasons[0].message


def test_a_csv_row_with_extra_cells_is_its_records_error(tmp_path: Path) -> None:
    result = load(tmp_path, "s.csv", "type,id,title@en\nsource,a,A\nsource,b,B,extra\nsource,c,C\n")
    assert sorted(item.record.id for item in result.loaded) == ["a", "c"]
    [rejection] = result.rejected
    assert (rejection.id, rejection.line) == ("b", 3) and "4 cells, the header has 3" in rejection.reasons[0].message


# ---------------------------------------------------------------- hints

def test_unknown_field_gets_did_you_mean(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "p.yaml", [project(titel={"en": "x"})])
    [rejection] = rec.load_records(data).rejected
    assert "unknown field 'titel'; did you mean 'title'?" in rejection.reasons[0].message


def test_unknown_reference_gets_did_you_mean(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "base.yaml", [SOURCE, PROGRAMME])
    write_records(data, "p.yaml", [project(programme="porg")])
    checked = check_data(settings_for(tmp_path))
    [rejection] = [r for r in checked.rejected if r.id == "proj"]
    assert "points at programme 'porg', which is not in the data; did you mean 'prog'?" in rejection.reasons[0].message


@pytest.mark.parametrize("value, fragment", [("LT", "use the three-letter code 'LTU'"),
                                             ("lva", "'LVA'"), ("XYZ", "not an ISO 3166 alpha-3")])
def test_country_codes_say_how_to_fix(tmp_path: Path, value: str, fragment: str) -> None:
    data = tmp_path / "data"
    write_records(data, "o.yaml", [{"type": "organisation", "id": "o", "name": {"lv": "O"}, "country": value,
                                    "sources": ["src"]}])
    [rejection] = rec.load_records(data).rejected
    assert rejection.reasons[0].field == "country" and fragment in rejection.reasons[0].message


@pytest.mark.parametrize("tag, ok", [("lv", True), ("en-GB", True), ("sr-Latn", True), ("xx", False),
                                     ("english", False), ("lv-LVA-x", False)])
def test_language_tags_are_bcp47(tmp_path: Path, tag: str, ok: bool) -> None:
    data = tmp_path / "data"
    write_records(data, "s.yaml", [{**SOURCE, "title": {tag: "A source"}, "language": [tag]}])
    result = rec.load_records(data)
    assert bool(result.loaded) == ok
    if not ok:
        assert "not a BCP 47 language tag" in result.rejected[0].reasons[0].message


# ---------------------------------------------------------------- hostile files (issue 12)

BOMB = ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(f'{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n'
                  for p, n in zip("abcdefgh", "bcdefghi")))


def test_a_yaml_alias_bomb_is_refused_and_rejected_jsonl_stays_small(tmp_path: Path, capsys) -> None:
    assert len(BOMB) < 500
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bomb.yaml").write_text(BOMB, "utf-8")
    assert main(["build"], {"ETCLOD_DATA": str(tmp_path / "data"), "ETCLOD_VAR": str(tmp_path / "var"),
                            "ETCLOD_BASE_URI": BASE}) == 1
    assert "bomb.yaml" in capsys.readouterr().err
    rejected = (tmp_path / "var" / "current" / "rejected.jsonl").read_bytes()
    assert len(rejected) < 2000 and (b"YAML aliases" in rejected or b"expands to more than" in rejected)


def test_many_aliases_are_refused(tmp_path: Path) -> None:
    text = "- &s {type: source, id: a, title: {en: A}}\n" + "".join("- *s\n" for _ in range(600))
    [rejection] = load(tmp_path, "s.yaml", text).rejected
    assert "more than 500 YAML aliases" in rejection.reasons[0].message


@pytest.mark.parametrize("name, content", [
    ("deep.json", "[" * 950 + "]" * 950),
    ("deep.yaml", "- " * 950 + "x\n"),
    ("deep-flow.yaml", "[" * 950 + "]" * 950),
])
def test_deep_nesting_is_refused_without_a_traceback(tmp_path: Path, capsys, name: str, content: str) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / name).write_text(content, "utf-8")
    assert main(["build", "--data", str(tmp_path / "data"), "--var", str(tmp_path / "var")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"rejected {name}" in err and "nested more than 32 levels" in err


def test_deep_csv_columns_are_a_records_error(tmp_path: Path) -> None:
    result = load(tmp_path, "s.csv", "type,id,title@" + "@".join(["en"] * 500) + "\nsource,a,A\n")
    [rejection] = result.rejected
    assert rejection.id == "a" and "language tag" in rejection.reasons[0].message


def test_lone_surrogates_in_values_and_keys(tmp_path: Path, capsys) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "s.json").write_text(
        '[{"type": "source", "id": "a", "title": {"en": "x\\ud800y"}},'
        ' {"type": "source", "id": "b", "title": {"en": "ok"}, "\\udfff": 1}]', "utf-8")
    assert main(["build", "--data", str(tmp_path / "data"), "--var", str(tmp_path / "var")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "U+D800" in err
    rows = [json.loads(line) for line in (tmp_path / "var" / "current" / "rejected.jsonl").read_text("utf-8").splitlines()]
    assert {r["id"] for r in rows} == {"a", "b"}


def test_a_non_utf8_file_name_is_named_escaped(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / os.fsdecode(b"caf\xe9.yaml")).write_text("- type: source\n  id: a\n  titel: {en: A}\n", "utf-8")
    assert main(["build", "--data", str(data), "--var", str(tmp_path / "var")]) == 1
    err = capsys.readouterr().err
    assert "rejected caf\\xe9.yaml:3 source 'a' field 'titel'" in err
    rows = (tmp_path / "var" / "current" / "rejected.jsonl").read_text("utf-8")
    assert json.loads(rows)["file"] == "caf\\xe9.yaml"


@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/passwd", "outside.json"])
def test_a_symlink_out_of_the_data_folder_is_never_read(tmp_path: Path, capsys, target: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_records(data, "base.yaml", [SOURCE])
    secret = tmp_path / "outside.json"
    secret.write_text(json.dumps([{"type": "source", "id": "secret-value-1234", "titel": "SECRET"}]), "utf-8")
    (data / "x.json").symlink_to(secret if target == "outside.json" else Path(target))
    os.environ.setdefault("ETCLOD_TEST_MARKER", "marker-not-to-publish")
    assert main(["build", "--data", str(data), "--var", str(tmp_path / "var")]) == 1
    err = capsys.readouterr().err
    assert "rejected x.json file: the file is a symbolic link to a file outside the data folder" in err
    release = tmp_path / "var" / "current"
    published = (release / "rejected.jsonl").read_text("utf-8") + (release / "manifest.json").read_text("utf-8")
    assert "SECRET" not in published and "secret-value" not in published and "root:" not in published
    assert "marker-not-to-publish" not in published
    assert "x.json" not in json.loads((release / "manifest.json").read_text("utf-8"))["inputs"]


def test_a_symlink_inside_the_data_folder_is_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data / "sub", "s.yaml", [SOURCE])
    (data / "s.yaml").symlink_to(data / "sub" / "s.yaml")
    assert [item.record.id for item in rec.load_records(data).loaded] == ["src"]


@pytest.mark.parametrize("name", ["big.yaml", "big.csv"])
def test_a_huge_sparse_file_is_refused_unread(tmp_path: Path, capsys, name: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with (data / name).open("wb") as handle:
        handle.truncate(1 << 30)  # 1 GB, sparse: nothing of it is on disk
    assert main(["build", "--data", str(data), "--var", str(tmp_path / "var")]) == 1
    err = capsys.readouterr().err
    assert f"rejected {name} file: the file has 1073.7 MB, more than the 200 MB" in err and "ETCLOD_MAX_FILE_MB" in err


def test_a_long_value_is_cut_in_rejected_jsonl_with_its_length(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "s.yaml", [{**SOURCE, "titel": "x" * 50_000, "list": list(range(5000))}])
    [rejection] = rec.load_records(data).rejected
    shown = json.dumps(rejection.to_dict())
    assert len(shown) < 20_000
    assert "(cut: 50000 characters)" in shown and "(cut: 5000 items)" in shown


def test_an_unreadable_data_folder_is_exit_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "file").write_text("not a folder", "utf-8")
    assert main(["build", "--data", str(tmp_path / "file" / "data"), "--var", str(tmp_path / "var")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "data folder" in err


def test_a_file_system_problem_is_exit_2(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    write_records(data, "s.yaml", [SOURCE])
    (tmp_path / "var").write_text("a file where the release folder should be", "utf-8")
    assert main(["build", "--data", str(data), "--var", str(tmp_path / "var")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_symlink_loop_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "base.yaml", [SOURCE])
    (data / "loop.yaml").symlink_to(data / "loop.yaml")
    result = rec.load_records(data)
    [rejection] = result.rejected
    assert rejection.file == "loop.yaml" and "symbolic link" in rejection.reasons[0].message
