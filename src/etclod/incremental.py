"""Incremental builds: a release made from the current one and the delta of what changed.

A full build leaves ``build-state/state.pickle`` in its release folder (not in the manifest,
like ``store/``): a fingerprint of everything but the records (the code, the ontology and
shapes, the settings a build reads, the data folder's other files), each input file's sha256
and, per published record, a digest of its raw value, its file, IRI, graph, short label,
references and identity keys (the values ``merge`` groups records by). The next build compares
the data with it: only the records that changed, and those whose triples use what changed (a
partnership's label uses its project's and organisation's labels), are read with pydantic,
mapped and checked with the shapes; the rest keep what the current release holds. Their old
quads (read from the current release's store) and new quads give the delta; the store is a
hard-link checkpoint of the current one with the delta applied; ``changes.nq.gz`` is the delta.

Whenever a change is not local, the build is a full one and says why: a release without
state, another fingerprint, a current release with rejected, held-back or merged records,
conflicts, links or validation results, a changed record that is rejected or has validation
results, a record that would merge with another, a duplicate id or IRI, a removal something
still points at, a file that cannot be read. A full build of the same data gives the same
release content (tests/test_incremental.py proves it on random edits).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import RDF

import etclod
from etclod import lastgood
from etclod import records as rec
from etclod import recordfile
from etclod.mapping import Context, record_graph, record_iri, short_label
from etclod.merge import _levels
from etclod.settings import Settings

STATE_DIR = "build-state"
STATE_FILE = "state.pickle"
FORMAT = 1

Key = tuple[str, str]


class RecordState(NamedTuple):
    """What the next build needs of one published record."""

    file: str
    digest: bytes
    """Of its raw value: the same digest, the same record."""
    iri: str
    graph: str
    label: str
    refs: tuple[Key, ...]
    buckets: tuple[str, ...]
    """Its identity keys (``merge``): another record with one of them may be the same thing."""


@dataclass
class BuildState:
    """What the next build needs to know of a release to build on it."""

    fingerprint: str
    blocked: str | None
    """Why the next build cannot build on this release (None: it can)."""
    files: dict[str, str] = field(default_factory=dict)
    records: dict[Key, RecordState] = field(default_factory=dict)
    fixed: frozenset[Key] = frozenset()
    """Keys that are not records (the themes)."""
    published: int = 0
    """Records the release publishes, as ``lastgood.read_previous`` counts them."""
    stats: dict[str, Any] = field(default_factory=dict)
    """The release's statistics (``dump.statistics``): the next one's are these and the delta."""
    format: int = FORMAT


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
    levels = _levels(record, lambda rtype, rid: rid, why)
    return tuple(f"{record.type}|{n}|{v}" for n, level in enumerate(levels) for v in sorted(level or ()))


def record_state(item: rec.Loaded, iri: str, graph: str) -> RecordState:
    refs = tuple((rtype, rid) for _f, rtype, rid in item.record.references())
    return RecordState(item.file, digest(item.raw), iri, graph, short_label(item.record), refs,
                       buckets(item.record))


def _blocked(checked: Any) -> str | None:
    if checked.rejected:
        return f"rejected {len(checked.rejected)} records"
    if checked.merges.groups or checked.merges.apart:
        return "merged records (or kept records apart)"
    if checked.conflicts:
        return "has conflicts between sources"
    if checked.links.quads or checked.links.rejected:
        return "has link tables"
    if checked.verdict.first_report.results:
        return f"has {len(checked.verdict.first_report.results)} validation results"
    if checked.load.unreadable_files:
        return "has unreadable files"
    return None


STATS = ("classes", "graphs", "properties", "entities", "triples", "quads")


def write_state(folder: Path, settings: Settings, checked: Any, themes: Any, stats: dict[str, Any]) -> None:
    """Record the state of a fully built release in its folder (before it is sealed)."""
    blocked = _blocked(checked)
    state = BuildState(fingerprint(settings), blocked, dict(checked.load.inputs),
                       stats={k: stats[k] for k in STATS})
    if blocked is None:
        state.records = {m.loaded.key: record_state(m.loaded, str(m.iri), str(m.graph)) for m in checked.verdict.accepted}
        state.fixed = frozenset(lastgood.record_keys(themes)) | frozenset(
            ("theme", str(s).rsplit("/", 1)[-1]) for s in themes.subjects()
            if isinstance(s, URIRef) and str(s).startswith(f"{settings.base_uri}id/theme/"))
        state.published = len(checked.verdict.accepted) + len(lastgood.record_keys(themes))
    save_state(folder, state)


def save_state(folder: Path, state: BuildState) -> None:
    (folder / STATE_DIR).mkdir(exist_ok=True)
    with (folder / STATE_DIR / STATE_FILE).open("wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)


def read_state(release: Path) -> BuildState | None:
    """The state a build left in ``release`` (our own file in our own var folder), or None."""
    path = release / STATE_DIR / STATE_FILE
    try:
        with path.open("rb") as handle:
            state = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return state if isinstance(state, BuildState) and state.format == FORMAT else None


# ------------------------------------------------------------------ what changed

@dataclass
class Delta:
    """The records a build redoes, and the ones it drops."""

    changed: dict[Key, rec.Loaded]
    removed: set[Key]
    inputs: dict[str, str]
    read: int


def _inputs(settings: Settings) -> list[tuple[str, Path, Path]]:
    return rec.input_files(settings.data_dir, (("inbox", settings.inbox_dir / "accepted"),))  # as check_data reads


def _parse(name: str, data: bytes) -> recordfile.Parsed:
    try:
        parsed = recordfile.read_text(name, data, rec._list_fields)
    except recordfile.FileError as exc:
        raise Fallback(f"{name} cannot be read ({exc.message})") from exc
    if parsed.unreadable:
        raise Fallback(f"{name} has records that cannot be read")
    return parsed


def _raw_key(name: str, raw: Any) -> Key:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str) or raw.get("id") is None \
            or isinstance(raw.get("id"), (dict, list)):
        raise Fallback(f"{name} has a record without a type and id")
    return (raw["type"], str(raw["id"]))


def _loaded(name: str, item: recordfile.Item, index: int, path: Path, lazy: bool) -> rec.Loaded:
    outcome = rec._validate(name, item, (path, index) if lazy else None)
    if not isinstance(outcome, rec.Loaded):
        raise Fallback(f"a changed record is rejected ({name}: {outcome.type} {outcome.id!r})")
    return outcome


def find_delta(settings: Settings, state: BuildState) -> Delta:
    """Compare the data folder with the state: the records added or changed, and removed."""
    limit = settings.max_file_mb * 1_000_000
    inputs: dict[str, str] = {}
    changed: dict[Key, rec.Loaded] = {}
    seen: dict[Key, str] = {}
    present: set[str] = set()
    for name, path, folder in _inputs(settings):
        present.add(name)
        refused = rec._refusal(path, folder, limit)
        if refused:
            raise Fallback(f"{name} is not read ({refused})")
        data = path.read_bytes()
        inputs[name] = hashlib.sha256(data).hexdigest()
        if state.files.get(name) == inputs[name]:
            continue
        parsed = _parse(name, data)
        for index, item in enumerate(parsed.items):
            key = _raw_key(name, item.raw)
            if key in seen:
                raise Fallback(f"{key[0]} {key[1]!r} is in the data twice")
            seen[key] = name
            before = state.records.get(key)
            if before is not None and before.file == name and before.digest == digest(item.raw):
                continue
            loaded = _loaded(name, item, index, path, parsed.lazy_lines)
            if loaded.key != key:
                raise Fallback(f"{name}: the id of {key[0]} {key[1]!r} is written differently")
            changed[key] = loaded
    redone = {name for name in inputs if state.files.get(name) != inputs[name]} | (set(state.files) - present)
    removed = set()
    for key, r in state.records.items():
        if r.file in redone and key not in seen:
            removed.add(key)
        elif r.file not in redone and key in seen:
            raise Fallback(f"{key[0]} {key[1]!r} is in the data twice ({r.file} and {seen[key]})")
    read = len(state.records) - len(removed) + sum(1 for k in changed if k not in state.records)
    return Delta(changed, removed, inputs, read)


# ------------------------------------------------------------------ mapping against the state

class _Iris(Mapping[Key, URIRef]):
    """Every record's IRI: the state's, with the changed records' over it."""

    def __init__(self, state: BuildState, over: dict[Key, URIRef], themes: dict[Key, URIRef],
                 removed: set[Key]) -> None:
        self.state, self.over, self.themes, self.removed = state, over, themes, removed

    def __getitem__(self, key: Key) -> URIRef:
        found = self.over.get(key) or self.themes.get(key)
        if found is not None:
            return found
        r = self.state.records.get(key)
        if r is None or key in self.removed:
            raise KeyError(key)
        return URIRef(r.iri)

    def __iter__(self) -> Iterator[Key]:
        return iter({*self.state.records, *self.over, *self.themes} - self.removed)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Labels(Mapping[URIRef, str]):
    def __init__(self, by_iri: dict[str, Key], state: BuildState, over: dict[str, str]) -> None:
        self.by_iri, self.state, self.over = by_iri, state, over

    def __getitem__(self, iri: URIRef) -> str:
        text = str(iri)
        if text in self.over:
            return self.over[text]
        return self.state.records[self.by_iri[text]].label

    def __iter__(self) -> Iterator[URIRef]:
        return iter(URIRef(i) for i in {*self.by_iri, *self.over})

    def __len__(self) -> int:
        return len({*self.by_iri, *self.over})


@dataclass
class Plan:
    """The records to map again with their new state, and the records dropped."""

    todo: dict[Key, rec.Loaded]
    states: dict[Key, RecordState]
    removed: set[Key]
    ctx: Context
    referrers: dict[Key, list[Key]]
    """Who points at each record (not at sources and themes: ``HUBS``), before the change."""


HUBS = ("source", "theme")
"""Records nearly every record points at: not indexed by who points at them (a change of one
is built in full)."""


def plan(settings: Settings, state: BuildState, delta: Delta, themes: dict[str, URIRef]) -> Plan:
    """Check that the change is local; add the records whose triples use what changed."""
    base = settings.base_uri
    new: dict[Key, RecordState] = {}
    for key, item in delta.changed.items():
        new[key] = record_state(item, str(record_iri(base, item.record)), str(record_graph(base, item.record)))
    for key in (*delta.changed, *delta.removed):
        if key[0] in HUBS:
            raise Fallback(f"{key[0]} {key[1]!r} changed or is removed: every record of it points at it")
    referrers: dict[Key, list[Key]] = {}
    by_iri: dict[str, Key] = {}
    bucket_of: dict[str, Key] = {}
    for key, r in state.records.items():
        by_iri[r.iri] = key
        for target in r.refs:
            if target[0] not in HUBS:
                referrers.setdefault(target, []).append(key)
        if key not in delta.changed and key not in delta.removed:
            for b in r.buckets:
                bucket_of[b] = key
    for key, r in new.items():
        owner = by_iri.get(r.iri)
        if owner is not None and owner != key and owner not in delta.removed:
            raise Fallback(f"{key[0]} {key[1]!r} has the IRI of {owner[0]} {owner[1]!r}")
        for b in r.buckets:
            if bucket_of.setdefault(b, key) != key:
                other = bucket_of[b]
                raise Fallback(f"{key[0]} {key[1]!r} may be the same thing as {other[0]} {other[1]!r} (merge)")
    theme_keys = {("theme", k) for k in themes}
    known = (set(state.records) - delta.removed) | set(new) | theme_keys | set(state.fixed)
    for key, r in new.items():
        for target in r.refs:
            if target not in known:
                raise Fallback(f"{key[0]} {key[1]!r} points at {target[0]} {target[1]!r}, which is not in the data")
    for key in delta.removed:
        still = [k for k in referrers.get(key, []) if k not in delta.removed and k not in new]
        still += [k for k, r in new.items() if key in r.refs]
        if still:
            raise Fallback(f"{key[0]} {key[1]!r} is removed, but {still[0][0]} {still[0][1]!r} points at it")
    # records whose triples use a changed IRI or label are mapped again
    again: set[Key] = set()
    for key, r in new.items():
        old = state.records.get(key)
        if old is not None and (old.iri != r.iri or old.label != r.label):
            again |= {k for k in referrers.get(key, []) if k not in new and k not in delta.removed}
    todo = dict(delta.changed)
    if again:
        todo.update(_reread(settings, state, again))
        for key in again:
            new[key] = state.records[key]
    over = {key: URIRef(r.iri) for key, r in new.items()}
    iris = _Iris(state, over, {("theme", k): v for k, v in themes.items()}, delta.removed)
    labels = _Labels({i: k for i, k in by_iri.items() if k not in delta.removed},
                     state, {r.iri: r.label for r in new.values()})
    return Plan(todo, new, delta.removed, Context(base, iris, labels), referrers)


def _reread(settings: Settings, state: BuildState, keys: set[Key]) -> dict[Key, rec.Loaded]:
    """The records ``keys`` (unchanged themselves) read again from their files."""
    out: dict[Key, rec.Loaded] = {}
    files = {state.records[k].file for k in keys}
    for name, path, _folder in _inputs(settings):
        if name not in files:
            continue
        parsed = _parse(name, path.read_bytes())
        for index, item in enumerate(parsed.items):
            key = _raw_key(name, item.raw)
            if key in keys:
                out[key] = _loaded(name, item, index, path, parsed.lazy_lines)
    if set(out) != keys:
        raise Fallback("a record that uses a changed label could not be read again")
    return out


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


def check_shapes(settings: Settings, mapped: list[tuple[Key, Any, list[Any]]], previous: ox.Store,
                 themes: Any, changed_iris: set[str]) -> None:
    """Validate the changed records on a small store: their triples, the themes, and the types
    of what they point at (all the shapes look at beyond a record: ``sh:class``). Any result
    on a changed record's nodes means the full build decides."""
    from etclod.validation import CompiledValidator, default_quads, load_shapes

    store = ox.Store()
    store.bulk_extend(default_quads(themes))
    subjects: set[str] = set()
    targets: set[str] = set()
    for _key, _node, triples in mapped:
        store.bulk_extend(default_quads(triples))
        for s, _p, o in triples:
            subjects.add(_iri(s) or "")
            target = _iri(o)
            if target is not None:
                targets.add(target)
    rdf_type = ox.NamedNode(str(RDF.type))
    for target in targets - subjects:
        if target.split("#")[0] in changed_iris:
            continue
        store.extend(ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph())
                     for q in previous.quads_for_pattern(ox.NamedNode(target), rdf_type, None, None))
    report = CompiledValidator(load_shapes(settings.ontology_dir / "shapes.ttl"), store).report()
    for r in report.results:
        if _iri(r.focus) in subjects:
            raise Fallback(f"a changed record has a validation result ({r.focus}: {r.message})")


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
