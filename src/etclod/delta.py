"""Delta releases: the next release made from the current one (``incremental`` tells what
changed), its store a hard-link checkpoint of the current one with the delta applied."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import RDF

from etclod import incremental as inc
from etclod import lastgood, localcheck, statedb
from etclod import release as rel
from etclod.conflict import write_conflicts
from etclod.chunks import Index, patch_dumps, read_index
from etclod.dump import Digests, _renamed, gzip_writer, write_linksets
from etclod.formats import DUMP_FORMATS
from etclod.linkset import Linksets, load_links
from etclod.manifest import MANIFEST, Changes
from etclod.mapping import THEME_SCHEME_KEY
from etclod.merge import MergeReport, read_precedence
from etclod.namespaces import graph_iri
from etclod.patchindex import patch_indexes
from etclod.settings import Settings
from etclod.store import to_quads
from etclod.validation import ValidationReport


RDF_TYPE = ox.NamedNode(str(RDF.type))


@dataclass
class _Load:
    loaded: range
    rejected: list[Any]
    inputs: dict[str, str]
    unreadable_files: set[str] = field(default_factory=set)


@dataclass
class _Verdict:
    accepted: range
    first_report: ValidationReport
    final_report: ValidationReport
    passes: int = 1
    rejected: list[Any] = field(default_factory=list)


@dataclass
class _Checked:
    """What ``release._manifest`` reads of a check, for a delta build (nothing rejected)."""

    verdict: _Verdict
    load: _Load
    merges: MergeReport
    removals: list[dict[str, str]]
    rejected: list[Any] = field(default_factory=list)
    held: list[Any] = field(default_factory=list)
    conflicts: list[Any] = field(default_factory=list)
    links: Linksets = field(default_factory=Linksets)
    previous: Any = None


@dataclass
class Touched:
    """What the indexes of a delta release redo (``patchindex``)."""

    changed: set[inc.Key]
    old_refs: dict[inc.Key, tuple[inc.Key, ...]]
    old_iris: set[str]
    themes: list[ox.Quad]
    dumps: dict[str, Index]
    """The current release's dump chunks (``chunks``)."""
    links: Linksets
    """The link tables (unchanged: they are in the fingerprint), read against the new records."""


@dataclass
class _Previous:
    """What the removal guard reads of the current release."""

    version: str
    records: range


@dataclass
class Judged:
    """A change judged local: what changed, mapped and checked, as quads to add and remove."""

    previous: Path
    state: inc.BuildState
    dumps: dict[str, Index]
    delta: inc.Delta
    plan: localcheck.Plan
    themes: Any
    store: ox.Store
    added: set[ox.Quad]
    removed: set[ox.Quad]
    started: float
    links: Linksets


def trial(settings: Settings, previous: Path | None, label: str) -> tuple[int, list[Any]] | None:
    """How the data of ``settings`` (an inbox trial) builds on ``previous``: the number of
    records of the file ``label`` and those of them rejected (as a full check rejects them);
    None: the change is not local (judge in full)."""
    if previous is None:
        return None
    judged = judge(settings, previous, rel.NullReporter())
    if isinstance(judged, str):
        return None
    return (sum(1 for item in judged.delta.changed.values() if item.file == label),
            [r for r in judged.plan.rejected if r.file == label])


def judge(settings: Settings, previous: Path, reporter: Any) -> Judged | str:
    """Read what changed since ``previous`` and map and check it; or why a full build must."""
    state = inc.read_state(previous)
    if isinstance(state, str):
        return state
    if state.blocked:
        return f"release {previous.name} {state.blocked}"
    dumps = read_index(previous)
    if dumps is None:
        return f"release {previous.name} has dumps in one piece (written before chunked dumps)"
    started = time.perf_counter()
    reporter.stage("read")
    try:
        if inc.fingerprint(settings) != state.fingerprint:
            return "the code, ontology, settings or data tables (links, merges, precedence) changed"
        delta = inc.find_delta(settings, state)
        themes = rel.themes_graph(settings)
        theme_iris = {str(s).rsplit("/", 1)[-1]: s for s in themes.subjects()
                      if isinstance(s, URIRef) and str(s).startswith(f"{settings.base_uri}id/theme/")}
        theme_iris.pop(THEME_SCHEME_KEY, None)
        reporter.done("read", time.perf_counter() - started,
                      f"{len(delta.changed)} records changed, {len(delta.removed)} removed, "
                      f"{len(delta.again)} rejected or held back read again")
        t0 = time.perf_counter()
        prev_store = ox.Store.read_only(str(previous / "store"))
        reporter.stage("map", len(delta.changed) + len(delta.again))
        plan = localcheck.plan(settings, state, delta, themes, theme_iris, prev_store, previous)
        table = state.table()
        old: set[ox.Quad] = set()
        for key in plan.published:
            r = table[key]
            old |= inc.old_quads(prev_store, r.iri, r.graph)
        new: set[ox.Quad] = set()
        for m in plan.mapped:
            new.update(to_quads(m.graph, m.triples))
        added, removed = new - old, old - new
        staying = {q.subject for q in old} & {q.subject for q in new}
        retyped = [q.subject for q in (*added, *removed) if q.predicate == RDF_TYPE and q.subject in staying]
        if retyped:  # what sh:class in other records' shapes reads
            raise inc.Fallback(f"the types of {retyped[0]} changed")
        links = load_links(settings.data_dir, settings.base_uri, inc.Published(
            table, {r.iri: k for k, r in plan.states.items()}, plan.removed, {str(s) for s in themes.subjects()}))
        now = inc.link_rejections(links.rejected)
        if now != state.links:  # the link quads stay as they are: only while the same rows hold
            bad = next((r for r, text in zip(links.rejected, now) if text not in state.links), None)
            raise inc.Fallback(f"a link table row does not hold ({bad.file} line {bad.line}: "
                               f"{bad.reasons[0].message})" if bad is not None else
                               "a link table row rejected by the current release holds now")
        reporter.done("map", time.perf_counter() - t0,
                      f"{len(plan.mapped)} records mapped and checked ({plan.again} for a changed label), "
                      f"{len(plan.rejected)} rejected, {len(added)} quads added, {len(removed)} removed")
    except inc.Fallback as exc:
        return str(exc)
    return Judged(previous, state, dumps, delta, plan, themes, prev_store, added, removed, started, links)


def build(settings: Settings, reporter: Any, version: str, tmp: Path, *, allow_removals: bool,
          strict: bool = False) -> Any:
    """Build ``version`` in ``tmp`` from the current release; a ``BuildResult``, or the reason
    (a string) the change needs a full build. ``strict``: a record rejected publishes nothing
    (a ``BuildResult`` without a version)."""
    previous = rel.current_path(settings)
    if previous is None:
        return "there is no current release to build on"
    judged = judge(settings, previous, reporter)
    if isinstance(judged, str):
        return judged
    state, plan, delta, themes = judged.state, judged.plan, judged.delta, judged.themes
    added, removed, prev_store, dumps, started = (judged.added, judged.removed, judged.store, judged.dumps,
                                                  judged.started)
    table = state.table()
    gone = {k: table[k] for k in plan.removed}
    removals = [{"type": k[0], "id": k[1], "file": gone[k].file, "iri": gone[k].iri} for k in sorted(plan.removed)]
    if not allow_removals:
        lastgood.check_removals(_Previous(previous.name, range(state.published)),  # type: ignore[arg-type]
                                removals, settings.max_removals)
    if strict and (plan.rejected or judged.links.rejected):
        return rel.BuildResult(None, plan.rejected + judged.links.rejected, None)
    # what the indexes redo: the touched records, what they pointed at and their IRIs before
    changed = set(plan.touched)
    before = {k: r for k in changed if (r := table.get(k)) is not None}
    touched = Touched(changed, {k: r.refs for k, r in before.items()}, {r.iri for r in before.values()},
                      list(to_quads(graph_iri(settings.base_uri, rel.THEMES_GRAPH_KEY), sorted(themes))), dumps,
                      judged.links)
    # the new state: a copy of the old one with the delta
    new_table = statedb.next_state(previous / inc.STATE_DIR, tmp / inc.STATE_DIR)
    new_table.drop(plan.removed)
    new_table.put(sorted(plan.states.items()))
    state.records = new_table
    state.count = state.count - len(plan.removed) + sum(1 for k in plan.states if k not in before)
    state.files, state.lists, state.troubled = delta.inputs, delta.lists, plan.troubled
    state.published = state.count + len(lastgood.record_keys(themes))
    return _publish(settings, reporter, version, tmp, previous, prev_store, added, removed, plan, removals,
                    state, started, touched, delta)


def _publish(settings: Settings, reporter: Any, version: str, tmp: Path, previous: Path, prev_store: ox.Store,
             added: set[ox.Quad], removed: set[ox.Quad], plan: localcheck.Plan, removals: list[dict[str, str]],
             state: inc.BuildState, started: float, touched: Touched, delta: inc.Delta) -> Any:
    timings: dict[str, float] = {"check": time.perf_counter() - started}
    t0 = time.perf_counter()
    reporter.stage("store")
    prev_store.backup(str(tmp / "store"))
    store = ox.Store(str(tmp / "store"))
    for quad in removed:
        store.remove(quad)
    store.extend(added)
    store.flush()
    timings["store"] = time.perf_counter() - t0
    reporter.done("store", timings["store"], f"the current store with {len(added)} quads added, "
                                             f"{len(removed)} removed")
    t0 = time.perf_counter()
    reporter.stage("dumps", len(DUMP_FORMATS))
    digests: Digests = {}
    stats = inc.patch_stats(state.stats, added, removed, prev_store, store, settings.base_uri)
    state.stats = dict(stats)
    try:
        return _write(settings, reporter, version, tmp, previous, prev_store, store, added, removed, delta,
                      removals, state, timings, touched, digests, stats, plan)
    finally:
        if state.records is not None:
            state.records.close()


def _write(settings: Settings, reporter: Any, version: str, tmp: Path, previous: Path, prev_store: ox.Store,
           store: ox.Store, added: set[ox.Quad], removed: set[ox.Quad], delta: inc.Delta,
           removals: list[dict[str, str]], state: inc.BuildState, timings: dict[str, float], touched: Touched,
           digests: Digests, stats: dict[str, Any], plan: localcheck.Plan) -> Any:
    t0 = time.perf_counter()
    plus, minus = sorted(inc.nquad_lines(added)), sorted(inc.nquad_lines(removed))
    patch_dumps(previous, tmp / "dumps", touched.dumps, plus, minus, digests)
    with (tmp / "validation.ttl").open("wb") as handle:
        plan.first.graph.serialize(handle, format="turtle")
    rejected = plan.rejected + touched.links.rejected  # as release.check_data: the link rows last
    rel.write_rejected(tmp / "rejected.jsonl", rejected)
    write_conflicts(tmp, [])
    changes = write_delta(tmp / "changes.nq.gz", plus, minus, digests)
    counts = {fmt.key: stats["quads"] if fmt.key == "nq" else stats["triples"] for fmt in DUMP_FORMATS}
    stats["reconcile_entities"] = patch_indexes(previous, tmp, store, state.table(), settings.base_uri,
                                                touched.changed, touched.old_refs, touched.old_iris, touched.themes)
    stats["linksets"] = write_linksets(tmp / "dumps", store, settings.base_uri, touched.links)
    timings["dumps"] = time.perf_counter() - t0
    reporter.done("dumps", timings["dumps"], f"{len(DUMP_FORMATS)} dumps, {changes['added']} added, "
                                             f"{changes['removed']} removed")
    del store, prev_store
    precedence, _problems = read_precedence(settings.data_dir)
    checked = _Checked(_Verdict(range(state.count), plan.first, plan.final, plan.passes),
                       _Load(range(plan.read), [], dict(sorted(delta.inputs.items()))),
                       MergeReport(precedence=precedence), removals, rejected=rejected,
                       held=[r for r in plan.rejected if r.kept_from], previous=plan.previous)
    statedb.finish(state.table(), state.meta(), state.file_rows(), delta.digests, delta.kept, state.troubled)
    manifest = rel._manifest(settings, tmp, version, previous.name, checked, stats, counts,  # type: ignore[arg-type]
                             changes, digests)
    rel.write_catalog(settings, tmp, manifest, stats)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", "utf-8")
    rel._fsync_tree(tmp)
    final = settings.releases_dir / version
    os.rename(tmp, final)
    rel._fsync_dir(settings.releases_dir)
    rel.switch_to(settings, version)
    rel.prune(settings)
    result = rel.BuildResult(version, rejected, final, manifest)
    result.kind = "incremental"
    return result


def write_delta(path: Path, plus: list[bytes], minus: list[bytes], digests: Digests) -> Changes:
    """``changes.nq.gz`` from the delta itself (the lines ``dump.write_changes`` would write)."""
    with gzip_writer(path, digests) as out:
        out.write(_renamed(plus, b"urn:etclod:added:"))
        out.write(_renamed(minus, b"urn:etclod:removed:"))
    return {"added": len(plus), "removed": len(minus)}
