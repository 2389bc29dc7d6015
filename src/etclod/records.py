"""Record layer: typed models of the input records and the loaders of data files."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter,
                      ValidationError, model_validator)

from etclod.errors import InputError
from etclod import recordtypes

MAX_TEXT = 100_000
"""The longest text a record field may hold; longer is an error, not a silent cut."""

# --- value types ---------------------------------------------------------------------------

_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def _lang_text(value: Any) -> Any:
    if isinstance(value, dict):
        for lang in value:
            if not isinstance(lang, str) or not _LANG.match(lang):
                raise ValueError(f"{lang!r} is not a language tag (use lv, en, lt ...)")
    return value


LangText = Annotated[Union[dict[str, str], str], BeforeValidator(_lang_text),
                     Field(description="Text per language: {lv: ..., en: ...}. A plain string "
                                       "has no language and is rejected where a language is required.")]

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _partial_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and 1000 <= value <= 9999:
        return str(value)
    if not isinstance(value, str):
        raise ValueError("a date must be YYYY-MM-DD, YYYY-MM or YYYY")
    text = value.strip()
    match = _PARTIAL_DATE.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = match.groups()
    try:
        dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise ValueError(f"{value!r} is an impossible date ({exc})") from exc
    return text


PartialDate = Annotated[str, BeforeValidator(_partial_date),
                        Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$",
                              description="YYYY-MM-DD, or YYYY-MM / YYYY when only that is known")]


def _amount(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.replace(" ", "").replace("\u00a0", ""))
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    return value


Amount = Annotated[Decimal, BeforeValidator(_amount),
                   Field(description="EUR, a decimal number; quote it in YAML to keep every digit")]
Ref = Annotated[str, Field(min_length=1, description="the id of another record")]
HTTP_IRI = r"^https?://[^\s<>\"{}|\\^`]+$"
"""An http(s) IRI: no spaces, no characters IRIs forbid, no javascript: or file: schemes."""
EMAIL = r"^[^\s@<>\"]+@[^\s@<>\"]+\.[^\s@<>\"]+$"


_BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
"""NUL, the control characters but tab, newline and carriage return, and lone surrogates."""


def _bad_character(value: Any, where: str = "") -> str | None:
    """Where a NUL, another control character or a lone surrogate hides in a value."""
    if isinstance(value, str):
        match = _BAD_CHARACTER.search(value)
        if match:
            return f"{where or 'a value'} holds the character U+{ord(match.group()):04X} at position {match.start()}"
        return None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _bad_character(item, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


# --- records --------------------------------------------------------------------------------

class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, str_max_length=MAX_TEXT)

    id: str = Field(min_length=1, description="unique within its type; the IRI key is its slug")
    comment: str | None = Field(None, description="a steward's note; not published")

    REFERENCES: ClassVar[dict[str, str]] = {}
    """field -> record type it points at."""

    @model_validator(mode="before")
    @classmethod
    def _no_bad_characters(cls, data: Any) -> Any:
        found = _bad_character(data)
        if found:
            raise ValueError(f"{found}: NUL, control characters and lone surrogates cannot be published")
        return data

    def references(self) -> list[tuple[str, str, str]]:
        """``(field, type, id)`` of every record this one points at."""
        found: list[tuple[str, str, str]] = []
        for name, target in self.REFERENCES.items():
            value = getattr(self, name)
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    found.append((name, target, item))
        return found


class _Sourced(_Record):
    sources: list[Ref] = Field(min_length=1, description="ids of the source records it comes from")

    def references(self) -> list[tuple[str, str, str]]:
        return [*super().references(), *(("sources", "source", s) for s in self.sources)]


class SourceDocument(_Record):
    """A document the data was read from (a press release, an official list, a web page)."""

    type: Literal["source"]
    title: LangText
    kind: Literal["news-article", "dataset", "web-page"] = "news-article"
    url: str | None = Field(None, pattern=HTTP_IRI)
    published: PartialDate | None = None
    publisher: Ref | None = None
    language: list[str] = Field(default_factory=list)
    REFERENCES = {"publisher": "organisation"}


class Programme(_Sourced):
    """An Interreg / ETC programme."""

    type: Literal["programme"]
    title: LangText
    cci: str = Field(description="CCI code, e.g. 2014TC16RFCB027; the IRI key")
    acronym: str | None = None
    period: str | None = Field(None, pattern=r"^\d{4}-\d{4}$")
    funds: list[str] = Field(default_factory=list, description="ERDF, ENI, IPA ...")
    strand: str | None = None
    homepage: str | None = Field(None, pattern=HTTP_IRI)


class Project(_Sourced):
    type: Literal["project"]
    acronym: str
    title: LangText | None = None
    description: LangText | None = None
    programme: Ref
    priority: str | None = None
    start: PartialDate | None = None
    end: PartialDate | None = None
    total_budget: Amount | None = None
    eu_funding: Amount | None = None
    themes: list[Ref] = Field(default_factory=list)
    keep_id: int | None = Field(None, ge=1)
    code: str | None = None
    cofinancing_rate: Amount | None = Field(None, description="EU co-financing rate in per cent (0-100)")
    status: str | None = Field(None, description="e.g. ongoing, closed")
    intervention_category: str | None = Field(None, description="the EU category of intervention code")
    inforegio_id: str | None = Field(None, description="the project's id in Kohesio / InfoRegio")
    homepage: str | None = Field(None, pattern=HTTP_IRI)
    REFERENCES = {"programme": "programme", "themes": "theme"}


class Partnership(_Sourced):
    """An organisation's part in a project (lead partner or partner)."""

    type: Literal["partnership"]
    project: Ref
    organisation: Ref
    role: Literal["lead-partner", "partner"] = "partner"
    budget: Amount | None = None
    eu_funding: Amount | None = Field(None, description="the partner's EU co-financing in EUR")
    REFERENCES = {"project": "project", "organisation": "organisation"}


class Organisation(_Sourced):
    type: Literal["organisation"]
    name: LangText
    alt_names: list[str] = Field(default_factory=list)
    kind: str | None = Field(None, description="ministry, municipality, school, NGO ...")
    public: bool = False
    country: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 3166 alpha-3, e.g. LVA")
    nuts: str | None = Field(None, pattern=r"^[A-Z]{2}[0-9A-Z]{0,3}$", description="NUTS code, e.g. LV003")
    town: str | None = None
    postcode: str | None = None
    address: str | None = None
    parent: Ref | None = None
    pic: str | None = Field(None, pattern=r"^[0-9]{6,12}$", description="EU Participant Identification Code")
    national_id: str | None = Field(None, description="a national register number")
    email: str | None = Field(None, pattern=EMAIL)
    homepage: str | None = Field(None, pattern=HTTP_IRI)
    REFERENCES = {"parent": "organisation"}


class Post(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, str_max_length=MAX_TEXT)
    organisation: Ref
    role: LangText


class Person(_Sourced):
    type: Literal["person"]
    name: str = Field(min_length=1)
    honorific: str | None = None
    posts: list[Post] = Field(default_factory=list)

    def references(self) -> list[tuple[str, str, str]]:
        return [*super().references(),
                *((f"posts[{i}].organisation", "organisation", p.organisation)
                  for i, p in enumerate(self.posts))]


class Event(_Sourced):
    type: Literal["event"]
    title: LangText
    description: LangText | None = None
    date: PartialDate
    place: LangText | None = None
    organiser: Ref | None = None
    moderator: Ref | None = None
    participants_approx: int | None = Field(None, ge=0, description="about how many took part")
    projects_represented: int | None = Field(None, ge=0, description="how many projects were represented")
    themes: list[Ref] = Field(default_factory=list)
    projects: list[Ref] = Field(default_factory=list, description="projects presented")
    participants: list[Ref] = Field(default_factory=list, description="organisations taking part")
    speakers: list[Ref] = Field(default_factory=list)
    performers: list[Ref] = Field(default_factory=list)
    programmes: list[Ref] = Field(default_factory=list, description="programmes discussed")
    REFERENCES = {"organiser": "organisation", "moderator": "person", "themes": "theme",
                  "projects": "project", "participants": "organisation", "speakers": "person",
                  "performers": "organisation", "programmes": "programme"}


class Theme(_Sourced):
    type: Literal["theme"]
    label: LangText
    definition: LangText | None = None
    notation: str | None = None
    broader: Ref | None = None
    REFERENCES = {"broader": "theme"}


MODELS: dict[str, type[_Record]] = {name: t.model for name, t in recordtypes.TYPES.items()}
"""type -> model, from the registry of record types (``recordtypes.TYPES``)."""
AnyRecord = Annotated[Union[tuple(MODELS.values())], Field(discriminator="type")]  # type: ignore[valid-type]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyRecord)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one record (any type, told apart by ``type``)."""
    schema = _ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "etclod record"
    return schema


# --- loading --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reason:
    """Why a record was rejected: which field, which value, what is wrong, found by what."""

    message: str
    field: str | None = None
    value: Any = None
    check: str = "schema"

    def to_dict(self) -> dict[str, Any]:
        value = self.value
        if value is not None and not isinstance(value, (str, int, float, bool, list, dict)):
            value = str(value)
        return {"field": self.field, "value": value, "message": self.message, "check": self.check}


@dataclass
class Rejection:
    """A record (or a whole file) that is not published, kept with its reasons."""

    file: str
    reasons: list[Reason]
    line: int | None = None
    type: str | None = None
    id: str | None = None
    record: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "type": self.type, "id": self.id,
                "reasons": [r.to_dict() for r in self.reasons], "record": _jsonable(self.record)}


@dataclass(frozen=True)
class Loaded:
    """A record that parsed, with where it came from."""

    record: Any
    file: str
    line: int | None
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.record.type, self.record.id)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class LoadResult:
    loaded: list[Loaded]
    rejected: list[Rejection]
    inputs: dict[str, str]
    """relative file name -> sha256 of its bytes."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, Decimal)):
        return str(value)
    return value


SUFFIXES = (".yaml", ".yml", ".json", ".csv")
NOT_RECORDS = {"merges.csv"}
"""Tables at the top of the data folder that are not records (the steward's merge rules)."""


def data_files(data_dir: Path) -> list[Path]:
    """The record files of a data folder (its top level; sub-folders hold other tables)."""
    if not data_dir.is_dir():
        raise InputError(f"data folder {str(data_dir)!r} does not exist or is not a folder")
    return sorted(p for p in data_dir.iterdir()
                  if p.is_file() and p.suffix.lower() in SUFFIXES and p.name not in NOT_RECORDS)


def load_records(data_dir: Path, extra: tuple[tuple[str, Path], ...] = ()) -> LoadResult:
    """Read every record file of ``data_dir`` (and of each ``(label, folder)`` in ``extra``,
    named ``label/file``); bad files and records become rejections."""
    result = LoadResult([], [], {})
    seen: dict[tuple[str, str], Loaded] = {}
    seen_slugs: dict[tuple[str, str], Loaded] = {}
    files = [(p.name, p) for p in data_files(data_dir)]
    for label, folder in extra:
        if folder.is_dir():
            files += [(f"{label}/{p.name}", p) for p in data_files(folder)]
    for name, path in files:
        data = path.read_bytes()
        result.inputs[name] = hashlib.sha256(data).hexdigest()
        try:
            items = _parse_file(name, data)
        except _FileError as exc:
            result.rejected.append(Rejection(name, [Reason(exc.message, check="file")], line=exc.line))
            continue
        for line, raw in items:
            loaded = _validate(name, line, raw, result.rejected)
            if loaded is None:
                continue
            first = seen.get(loaded.key)
            slug_key = (loaded.record.type, record_key(loaded.record))
            clash = seen_slugs.get(slug_key)
            if loaded.record.type == "organisation" and first is not None:
                result.loaded.append(loaded)  # the same organisation from another source: merged later
                continue
            if first is not None or clash is not None:
                other = first or clash
                assert other is not None
                message = (f"duplicate id: {loaded.record.type} {loaded.record.id!r} is already "
                           f"defined at {other.where}" if first else
                           f"{loaded.record.type} {loaded.record.id!r} gets the same IRI key "
                           f"{slug_key[1]!r} as {other.record.id!r} at {other.where}")
                result.rejected.append(Rejection(name, [Reason(message, "id", loaded.record.id, "duplicate")],
                                                 line, loaded.record.type, loaded.record.id, raw))
                continue
            seen[loaded.key] = loaded
            seen_slugs[slug_key] = loaded
            result.loaded.append(loaded)
    return result


def record_key(record: Any) -> str:
    """The IRI key of a record, by its type's key rule (``recordtypes``): the CCI code of a
    programme, else the slug of its id."""
    return recordtypes.key_of(record)


class _FileError(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _parse_file(name: str, data: bytes) -> list[tuple[int | None, Any]]:
    if not data.strip():
        raise _FileError("the file is empty: it holds no records")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _FileError(f"the file is not UTF-8: byte 0x{data[exc.start]:02x} at offset "
                         f"{exc.start} cannot be decoded; save it as UTF-8", line) from exc
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return _parse_csv(text)
    if suffix == ".json":
        try:
            document = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise _FileError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                             exc.lineno) from exc
        except (ValueError, RecursionError) as exc:
            raise _FileError(f"unreadable JSON: {exc}") from exc
        return _items(document, None)
    return _parse_yaml(text)


def _parse_yaml(text: str) -> list[tuple[int | None, Any]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise _FileError(f"malformed YAML: {problem}" + (f" at line {line} column {mark.column + 1}"
                                                         if mark is not None else ""), line) from exc
    except (ValueError, RecursionError) as exc:
        raise _FileError(f"unreadable YAML: {exc}") from exc
    finally:
        loader.dispose()
    if node is None:
        raise _FileError("the file is empty: it holds no records")
    lines = ([n.start_mark.line + 1 for n in node.value] if isinstance(node, yaml.SequenceNode)
             else [node.start_mark.line + 1])
    return _items(document, lines)


def _items(document: Any, lines: list[int] | None) -> list[tuple[int | None, Any]]:
    if isinstance(document, dict) and "records" in document and "type" not in document:
        document = document["records"]
        lines = None
    if isinstance(document, dict):
        return [((lines or [None])[0], document)]
    if isinstance(document, list):
        if not document:
            raise _FileError("the file is empty: its list of records has no items")
        return [(lines[i] if lines and i < len(lines) else None, item) for i, item in enumerate(document)]
    raise _FileError("a record file holds a list of records (mappings with type and id), "
                     f"not a {type(document).__name__}")


def _list_fields(model: type[BaseModel]) -> set[str]:
    return {name for name, info in model.model_fields.items()
            if typing.get_origin(info.annotation) is list}


def _parse_csv(text: str) -> list[tuple[int | None, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "type" not in reader.fieldnames or "id" not in reader.fieldnames:
        raise _FileError("a CSV record file needs a header row with at least the columns type and id", 1)
    items: list[tuple[int | None, Any]] = []
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise _FileError(f"row has {len(reader.fieldnames) + len(row[None])} cells, "  # type: ignore[index]
                                 f"the header has {len(reader.fieldnames)}", line)
            model = MODELS.get((row.get("type") or "").strip())
            lists = _list_fields(model) if model else set()
            record: dict[str, Any] = {}
            for column, cell in row.items():
                if cell is None or cell.strip() == "":
                    continue
                name, _, lang = column.strip().partition("@")
                value: Any = [v.strip() for v in cell.split(";") if v.strip()] if name in lists else cell.strip()
                if lang:
                    record.setdefault(name, {})
                    if isinstance(record[name], dict):
                        record[name][lang] = value
                else:
                    record[name] = value
            items.append((line, record))
    except csv.Error as exc:
        raise _FileError(f"malformed CSV: {exc}", reader.line_num) from exc
    if not items:
        raise _FileError("the file is empty: the CSV has a header but no rows")
    return items


def _validate(file: str, line: int | None, raw: Any, rejected: list[Rejection]) -> Loaded | None:
    if not isinstance(raw, dict):
        rejected.append(Rejection(file, [Reason(f"a record is a mapping with type and id, not a "
                                                f"{type(raw).__name__}", value=raw)], line, record=raw))
        return None
    rtype, rid = raw.get("type"), raw.get("id")
    rid = str(rid) if rid is not None else None
    if rtype not in MODELS:
        message = ("the record has no type" if rtype is None else f"unknown record type {rtype!r}")
        rejected.append(Rejection(file, [Reason(f"{message}; expected one of {', '.join(MODELS)}",
                                                "type", rtype)], line,
                                  rtype if isinstance(rtype, str) else None, rid, raw))
        return None
    if isinstance(raw.get("id"), int):
        raw = {**raw, "id": str(raw["id"])}
    try:
        record = MODELS[rtype].model_validate(raw)
    except ValidationError as exc:
        reasons = [_reason(err) for err in exc.errors()]
        rejected.append(Rejection(file, reasons, line, rtype, rid, raw))
        return None
    return Loaded(record, file, line, raw)


def _reason(err: Any) -> Reason:
    loc = [str(p) for p in err.get("loc", ())]
    field_name = ".".join(loc) if loc else None
    message = err.get("msg", "invalid value")
    if err.get("type") == "missing":
        message = f"required field {field_name!r} is missing"
    elif err.get("type") == "extra_forbidden":
        message = f"unknown field {field_name!r} (check its spelling; `etclod schema` lists the fields)"
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    value = err.get("input") if err.get("type") != "missing" else None
    return Reason(message, field_name, _jsonable(value), "schema")
