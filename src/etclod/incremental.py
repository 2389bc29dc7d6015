"""Incremental builds: a release made from the current one and the delta of what changed.

A full build leaves ``build-state/state.sqlite`` (``statedb``) in its release folder (not in the manifest,
like ``store/``): a fingerprint of everything but the records (the code, the ontology and
shapes, the settings a build reads, the data folder's other files), each input file's sha256
and, per published record, a digest of its raw value, its file, IRI, graph, short label,
references and identity keys (the values ``merge`` groups records by). The records the
release rejects or holds back at their last good version (``lastgood``) are kept in the state
too (``statedb.Troubled``: raw value, file, lines, digest). The next build compares the data
with it: the records that changed, every rejected or held-back record, and those whose triples
use what changed (a partnership's label uses its project's and organisation's labels) go
through ``release.check_data``'s steps (``localcheck``: schema, holding back, references,
shapes); the rest keep what the current release holds. Their old quads (read from the current
release's store) and new quads give the delta; the store is a hard-link checkpoint of the
current one with the delta applied; ``changes.nq.gz`` is the delta; ``rejected.jsonl``, the
validation report and the manifest's counts come from the check of the touched records.

Link tables (``data/links/``, in the fingerprint) are read again against the new records; their
quads stay as the current release has them. Whenever a change is not local, the build is a full
one and says why: a release without state (or of an older format), another fingerprint, a
current release with merged records, conflicts, unreadable files, warnings or a rejection for
another reason than a record's schema, references or shapes (a duplicate id, a field written
twice), a link row that stops or starts holding (``BuildState.links``), a record that would merge with another,
a duplicate id or IRI, a record no longer published that an untouched one points at, a file
that cannot be read. A full build of the same data gives the same release content
(tests/test_incremental.py proves it on random edits, rejections and fixes among them).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import RDF

import etclod
from etclod import lastgood
from etclod import records as rec
from etclod import recordfile, statedb
from etclod.mapping import short_label
from etclod.merge import identity_levels
from etclod.namespaces import SH
from etclod.settings import Settings
from etclod.statedb import RecordState, RecordTable, Troubled

STATE_DIR = "build-state"
STATE_FILE = statedb.STATE_FILE
OLD_STATE_FILES = ("state.pickle",)
"""Build states of older formats: a release with one of them is built on by a full build."""
FORMAT = 3

Key = tuple[str, str]


@dataclass
class BuildState:
    """What the next build needs to know of a release to build on it."""

    fingerprint: str
    blocked: str | None
    """Why the next build cannot build on this release (None: it can)."""
    files: dict[str, str] = field(default_factory=dict)
    lists: set[str] = field(default_factory=set)
    """Input files that were one JSON list of records (their unchanged records' nesting was checked)."""
    records: RecordTable | None = None
    """The published records, read by key (``statedb``)."""
    count: int = 0
    """How many records ``records`` holds."""
    fixed: frozenset[Key] = frozenset()
    """Keys that are not records (the themes)."""
    published: int = 0
    """Records the release publishes, as ``lastgood.read_previous`` counts them."""
    stats: dict[str, Any] = field(default_factory=dict)
    """The release's statistics (``dump.statistics``): the next one's are these and the delta."""
    format: int = FORMAT
    troubled: dict[Key, Troubled] = field(default_factory=dict)
    """The records rejected or held back, all read again by the next build."""
    links: list[str] = field(default_factory=list)
    """The rejected link table rows (``link_rejections``): the next build builds on this one
    while the same rows, and only they, are rejected."""

    def table(self) -> RecordTable:
        assert self.records is not None, "a blocked build state has no records"
        return self.records

    def meta(self) -> dict[str, Any]:
        return {"format": self.format, "fingerprint": self.fingerprint, "blocked": self.blocked,
                "count": self.count, "fixed": sorted(self.fixed), "published": self.published, "stats": self.stats,
                "links": self.links}

    def file_rows(self) -> dict[str, tuple[str, bool]]:
        return {name: (sha, name in self.lists) for name, sha in self.files.items()}


class Fallback(Exception):
    """The change is not local: build in full, for this reason."""


def digest(raw: Any) -> bytes:
    return hashlib.blake2b(repr(raw).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def fingerprint(settings: Settings) -> str:
    """What a release depends on besides its records: code, ontology, settings, other data files."""
    h = hashlib.sha256(f"{FORMAT}|{settings.base_uri}|{settings.validator}|{settings.max_file_mb}".encode())
    package = Path(etclod.__file__).parent
    for folder in (package, settings.ontology_dir):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and (folder != package or path.suffix == ".py"):
                h.update(f"|{path.relative_to(folder)}|".encode() + path.read_bytes())
    records = {p.resolve() for p in rec.data_files(settings.data_dir)}
    for path in sorted(settings.data_dir.rglob("*")):
        if path.is_file() and path.resolve() not in records:
            h.update(f"|data:{path.relative_to(settings.data_dir)}|".encode() + path.read_bytes())
    return h.hexdigest()


def buckets(record: Any) -> tuple[str, ...]:
    """The identity keys ``merge`` puts the record in (two records sharing one may merge)."""
    why: list[str] = []
    levels = identity_levels(record, lambda rtype, rid: rid, why)
    return tuple(f"{record.type}|{n}|{v}" for n, level in enumerate(levels) for v in sorted(level or ()))


def record_state(item: rec.Loaded, iri: str, graph: str) -> RecordState:
    refs = tuple((rtype, rid) for _f, rtype, rid in item.record.references())
    return RecordState(item.file, digest(item.raw), iri, graph, short_label(item.record), refs,
                       buckets(item.record))


CHECKS = ("schema", "reference", "shacl")
"""The rejections a next build reads again itself (a record's own schema, references and
shapes); any other (a duplicate id, a file that cannot be read, a field written twice) makes
the next build a full one."""


def _blocked(checked: Any, validator: str) -> str | None:
    if checked.merges.groups or checked.merges.apart:
        return "merged records (or kept records apart)"
    if checked.conflicts:
        return "has conflicts between sources"
    if checked.load.unreadable_files:
        return "has unreadable files"
    results = checked.verdict.first_report.results
    records = record_rejections(checked)
    rejected = {(r.type, r.id) for r in records}
    held = {(r.type, r.id) for r in records if r.kept_from}
    standing = {m.loaded.key for m in checked.verdict.accepted}
    for r in records:
        if not r.kept_from and (r.type, r.id) in standing:  # its state row would be taken for held back
            return f"rejected a copy of {r.type} {r.id!r} and published another"
        if not r.type or not r.id or any(reason.check not in CHECKS for reason in r.reasons):
            return f"rejected {len(checked.rejected)} records, not all for their schema, references or shapes"
        if r.kept_from and checked.previous is not None and checked.previous.records[(r.type, r.id)].file != r.file:
            return f"holds back {r.type} {r.id!r}, now written in another file"
    if len(rejected) != len(records) or len(held) != len(checked.held):
        return f"rejected {len(checked.rejected)} records, some of one id twice"
    if results and validator != "compiled":
        return f"has {len(results)} validation results (of {validator})"
    if any(r.severity != SH.Violation for r in results):  # a warning: not kept per record
        return f"has {len(results)} validation results"
    return None


STATS = ("classes", "graphs", "properties", "entities", "triples", "quads")


def record_rejections(checked: Any) -> list[rec.Rejection]:
    """The rejections of a check that are records' (not link table rows')."""
    rows = {id(r) for r in checked.links.rejected}
    return [r for r in checked.rejected if id(r) not in rows]


def link_rejections(rejected: list[rec.Rejection]) -> list[str]:
    """Rejected link table rows, as the release writes them (``rejected.jsonl``)."""
    return [json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True) for r in rejected]


def write_state(folder: Path, settings: Settings, checked: Any, themes: Any, stats: dict[str, Any]) -> None:
    """Record the state of a fully built release in its folder (before it is sealed)."""
    blocked = _blocked(checked, settings.validator)
    state = BuildState(fingerprint(settings), blocked, dict(checked.load.inputs), set(checked.load.lists),
                       stats={k: stats[k] for k in STATS}, links=link_rejections(checked.links.rejected))
    rows: list[tuple[Key, RecordState]] = []
    troubled: dict[Key, Troubled] = {}
    if blocked is None:
        rejections = {(r.type or "", r.id or ""): r for r in record_rejections(checked)}
        keys_of = {str(m.iri): m.loaded.key for m in checked.verdict.accepted}
        for m in checked.verdict.accepted:
            r = rejections.get(m.loaded.key)
            if r is None:
                rows.append((m.loaded.key, record_state(m.loaded, str(m.iri), str(m.graph))))
            else:  # held back: its published version's IRI and label, its data's digest
                rows.append((m.loaded.key, held_state(m, r, keys_of)))
        for key, r in rejections.items():
            troubled[key] = trouble(r, r.source[1] if r.source else r.line or 0, [], r.source is not None)
        state.fixed = frozenset(lastgood.record_keys(themes)) | frozenset(
            ("theme", str(s).rsplit("/", 1)[-1]) for s in themes.subjects()
            if isinstance(s, URIRef) and str(s).startswith(f"{settings.base_uri}id/theme/"))
        state.published = len(checked.verdict.accepted) + len(lastgood.record_keys(themes))
        state.count = len(rows)
    statedb.create(folder / STATE_DIR / STATE_FILE, state.meta(), state.file_rows(), rows, troubled)


def trouble(r: rec.Rejection, line: int, problems: list[Any], lazy: bool) -> Troubled:
    """A rejected (or held-back) record as the next build reads it again (``lazy``: its lines
    were found only for its rejection, ``recordfile.Parsed.lazy_lines``)."""
    return Troubled(r.file, digest(r.record), line, bool(r.kept_from), (r.record, r.line, r.lines, problems, lazy))


def held_state(m: Any, r: rec.Rejection, keys_of: Mapping[str, Key], label: str | None = None,
               refs: tuple[Key, ...] | None = None) -> RecordState:
    """The state of a record held back at its published version ``m`` (``r`` its rejection)."""
    if refs is None:  # what its published triples point at
        own = str(m.iri)
        found = {keys_of[o.value] for _s, _p, o in m.triples if isinstance(o, ox.NamedNode)
                 and o.value in keys_of and o.value != own}
        refs = tuple(sorted(found))
    return RecordState(r.file, digest(r.record), str(m.iri), str(m.graph),
                       label if label is not None else lastgood.short_label(m), refs, ())


def read_state(release: Path) -> BuildState | str:
    """The state a build left in ``release`` (our own file in our own var folder), or why there is none."""
    opened = statedb.open_state(release / STATE_DIR)
    if opened is None:
        if any((release / STATE_DIR / old).exists() for old in OLD_STATE_FILES):
            return f"release {release.name} has a build state of an older format (written before {STATE_FILE})"
        return f"release {release.name} has no build state (made before incremental builds)"
    meta, files, table = opened
    if table.overlay_size() > statedb.MAX_OVERLAY:
        return (f"release {release.name} has {table.overlay_size()} records changed since the last full build "
                f"(more than {statedb.MAX_OVERLAY}): a full build writes its state anew")
    if meta.get("format") != FORMAT:
        return (f"release {release.name} has a build state of format {meta.get('format')!r}, "
                f"this version reads format {FORMAT}")
    try:
        return BuildState(str(meta["fingerprint"]), meta["blocked"], {n: sha for n, (sha, _l) in files.items()},
                          {n for n, (_sha, is_list) in files.items() if is_list}, table, int(meta["count"]),
                          frozenset((k[0], k[1]) for k in meta["fixed"]), int(meta["published"]), dict(meta["stats"]),
                          troubled=table.troubled(), links=[str(r) for r in meta["links"]])
    except (KeyError, TypeError, ValueError, IndexError, sqlite3.Error, pickle.UnpicklingError):
        return f"release {release.name} has a build state that cannot be read"


# ------------------------------------------------------------------ what changed

@dataclass
class Change:
    """A record a build reads (again): its file, raw value and place in the data."""

    file: str
    item: recordfile.Item
    order: tuple[int, int]
    """The file's place among the inputs, then the record's in its file (index or line)."""
    source: Any
    """``(path, index)`` of a record whose lines are found only when shown (JSON), else None."""
    path: Path
    located: tuple[int | None, dict[str, int] | None] | None = None
    """Such a record's line and field lines, known from the state: given to its rejection
    where a full build finds them (``localcheck``)."""


@dataclass
class Delta:
    """The records a build redoes, and the ones it drops."""

    changed: dict[Key, Change]
    removed: set[Key]
    inputs: dict[str, str]
    read: int
    again: dict[Key, Change] = field(default_factory=dict)
    """The records the current release rejects or holds back, as the data has them now."""
    lists: set[str] = field(default_factory=set)
    """The input files that are one JSON list of records, now."""
    digests: dict[str, bytes] = field(default_factory=dict)
    """Per file read again: its records' digests, sorted and joined (``statedb.write_files``)."""
    kept: set[str] = field(default_factory=set)
    """The files not changed."""


def _inputs(settings: Settings) -> list[tuple[str, Path, Path]]:
    return rec.input_files(settings.data_dir, (("inbox", settings.inbox_dir / "accepted"),))  # as check_data reads


def _parse(name: str, data: bytes) -> recordfile.Parsed:
    try:
        parsed = recordfile.read_text(name, data, rec.list_fields, check_depth=False)
    except recordfile.FileError as exc:
        raise Fallback(f"{name} cannot be read ({exc.message})") from exc
    if parsed.unreadable:
        raise Fallback(f"{name} has records that cannot be read")
    return parsed


def _check_depth(name: str, parsed: recordfile.Parsed, item: recordfile.Item) -> None:
    """A changed record of a file whose nesting was not checked as a whole (``read_text``)."""
    if not parsed.depth_checked and recordfile.value_depth(item.raw) + parsed.around > recordfile.MAX_DEPTH:
        raise Fallback(f"{name} is nested more than {recordfile.MAX_DEPTH} levels deep")


def _raw_key(name: str, raw: Any) -> Key:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str) or raw.get("id") is None \
            or isinstance(raw.get("id"), (dict, list)):
        raise Fallback(f"{name} has a record without a type and id")
    return (raw["type"], str(raw["id"]))


def digests_of(raws: list[Any]) -> list[bytes]:
    """``digest`` of each value (one pass: a changed file's every record is digested)."""
    blake2b = hashlib.blake2b
    return [blake2b(text.encode("utf-8", "surrogatepass"), digest_size=statedb.DIGEST).digest()
            for text in map(repr, raws)]


def find_delta(settings: Settings, state: BuildState) -> Delta:
    """Compare the data folder with the state: the records added or changed, and removed.

    A record is unchanged when its digest is among those of its file's records in the state
    (the digest is of the whole raw value, its type and id too); only the others are read
    with pydantic. Each changed file's record digests go to the next state. The records the
    release rejects or holds back (``troubled``) are read again every time, as they are now."""
    table = state.table()
    limit = settings.max_file_mb * 1_000_000
    delta = Delta({}, set(), {}, 0)
    seen: dict[Key, str] = {}
    now: dict[str, set[bytes]] = {}
    gone: set[bytes] = set()
    present: set[str] = set()
    troubled: dict[str, dict[bytes, Key]] = {}
    for key, t in state.troubled.items():
        troubled.setdefault(t.file, {})[t.digest] = key
    for position, (name, path, folder) in enumerate(_inputs(settings)):
        present.add(name)
        refused = rec.refusal(path, folder, limit)
        if refused:
            raise Fallback(f"{name} is not read ({refused})")
        data = path.read_bytes()
        delta.inputs[name] = hashlib.sha256(data).hexdigest()
        mine = troubled.get(name, {})
        if state.files.get(name) == delta.inputs[name]:
            if name in state.lists:
                delta.lists.add(name)
            delta.kept.add(name)
            for key in mine.values():
                t = state.troubled[key]
                raw, line, lines, problems, lazy = t.item
                item = recordfile.Item(raw, None if lazy else line, None if lazy else lines, list(problems))
                delta.again[key] = Change(name, item, (position, t.line), None, path, (line, lines) if lazy else None)
            continue
        parsed = _parse(name, data)
        if not parsed.depth_checked:
            delta.lists.add(name)
            if name not in state.lists:  # its unchanged records were not checked as a list's: all are
                for item in parsed.items:
                    _check_depth(name, parsed, item)
        digests = digests_of([item.raw for item in parsed.items])
        before, after = table.file_digests(name), set(digests)
        if len(after) != len(digests):
            raise Fallback(f"{name} holds a record twice")
        now[name] = after
        gone |= before - after
        delta.digests[name] = b"".join(sorted(after))
        for index, (item, d) in enumerate(zip(parsed.items, digests)):
            at = (position, index if parsed.lazy_lines else item.line or 0)
            source = (path, index) if parsed.lazy_lines else None
            if d in before:
                if d in mine:
                    delta.again[mine[d]] = Change(name, item, at, source, path)
                continue
            key = _raw_key(name, item.raw)
            if key in seen:
                raise Fallback(f"{key[0]} {key[1]!r} is in the data twice")
            seen[key] = name
            _check_depth(name, parsed, item)
            delta.changed[key] = Change(name, item, at, source, path)
    removed: set[Key] = set()
    for name in set(state.files) - present:  # a file gone: its records with it
        removed |= set(table.in_file(name))
    for d in gone:
        owner = table.by_digest(d)
        if owner is not None:
            removed.add(owner)
    for key in delta.changed:
        r = table.get(key) or state.troubled.get(key)
        if r is not None and (key in delta.again or r.file in delta.kept or r.digest in now.get(r.file, ())):
            raise Fallback(f"{key[0]} {key[1]!r} is in the data twice ({r.file} and {seen[key]})")
    delta.removed = removed - set(delta.changed)  # changed, or moved from one changed file to another
    return delta


# ------------------------------------------------------------------ mapping against the state

class _Iris(Mapping[Key, URIRef]):
    """Every record's IRI: the state's, with the changed records' over it."""

    def __init__(self, table: RecordTable, over: dict[Key, URIRef], themes: dict[Key, URIRef],
                 removed: set[Key]) -> None:
        self.table, self.over, self.themes, self.removed = table, over, themes, removed

    def __getitem__(self, key: Key) -> URIRef:
        found = self.over.get(key) or self.themes.get(key)
        if found is not None:
            return found
        r = self.table.get(key) if key not in self.removed else None
        if r is None:
            raise KeyError(key)
        return URIRef(r.iri)

    def __iter__(self) -> Iterator[Key]:
        return iter({*self.table.keys(), *self.over, *self.themes} - self.removed)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Labels(Mapping[URIRef, str]):
    """Every record's short label by IRI: the state's, with the changed records' over it."""

    def __init__(self, table: RecordTable, over: dict[str, str], removed: set[Key]) -> None:
        self.table, self.over, self.removed = table, over, removed

    def __getitem__(self, iri: URIRef) -> str:
        text = str(iri)
        if text in self.over:
            return self.over[text]
        key = self.table.by_iri(text)
        if key is None or key in self.removed:
            raise KeyError(iri)
        return self.table[key].label

    def __iter__(self) -> Iterator[URIRef]:
        return iter({*(URIRef(self.table[k].iri) for k in self.table.keys() if k not in self.removed),
                     *(URIRef(i) for i in self.over)})

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Published(Container[str]):
    """Whether an IRI is published after the change (what a link table row must name)."""

    def __init__(self, table: RecordTable, new: dict[str, Key], removed: set[Key], fixed: set[str]) -> None:
        self.table, self.new, self.removed, self.fixed = table, new, removed, fixed

    def __contains__(self, iri: object) -> bool:
        if not isinstance(iri, str):
            return False
        if iri in self.new or iri in self.fixed:
            return True
        owner = self.table.by_iri(iri)
        return owner is not None and owner not in self.removed and owner not in self.new.values()


HUBS = statedb.NOT_INDEXED
"""Records nearly every record points at: not indexed by who points at them (a change of one
is built in full)."""


# ------------------------------------------------------------------ quads and shapes

def old_quads(store: ox.Store, iri: str, graph: str) -> set[ox.Quad]:
    """A record's quads in the current release: its subject's and its parts' (``iri#...``)."""
    g = ox.NamedNode(graph)
    out = set(store.quads_for_pattern(ox.NamedNode(iri), None, None, g))
    parts = {q.object for q in out if isinstance(q.object, ox.NamedNode) and q.object.value.startswith(iri + "#")}
    for part in parts:
        out |= set(store.quads_for_pattern(part, None, None, g))
    return out


def _iri(term: Any) -> str | None:
    """The IRI of a term, rdflib's or pyoxigraph's (None: not an IRI)."""
    if isinstance(term, ox.NamedNode):
        return term.value
    return str(term) if isinstance(term, URIRef) else None


def nquad_lines(quads: Any) -> list[bytes]:
    text = ox.serialize(list(quads), format=ox.RdfFormat.N_QUADS) or b""
    return [line for line in text.splitlines() if line]


def patch_stats(stats: dict[str, Any], added: set[ox.Quad], removed: set[ox.Quad], before: ox.Store,
                after: ox.Store, base: str) -> dict[str, Any]:
    """``dump.statistics`` of the new store from the old one's and the delta (each triple is in
    one graph, so the union's triples are the quads)."""
    out: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in stats.items()}
    rdf_type = str(RDF.type)

    def bump(counts: dict[str, int], key: str, by: int) -> None:
        counts[key] = counts.get(key, 0) + by
        if not counts[key]:
            del counts[key]

    for quads, sign in ((added, 1), (removed, -1)):
        for q in quads:
            bump(out["graphs"], getattr(q.graph_name, "value", ""), sign)
            bump(out["properties"], q.predicate.value, sign)
            if q.predicate.value == rdf_type:
                bump(out["classes"], getattr(q.object, "value", ""), sign)
    out["quads"] += len(added) - len(removed)
    out["triples"] += len(added) - len(removed)
    prefix = f"{base}id/"
    subjects = {q.subject for q in (*added, *removed) if isinstance(q.subject, ox.NamedNode)
                and q.subject.value.startswith(prefix) and "#" not in q.subject.value}
    for s in subjects:
        was = next(iter(before.quads_for_pattern(s, None, None, None)), None) is not None
        now = next(iter(after.quads_for_pattern(s, None, None, None)), None) is not None
        out["entities"] += int(now) - int(was)
    for key in ("classes", "graphs", "properties"):
        out[key] = dict(sorted(out[key].items()))
    return out
