"""HTTP layer: the release being served, swapped when ``var/current`` moves."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib
from rdflib import Graph

from etclod import __version__
from etclod.errors import EtclodError, ReleaseError
from etclod.manifest import Manifest
from etclod.release import list_releases, read_manifest, verify_release, version_key
from etclod.pool import StorePool
from etclod.settings import Settings
from etclod.store import GraphStore, OxigraphStore, Runner, query_in_memory

log = logging.getLogger("etclod")


def _software() -> tuple[str, dt.datetime]:
    """The software that writes every generated representation: the versions of etclod,
    pyoxigraph and rdflib, a digest of etclod's own files (code, templates, messages, static
    files: the version number is not bumped for every change) and when the newest of them was
    written (an upgrade writes them anew)."""
    package = Path(__file__).resolve().parent.parent
    digest, newest = hashlib.sha256(), 0.0
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(f"|{path.relative_to(package)}|".encode() + path.read_bytes())
            newest = max(newest, path.stat().st_mtime)
    return (f"etclod/{__version__}+{digest.hexdigest()[:16]} pyoxigraph/{ox.__version__} rdflib/{rdflib.__version__}",
            dt.datetime.fromtimestamp(int(newest), dt.UTC))


SOFTWARE, SOFTWARE_WRITTEN = _software()
"""Part of every ETag of a generated representation, and the earliest Last-Modified of one:
a validator from before an upgrade (which may write the same release in other bytes) gets the
new answer, not a ``304``."""
SERVER_STORE_GROWTH_MB = 48
"""The server's own handle of the embedded store (descriptions, pages) is opened anew once the
process grew this much since it was opened: its RocksDB caches would otherwise grow to about
160 MB (see benchmarks/README.md, the memory target)."""
POLL_TIMEOUT = 5.0
"""Seconds a look at the server's current release may take: a hung server must not hold requests."""


@dataclass
class ServedRelease:
    """One sealed release, opened read-only. Requests keep a reference to the one they started
    on, so a switch never changes the data under a request in flight."""

    version: str
    path: Path
    manifest: Manifest
    store: GraphStore
    """The embedded Oxigraph store in ``store/``, or the release's graphs on a SPARQL server."""
    created: dt.datetime
    _catalog: Graph | None = field(default=None, repr=False)
    _index: Any = field(default=None, repr=False)
    figures: Any = field(default=None, repr=False)

    @classmethod
    def open(cls, path: Path, verify: bool = True, remote: StorePool | None = None,
             runner: Runner | None = None, max_rows: int = 100_000, query_store: str = "disk") -> ServedRelease:
        """Open a release; with ``verify``, refuse one whose files do not match its manifest.
        With ``remote``, its triples are the ones pushed to that SPARQL server (``store/`` need
        not be here: the push verified the counts). ``runner`` and ``max_rows``: where and under
        which limits the store answers ``/sparql``."""
        manifest = read_manifest(path)
        if verify:
            problems = verify_release(path, with_store=remote is None)
            if problems:
                raise ReleaseError(f"release {path.name} is corrupt: " + "; ".join(problems[:5]))
        store: GraphStore
        if remote is not None:
            view = remote.view(manifest["version"])
            if sorted(view.graphs) != sorted(manifest["graphs"]):
                raise ReleaseError(f"release {path.name} on {remote.endpoint} has other graphs than its manifest")
            view.runner, view.max_rows = runner, max_rows
            store = view
        else:
            store = OxigraphStore(path / "store", runner, max_rows, manifest["version"],
                                  query_in_memory(query_store, manifest["quads"]), SERVER_STORE_GROWTH_MB)
            quads = store.count_quads() if verify else manifest["quads"]
            if quads != manifest["quads"]:
                raise ReleaseError(f"release {path.name} is corrupt: its store holds {quads} quads, "
                                   f"the manifest says {manifest['quads']}")
        created = dt.datetime.fromisoformat(manifest["created"])
        return cls(manifest["version"], path, manifest, store, created)

    @property
    def catalog(self) -> Graph:
        if self._catalog is None:
            graph = Graph()
            with (self.path / "catalog.ttl").open("rb") as handle:
                graph.parse(source=handle, format="turtle")
            self._catalog = graph
        return self._catalog

    @property
    def reconcile_index(self) -> Any:
        """The release's reconciliation index, loaded on first use."""
        if self._index is None:
            from etclod.reconcile import INDEX_FILE, Index

            path = self.path / INDEX_FILE
            if not path.is_file():
                raise ReleaseError(f"release {self.version} has no reconciliation index; build a new release")
            self._index = Index.load(path)
        return self._index

    @property
    def etag_base(self) -> str:
        """What every generated representation of the release depends on: the release and the
        software that writes it (an upgrade may write the same answer in other bytes, so an
        ETag from before it must not get a ``304``)."""
        return f"{self.version}\x00{SOFTWARE}"

    @property
    def modified(self) -> dt.datetime:
        """The Last-Modified of its generated representations: the release's time, or the
        software's, whichever is later."""
        return max(self.created, SOFTWARE_WRITTEN)


class ReleaseHolder:
    """Follows ``var/current``: a cheap readlink per request, a new store when it moved.

    With a remote store it follows the server's current release instead (looked up at most
    every ``store_poll`` seconds): any number of API processes serve one server and switch
    together after ``etclod push``. Each needs the release's folder (catalogue, dumps,
    indexes; not ``store/``) in its ``var/releases``; until it has it, it keeps serving the
    newest pushed release it has, with a warning in /health."""

    def __init__(self, settings: Settings, runner: Runner | None = None) -> None:
        self.settings = settings
        self.runner = runner
        self.remote = StorePool.from_settings(settings) if settings.store_url else None
        self._lock = threading.Lock()
        self._served: ServedRelease | None = None
        self._target: str | None = None
        self._switching = False
        self._polled: tuple[float, str | None, str | None] = (-1e9, None, None)
        self._remote_versions: list[str] = []
        self._remote_current: str | None = None
        self._switch_warnings: list[str] = []
        self._looking = threading.Lock()

    def _read_target(self) -> str | None:
        if self.remote is not None:
            return self._remote_target()
        try:
            return os.readlink(self.settings.current_link)
        except OSError:
            return None

    def _remote_target(self) -> str | None:
        """``releases/<version>`` of the server's current release, or of the newest pushed one
        this host has the folder of."""
        assert self.remote is not None
        now = time.monotonic()
        polled_at, target, problem = self._polled
        if now - polled_at < self.settings.store_poll:
            if problem is not None and self._served is None:
                raise ReleaseError(problem)
            return target
        if self._served is not None and self.settings.store_poll > 0:
            # a request never waits for the look (two queries to every server, every
            # store_poll seconds): the release seen last answers until the look is done
            self._look_in_background()
            return target
        return self._look(now)

    def _look_in_background(self) -> None:
        """Look at the servers in a thread of its own, and open the release they switched to
        there too, so that no request waits for either; one look at a time."""
        if not self._looking.acquire(blocking=False):
            return

        def look() -> None:
            try:
                target = self._look(time.monotonic())
                if target != self._target:
                    self.get()
            except EtclodError as exc:  # said by /health; the release seen last keeps answering
                log.error("%s", exc.message)
            finally:
                self._looking.release()

        threading.Thread(target=look, daemon=True, name="etclod-store-poll").start()

    def _look(self, now: float) -> str | None:
        """Ask the servers for their current release now (``_remote_target``'s answer)."""
        assert self.remote is not None
        try:
            current, complete = self.remote.poll(timeout=POLL_TIMEOUT)
        except EtclodError as exc:
            log.error("%s", exc.message)
            problem = f"the SPARQL server is not answering: {exc.message}"
            self._polled = (now, self._target, problem)  # not again before the next poll
            if self._served is None:
                raise ReleaseError(problem) from exc
            return self._target
        self._remote_versions, self._remote_current = complete, current
        if current is None:
            target = None
        elif (self.settings.releases_dir / current).is_dir():
            target = f"releases/{current}"
        else:
            here = [v for v in complete if version_key(v) < version_key(current) and (self.settings.releases_dir / v).is_dir()]
            log.error("release %s is current on the SPARQL server but not in %s", current, self.settings.releases_dir)
            target = f"releases/{here[-1]}" if here else None
            if target is None:
                problem = (f"release {current} is current on the SPARQL server but its folder is not in "
                           f"{self.settings.releases_dir}; copy it there")
                self._polled = (now, None, problem)
                raise ReleaseError(problem)
        self._polled = (now, target, None)
        return target

    def get(self) -> ServedRelease:
        """The release to answer from. While a new one is being verified, requests keep
        getting the one being served; a corrupt release is refused and the newest good one
        before it is served instead, with a warning in /health."""
        target = self._read_target()
        served = self._served
        if served is not None and (target == self._target or self._switching):
            return served
        with self._lock:
            if self._served is not None and target == self._target:
                return self._served
            self._switching = True
            try:
                return self._switch(target)
            finally:
                self._switching = False

    def _switch(self, target: str | None) -> ServedRelease:
        if target is None:
            if self._served is not None:
                return self._served
            if self.remote is not None:
                raise ReleaseError(f"the SPARQL server {self.remote.endpoint} holds no release yet: run `etclod push`")
            raise ReleaseError("no release has been built yet: run `etclod build`")
        path = (self.settings.var_dir / target).resolve()
        warnings: list[str] = []
        if self.remote is not None and self._remote_current not in (None, path.name):
            warnings.append(f"release {self._remote_current} is current on the SPARQL server but not in "
                            f"{self.settings.releases_dir}")
        candidates = [path] + [self.settings.releases_dir / m["version"]
                               for m in reversed(list_releases(self.settings))
                               if m["version"] < path.name
                               and (self.remote is None or m["version"] in self._remote_versions)]
        for candidate in candidates:
            if self._served is not None and candidate.name == self._served.version:
                self._target = target
                self._switch_warnings = warnings
                return self._served
            try:
                served = ServedRelease.open(candidate, self.settings.verify_checksums, self.remote,
                                            self.runner, self.settings.max_rows, self.settings.query_store)
            except ReleaseError as exc:
                log.error("%s", exc.message)
                warnings.append(exc.message)
                continue
            if warnings:
                warnings.append(f"serving release {served.version} instead")
                log.error("serving release %s instead of the corrupt %s", served.version, path.name)
            self._served, self._target, self._switch_warnings = served, target, warnings
            return served
        raise ReleaseError("no release can be served: " + "; ".join(warnings))

    @property
    def warnings(self) -> list[str]:
        """What /health reports: a server that did not answer the last look (while the release
        seen before is served), then what the last switch found."""
        problem, served = self._polled[2], self._served
        answering = [] if problem is None or served is None else [f"{problem}; serving release {served.version} "
                                                                   "as last seen"]
        pool = [] if self.remote is None else self.remote.warnings()
        return answering + self._switch_warnings + pool

    def ready(self) -> ServedRelease | None:
        """The release being served, if answering from it needs no waiting: the embedded store,
        and ``var/current`` still where it was (one readlink). None otherwise: call ``get`` in
        a thread."""
        served = self._served
        if self.remote is not None or served is None:
            return None
        if self._switching or self._read_target() == self._target:
            return served
        return None

    def current_or_none(self) -> ServedRelease | None:
        try:
            return self.get()
        except ReleaseError:
            return None
