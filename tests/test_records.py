"""Reading record files: every kind of bad input gives a clear, located message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etclod import records as rec
from etclod.errors import InputError

from conftest import PROGRAMME, SOURCE, project, write_records


def load_one(tmp_path: Path, name: str, content: bytes | str) -> rec.LoadResult:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / name).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return rec.load_records(data)


def only_reason(result: rec.LoadResult) -> tuple[rec.Rejection, rec.Reason]:
    assert len(result.rejected) == 1, [r.to_dict() for r in result.rejected]
    rejection = result.rejected[0]
    return rejection, rejection.reasons[0]


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    result = load_one(tmp_path, "bad.yaml", "- type: source\n  id: a\n  title: {en: [unclosed\n")
    rejection, reason = only_reason(result)
    assert rejection.file == "bad.yaml"
    assert rejection.line == 4 or rejection.line == 3
    assert "malformed YAML" in reason.message and "line" in reason.message


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    result = load_one(tmp_path, "bad.json", '[\n {"type": "source",\n  "id": }\n]')
    rejection, reason = only_reason(result)
    assert rejection.line == 3
    assert "malformed JSON" in reason.message and "column" in reason.message


def test_malformed_csv_row_with_too_many_cells(tmp_path: Path) -> None:
    result = load_one(tmp_path, "bad.csv", "type,id,title@en\nsource,a,A source,extra\n")
    rejection, reason = only_reason(result)
    assert rejection.line == 2
    assert "cells" in reason.message


def test_csv_without_type_column(tmp_path: Path) -> None:
    _, reason = only_reason(load_one(tmp_path, "bad.csv", "id,title\na,b\n"))
    assert "type and id" in reason.message


def test_not_utf8_names_the_byte(tmp_path: Path) -> None:
    result = load_one(tmp_path, "latin1.yaml", "- type: source\n  id: a\n  title: {lv: Liepājas}\n".encode("latin-1", "replace").replace(b"?", b"\xe2\x28"))
    rejection, reason = only_reason(result)
    assert "not UTF-8" in reason.message and "offset" in reason.message
    assert rejection.line == 3


@pytest.mark.parametrize("name, content", [("empty.yaml", ""), ("blank.yaml", "  \n\n"),
                                           ("empty.json", "[]"), ("empty.csv", "type,id\n")])
def test_empty_file(tmp_path: Path, name: str, content: str) -> None:
    rejection, reason = only_reason(load_one(tmp_path, name, content))
    assert rejection.file == name
    assert "empty" in reason.message


def test_unknown_record_type(tmp_path: Path) -> None:
    result = load_one(tmp_path, "x.yaml", "- type: projekt\n  id: a\n")
    rejection, reason = only_reason(result)
    assert (rejection.id, rejection.line, reason.field, reason.value) == ("a", 1, "type", "projekt")
    assert "unknown record type 'projekt'" in reason.message and "project" in reason.message
    assert rejection.record == {"type": "projekt", "id": "a"}


def test_duplicate_id_names_the_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "a.yaml", [SOURCE])
    write_records(data, "b.yaml", [SOURCE])
    result = rec.load_records(data)
    assert [item.file for item in result.loaded] == ["a.yaml"]
    rejection, reason = only_reason(result)
    assert rejection.file == "b.yaml" and reason.field == "id"
    assert "duplicate id" in reason.message and "a.yaml:1" in reason.message


def test_ids_with_the_same_slug_clash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "a.yaml", [SOURCE, {**SOURCE, "id": "Src"}])
    _, reason = only_reason(rec.load_records(data))
    assert "same IRI key 'src'" in reason.message


def test_missing_required_field(tmp_path: Path) -> None:
    data = tmp_path / "data"
    record = {k: v for k, v in PROGRAMME.items() if k != "cci"}
    write_records(data, "p.yaml", [record])
    rejection, reason = only_reason(rec.load_records(data))
    assert (rejection.type, rejection.id, reason.field) == ("programme", "prog", "cci")
    assert reason.message == "required field 'cci' is missing"


def test_unknown_field_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "p.yaml", [project(budgett="5")])
    _, reason = only_reason(rec.load_records(data))
    assert reason.field == "budgett" and "unknown field" in reason.message


@pytest.mark.parametrize("value", ["2018-02-30", "2018-13", "30.01.2018"])
def test_impossible_date(tmp_path: Path, value: str) -> None:
    data = tmp_path / "data"
    write_records(data, "p.yaml", [project(start=value)])
    rejection, reason = only_reason(rec.load_records(data))
    assert reason.field == "start" and reason.value == value
    assert "date" in reason.message


def test_partial_dates_keep_their_precision(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "p.yaml", [project(start="2016-03", end="2019")])
    loaded = rec.load_records(data).loaded[0].record
    assert (loaded.start, loaded.end) == ("2016-03", "2019")


def test_json_and_csv_records(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.json").write_text(json.dumps([SOURCE]), "utf-8")
    (data / "b.csv").write_text("type,id,acronym,programme,title@lv,title@en,themes,sources,total_budget\n"
                                "project,p1,P1,prog,Projekts,Project,a;b,src,1000.50\n", "utf-8")
    result = rec.load_records(data)
    assert result.rejected == []
    csv_record = next(item for item in result.loaded if item.file == "b.csv")
    assert csv_record.line == 2
    assert csv_record.record.title == {"lv": "Projekts", "en": "Project"}
    assert csv_record.record.themes == ["a", "b"]
    assert str(csv_record.record.total_budget) == "1000.50"
    assert set(result.inputs) == {"a.json", "b.csv"}


def test_amounts_keep_every_digit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "p.yaml", [project(total_budget=4860664.11, eu_funding="3 827 755.48")])
    record = rec.load_records(data).loaded[0].record
    assert (str(record.total_budget), str(record.eu_funding)) == ("4860664.11", "3827755.48")


def test_missing_data_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        rec.load_records(tmp_path / "nope")


def test_json_schema_covers_every_type() -> None:
    schema = rec.json_schema()
    text = json.dumps(schema)
    for rtype in rec.MODELS:
        assert f'"const": "{rtype}"' in text or f'"{rtype}"' in text
    assert schema["discriminator"]["propertyName"] == "type"


@pytest.mark.parametrize("value, fragment", [
    ("bad\x00name", "U+0000"), ("lone \ud800 surrogate", "U+D800"), ("bell\x07", "U+0007"),
])
def test_nul_control_characters_and_lone_surrogates(tmp_path: Path, value: str, fragment: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    escaped = json.dumps([{**PROGRAMME, "title": {"en": value}}])  # JSON escapes keep them intact
    (data / "p.json").write_text(escaped, "utf-8")
    rejection, reason = only_reason(rec.load_records(data))
    assert fragment in reason.message and "title.en" in reason.message


@pytest.mark.parametrize("url", ["http://a b.lv", "javascript:alert(1)", "file:///etc/passwd", "http://x/<y>"])
def test_iris_must_be_http_without_spaces(tmp_path: Path, url: str) -> None:
    data = tmp_path / "data"
    write_records(data, "s.yaml", [{**SOURCE, "url": url}])
    _, reason = only_reason(rec.load_records(data))
    assert reason.field == "url"


def test_deep_nesting_is_a_file_error(tmp_path: Path) -> None:
    result = load_one(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    rejection, reason = only_reason(result)
    assert rejection.file == "deep.json" and ("JSON" in reason.message)
    (tmp_path / "y").mkdir()
    yaml_result = load_one(tmp_path / "y", "deep.yaml", "- " * 3000 + "x\n")
    assert yaml_result.rejected and yaml_result.loaded == []


def test_huge_literal_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_records(data, "p.yaml", [{**PROGRAMME, "title": {"en": "x" * 100_001}}])
    _, reason = only_reason(rec.load_records(data))
    assert "100000" in reason.message
