"""Outcome layer: what became of each input record: loaded (with where it came from), or
rejected (with its reasons, the line of each field, and values cut to a size any file takes)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from etclod.recordtypes import key_of

MAX_SHOWN_TEXT = 1000
"""Longest text a rejection shows of a value; longer ones are cut, their length noted."""
MAX_SHOWN_ITEMS = 100
MAX_SHOWN_VALUES = 2000
"""Values one rejection shows of a record at most (rejected.jsonl and status files stay small)."""


@dataclass(frozen=True)
class Reason:
    """Why a record was rejected: which field, which value, what is wrong, found by what."""

    message: str
    field: str | None = None
    value: Any = None
    check: str = "schema"
    line: int | None = None
    """The line of the field, where known (else the rejection's line is the record's)."""

    def to_dict(self, line: int | None = None) -> dict[str, Any]:
        value = self.value
        if value is not None and not isinstance(value, (str, int, float, bool, list, dict)):
            value = str(value)
        return {"field": self.field, "value": bounded(value), "message": bounded(self.message),
                "check": self.check, "line": self.line or line}


_INDEX = re.compile(r"\[(\d+)\]")


@dataclass
class Rejection:
    """A record (or a whole file) that is not published, kept with its reasons."""

    file: str
    reasons: list[Reason]
    line: int | None = None
    type: str | None = None
    id: str | None = None
    record: Any = None
    lines: dict[str, int] | None = None
    """field path -> line, where known."""
    kept_from: str | None = None
    """The release its last good version is kept from (the record stays published as it was)."""
    source: Any = field(default=None, repr=False, compare=False)
    """(path, index) of a JSON record, whose lines are found only when shown."""

    def line_of(self, reason: Reason) -> int | None:
        """The line of the field a reason names (its nearest enclosing field), else the record's."""
        if reason.line:
            return reason.line
        if self.lines and reason.field:
            path = _INDEX.sub(r".\1", reason.field)
            while path:
                if path in self.lines:
                    return self.lines[path]
                path = path.rpartition(".")[0]
        return self.line

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "type": self.type, "id": bounded(self.id),
                "reasons": [r.to_dict(self.line_of(r)) for r in self.reasons], "record": bounded(jsonable(self.record)),
                "kept_from": self.kept_from}


@dataclass(frozen=True)
class Loaded:
    """A record that parsed, with where it came from."""

    record: Any
    file: str
    line: int | None
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)
    lines: dict[str, int] | None = field(default=None, repr=False, compare=False, hash=False)
    source: Any = field(default=None, repr=False, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.record.type, self.record.id)

    @cached_property
    def iri_key(self) -> str:
        """The IRI key of its record (``recordtypes.key_of``), worked out once: reading (key
        clashes), merging and the IRI index each need it, and transliterating 240,000 ids three
        times took 6 s of a 30,000-project build."""
        return key_of(self.record)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Published:
    """A record the current release publishes: the file it came from and its IRI key."""

    file: str
    iri_key: tuple[str, str]


@dataclass
class LoadResult:
    loaded: list[Loaded]
    rejected: list[Rejection]
    inputs: dict[str, str]
    """relative file name -> sha256 of its bytes."""
    unreadable_files: set[str] = field(default_factory=set)
    """Files no record at all could be read from (empty, binary, malformed as a whole)."""
    lists: set[str] = field(default_factory=set)
    """Files that are one JSON list of records (``recordfile.Parsed.around == 1``): an
    incremental build checks the nesting of only their changed records."""


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, Decimal)):
        return str(value)
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def bounded(value: Any, budget: list[int] | None = None, depth: int = 0) -> Any:
    """A value as a rejection shows it: long texts, long lists and deep nesting cut, each cut
    saying how much was left out; lone surrogates written as ``\\udXXX`` so any file takes it.

    >>> bounded("x" * 1005)[-30:]
    'xxxxxx… (cut: 1005 characters)'
    """
    budget = [MAX_SHOWN_VALUES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        return "… (cut)"
    if isinstance(value, str):
        if _SURROGATE.search(value):
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value if len(value) <= MAX_SHOWN_TEXT else f"{value[:MAX_SHOWN_TEXT]}… (cut: {len(value)} characters)"
    if isinstance(value, (list, dict)) and depth >= 8:
        return "… (cut: nested deeper than 8 levels)"
    if isinstance(value, list):
        out = [bounded(v, budget, depth + 1) for v in value[:MAX_SHOWN_ITEMS]]
        return out + ([f"… (cut: {len(value)} items)"] if len(value) > MAX_SHOWN_ITEMS else [])
    if isinstance(value, dict):
        shown = {bounded(str(k), budget, depth + 1): bounded(v, budget, depth + 1)
                 for k, v in list(value.items())[:MAX_SHOWN_ITEMS]}
        if len(value) > MAX_SHOWN_ITEMS:
            shown["…"] = f"(cut: {len(value)} fields)"
        return shown
    return value


