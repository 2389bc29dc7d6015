"""Release layer: build an immutable release folder, seal it, switch to it atomically."""

from __future__ import annotations

import datetime as dt
import fcntl
import gc
import json
import os
import threading
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

import pyoxigraph as ox
from rdflib import Graph, URIRef

from etclod import lastgood
from etclod import records as rec
from etclod.catalog import build_catalog
from etclod.chunks import ChunkedDumps
from etclod.errors import BuildRunningError, InputError, ReleaseError
from etclod.forking import can_fork, forked
from etclod.formats import DUMP_FORMATS, dump_name
from etclod.conflict import Conflict, resolve, write_conflicts
from etclod.manifest import MANIFEST as MANIFEST, Changes, FileEntry, Manifest, parse_manifest, published
from etclod.manifest import read_manifest as read_manifest  # re-exported: release.read_manifest keeps working
from etclod.manifest import sha256_of, verify_release as verify_release  # re-exported: release.verify_release
from etclod.merge import MergeReport, merge_records, merged_away
from etclod.linkset import Linksets, load_links
from etclod.reconcile import INDEX_FILE
from etclod.search import SEARCH_FILE, write_indexes
from etclod.mapping import THEME_SCHEME_KEY, Context, build_context, map_record, record_graph, record_iri, Triple
from etclod.namespaces import graph_iri
from etclod.oxtyped import serialized
from etclod.settings import Settings
from etclod.dump import Digests, statistics, write_changes, write_linksets, write_store
from etclod.store import to_quads
from etclod.validation import Mapped, Verdict, judge, load_shapes, reject_dangling

TMP_PREFIX = ".tmp-"
THEMES_GRAPH_KEY = "themes"


class Reporter(Protocol):
    """Told about each stage of a build (the CLI shows a progress bar or plain lines)."""

    def stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def done(self, name: str, seconds: float, detail: str) -> None: ...


class NullReporter:
    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def done(self, name: str, seconds: float, detail: str) -> None:
        pass


@dataclass
class BuildResult:
    version: str | None
    rejected: list[rec.Rejection]
    path: Path | None
    manifest: Manifest = field(default_factory=lambda: Manifest())
    kind: str = "full"
    """``full`` or ``incremental`` (built on the current release: ``delta``)."""
    why_full: str | None = None
    """Why a build not asked to be full was (None: it was asked, or it was incremental)."""

    @property
    def published(self) -> int:
        """Records published: the manifest's count, the one every command and route reports."""
        return published(self.manifest)

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0


# ------------------------------------------------------------------ reading and judging

@dataclass
class Checked:
    """The outcome of reading and validating a data folder: the verdict, and a store holding
    exactly the published quads (on disk when building a release, in memory otherwise)."""

    verdict: Verdict
    load: rec.LoadResult
    rejected: list[rec.Rejection]
    store: ox.Store
    merges: MergeReport = field(default_factory=MergeReport)
    links: Linksets = field(default_factory=Linksets)
    conflicts: list[Conflict] = field(default_factory=list)
    previous: lastgood.Previous | None = None
    removals: list[dict[str, str]] = field(default_factory=list)
    """Records of the current release this data no longer publishes."""

    @property
    def held(self) -> list[rec.Rejection]:
        """Rejected records whose last good version stays published."""
        return [r for r in self.rejected if r.kept_from]


def themes_graph(settings: Settings) -> Graph:
    path = settings.ontology_dir / "themes.ttl"
    graph = Graph()
    try:
        graph.parse(source=path.open("rb"), format="turtle", publicID=settings.base_uri)
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"cannot read the themes scheme {str(path)!r}: {exc}") from exc
    return graph


def check_data(settings: Settings, reporter: Reporter | None = None, previous: Path | None | bool = True) -> Checked:
    """Read, map and validate every record of the data folder into an in-memory store that
    ends up holding exactly the quads to publish.

    ``previous`` is the current release (``True``: the one of ``settings``): its records win
    id clashes, and those of them now rejected are held back at their published version."""
    reporter = reporter or NullReporter()
    reporter.stage("read")
    t0 = time.perf_counter()
    before = lastgood.read_previous(current_path(settings) if previous is True else previous or None,
                                    settings.base_uri)
    load = rec.load_records(settings.data_dir, (("inbox", settings.inbox_dir / "accepted"),),
                            published=before.records if before else None,
                            max_file_bytes=settings.max_file_mb * 1_000_000)
    rejected = list(load.rejected)
    reporter.done("read", time.perf_counter() - t0,
                  f"{len(load.loaded) + len(load.rejected)} records in {len(load.inputs)} files")
    t0 = time.perf_counter()
    themes = themes_graph(settings)
    theme_iris = {str(s).rsplit("/", 1)[-1]: s for s in themes.subjects()
                  if isinstance(s, URIRef) and str(s).startswith(f"{settings.base_uri}id/theme/")}
    loaded, merges, problems = merge_records(load.loaded, settings.data_dir)
    rejected += problems
    held = lastgood.hold_unloaded(before, loaded, rejected, load.unreadable_files)
    fixed = [("theme", t) for t in theme_iris if t != THEME_SCHEME_KEY]
    while True:  # a published record the references check rejects is held back too; then again
        mark = len(rejected)
        standing = reject_dangling(loaded, rejected, [m.loaded.key for m in held], fixed)
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
        loaded = [item for item in loaded
                  if (item.record.type, item.record.id, item.file, item.line) not in taken]
    ctx = build_context(settings.base_uri, loaded, theme_iris, merges.alias)
    if held:  # references to a held-back record point at its published IRI
        ctx = Context(ctx.base, {**{m.loaded.key: m.iri for m in held}, **ctx.iris},
                      {**{m.iri: lastgood.short_label(m) for m in held}, **ctx.labels})
    reporter.stage("map", len(loaded))
    mapped = list(held)
    for item in loaded:
        mapped.append(Mapped(item, ctx.iris.get(item.key) or record_iri(settings.base_uri, item.record),
                             record_graph(settings.base_uri, item.record),
                             map_record(item.record, ctx, item.file)))
        reporter.advance()
    conflicts = resolve(mapped, settings.base_uri)
    store = ox.Store()
    store.bulk_extend(to_quads(graph_iri(settings.base_uri, THEMES_GRAPH_KEY), sorted(themes)))
    store.bulk_extend(q for m in mapped for q in to_quads(m.graph, m.triples))
    reporter.done("map", time.perf_counter() - t0, f"{len(mapped)} records mapped, {len(store)} quads")
    t0 = time.perf_counter()
    reporter.stage("validate")
    shapes = load_shapes(settings.ontology_dir / "shapes.ttl")
    # rdflib types a graph's triples as Node triples; judge hands them to to_ox, which takes any term
    verdict = judge(mapped, cast("list[Triple]", list(themes)), shapes, settings.base_uri, settings.validator, store,
                    lastgood.holder(before))
    held_keys = {m.loaded.key for m in held}
    kept_by_key = {(r.type, r.id): r for r in rejected if r.kept_from}
    for r in verdict.rejected:  # a held-back version the shapes reject (what it points at is gone): not kept
        first = kept_by_key.get((r.type, r.id)) if (r.type, r.id) in held_keys and not r.kept_from else None
        if first is None:
            rejected.append(r)
            continue
        first.kept_from = None
        first.reasons += [rec.Reason(f"its published version cannot be kept either: {reason.message}", reason.field,
                                     reason.value, reason.check) for reason in r.reasons]
    rec.locate(rejected)
    published = {str(m.iri) for m in verdict.accepted} | {str(s) for s in themes.subjects()}
    links = load_links(settings.data_dir, settings.base_uri, published)
    rejected += links.rejected
    for quads in links.quads.values():
        store.extend(quads)
    kept = sum(1 for r in rejected if r.kept_from)
    reporter.done("validate", time.perf_counter() - t0,
                  f"{len(verdict.accepted) - kept} valid, {len(rejected)} rejected"
                  + (f", {kept} of them kept from the current release as they were" if kept else ""))
    gone = lastgood.removals(before, {m.loaded.key for m in verdict.accepted} | lastgood.record_keys(themes))
    return Checked(verdict, load, rejected, store, merges, links, conflicts=conflicts, previous=before,
                   removals=gone)


# ------------------------------------------------------------------ the release folder

def ensure_var(settings: Settings) -> None:
    """Create ``var/releases`` and prove we can write there, or say clearly why not."""
    try:
        settings.releases_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.releases_dir / f"{TMP_PREFIX}probe-{os.getpid()}-{threading.get_ident()}"
        probe.mkdir(exist_ok=True)
        probe.rmdir()
    except OSError as exc:
        raise InputError(f"cannot write releases to {str(settings.var_dir)!r}: "
                         f"{exc.strerror or exc}; check the folder and its permissions "
                         "(ETCLOD_VAR or --var)") from exc


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a build: a build makes millions of small tuples
    (triples, rows) that all live to its end, and each full collection walked all of them
    again (a fifth of a 3,000-project build's CPU time) while finding next to nothing. The
    build's few cycles are collected once it is done."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def build_lock(settings: Settings) -> Iterator[None]:
    """One build at a time per var folder."""
    with open(settings.var_dir / ".build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildRunningError(f"another build is running in {str(settings.var_dir)!r}; try again when it is done") from exc
        yield


def clean_leftovers(settings: Settings) -> list[str]:
    """Remove temporary folders a killed build left behind."""
    removed = []
    for path in settings.releases_dir.iterdir():
        if path.name.startswith(TMP_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    for path in settings.var_dir.glob(".current.*"):
        path.unlink(missing_ok=True)
    return removed


def version_key(version: str) -> tuple[str, int, str]:
    """Sort key of a release version: its UTC stamp, then its number within that second, so
    versions sort as time does however many builds a second made (as strings, ``...Z-10``
    would come before ``...Z-2``).

    >>> sorted(["20261201T215903Z-10", "20261201T215904Z", "20261201T215903Z-2", "20261201T215903Z"],
    ...        key=version_key)
    ['20261201T215903Z', '20261201T215903Z-2', '20261201T215903Z-10', '20261201T215904Z']
    """
    stamp, _, n = version.partition("-")
    return (stamp, int(n) if n.isdigit() else 1, n)


def _now() -> dt.datetime:
    """The clock release versions are stamped with (one place, so a test can hold it still)."""
    return dt.datetime.now(dt.UTC)


def new_version(settings: Settings) -> str:
    """A version for the next release: its UTC second, numbered past every release of that
    second still here (not past the first free number: once pruning has dropped the first of a
    second, that name would come back for a newer release and sort as the oldest)."""
    stamp = _now().strftime("%Y%m%dT%H%M%SZ")
    names = [p.name for p in settings.releases_dir.iterdir()] if settings.releases_dir.is_dir() else []
    taken = [version_key(name)[1] for name in names if version_key(name)[0] == stamp]  # (builds hold the lock)
    if not taken:
        return stamp
    return f"{stamp}-{max(taken) + 1}"


def current_version(settings: Settings) -> str | None:
    link = settings.current_link
    if not link.is_symlink():
        return None
    target = Path(os.readlink(link)).name
    return target if (settings.releases_dir / target / MANIFEST).is_file() else None


def current_path(settings: Settings) -> Path | None:
    version = current_version(settings)
    return settings.releases_dir / version if version else None


def list_releases(settings: Settings) -> list[Manifest]:
    """Every sealed release, oldest first, with its manifest."""
    if not settings.releases_dir.is_dir():
        return []
    out = []
    for path in sorted(settings.releases_dir.iterdir(), key=lambda p: version_key(p.name)):
        manifest = path / MANIFEST
        if path.name.startswith(".") or not manifest.is_file():
            continue
        out.append(parse_manifest(manifest.read_text("utf-8"), f"the manifest of release {path.name!r}"))
    return out


def switch_to(settings: Settings, version: str) -> None:
    """Point ``var/current`` at a release in one atomic rename."""
    target = settings.releases_dir / version
    if not (target / MANIFEST).is_file():
        raise ReleaseError(f"release {version!r} does not exist or is not sealed", status=404)
    tmp = settings.var_dir / f".current.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(Path("releases") / version, tmp)
    os.replace(tmp, settings.current_link)
    _fsync_dir(settings.var_dir)


def rollback(settings: Settings) -> str:
    """Switch back to the release before the current one; return its version."""
    versions = [m["version"] for m in list_releases(settings)]
    current = current_version(settings)
    if current is None or current not in versions:
        raise ReleaseError("there is no current release to roll back from", status=404)
    index = versions.index(current)
    if index == 0:
        raise ReleaseError(f"release {current} is the oldest kept; there is nothing to roll back to",
                           status=409)
    previous = versions[index - 1]
    switch_to(settings, previous)
    return previous


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
            except FileNotFoundError:  # a store's file its compaction dropped meanwhile: nothing to sync
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def write_rejected(path: Path, rejected: list[rec.Rejection]) -> None:
    with path.open("w", encoding="utf-8", errors="backslashreplace") as handle:
        for r in rejected:
            handle.write(json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")


def build_release(settings: Settings, *, strict: bool = False, allow_removals: bool = False,
                  reporter: Reporter | None = None, full: bool = False) -> BuildResult:
    """Turn the data folder into a new sealed release and switch ``var/current`` to it.

    With ``strict``, a single rejected record means nothing is published. A build that would
    unpublish more records of the current release than ``settings.max_removals`` raises
    :class:`lastgood.RemovalsError` and publishes nothing, unless ``allow_removals``.
    Killed at any point, it leaves the previous release current; the next build cleans up.
    Unless ``full``, it builds on the current release where the change is local (``delta``).
    """
    reporter = reporter or NullReporter()
    if not settings.data_dir.is_dir():
        raise InputError(f"data folder {str(settings.data_dir)!r} does not exist or is not a folder "
                         "(ETCLOD_DATA or --data)")
    ensure_var(settings)
    with build_lock(settings), collector_paused():
        clean_leftovers(settings)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        version = new_version(settings)
        tmp = settings.releases_dir / f"{TMP_PREFIX}{version}-{os.getpid()}"
        tmp.mkdir()
        try:
            why_full = None
            if not full:
                from etclod import delta  # it builds on this module

                outcome = delta.build(settings, reporter, version, tmp, allow_removals=allow_removals, strict=strict)
                if isinstance(outcome, BuildResult):
                    if outcome.version is None:  # --strict and a record rejected: nothing published
                        shutil.rmtree(tmp, ignore_errors=True)
                    return outcome
                why_full = outcome
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir()
            checked = check_data(settings, reporter)
            timings["check"] = time.perf_counter() - started
            if not allow_removals:
                lastgood.check_removals(checked.previous, checked.removals, settings.max_removals)
            if strict and checked.rejected:
                del checked.store
                shutil.rmtree(tmp, ignore_errors=True)
                return BuildResult(None, checked.rejected, None)
            result = _publish(settings, checked, reporter, timings, version, tmp)
            result.why_full = why_full
            del checked  # freed before the collector resumes, which would walk it all once more
            return result
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _publish(settings: Settings, checked: Checked, reporter: Reporter, timings: dict[str, float],
             version: str, tmp: Path) -> BuildResult:
    from etclod.incremental import write_state

    previous = current_version(settings)
    store = checked.store
    t0 = time.perf_counter()
    reporter.stage("dumps", len(DUMP_FORMATS))
    nquads = serialized(store.dump(format=ox.RdfFormat.N_QUADS))
    # the reconciliation and search indexes are written in a forked child (``forking``: the
    # in-memory store shared, a GIL of its own), forked before any thread starts; where the
    # process cannot fork, in a thread. The on-disk store is bulk-loaded in a thread while
    # the dumps and indexes are written: pyoxigraph lets go of the GIL while it loads, so the
    # two share the cores; leaving the block waits for both, also when a step fails (the
    # folder is removed after it)
    indexes = forked(partial(write_indexes, tmp, store, settings.base_uri)) if can_fork() else None
    with ThreadPoolExecutor(2, thread_name_prefix="etclod-publish") as beside, ExitStack() as cleanup:
        if indexes is not None:
            cleanup.callback(indexes.stop)
        loaded = beside.submit(_timed, write_store, tmp / "store", nquads)
        digests: Digests = {}
        dumps = ChunkedDumps(tmp / "dumps", store, nquads, digests)  # Turtle, JSON-LD: in worker processes
        cleanup.callback(dumps.close)
        searched = beside.submit(write_indexes, tmp, store, settings.base_uri) if indexes is None else None
        with (tmp / "validation.ttl").open("wb") as handle:
            checked.verdict.first_report.graph.serialize(handle, format="turtle")
        write_rejected(tmp / "rejected.jsonl", checked.rejected)
        write_conflicts(tmp, checked.conflicts)
        stats = statistics(store, settings.base_uri, dumps.triples, dumps.subjects, nquads)
        dumps.subjects = []  # not needed past here
        # every quad in a named graph (their counts add up): the changes renamed in one step
        graphs = stats["graphs"] if sum(stats["graphs"].values()) == stats["quads"] else None
        changes = write_changes(tmp / "changes.nq.gz", nquads, settings.releases_dir / previous if previous else None,
                                digests, graphs)
        stats["linksets"] = write_linksets(tmp / "dumps", store, settings.base_uri, checked.links)
        entities = indexes.wait() if indexes is not None else searched.result() if searched is not None else None
        if entities is None:  # the child failed: written here, from the start
            for name in (INDEX_FILE, SEARCH_FILE):
                (tmp / name).unlink(missing_ok=True)
            entities = write_indexes(tmp, store, settings.base_uri)
        stats["reconcile_entities"] = entities
        counts = dumps.wait()
        timings["dumps"] = time.perf_counter() - t0
        reporter.done("dumps", timings["dumps"], f"{len(DUMP_FORMATS)} dumps, "
                                                 f"{changes['added']} added, {changes['removed']} removed")
        del store, checked.store
        t0 = time.perf_counter()
        reporter.stage("store")
        timings["store"] = loaded.result()
    del nquads
    reporter.done("store", time.perf_counter() - t0, f"{stats['quads']} quads (loaded beside the dumps in "
                                                     f"{timings['store']:.1f} s)")

    # after the index child is gone: walking every record while it lives copies the pages
    # they share (a 100,000-project build ran out of memory so)
    write_state(tmp, settings, checked, themes_graph(settings), stats)
    manifest = _manifest(settings, tmp, version, previous, checked, stats, counts, changes, digests)
    write_catalog(settings, tmp, manifest, stats)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                                "utf-8")
    _fsync_tree(tmp)
    final = settings.releases_dir / version
    os.rename(tmp, final)
    _fsync_dir(settings.releases_dir)
    switch_to(settings, version)
    prune(settings)
    return BuildResult(version, checked.rejected, final, manifest)


def _manifest(settings: Settings, folder: Path, version: str, previous: str | None, checked: Checked,
              stats: dict[str, Any], counts: dict[str, int], changes: Changes,
              digests: Digests | None = None) -> Manifest:
    """``digests``: sha256 and size of the files hashed as they were written (not read again)."""
    files: dict[str, FileEntry] = {}
    digests = digests or {}
    triples_of = {f"dumps/{dump_name(fmt)}": counts[fmt.key] for fmt in DUMP_FORMATS}
    triples_of["validation.ttl"] = len(checked.verdict.first_report.graph)
    triples_of["changes.nq.gz"] = changes["added"] + changes["removed"]
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not rel.startswith(("store/", "build-state/")):
            sha, size = digests.get(str(path)) or (sha256_of(path), path.stat().st_size)
            entry: FileEntry = {"sha256": sha, "bytes": size}
            if rel in triples_of:
                entry["triples"] = triples_of[rel]
            if rel == "rejected.jsonl":
                entry["records"] = len(checked.rejected)
            files[rel] = entry
    return {
        "version": version,
        "previous": previous,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "base_uri": settings.base_uri,
        "files": files,
        "store": {"path": "store/", "quads": stats["quads"]},
        "triples": counts["nt"],
        "quads": stats["quads"],
        "graphs": stats["graphs"],
        "classes": stats["classes"],
        "entities": stats["entities"],
        "records": {"read": len(checked.load.loaded) + len(checked.load.rejected),
                    "published": len(checked.verdict.accepted),
                    "rejected": len(checked.rejected),
                    "held_back": len(checked.held),
                    "merged": merged_away(checked.merges)},
        "held_back": [{"type": r.type, "id": r.id, "file": r.file, "kept_from": r.kept_from,
                       "reason": rec.bounded(lastgood.describe_reasons(r)),
                       "iri": checked.previous.iris.get((r.type or "", r.id or "")) if checked.previous else None}
                      for r in checked.held],
        "removed": checked.removals,
        "inputs": dict(sorted(checked.load.inputs.items())),
        "changes": changes,
        "merges": checked.merges.groups,
        "kept_apart": checked.merges.apart,
        "precedence": checked.merges.precedence,
        "conflicts": len(checked.conflicts),
        "linksets": stats["linksets"],
        "validation": {"conforms": checked.verdict.final_report.conforms,
                       "passes": checked.verdict.passes,
                       "results": len(checked.verdict.first_report.results)},
    }


def write_catalog(settings: Settings, folder: Path, manifest: Manifest, stats: dict[str, Any]) -> None:
    """``catalog.ttl``: DCAT-AP 3 and VoID, with the dumps' sizes and checksums; added to the manifest."""
    graph = build_catalog(settings, manifest, stats["properties"], stats["entities"])
    path = folder / "catalog.ttl"
    with path.open("wb") as handle:
        graph.serialize(handle, format="turtle")
    manifest["files"]["catalog.ttl"] = {"sha256": sha256_of(path), "bytes": path.stat().st_size,
                                        "triples": len(graph)}


def _timed(function: Any, *args: Any) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def prune(settings: Settings) -> list[str]:
    """Drop the oldest releases beyond ``keep_releases``; never the current one."""
    current = current_version(settings)
    versions = [m["version"] for m in list_releases(settings)]
    dropped = []
    for version in versions[:max(0, len(versions) - settings.keep_releases)]:
        if version != current:
            shutil.rmtree(settings.releases_dir / version, ignore_errors=True)
            dropped.append(version)
    return dropped
