"""Merge layer: one thing, one IRI, however many sources and files tell of it.

Records of one type that are the same thing by their type's identity rule (``recordtypes``:
a programme by CCI code; a project by keep.eu id, else programme and project code, else
programme and normalised acronym; an organisation by PIC, else country and national register
id, else a normalised name in any of its languages, country and town; a partnership by
project and organisation) become one resource. It has the IRI of its curated record (an
import never renames a steward's resource), else of the record of highest precedence
(``data/precedence.csv``: curated records, then keep.eu, Kohesio, Lists of Operations); the
others are mapped onto it, each in its own source's graph, and their values yield to the
precedence (``conflict``). Two records are the same when, at the first identity level where both have values,
the values agree (names: any name of one equals any of the other; towns: when both give one).

A name that normalises to nothing (``"SIA"``, ``"—"``) is never a merge key: such a record is
kept apart and the report says so. A steward pins or splits organisation merges in
``data/merges.csv`` (columns ``organisation,action,target``, action ``pin`` to merge
``organisation`` into ``target``, ``split`` to keep it apart).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from etclod import records as rec
from etclod import recordtypes
from etclod.names import normalise_name, slugify, words

MERGES_FILE = "merges.csv"
PRECEDENCE_FILE = "precedence.csv"
DEFAULT_PRECEDENCE = ("curated", "keep", "kohesio", "operations")
"""Whose value the release publishes when sources disagree, first wins (``data/precedence.csv``)."""


def merge_order() -> list[str]:
    """Every type, each after the types its identity rule points at (a project's programme,
    a partnership's project and organisation), from the registry.

    >>> merge_order()[:4]
    ['programme', 'project', 'organisation', 'partnership']
    """
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        kind = recordtypes.get(name)
        for group in kind.identity:
            for field_name in group:
                target = kind.model.REFERENCES.get(field_name.rstrip("?~"))
                if target and target != name:
                    visit(target)
        order.append(name)

    for name in recordtypes.NAMES:
        visit(name)
    return order

Key = tuple[str, str]


@dataclass
class MergeReport:
    groups: list[dict[str, Any]] = field(default_factory=list)
    """Each resource made of several records: type, kept id, merged ids, records, the key."""
    rules: int = 0
    apart: list[dict[str, Any]] = field(default_factory=list)
    """Records kept apart because a name of theirs normalises to nothing."""
    alias: dict[Key, str] = field(default_factory=dict)
    """(type, id) of a merged record -> the id of the record whose IRI the resource has."""
    precedence: list[str] = field(default_factory=lambda: list(DEFAULT_PRECEDENCE))


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


def read_precedence(data_dir: Path) -> tuple[list[str], list[rec.Rejection]]:
    """The sources in order of precedence from ``precedence.csv`` (one column ``source``:
    ``curated`` for the steward's own files, ``keep``, ``kohesio``, ``operations`` for the
    files ``etclod import`` writes); sources it leaves out come after it, in the default order."""
    path = data_dir / PRECEDENCE_FILE
    if not path.is_file():
        return list(DEFAULT_PRECEDENCE), []
    reader = csv.DictReader(io.StringIO(path.read_text("utf-8-sig"), newline=""))
    order: list[str] = []
    problems: list[rec.Rejection] = []
    if "source" not in (reader.fieldnames or []):
        return list(DEFAULT_PRECEDENCE), [rec.Rejection(PRECEDENCE_FILE, [rec.Reason(
            "precedence.csv needs a header row with the column source (curated, keep, kohesio, operations)",
            "source", None, "precedence")], 1)]
    for row in reader:
        name = (row.get("source") or "").strip()
        if not name or name in order:
            problems.append(rec.Rejection(PRECEDENCE_FILE, [rec.Reason(
                f"each row names one source once; {name!r} is {'empty' if not name else 'a repeat'}",
                "source", name, "precedence")], reader.line_num, record=row))
            continue
        order.append(name)
    return order + [s for s in DEFAULT_PRECEDENCE if s not in order], problems


class _Sets:
    """Union-find over record keys."""

    def __init__(self) -> None:
        self.parent: dict[Key, Key] = {}

    def find(self, key: Key) -> Key:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: Key, b: Key) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


Level = frozenset[str] | None


def _values(record: Any, name: str, canon: Callable[[str, str], str]) -> set[str] | None:
    """What one identity field of a record says, normalised; None when it says nothing, an
    empty set when what it says normalises to nothing."""
    if name == "name":
        names = list(record.name.values()) if isinstance(record.name, dict) else [record.name]
        return {normalise_name(n) for n in [*names, *record.alt_names]} - {""}
    value = getattr(record, name, None)
    if value is None or value == "":
        return None
    target = record.REFERENCES.get(name)
    if target:
        return {canon(target, value)}
    text = str(value)
    if name == "acronym":
        text = " ".join(words(text))
    elif name == recordtypes.get(record.type).key_field:
        text = recordtypes.get(record.type).key_of_text(text)
    elif name in ("code", "national_id"):
        text = slugify(text)
    return {text} if text else set()


@cache
def _rule(rtype: str) -> tuple[tuple[tuple[str, bool], ...], ...]:
    """A type's identity groups as (field, optional) pairs; ``~`` fields are left to ``_same``."""
    return tuple(tuple((f.rstrip("?"), f.endswith("?")) for f in group if not f.endswith("~"))
                 for group in recordtypes.get(rtype).identity)


def identity_levels(record: Any, canon: Callable[[str, str], str], apart: list[str]) -> list[Level]:
    """The identity values of a record, one set per group of its type's rule (None: it does
    not give that group), from the registry (``recordtypes``)."""
    levels: list[Level] = []
    for group in _rule(record.type):
        keys: set[str] | None = None
        for field_name, optional in group:
            values = _values(record, field_name, canon)
            if values is None and optional:
                values = {""}
            if values is not None and not values:
                apart.append(f"its {field_name} {getattr(record, field_name, '')!r} normalises to nothing"
                             if field_name != "name" else
                             f"its name {_first_name(record)!r} normalises to nothing")
            if not values:
                keys = None
                break
            keys = set(values) if keys is None else {f"{k}|{v}" for k in keys for v in values}
        levels.append(frozenset(keys) if keys else None)
    return levels


def _first_name(record: Any) -> str:
    names = list(record.name.values()) if isinstance(record.name, dict) else [record.name]
    return names[0] if names else ""


def _same(a: Any, b: Any, levels_a: list[Level], levels_b: list[Level]) -> bool:
    """At the first identity group both records give, do they agree?"""
    groups = recordtypes.get(a.type).identity
    for group, x, y in zip(groups, levels_a, levels_b):
        if x is None or y is None:
            continue
        if not x & y:
            return False
        for field_name in group:
            if field_name.endswith("~"):
                mine, theirs = slugify(str(getattr(a, field_name[:-1]) or "")), \
                    slugify(str(getattr(b, field_name[:-1]) or ""))
                if mine and theirs and mine != theirs:
                    return False
        return True
    return False


def merge_records(loaded: list[rec.Loaded], data_dir: Path) -> tuple[list[rec.Loaded], MergeReport,
                                                                      list[rec.Rejection]]:
    """Find the records that are one thing; return every record in order of precedence (whose
    values win, ``conflict``) and the report whose ``alias`` maps each record to the one whose
    IRI its resource has (a curated record's, if any). References are not rewritten: the
    mapping context resolves them."""
    pins, splits, problems = read_rules(data_dir)
    precedence, more = read_precedence(data_dir)
    problems += more
    rank = {name: i for i, name in enumerate(precedence)}
    origins = {file: rec.origin_of(file) for file in {item.file for item in loaded}}
    position = {id(item): (rank.get(origins[item.file], len(rank)), n) for n, item in enumerate(loaded)}

    def sort_key(item: rec.Loaded) -> tuple[int, int]:
        return position[id(item)]

    ordered = sorted(loaded, key=sort_key)
    report = MergeReport(rules=len(pins) + len(splits), precedence=precedence)
    sets = _Sets()
    canon_of: dict[Key, str] = {}

    def canon(rtype: str, rid: str) -> str:
        return canon_of.get((rtype, rid), rid)

    by_type: dict[str, list[rec.Loaded]] = {}
    for item in ordered:
        by_type.setdefault(item.record.type, []).append(item)
    for rtype in merge_order():
        items = by_type.get(rtype, [])
        levels: dict[int, list[Level]] = {}
        buckets: dict[tuple[int, str], list[rec.Loaded]] = {}
        seen: set[Key] = set()
        by_iri: dict[str, Key] = {}
        for item in items:
            if item.key in seen:  # the same id in another file: the same thing (one key, one set)
                continue
            seen.add(item.key)
            iri_key = item.iri_key
            if iri_key in by_iri:  # the same IRI key: one resource, whatever else it says
                sets.union(by_iri[iri_key], item.key)
            by_iri.setdefault(iri_key, item.key)
            if rtype == "organisation" and (item.record.id in splits or item.record.id in pins):
                continue  # kept apart, or merged only where the steward pins it
            why: list[str] = []
            levels[id(item)] = identity_levels(item.record, canon, why)
            if why and not any(levels[id(item)]):  # nothing else (a PIC, an id) can find its like
                report.apart.append({"type": rtype, "id": item.record.id, "file": item.file,
                                     "reason": f"{why[0]}, so it is never a merge key: kept apart"})
            for n, level in enumerate(levels[id(item)]):
                for value in level or ():
                    buckets.setdefault((n, value), []).append(item)
        for bucket in buckets.values():
            # each record joins the first record before it in the bucket it is the same as
            # (a bucket holds a few distinct things: one name in several towns, say)
            heads: list[rec.Loaded] = []
            for other in bucket:
                for head in heads:
                    if _same(head.record, other.record, levels[id(head)], levels[id(other)]):
                        sets.union(head.key, other.key)
                        break
                else:
                    heads.append(other)
        if rtype == "organisation":
            ids = {i.record.id for i in items}
            for org, target in pins.items():
                if org in ids and target in ids:
                    sets.union(("organisation", target), ("organisation", org))
        groups: dict[Key, list[rec.Loaded]] = {}
        for item in items:
            groups.setdefault(sets.find(item.key), []).append(item)
        for members in groups.values():
            if len(members) == 1:
                canon_of[members[0].key] = members[0].record.id
                continue
            # the IRI: a curated record's (a steward's resource is never renamed by an import,
            # whatever the precedence of values), never one the steward pins into another, else
            # the first in order of precedence; values follow the precedence (``conflict``)
            kept = min(members, key=lambda i: (origins[i.file] != "curated",
                                               rtype == "organisation" and i.record.id in pins,
                                               sort_key(i)))
            for item in members:
                canon_of[item.key] = kept.record.id
                if item.record.id != kept.record.id:
                    report.alias[item.key] = kept.record.id
            report.groups.append({"type": rtype, "kept": kept.record.id, "records": len(members),
                                  "merged": sorted({i.record.id for i in members} - {kept.record.id}),
                                  "key": _group_key(kept.record, levels.get(id(kept)))})
    return ordered, report, problems


def _group_key(record: Any, levels: list[Level] | None) -> str:
    for group, level in zip(recordtypes.get(record.type).identity, levels or []):
        if level:
            return f"{'+'.join(f.rstrip('?~') for f in group)}:{sorted(level)[0]}"
    return f"id:{record.id}"


def merged_away(report: MergeReport) -> int:
    """Records folded into another record's resource."""
    return sum(group["records"] - 1 for group in report.groups)
