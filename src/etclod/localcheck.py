"""Incremental-build layer: ``release.check_data``'s steps (schema, holding back, references,
shapes) on the records a change touches, against the build state for all the others.

The touched records are the changed ones, every record the current release rejects or holds
back (read again each time: few, and what they point at may have come or gone), and those
whose triples use a label or IRI that changed. Every other record is published and unchanged,
and points only at published records (a record held back keeps standing for what points at
it), so its verdict cannot change; when one could (a record no longer published that an
untouched one points at, two records that would merge or share an IRI), the build is a full
one (``incremental.Fallback``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import RDF

from etclod import incremental as inc
from etclod import lastgood
from etclod import records as rec
from etclod.mapping import Context, Triple, map_record, record_graph, record_iri, short_label
from etclod.namespaces import SH, graph_iri, mint, split_resource_iri
from etclod.settings import Settings
from etclod.statedb import RecordState, RecordTable, Troubled
from etclod.store import to_quads
from etclod.validation import Mapped, ValidationReport, judge, load_shapes, reject_dangling

Key = inc.Key
Fallback = inc.Fallback
THEMES_GRAPH_KEY = "themes"
"""The themes' graph key (``release.THEMES_GRAPH_KEY``)."""
RDF_TYPE = ox.NamedNode(str(RDF.type))


@dataclass
class Plan:
    """A change checked as a full build checks it: what is published, rejected and held back."""

    mapped: list[Mapped]
    """The touched records published now (held-back ones at their published version)."""
    states: dict[Key, RecordState]
    """Their rows in the next state."""
    removed: set[Key]
    """Records of the current release not published now."""
    published: set[Key]
    """The touched records the current release publishes (their quads are replaced)."""
    touched: set[Key]
    rejected: list[rec.Rejection]
    troubled: dict[Key, Troubled]
    first: ValidationReport
    final: ValidationReport
    passes: int
    previous: lastgood.Previous
    read: int
    """Records read from the data (the manifest's ``records.read``)."""
    again: int
    """Records mapped again only because a label or IRI they use changed."""


class _Elsewhere:
    """The published records a change does not touch (for the references check)."""

    def __init__(self, table: RecordTable, touched: set[Key]) -> None:
        self.table, self.touched = table, touched

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and key not in self.touched and self.table.get(key) is not None

    def ids_of(self, rtype: str) -> list[str]:
        return [i for i in self.table.ids_of(rtype) if (rtype, i) not in self.touched]


def plan(settings: Settings, state: inc.BuildState, delta: inc.Delta, themes: Any, theme_iris: dict[str, URIRef],
         store: ox.Store, previous: Path) -> Plan:
    """Check the touched records; add those that use what changed until none is left."""
    table = state.table()
    items = {**delta.again, **delta.changed}
    for key in (*items, *delta.removed):
        if key[0] in inc.HUBS:
            raise Fallback(f"{key[0]} {key[1]!r} changed, is removed or rejected: every record of it points at it")
    extra = 0
    while True:
        out = _check(settings, table, items, delta.removed, themes, theme_iris, store, previous, state.count)
        more: set[Key] = set()
        for key, r in out.states.items():
            old = table.get(key)
            if old is not None and (old.iri != r.iri or old.label != r.label):
                more |= {k for k in table.referrers(key) if k not in items and k not in delta.removed}
        if not more:
            break
        extra += len(more)
        items.update(_reread(settings, table, more))
    for key in sorted(out.removed):
        still = [k for k in table.referrers(key) if k not in items and k not in out.removed]
        if still:
            raise Fallback(f"{key[0]} {key[1]!r} is no longer published, but {still[0][0]} {still[0][1]!r} "
                           "points at it")
    out.again = extra
    return out


def _check(settings: Settings, table: RecordTable, items: dict[Key, inc.Change], removed: set[Key], themes: Any,
           theme_iris: dict[str, URIRef], store: ox.Store, previous: Path, count: int) -> Plan:
    base = settings.base_uri
    touched = set(items) | removed
    published = {k: row for k in sorted(touched) if (row := table.get(k)) is not None}
    before = lastgood.Previous(previous.name, previous, base,
                               {k: rec.Published(row.file, split_resource_iri(base, row.iri) or k)
                                for k, row in published.items()},
                               {k: row.iri for k, row in published.items()},
                               {k: row.graph for k, row in published.items()},
                               store)
    loaded: list[rec.Loaded] = []
    rejected: list[rec.Rejection] = []
    for key in sorted(items, key=lambda k: items[k].order):  # in the order a full build reads them
        change = items[key]
        outcome = rec.validate(change.file, change.item, change.source)
        if isinstance(outcome, rec.Loaded):
            loaded.append(outcome)
        else:
            rejected.append(outcome)
        if (outcome.key if isinstance(outcome, rec.Loaded) else (outcome.type, outcome.id)) != key:
            raise Fallback(f"{change.file}: the id of {key[0]} {key[1]!r} is written differently")
    _locate(rejected, items)  # as release.load_records
    _claims(base, table, touched, loaded, rejected)
    held = lastgood.hold_unloaded(before, loaded, rejected, set())
    fixed = [("theme", t) for t in theme_iris]
    elsewhere = _Elsewhere(table, touched)
    while True:  # as release.check_data
        mark = len(rejected)
        standing = reject_dangling(loaded, rejected, [m.loaded.key for m in held], fixed, elsewhere)
        more = lastgood.hold_dangling(before, rejected[mark:], {m.loaded.key for m in held},
                                      {item.key for item in standing})
        if not more:
            loaded = standing
            break
        keep = [r for r in rejected[mark:] if r.kept_from]
        del rejected[mark:]
        rejected += keep
        held += more
        taken = {(r.type, r.id, r.file, r.line) for r in keep}
        loaded = [item for item in loaded if (item.record.type, item.record.id, item.file, item.line) not in taken]
    iris = {m.loaded.key: m.iri for m in held} | {item.key: record_iri(base, item.record) for item in loaded}
    labels = {str(m.iri): lastgood.short_label(m) for m in held} | {
        str(record_iri(base, item.record)): short_label(item.record) for item in loaded}
    gone = touched - set(iris)
    ctx = Context(base, inc._Iris(table, iris, {("theme", k): v for k, v in theme_iris.items()}, gone),
                  inc._Labels(table, labels, gone))
    mapped = list(held)
    for item in loaded:
        mapped.append(Mapped(item, iris[item.key], record_graph(base, item.record),
                             map_record(item.record, ctx, item.file)))
    verdict = judge(mapped, cast("list[Triple]", list(themes)), load_shapes(settings.ontology_dir / "shapes.ttl"),
                    base, "compiled", _store(base, mapped, themes, store, {published[k].iri for k in gone
                                                                            if k in published}),
                    lastgood.holder(before), partial=True)
    held_keys = {m.loaded.key for m in held}
    kept_by_key = {(r.type, r.id): r for r in rejected if r.kept_from}
    for r in verdict.rejected:  # as release.check_data
        first = kept_by_key.get((r.type, r.id)) if (r.type, r.id) in held_keys and not r.kept_from else None
        if first is None:
            rejected.append(r)
            continue
        first.kept_from = None
        first.reasons += [rec.Reason(f"its published version cannot be kept either: {reason.message}", reason.field,
                                     reason.value, reason.check) for reason in r.reasons]
    _locate(rejected, items)
    results = verdict.first_report.results
    if (rejected or results) and settings.validator != "compiled":
        raise Fallback(f"records are rejected and the validator is {settings.validator}")
    if any(r.severity != SH.Violation for r in results):
        raise Fallback("a record has a validation result that is not a violation")
    return _outcome(base, table, items, removed, published, verdict, rejected, labels, iris, before, count)


def _outcome(base: str, table: RecordTable, items: dict[Key, inc.Change], removed: set[Key],
             published: dict[Key, RecordState], verdict: Any, rejected: list[rec.Rejection], labels: dict[str, str],
             iris: dict[Key, URIRef], before: lastgood.Previous, count: int) -> Plan:
    rejections = {(r.type or "", r.id or ""): r for r in rejected}
    if len(rejections) != len(rejected):
        raise Fallback("a record is rejected twice")
    states: dict[Key, RecordState] = {}
    for m in verdict.accepted:
        key = m.loaded.key
        r = rejections.get(key)
        if r is None:
            states[key] = inc.record_state(m.loaded, str(m.iri), str(m.graph))
            continue
        old = published[key]
        if old.file != r.file:
            raise Fallback(f"{key[0]} {key[1]!r} is held back, but now written in {r.file} (published from {old.file})")
        if str(iris.get(key, m.iri)) != str(m.iri):
            raise Fallback(f"{key[0]} {key[1]!r} is held back, and its IRI as now written is another")
        states[key] = inc.held_state(m, r, {}, labels.get(str(m.iri), old.label), old.refs)
    troubled = {key: inc.trouble(r, items[key].order[1], items[key].item.problems,
                                 items[key].source is not None or items[key].located is not None)
                for key, r in rejections.items()}
    now = {m.loaded.key for m in verdict.accepted}
    return Plan(list(verdict.accepted), states, set(published) - now, set(published), set(items) | removed,
                rejected, troubled, verdict.first_report, verdict.final_report, verdict.passes, before,
                count - len(published) + len(items), 0)


def _locate(rejected: list[rec.Rejection], items: dict[Key, inc.Change]) -> None:
    """``records.locate``: the lines of rejected JSON records, from their files or the state."""
    rec.locate(rejected)
    for r in rejected:
        change = items.get((r.type or "", r.id or ""))
        if r.lines is None and change is not None and change.located is not None:
            r.line, r.lines = r.line or change.located[0], change.located[1]


def _claims(base: str, table: RecordTable, touched: set[Key], loaded: list[rec.Loaded],
            rejected: list[rec.Rejection]) -> None:
    """Two records of one IRI, or that may be one thing (``merge``): a full build decides."""
    iris: dict[str, Key] = {}
    claims: list[tuple[Key, str]] = [(item.key, str(record_iri(base, item.record))) for item in loaded]
    claims += [((r.type, r.id), str(mint(base, *rec._slug_key(r.type, r.id, r.record)))) for r in rejected
               if r.type in rec.MODELS and r.id]
    for key, iri in claims:
        owner = table.by_iri(iri)
        if iris.setdefault(iri, key) != key:
            owner = iris[iri]
        elif owner in touched:  # it changed or is gone: if it claims the IRI still, that is above
            owner = None
        if owner is not None and owner != key:
            raise Fallback(f"{key[0]} {key[1]!r} has the IRI of {owner[0]} {owner[1]!r}")
    claimed: dict[str, Key] = {}
    for item in loaded:
        for b in inc.buckets(item.record):
            others = [k for k in table.bucket_owners(b) if k not in touched]
            if claimed.setdefault(b, item.key) != item.key:
                others.append(claimed[b])
            if others:
                other = others[0]
                raise Fallback(f"{item.key[0]} {item.key[1]!r} may be the same thing as {other[0]} {other[1]!r} "
                               "(merge)")


def _store(base: str, mapped: list[Mapped], themes: Any, previous: ox.Store, dead: set[str]) -> ox.Store:
    """The touched records, the themes and the types of what they point at (all the shapes
    look at beyond a record: ``sh:class``), but not of a record no longer published."""
    store = ox.Store()
    store.bulk_extend(to_quads(graph_iri(base, THEMES_GRAPH_KEY), sorted(themes)))
    subjects: set[str] = set()
    targets: set[str] = set()
    for m in mapped:
        store.bulk_extend(to_quads(m.graph, m.triples))
        for s, _p, o in m.triples:
            subjects.add(getattr(s, "value", ""))
            if isinstance(o, ox.NamedNode):
                targets.add(o.value)
    for target in sorted(targets - subjects):
        if target.split("#")[0] not in dead:
            store.extend(list(previous.quads_for_pattern(ox.NamedNode(target), RDF_TYPE, None, None)))
    return store


def _reread(settings: Settings, table: RecordTable, keys: set[Key]) -> dict[Key, inc.Change]:
    """The records ``keys`` (unchanged themselves) read again from their files."""
    out: dict[Key, inc.Change] = {}
    files = {table[k].file for k in keys}
    for position, (name, path, _folder) in enumerate(inc._inputs(settings)):
        if name not in files:
            continue
        parsed = inc._parse(name, path.read_bytes())
        for index, item in enumerate(parsed.items):
            key = inc._raw_key(name, item.raw)
            if key in keys:
                inc._check_depth(name, parsed, item)
                out[key] = inc.Change(name, item, (position, index if parsed.lazy_lines else item.line or 0),
                                      (path, index) if parsed.lazy_lines else None, path)
    if set(out) != keys:
        raise Fallback("a record that uses a changed label could not be read again")
    return out
