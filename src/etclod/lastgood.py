"""Last-known-good layer: what the current release publishes, record by record; records that
turn invalid held back at their last good version; the guard on unpublishing records.

A record the current release publishes stays published, exactly as it was, while its record
as now written is rejected (or sits in a file that cannot be read): its description gains
``etc:keptFromRelease`` and ``etc:heldBackReason``. Only taking a record out of the data
unpublishes it, and a build that would unpublish more than ``ETCLOD_MAX_REMOVALS`` records
publishes nothing unless removals are allowed.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import RDFS

from etclod import records as rec
from etclod.errors import EtclodError
from etclod.namespaces import ETC, split_resource_iri
from etclod.validation import Mapped

HELD = "held"
"""The ``check`` of the reason a record from an unreadable file is held back with."""
_RECORD = re.compile(r"^(.*)#([a-z]+)/(.*)$", re.DOTALL)
_MARKS = (str(ETC.keptFromRelease), str(ETC.heldBackReason))


class RemovalsError(EtclodError):
    """A build would unpublish more records of the current release than allowed (exit 2, 409)."""

    code = "too_many_removals"
    status = 409

    def __init__(self, message: str, removals: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.removals = removals


@dataclass(frozen=True)
class HeldRecord:
    """Stands for a record held back at its last good version: it has a type and an id and
    points at nothing (its published triples already say where they point)."""

    type: str
    id: str
    REFERENCES: Any = field(default_factory=dict)

    def references(self) -> list[tuple[str, str, str]]:
        return []


@dataclass
class Previous:
    """The current release, as far as a new build needs it: where each record came from."""

    version: str
    path: Path
    base: str
    records: dict[tuple[str, str], rec.Published]
    iris: dict[tuple[str, str], str]
    graphs: dict[tuple[str, str], str]
    store: ox.Store = field(repr=False)

    def since(self, key: tuple[str, str]) -> str:
        """The release a record's published version comes from: this one, or the one it was
        already kept from."""
        for quad in self.store.quads_for_pattern(ox.NamedNode(self.iris[key]), ox.NamedNode(_MARKS[0]), None, None):
            return str(getattr(quad.object, "value", self.version))
        return self.version


def read_previous(release: Path | None, base: str) -> Previous | None:
    """The records of the release at ``release`` (None: there is none), from its store (or,
    where the store is elsewhere, its N-Quads dump)."""
    if release is None or not (release / "manifest.json").is_file():
        return None
    if (release / "store").is_dir():
        store = ox.Store.read_only(str(release / "store"))
    else:
        store = ox.Store()
        with gzip.open(release / "dumps" / "etclod.nq.gz", "rb") as handle:
            store.bulk_load(handle.read(), format=ox.RdfFormat.N_QUADS)
    records: dict[tuple[str, str], rec.Published] = {}
    iris: dict[tuple[str, str], str] = {}
    graphs: dict[tuple[str, str], str] = {}
    for quad in store.quads_for_pattern(None, ox.NamedNode(str(ETC.record)), None, None):
        subject = quad.subject
        if not isinstance(quad.object, ox.Literal) or not isinstance(subject, ox.NamedNode):
            continue
        match = _RECORD.match(quad.object.value)
        parts = split_resource_iri(base, subject.value)
        if match is None or parts is None:
            continue
        file, rtype, rid = match.groups()
        key = (rtype, rid)
        records[key] = rec.Published(file, parts)
        iris[key] = subject.value
        graphs[key] = quad.graph_name.value if isinstance(quad.graph_name, ox.NamedNode) else ""
    return Previous(release.name, release, base, records, iris, graphs, store)


def held_mapped(previous: Previous, key: tuple[str, str], reason: str) -> Mapped:
    """The record ``key`` as the current release publishes it (its resource and the nodes that
    belong to it, ``{iri}#...``), marked as kept from its release, with why."""
    iri = previous.iris[key]
    subjects = [ox.NamedNode(iri)]
    seen = {iri}
    triples: list[Any] = []  # pyoxigraph terms, as the mapping's
    while subjects:
        subject = subjects.pop()
        for quad in previous.store.quads_for_pattern(subject, None, None, ox.NamedNode(previous.graphs[key])):
            if quad.predicate.value in _MARKS:
                continue
            triples.append((quad.subject, quad.predicate, quad.object))
            o = quad.object
            if isinstance(o, ox.NamedNode) and o.value.startswith(iri + "#") and o.value not in seen:
                seen.add(o.value)
                subjects.append(o)
    since = previous.since(key)
    resource = URIRef(iri)
    triples += [(ox.NamedNode(iri), ox.NamedNode(_MARKS[0]), ox.Literal(since)),
                (ox.NamedNode(iri), ox.NamedNode(_MARKS[1]), ox.Literal(reason, language="en"))]
    file = previous.records[key].file
    return Mapped(rec.Loaded(HeldRecord(*key), file, None, {}), resource, URIRef(previous.graphs[key]), triples)


def short_label(mapped: Mapped) -> str:
    """The label references to a held-back record use (as ``mapping.short_label`` gives for
    a record): its acronym, else its English label, else its Latvian, any, or its id."""
    iri, acronym_iri, label_iri = str(mapped.iri), str(ETC.acronym), str(RDFS.label)
    acronym = [o for s, p, o in mapped.triples if s.value == iri and p.value == acronym_iri]
    if acronym:
        return str(acronym[0].value)
    labels = {getattr(o, "language", None): str(o.value) for s, p, o in mapped.triples
              if s.value == iri and p.value == label_iri}
    return labels.get("en") or labels.get("lv") or next(iter(labels.values()), mapped.loaded.record.id)


def describe_reasons(rejection: rec.Rejection) -> str:
    """A rejection's reasons in one line, each with its file, line and field."""
    out = []
    for reason in rejection.reasons:
        line = rejection.line_of(reason)
        where = f"{rejection.file}:{line}" if line else rejection.file
        out.append(f"{where}" + (f" field {reason.field!r}" if reason.field else "") + f": {reason.message}")
    return "; ".join(out)


def hold_unloaded(previous: Previous | None, loaded: Iterable[rec.Loaded], rejected: list[rec.Rejection],
                  unreadable: set[str]) -> list[Mapped]:
    """Hold back every record of the current release that did not load now but is still in the
    data: rejected as written, or in a file that cannot be read. Their rejections say so."""
    if previous is None:
        return []
    present = {item.key for item in loaded}
    by_key: dict[tuple[str, str], list[rec.Rejection]] = {}
    file_reason: dict[str, rec.Rejection] = {}
    for r in rejected:
        if r.type and r.id:
            by_key.setdefault((r.type, r.id), []).append(r)
        elif r.file in unreadable:
            file_reason.setdefault(r.file, r)
    held = []
    for key, published in sorted(previous.records.items()):
        if key in present:
            continue
        mine = by_key.get(key)
        if mine:
            rejection = next((r for r in mine if r.file == published.file), mine[0])
        elif published.file in file_reason:
            cause = file_reason[published.file]
            rejection = rec.Rejection(published.file, [rec.Reason(
                f"its file cannot be read: {cause.reasons[0].message}", check=HELD, line=cause.line)],
                cause.line, key[0], key[1])
            rejected.append(rejection)
        else:
            continue
        rejection.kept_from = previous.since(key)
        held.append(held_mapped(previous, key, describe_reasons(rejection)))
    return held


def hold_dangling(previous: Previous | None, rejected: list[rec.Rejection], held: set[tuple[str, str]],
                  remaining: set[tuple[str, str]]) -> list[Mapped]:
    """Hold back every record of the current release that ``rejected`` (the references check:
    a typo in an id it points at, or a record it points at rejected) takes out, unless another
    record of its id still stands or it is held already. Their rejections say so."""
    if previous is None:
        return []
    out = []
    for r in rejected:
        key = (r.type or "", r.id or "")
        if key not in previous.records or key in held or key in remaining or r.kept_from:
            continue
        r.kept_from = previous.since(key)
        held.add(key)
        out.append(held_mapped(previous, key, describe_reasons(r)))
    return out


def holder(previous: Previous | None) -> Any:
    """For validation: a record of the current release that the shapes now reject is held
    back at its published version (a Mapped to validate in its place), once."""
    def hold(mapped: Mapped, rejection: rec.Rejection) -> Mapped | None:
        key = mapped.loaded.key
        if previous is None or isinstance(mapped.loaded.record, HeldRecord) or key not in previous.records:
            return None
        rejection.kept_from = previous.since(key)
        return held_mapped(previous, key, describe_reasons(rejection))
    return hold


def removal_limit(setting: int | None, published: int) -> int:
    """How many records of a release of ``published`` records a build may unpublish: the
    setting, else 5 % of them, at least 1."""
    return setting if setting is not None else max(1, published * 5 // 100)


def record_keys(graph: Any) -> set[tuple[str, str]]:
    """``(type, id)`` of every ``etc:record`` in an rdflib graph (the themes scheme's own)."""
    keys = set()
    for value in graph.objects(None, ETC.record):
        match = _RECORD.match(str(value))
        if match:
            keys.add((match.group(2), match.group(3)))
    return keys


def removals(previous: Previous | None, published: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """The records of the current release a build would no longer publish."""
    if previous is None:
        return []
    now = set(published)
    return [{"type": key[0], "id": key[1], "file": p.file, "iri": previous.iris[key]}
            for key, p in sorted(previous.records.items()) if key not in now]


def check_removals(previous: Previous | None, gone: list[dict[str, str]], setting: int | None) -> None:
    """Refuse a build that unpublishes more records than allowed, listing them."""
    if previous is None or not gone:
        return
    limit = removal_limit(setting, len(previous.records))
    if len(gone) <= limit:
        return
    shown = "\n".join(f"  {g['type']} {g['id']!r} (from {g['file']})" for g in gone[:50])
    more = f"\n  ... and {len(gone) - 50} more" if len(gone) > 50 else ""
    raise RemovalsError(
        f"this build would unpublish {len(gone)} records of release {previous.version}, more than the "
        f"{limit} allowed (ETCLOD_MAX_REMOVALS); nothing was published. If a file was deleted or emptied "
        f"by mistake, put it back; if the removals are meant, build again with --allow-removals.\n"
        f"It would unpublish:\n{shown}{more}", gone)
