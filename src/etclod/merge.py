"""Merge layer: one organisation, one IRI, however many projects and sources name it.

Organisations are grouped by PIC, else national id and country, else normalised name,
country and town (the reconciliation matcher's tokens: case, diacritics, punctuation, quotes
and legal-form words like SIA, AS, UAB, Oy, AB ignored, declension endings cut). Each group becomes the first record of it, with the others' names as
alternative names and their sources added; references to the others point at it. A steward
pins or splits merges in ``data/merges.csv`` (columns ``organisation,action,target``, action
``pin`` to merge ``organisation`` into ``target``, ``split`` to keep it apart).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etclod import records as rec
from etclod.namespaces import slugify
from etclod.reconcile import tokens

MERGES_FILE = "merges.csv"
def normalise_name(name: str) -> str:
    """A name reduced to what identifies it: the reconciliation matcher's tokens (so merging
    and reconciling agree on what is the same name).

    >>> normalise_name("SIA „Liepājas Diakonijas centrs”") == normalise_name("Liepajas diakonijas centrs, SIA")
    True
    """
    return " ".join(tokens(name))


def merge_key(org: Any) -> str:
    if org.pic:
        return f"pic:{org.pic}"
    if org.national_id:
        return f"nid:{org.country or ''}:{org.national_id}"
    names = org.name if isinstance(org.name, dict) else {"": org.name}
    name = names.get("en") or next(iter(sorted(names.items())))[1]
    return f"name:{org.country or ''}:{slugify(org.town or '')}:{normalise_name(name)}"


@dataclass
class MergeReport:
    groups: list[dict[str, Any]] = field(default_factory=list)
    rules: int = 0


def read_rules(data_dir: Path) -> tuple[dict[str, str], set[str], list[rec.Rejection]]:
    """``pin`` rules (organisation -> target) and ``split`` organisations from merges.csv."""
    path = data_dir / MERGES_FILE
    pins: dict[str, str] = {}
    splits: set[str] = set()
    problems: list[rec.Rejection] = []
    if not path.is_file():
        return pins, splits, problems
    reader = csv.DictReader(io.StringIO(path.read_text("utf-8-sig"), newline=""))
    for row in reader:
        org, action, target = (row.get("organisation") or "").strip(), (row.get("action") or "").strip(), \
            (row.get("target") or "").strip()
        if action == "pin" and org and target:
            pins[org] = target
        elif action == "split" and org:
            splits.add(org)
        else:
            problems.append(rec.Rejection(MERGES_FILE, [rec.Reason(
                "a merge rule is organisation,action,target with action pin (and a target) or split",
                "action", action, "merge")], reader.line_num, record=row))
    return pins, splits, problems


def merge_organisations(loaded: list[rec.Loaded], data_dir: Path) -> tuple[list[rec.Loaded], MergeReport,
                                                                            list[rec.Rejection]]:
    """Merge organisations that are the same; point every reference at the one kept."""
    pins, splits, problems = read_rules(data_dir)
    groups: dict[str, list[rec.Loaded]] = {}
    by_id: dict[str, str] = {}
    for item in loaded:
        if item.record.type != "organisation":
            continue
        rid = item.record.id
        if rid in by_id:
            key = by_id[rid]
        elif rid in splits:
            key = f"split:{rid}"
        else:
            key = merge_key(item.record)
        by_id[rid] = key
        groups.setdefault(key, []).append(item)
    for org, target in pins.items():
        if org in by_id and target in by_id and by_id[org] != by_id[target]:
            moving = [i for i in groups[by_id[org]] if i.record.id == org]
            groups[by_id[org]] = [i for i in groups[by_id[org]] if i.record.id != org]
            groups[by_id[target]].extend(moving)
            by_id[org] = by_id[target]
    alias: dict[str, str] = {}
    merged: dict[str, rec.Loaded] = {}
    report = MergeReport(rules=len(pins) + len(splits))
    for key, items in groups.items():
        if not items:
            continue
        keep = items[0]
        ids = sorted({i.record.id for i in items[1:]} - {keep.record.id})
        if len(items) > 1:
            merged[keep.record.id] = _combine(keep, items[1:])
            for other in items[1:]:
                alias[other.record.id] = keep.record.id
            report.groups.append({"kept": keep.record.id, "merged": ids, "records": len(items), "key": key})
    out: list[rec.Loaded] = []
    dropped = {id(i) for items in groups.values() for i in items[1:]}
    for item in loaded:
        if id(item) in dropped:
            continue
        if item.record.type == "organisation" and item.record.id in merged:
            item = merged[item.record.id]
        out.append(_redirect(item, alias) if alias else item)
    return out, report, problems


def _names(org: Any) -> list[str]:
    return list(org.name.values()) if isinstance(org.name, dict) else [org.name]


def _combine(keep: rec.Loaded, others: list[rec.Loaded]) -> rec.Loaded:
    record = keep.record
    own = set(_names(record)) | set(record.alt_names)
    alt = list(record.alt_names) + [n for o in others for n in _names(o.record) + list(o.record.alt_names)
                                    if n not in own and not own.add(n)]  # type: ignore[func-returns-value]
    sources = list(dict.fromkeys(record.sources + [s for o in others for s in o.record.sources]))
    update: dict[str, Any] = {"alt_names": alt, "sources": sources}
    for name in ("country", "nuts", "town", "postcode", "address", "pic", "national_id", "kind", "homepage", "email"):
        if getattr(record, name) is None:
            value = next((getattr(o.record, name) for o in others if getattr(o.record, name) is not None), None)
            if value is not None:
                update[name] = value
    return rec.Loaded(record.model_copy(update=update), keep.file, keep.line, keep.raw)


def _redirect(item: rec.Loaded, alias: dict[str, str]) -> rec.Loaded:
    record = item.record
    update: dict[str, Any] = {}
    for name, target in record.REFERENCES.items():
        if target != "organisation":
            continue
        value = getattr(record, name)
        if isinstance(value, list):
            new = [alias.get(v, v) for v in value]
            if new != value:
                update[name] = list(dict.fromkeys(new))
        elif value in alias:
            update[name] = alias[value]
    if record.type == "person" and any(p.organisation in alias for p in record.posts):
        update["posts"] = [p.model_copy(update={"organisation": alias.get(p.organisation, p.organisation)})
                           for p in record.posts]
    if not update:
        return item
    return rec.Loaded(record.model_copy(update=update), item.file, item.line, item.raw)
