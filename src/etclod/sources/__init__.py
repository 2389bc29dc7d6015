"""Source layer: importers of public ETC data formats into etclod records.

Each importer reads files (never the network) and returns records plus a per-row error for
every row it could not turn into records, so nothing is dropped silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from etclod.names import normalise_name
from etclod.namespaces import slugify


@dataclass
class RowError:
    """A row (or file) that became no record, with where and why."""

    file: str
    row: int | None
    message: str
    field: str | None = None
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "field": self.field, "value": self.value,
                "message": self.message}


@dataclass
class Imported:
    records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        """Keep a record; a repeat of the same id merges its lists and fills empty fields."""
        key = (record["type"], record["id"])
        existing = self.records.get(key)
        if existing is None:
            self.records[key] = record
            return
        for name, value in record.items():
            if isinstance(value, list) and isinstance(existing.get(name), list):
                existing[name] = existing[name] + [v for v in value if v not in existing[name]]
            elif existing.get(name) in (None, "", {}, []):
                existing[name] = value

    def absorb(self, unit: Imported) -> bool:
        """Keep a unit's records (one row, one project, one partner) only when it has no error:
        what is reported as not imported is never written. True when it was kept."""
        self.errors.extend(unit.errors)
        if unit.errors:
            return False
        for record in unit.records.values():
            self.add(record)
        return True


def amount(value: Any) -> str | None:
    """A decimal amount as a string; accepts 1 234,56 / 1,234.56 / 1234.56 / numbers."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float, Decimal)):
        return str(Decimal(str(value)))
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace("€", "").replace("EUR", "")
    if "," in text and "." in text:
        text = text.replace(",", "") if text.rfind(".") > text.rfind(",") else text.replace(".", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", ".")
    try:
        return str(Decimal(text))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount") from exc


def rate(value: Any) -> str | None:
    """A co-financing rate in per cent: ``0.85`` and ``85`` and ``85 %`` are all 85."""
    text = amount(str(value).replace("%", "")) if value not in (None, "") else None
    if text is None:
        return None
    number = Decimal(text)
    return str(number * 100 if number <= 1 else number)


def date(value: Any) -> str | None:
    """ISO date from YYYY-MM-DD, DD.MM.YYYY, DD/MM/YYYY or an ISO timestamp."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(text[:19] if "T" in text else text, pattern).date().isoformat()
        except ValueError:
            continue
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return text
    raise ValueError(f"{value!r} is not a date (YYYY-MM-DD or DD.MM.YYYY)")


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """A CSV file's header and rows with their line numbers; UTF-8 (with or without BOM) or
    Windows-1257 (Baltic), sniffing , or ; as the delimiter."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1257")
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    for row in reader:
        rows.append((reader.line_num, {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}))
    return [h.strip() for h in reader.fieldnames or []], rows


def organisation_id(name: str, country: str | None, town: str | None = None, where: str = "") -> str:
    """The record id of an organisation known by name, country and town (the importers' common
    key; organisations with a PIC or register number use that instead). A name that normalises
    to nothing (``SIA``, ``—``) is no key: ``where`` (the row or partner) keeps it apart.

    >>> organisation_id("Liepājas Diakonijas centrs", "LVA", "Liepāja")
    'org-lva-liepaja-liepajas-diakonijas-centrs'
    >>> organisation_id("Псковский государственный университет", "RUS", "Псков")
    'org-rus-pskov-pskovskiy-gosudarstvennyy-universitet'
    >>> organisation_id("SIA", "LVA", None, "keep-40001-3")
    'org-lva--sia-keep-40001-3'
    """
    key = f"org-{(country or 'xx').lower()}-{slugify(town or '')}-{slugify(name)}"
    return f"{key}-{slugify(where)}" if where and not normalise_name(name) else key


def source_record(source_id: str, title: str, url: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"type": "source", "id": source_id, "kind": "dataset", "title": {"en": title}}
    if url:
        record["url"] = url
    return record
