"""Record layer: typed models of the input records and the loaders of data files."""

from __future__ import annotations

import difflib
import json
import hashlib
import re
import typing
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, cast

from pydantic import (BaseModel, ConfigDict, Field, TypeAdapter,
                      ValidationError, model_validator)

from etclod import jsonlines, recordfile
from etclod.errors import InputError
from etclod import recordtypes
# re-exported (``X as X``): the loader's values are read as ``records.X`` everywhere
from etclod.outcome import (
    Loaded as Loaded,
    LoadResult as LoadResult,
    Published as Published,
    Reason as Reason,
    Rejection as Rejection,
    bounded as bounded,
    jsonable as _jsonable,
)
from etclod.values import (
    EMAIL as EMAIL,
    HTTP_IRI as HTTP_IRI,
    MAX_TEXT as MAX_TEXT,
    PHONE as PHONE,
    Amount as Amount,
    LangText as LangText,
    PartialDate as PartialDate,
    Ref as Ref,
    CountryCode as CountryCode,
    Languages as Languages,
    bad_character as bad_character,
    language_problem as language_problem,
)

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
        found = bad_character(data)
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
    language: Languages = Field(default_factory=list)
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


class Contact(BaseModel):
    """Whom to ask about something a project made (a contact point)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, str_max_length=MAX_TEXT)
    organisation: Ref | None = None
    email: str | None = Field(None, pattern=EMAIL)
    phone: str | None = Field(None, pattern=PHONE)
    about: LangText | None = Field(None, description="what to ask about")


class Quotation(BaseModel):
    """Words someone said, as a source quotes them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, str_max_length=MAX_TEXT)
    text: LangText
    speaker: Ref = Field(description="the person who said it")
    about: Ref | None = Field(None, description="the project it is about")


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
    themes_note: LangText | None = Field(None, description="how the themes were found, where no source states "
                                                           "them (e.g. inferred from a description)")
    participants: list[Ref] = Field(default_factory=list, description="organisations taking part in the "
                                                                      "project without a stated partner role")
    place: LangText | None = Field(None, description="where the project works, as the source names it")
    results: LangText | None = Field(None, description="results the source reports")
    contact: Contact | None = None
    REFERENCES = {"programme": "programme", "themes": "theme", "participants": "organisation"}

    def references(self) -> list[tuple[str, str, str]]:
        contact = [("contact.organisation", "organisation", self.contact.organisation)] \
            if self.contact and self.contact.organisation else []
        return [*super().references(), *contact]


class Partnership(_Sourced):
    """An organisation's part in a project (lead partner or partner)."""

    type: Literal["partnership"]
    project: Ref
    organisation: Ref
    role: Literal["lead-partner", "partner"] | None = Field(
        None, description="lead-partner or partner, where a source states it (else no role is published)")
    budget: Amount | None = None
    eu_funding: Amount | None = Field(None, description="the partner's EU co-financing in EUR")
    REFERENCES = {"project": "project", "organisation": "organisation"}


class Organisation(_Sourced):
    type: Literal["organisation"]
    name: LangText
    alt_names: list[str] = Field(default_factory=list)
    kind: str | None = Field(None, description="ministry, municipality, school, NGO ...")
    public: bool = False
    country: CountryCode = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 3166 alpha-3, e.g. LVA")
    nuts: str | None = Field(None, pattern=r"^[A-Z]{2}[0-9A-Z]{0,3}$", description="NUTS code, e.g. LV003")
    town: str | None = None
    postcode: str | None = None
    address: str | None = None
    parent: Ref | None = None
    pic: str | None = Field(None, pattern=r"^[0-9]{6,12}$", description="EU Participant Identification Code")
    national_id: str | None = Field(None, description="a national register number")
    email: str | None = Field(None, pattern=EMAIL)
    phone: str | None = Field(None, pattern=PHONE)
    fax: str | None = Field(None, pattern=PHONE)
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
    quotations: list[Quotation] = Field(default_factory=list, description="words quoted, with who said them")
    REFERENCES = {"organiser": "organisation", "moderator": "person", "themes": "theme",
                  "projects": "project", "participants": "organisation", "speakers": "person",
                  "performers": "organisation", "programmes": "programme"}

    def references(self) -> list[tuple[str, str, str]]:
        quoted = [(f"quotations[{i}].speaker", "person", q.speaker) for i, q in enumerate(self.quotations)]
        quoted += [(f"quotations[{i}].about", "project", q.about) for i, q in enumerate(self.quotations) if q.about]
        return [*super().references(), *quoted]


class Theme(_Sourced):
    type: Literal["theme"]
    label: LangText
    definition: LangText | None = None
    notation: str | None = None
    broader: Ref | None = None
    REFERENCES = {"broader": "theme"}


MODELS: dict[str, type[_Record]] = {name: t.model for name, t in recordtypes.TYPES.items()}
"""type -> model, from the registry of record types (``recordtypes.TYPES``)."""
AnyRecord = Annotated[Union[tuple(MODELS.values())], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007 (a Union of a computed tuple has no | form)
# a Union computed at run time is no static type: mypy sees a special form, pydantic a type
_ADAPTER: TypeAdapter[Any] = TypeAdapter(cast(Any, AnyRecord))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one record (any type, told apart by ``type``)."""
    schema = _ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "etclod record"
    return schema


# --- loading --------------------------------------------------------------------------------

SUFFIXES = (".yaml", ".yml", ".json", ".csv")
NOT_RECORDS = {"merges.csv", "precedence.csv"}
"""Tables at the top of the data folder that are not records (the steward's merge rules and
the precedence of sources)."""


def file_label(name: str) -> str:
    """A file name as messages show it: bytes that are not UTF-8 escaped (``caf\\xe9.yaml``)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def data_files(data_dir: Path) -> list[Path]:
    """The record files of a data folder (its top level; sub-folders hold other tables)."""
    try:
        if not data_dir.is_dir():
            raise InputError(f"data folder {str(data_dir)!r} does not exist or is not a folder")
        return sorted(p for p in data_dir.iterdir()
                      if p.suffix.lower() in SUFFIXES and p.name not in NOT_RECORDS and not p.is_dir())
    except OSError as exc:
        raise InputError(f"cannot read the data folder {str(data_dir)!r}: {exc.strerror or exc}") from exc


def refusal(path: Path, folder: Path, max_bytes: int | None) -> str | None:
    """Why a record file is not read at all: a link out of its folder, not a file, too big."""
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "the file is a symbolic link that leads nowhere; put the records file itself here"
        if not target.is_relative_to(folder.resolve()):
            return ("the file is a symbolic link to a file outside the data folder, which is never read; "
                    "copy the records file into the data folder instead")
    if not path.is_file():
        return "not a regular file (a device, pipe or socket); record files are plain files"
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        return (f"the file has {size / 1e6:.1f} MB, more than the {max_bytes / 1e6:.0f} MB a record file may have "
                "(ETCLOD_MAX_FILE_MB); split it")
    return None


def input_files(data_dir: Path, extra: tuple[tuple[str, Path], ...] = ()) -> list[tuple[str, Path, Path]]:
    """Every record file a build reads, in order: ``(name, path, folder)``, those of each
    ``(label, folder)`` in ``extra`` named ``label/file``."""
    files = [(file_label(p.name), p, data_dir) for p in data_files(data_dir)]
    for label, folder in extra:
        if folder.is_dir():
            files += [(f"{label}/{file_label(p.name)}", p, folder) for p in data_files(folder)]
    return files


def load_records(data_dir: Path, extra: tuple[tuple[str, Path], ...] = (), *,
                 published: Mapping[tuple[str, str], Published] | None = None,
                 max_file_bytes: int | None = None) -> LoadResult:
    """Read every record file of ``data_dir`` (and of each ``(label, folder)`` in ``extra``,
    named ``label/file``); bad files and records become rejections.

    Two records with the same type and id (or the same IRI key): the one the current release
    publishes (``published``: where each of its records came from) keeps it, else the first in
    file order; the other is rejected, naming both places."""
    result = LoadResult([], [], {})
    files = input_files(data_dir, extra)
    claims: list[Loaded | Rejection] = []
    for name, path, folder in files:
        try:
            refused = refusal(path, folder, max_file_bytes)
            data = b"" if refused else path.read_bytes()
        except OSError as exc:
            refused = f"cannot read the file: {exc.strerror or exc}"
        if refused:
            result.rejected.append(Rejection(name, [Reason(refused, check="file")]))
            result.unreadable_files.add(name)
            continue
        result.inputs[name] = hashlib.sha256(data).hexdigest()
        try:
            parsed = recordfile.read_text(name, data, list_fields)
        except recordfile.FileError as exc:
            result.rejected.append(Rejection(name, [Reason(exc.message, check="file")], line=exc.line))
            result.unreadable_files.add(name)
            continue
        if parsed.around == 1 and parsed.depth_checked and name.endswith(".json"):
            result.lists.add(name)
        for bad in parsed.unreadable:
            rejection = Rejection(name, [Reason(bad.message, check="file", line=bad.line)], bad.line, bad.type, bad.id)
            result.rejected.append(rejection)
            claims.append(rejection)
        for index, item in enumerate(parsed.items):
            source = (path, index) if parsed.lazy_lines else None
            outcome = validate(name, item, source)
            claims.append(outcome)
            if isinstance(outcome, Rejection):
                result.rejected.append(outcome)
    _settle_claims(claims, published or {}, result)
    locate(result.rejected)
    return result


def locate(rejected: list[Rejection]) -> None:
    """Fill in the lines of rejected JSON records (their files are read again, once each)."""
    wanted: dict[Path, list[Rejection]] = {}
    for r in rejected:
        if r.lines is None and r.source is not None:
            wanted.setdefault(r.source[0], []).append(r)
    for path, group in wanted.items():
        try:
            text = path.read_bytes().decode("utf-8-sig", "replace")
        except OSError:
            continue
        found: Mapping[int, tuple[int, dict[str, int]]] | None = jsonlines.json_lines_of(
            text, {r.source[1] for r in group})
        if found is None:
            found = dict(enumerate(jsonlines.json_lines(text)))
        for r in group:
            index = r.source[1]
            if index in found:
                r.line, r.lines = r.line or found[index][0], found[index][1]


def _slug_key(rtype: str, rid: str, raw: Any) -> tuple[str, str]:
    """The IRI key a record that did not validate would have (by its type's key rule)."""
    kind = recordtypes.TYPES[rtype]
    value = raw.get(kind.key_field) if kind.key_field != "id" and isinstance(raw, dict) else None
    return rtype, (kind.key_of_text(value) if isinstance(value, str) and value else kind.key_of_text(rid) or "-")


def _settle_claims(claims: list[Loaded | Rejection], published: Mapping[tuple[str, str], Published],
                   result: LoadResult) -> None:
    """Who gets an id or IRI key two records claim: the record where the current release
    has it (even if it is now rejected: its last good version is kept), else the first."""
    by_key: dict[tuple[str, str], list[Loaded | Rejection]] = {}
    by_slug: dict[tuple[str, str], list[Loaded | Rejection]] = {}
    for claim in claims:
        if isinstance(claim, Loaded):
            key, slug = claim.key, (claim.record.type, claim.iri_key)
        elif claim.type in MODELS and claim.id:
            key, slug = (claim.type, claim.id), _slug_key(claim.type, claim.id, claim.record)
        else:
            continue
        by_key.setdefault(key, []).append(claim)
        by_slug.setdefault(slug, []).append(claim)
    slug_owner = {p.iri_key: (key, p) for key, p in published.items()}

    def incumbent(claim: Loaded | Rejection, key: tuple[str, str]) -> bool:
        entry = published.get(key)
        return entry is not None and claim.file == entry.file

    def pick(group: list[Loaded | Rejection], key_of: Any, published_key: tuple[str, str] | None) -> Any:
        if published_key is not None:
            entry = published[published_key]
            holders = [c for c in group if key_of(c) == published_key and c.file == entry.file]
            if holders:
                return next((c for c in holders if isinstance(c, Loaded)), holders[0])
            if entry.file in result.unreadable_files:
                return entry  # its file cannot be read: it keeps the id, its last good version stays
        return next((c for c in group if isinstance(c, Loaded)), None)

    def key_of(c: Loaded | Rejection) -> tuple[str, str]:
        return c.key if isinstance(c, Loaded) else (c.type or "", c.id or "")

    losers: dict[int, str] = {}
    for key, group in by_key.items():
        if len(group) < 2 and not (published.get(key) and published[key].file in result.unreadable_files
                                   and group[0].file != published[key].file):
            continue
        if key[0] == "organisation" and all(isinstance(c, Loaded) for c in group):
            continue  # the same organisation from several files: merged later
        winner = pick(group, key_of, key if key in published else None)
        for c in group:
            if isinstance(c, Loaded) and c is not winner and not (key[0] == "organisation" and
                                                                   isinstance(winner, Loaded)) \
                    and not told_twice(c, winner):
                losers[id(c)] = _clash_message(c, winner, key, published)
    for slug, group in by_slug.items():
        keys = {key_of(c) for c in group}
        if len(keys) < 2:
            continue
        owner = slug_owner.get(slug)
        winner = pick(group, key_of, owner[0] if owner else None)
        winning_key = key_of(winner) if isinstance(winner, (Loaded, Rejection)) else owner[0] if owner else None
        for c in group:
            if isinstance(c, Loaded) and key_of(c) != winning_key and id(c) not in losers \
                    and not told_twice(c, winner):
                where = winner.where if isinstance(winner, Loaded) else \
                    f"{winner.file}" if winner is not None else "?"
                losers[id(c)] = (f"{c.record.type} {c.record.id!r} gets the same IRI key {slug[1]!r} as "
                                 f"{winning_key[1] if winning_key else '?'!r} at {where}"
                                 + (" (published in the current release)" if owner else "")
                                 + "; give one of them another id")
    for claim in claims:
        if not isinstance(claim, Loaded):
            continue
        if id(claim) in losers:
            result.rejected.append(Rejection(claim.file, [Reason(losers[id(claim)], "id", claim.record.id,
                                                                 "duplicate")],
                                             claim.line, claim.record.type, claim.record.id, claim.raw,
                                             claim.lines, source=claim.source))
        else:
            result.loaded.append(claim)


def _clash_message(loser: Loaded, winner: Any, key: tuple[str, str],
                   published: Mapping[tuple[str, str], Published]) -> str:
    what = f"{key[0]} {key[1]!r}"
    if isinstance(winner, Published) or (isinstance(winner, Rejection) and key in published):
        return (f"duplicate id: {what} is published from {published[key].file} in the current release "
                f"(kept as it was there); this record at {loser.where} claims the same id: give it another id")
    where = winner.where if isinstance(winner, Loaded) else f"{winner.file}:{winner.line}"
    if key in published:
        return (f"duplicate id: {what} is published from {where} in the current release; this record at "
                f"{loser.where} claims the same id: give it another id")
    return f"duplicate id: {what} is already defined at {where}"


IMPORT_FILE = re.compile(r"^import-([a-z]+)-")
"""The files ``etclod import KIND`` writes: ``import-KIND-<hash>.json``."""


def origin_of(file: str) -> str:
    """Whose say a record file is: ``curated`` (the steward's own files, the inbox) or the kind
    of import that wrote it (``keep``, ``kohesio``, ``operations``).

    >>> origin_of("projects.yaml"), origin_of("import-keep-1a2b3c4d.json")
    ('curated', 'keep')
    """
    match = IMPORT_FILE.match(file.rsplit("/", 1)[-1])
    return match.group(1) if match else "curated"


def told_twice(claim: Loaded, winner: Any) -> bool:
    """Two records claiming one id or IRI key from two origins (a curated record and an import,
    two kinds of import) are not duplicates: they are one thing told by two sources, which the
    merge layer makes one resource (``merge``). Within one origin the duplicate rule holds."""
    file = getattr(winner, "file", None)
    return file is not None and origin_of(file) != origin_of(claim.file)


def record_key(record: Any) -> str:
    """The IRI key of a record, by its type's key rule (``recordtypes``): the CCI code of a
    programme, else the slug of its id."""
    return recordtypes.key_of(record)


def list_fields(rtype: str) -> set[str]:
    model = MODELS.get(rtype)
    if model is None:
        return set()
    return {name for name, info in model.model_fields.items()
            if typing.get_origin(info.annotation) is list}


def validate(file: str, item: recordfile.Item, source: Any) -> Loaded | Rejection:
    raw, line, lines = item.raw, item.line, item.lines
    if not isinstance(raw, dict):
        return Rejection(file, [Reason(f"a record is a mapping with type and id, not a "
                                       f"{type(raw).__name__}", value=raw)], line, record=raw, source=source)
    rtype, rid = raw.get("type"), raw.get("id")
    rid = str(rid) if rid is not None and not isinstance(rid, (dict, list)) else None
    if rtype not in MODELS:
        message = ("the record has no type" if rtype is None else f"unknown record type {rtype!r}")
        hint = did_you_mean(str(rtype), MODELS) if isinstance(rtype, str) else ""
        return Rejection(file, [Reason(f"{message}; expected one of {', '.join(MODELS)}{hint}", "type", rtype)],
                         line, rtype if isinstance(rtype, str) else None, rid, raw, lines, source=source)
    reasons = [Reason(message, name, check="file", line=at) for name, at, message in item.problems]
    try:
        record = MODELS[rtype].model_validate(raw)
    except ValidationError as exc:
        reasons += [_reason(err, MODELS[rtype]) for err in exc.errors()]
        return Rejection(file, reasons, line, rtype, rid, raw, lines, source=source)
    if reasons:
        return Rejection(file, reasons, line, rtype, rid, raw, lines, source=source)
    return Loaded(record, file, line, raw, lines, source)


def did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _fields_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    """The field names allowed where ``loc`` points (the record's, or a post's ...)."""
    current: Any = model
    for part in loc[:-1]:
        info = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        if info is None:
            continue
        args = [a for a in typing.get_args(info.annotation) or [info.annotation]
                if isinstance(a, type) and issubclass(a, BaseModel)]
        if args:
            current = args[0]
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _reason(err: Any, model: type[BaseModel]) -> Reason:
    loc = [str(p) for p in err.get("loc", ())]
    field_name = ".".join(loc) if loc else None
    message = err.get("msg", "invalid value")
    if err.get("type") == "missing":
        message = f"required field {field_name!r} is missing"
    elif err.get("type") == "extra_forbidden":
        hint = did_you_mean(loc[-1], _fields_at(model, loc)) if loc else ""
        message = f"unknown field {field_name!r}{hint or ' (check its spelling; `etclod schema` lists the fields)'}"
    elif err.get("type") == "int_parsing_size":
        message = f"a whole number of {len(str(err.get('input')))} digits is too long (at most 4300 digits)"
    elif err.get("type") == "string_type" and isinstance(err.get("input"), (bool, int, float, Decimal)):
        # only JSON gives numbers (YAML and CSV values are text as written): never made text silently
        written = json.dumps(err["input"]) if isinstance(err["input"], bool) else str(err["input"])
        message = f'{field_name} must be text: write "{written}" in quotes'
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    value = err.get("input") if err.get("type") != "missing" else None
    return Reason(message, field_name, _jsonable(value), "schema")
