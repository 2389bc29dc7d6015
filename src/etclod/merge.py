"""Merge layer: one thing, one IRI, however many sources and files tell of it.

Records of one type that are the same thing by their type's identity rule (``recordtypes``:
a programme by CCI code; a project by keep.eu id, else programme and project code, else
programme and normalised acronym; an organisation by PIC, else country and national register
id, else a normalised name in any of its languages, country and town; a partnership by
project and organisation) become one resource. The record of the highest precedence
(``data/precedence.csv``: curated records, then keep.eu, Kohesio, Lists of Operations) is
kept: the resource has its IRI, and the others are mapped onto it, each in its own source's
graph. Two records are the same when, at the first identity level where both have values,
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
from pathlib import Path
from typing import Any

from etclod import records as rec
from etclod import recordtypes
from etclod.names import slugify, words
from etclod.reconcile import tokens

MERGES_FILE = "merges.csv"
PRECEDENCE_FILE = "precedence.csv"
DEFAULT_PRECEDENCE = ("curated", "keep", "kohesio", "operations")
"""Whose value the release publishes when sources disagree, first wins (``data/precedence.csv``)."""
MERGE_ORDER = ("programme", "project", "organisation", "partnership")
"""Types whose identity rule reads references are merged after the types they point at."""

Key = tuple[str, str]


def normalise_name(name: str) -> str:
    """A name reduced to what identifies it: the reconciliation matcher's tokens (so merging
    and reconciling agree on what is the same name).

    >>> normalise_name("SIA „Liepājas Diakonijas centrs”") == normalise_name("Liepajas diakonijas centrs, SIA")
    True
    >>> normalise_name("SIA")
    ''
    """
    return " ".join(tokens(name))


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


def _levels(record: Any, canon: Callable[[str, str], str], apart: list[str]) -> list[Level]:
    """The identity values of a record, one set per level of its type's rule (None: unknown)."""
    kind = record.type
    if kind == "programme":
        return [frozenset({recordtypes.get("programme").key_of_text(record.cci)})]
    if kind == "project":
        programme = canon("programme", record.programme)
        acronym = " ".join(words(record.acronym))
        if not acronym:
            apart.append(f"its acronym {record.acronym!r} normalises to nothing")
        return [frozenset({str(record.keep_id)}) if record.keep_id else None,
                frozenset({f"{programme}|{slugify(record.code)}"}) if record.code and slugify(record.code) else None,
                frozenset({f"{programme}|{acronym}"}) if acronym else None]
    if kind == "organisation":
        names = list(record.name.values()) if isinstance(record.name, dict) else [record.name]
        keys = {normalise_name(n) for n in [*names, *record.alt_names]} - {""}
        if not keys:
            apart.append(f"its name {names[0] if names else ''!r} normalises to nothing")
        country = record.country or ""
        return [frozenset({record.pic}) if record.pic else None,
                frozenset({f"{country}|{slugify(record.national_id)}"}) if record.national_id else None,
                frozenset(f"{country}|{k}" for k in keys) if keys else None]
    if kind == "partnership":
        return [frozenset({f"{canon('project', record.project)}|{canon('organisation', record.organisation)}"})]
    return []


def _same(a: Any, b: Any, levels_a: list[Level], levels_b: list[Level]) -> bool:
    for level, (x, y) in enumerate(zip(levels_a, levels_b)):
        if x is None or y is None:
            continue
        if not x & y:
            return False
        if a.type == "organisation" and level == len(levels_a) - 1:
            town_a, town_b = slugify(a.town or ""), slugify(b.town or "")
            return not town_a or not town_b or town_a == town_b
        return True
    return False


def merge_records(loaded: list[rec.Loaded], data_dir: Path) -> tuple[list[rec.Loaded], MergeReport,
                                                                      list[rec.Rejection]]:
    """Find the records that are one thing; return every record (in order of precedence, so
    the record whose IRI a resource keeps comes first) and the report whose ``alias`` maps
    each other record to it. References are not rewritten: the mapping context resolves them."""
    pins, splits, problems = read_rules(data_dir)
    precedence, more = read_precedence(data_dir)
    problems += more
    rank = {name: i for i, name in enumerate(precedence)}
    order = {id(item): i for i, item in enumerate(loaded)}

    def sort_key(item: rec.Loaded) -> tuple[int, int]:
        return (rank.get(rec.origin_of(item.file), len(rank)), order[id(item)])

    ordered = sorted(loaded, key=sort_key)
    report = MergeReport(rules=len(pins) + len(splits), precedence=precedence)
    sets = _Sets()
    canon_of: dict[Key, str] = {}

    def canon(rtype: str, rid: str) -> str:
        return canon_of.get((rtype, rid), rid)

    swaps: list[tuple[rec.Loaded, rec.Loaded]] = []
    by_type: dict[str, list[rec.Loaded]] = {}
    for item in ordered:
        by_type.setdefault(item.record.type, []).append(item)
    for rtype in [*MERGE_ORDER, *(t for t in by_type if t not in MERGE_ORDER)]:
        items = by_type.get(rtype, [])
        levels: dict[int, list[Level]] = {}
        buckets: dict[tuple[int, str], list[rec.Loaded]] = {}
        seen: set[Key] = set()
        by_iri: dict[str, Key] = {}
        for item in items:
            if item.key in seen:  # the same id in another file: the same thing (one key, one set)
                continue
            seen.add(item.key)
            iri_key = rec.record_key(item.record)
            if iri_key in by_iri:  # the same IRI key: one resource, whatever else it says
                sets.union(by_iri[iri_key], item.key)
            by_iri.setdefault(iri_key, item.key)
            if rtype == "organisation" and (item.record.id in splits or item.record.id in pins):
                continue  # kept apart, or merged only where the steward pins it
            why: list[str] = []
            levels[id(item)] = _levels(item.record, canon, why)
            if why:
                report.apart.append({"type": rtype, "id": item.record.id, "file": item.file,
                                     "reason": f"{why[0]}, so it is never a merge key"})
            for n, level in enumerate(levels[id(item)]):
                for value in level or ():
                    buckets.setdefault((n, value), []).append(item)
        for bucket in buckets.values():
            head = bucket[0]
            for other in bucket[1:]:
                if sets.find(other.key) != sets.find(head.key) and \
                        _same(head.record, other.record, levels[id(head)], levels[id(other)]):
                    sets.union(head.key, other.key)
        if rtype == "organisation":
            ids = {i.record.id for i in items}
            for org, target in pins.items():
                if org in ids and target in ids:
                    sets.union(("organisation", target), ("organisation", org))
        groups: dict[Key, list[rec.Loaded]] = {}
        for item in items:
            groups.setdefault(sets.find(item.key), []).append(item)
        for members in groups.values():
            # the first in order of precedence, never one the steward pins into another
            kept = next((i for i in members if rtype != "organisation" or i.record.id not in pins), members[0])
            if kept is not members[0]:  # it comes first of its group in the order returned too
                swaps.append((members[0], kept))
            for item in members:
                canon_of[item.key] = kept.record.id
                if item.record.id != kept.record.id:
                    report.alias[item.key] = kept.record.id
            if len(members) > 1:
                report.groups.append({"type": rtype, "kept": kept.record.id, "records": len(members),
                                      "merged": sorted({i.record.id for i in members} - {kept.record.id}),
                                      "key": _group_key(kept.record, levels.get(id(kept)))})
    position = {id(item): n for n, item in enumerate(ordered)}
    for first, kept in swaps:
        a, b = position[id(first)], position[id(kept)]
        ordered[a], ordered[b] = kept, first
        position[id(kept)], position[id(first)] = a, b
    return ordered, report, problems


def _group_key(record: Any, levels: list[Level] | None) -> str:
    names = {"programme": ("cci",), "project": ("keep", "code", "acronym"),
             "organisation": ("pic", "nid", "name"), "partnership": ("project-organisation",)}.get(record.type, ())
    for name, level in zip(names, levels or []):
        if level:
            return f"{name}:{sorted(level)[0]}"
    return f"id:{record.id}"


def merged_away(report: MergeReport) -> int:
    """Records folded into another record's resource."""
    return sum(group["records"] - 1 for group in report.groups)
