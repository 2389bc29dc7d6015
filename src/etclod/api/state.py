"""HTTP layer: the release being served, swapped when ``var/current`` moves."""

from __future__ import annotations

import datetime as dt
import os
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import Graph

from etclod.errors import ReleaseError
from etclod.release import list_releases, read_manifest, verify_release
from etclod.settings import Settings
from etclod.store import OxigraphStore

log = logging.getLogger("etclod")


@dataclass
class ServedRelease:
    """One sealed release, opened read-only. Requests keep a reference to the one they started
    on, so a switch never changes the data under a request in flight."""

    version: str
    path: Path
    manifest: dict[str, Any]
    store: OxigraphStore
    created: dt.datetime
    _catalog: Graph | None = field(default=None, repr=False)
    _index: Any = field(default=None, repr=False)
    figures: Any = field(default=None, repr=False)

    @classmethod
    def open(cls, path: Path, verify: bool = True) -> ServedRelease:
        """Open a release; with ``verify``, refuse one whose files do not match its manifest."""
        manifest = read_manifest(path)
        if verify:
            problems = verify_release(path)
            if problems:
                raise ReleaseError(f"release {path.name} is corrupt: " + "; ".join(problems[:5]))
        store = OxigraphStore(path / "store")
        if verify and len(store) != manifest["quads"]:
            raise ReleaseError(f"release {path.name} is corrupt: its store holds {len(store)} quads, "
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
        return self.version


class ReleaseHolder:
    """Follows ``var/current``: a cheap readlink per request, a new store when it moved."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._served: ServedRelease | None = None
        self._target: str | None = None
        self._switching = False
        self.warnings: list[str] = []

    def _read_target(self) -> str | None:
        try:
            return os.readlink(self.settings.current_link)
        except OSError:
            return None

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
            raise ReleaseError("no release has been built yet: run `etclod build`")
        path = (self.settings.var_dir / target).resolve()
        warnings: list[str] = []
        candidates = [path] + [self.settings.releases_dir / m["version"]
                               for m in reversed(list_releases(self.settings))
                               if m["version"] < path.name]
        for candidate in candidates:
            if self._served is not None and candidate.name == self._served.version:
                self._target = target
                self.warnings = warnings
                return self._served
            try:
                served = ServedRelease.open(candidate, self.settings.verify_checksums)
            except ReleaseError as exc:
                log.error("%s", exc.message)
                warnings.append(exc.message)
                continue
            if warnings:
                warnings.append(f"serving release {served.version} instead")
                log.error("serving release %s instead of the corrupt %s", served.version, path.name)
            self._served, self._target, self.warnings = served, target, warnings
            return served
        raise ReleaseError("no release can be served: " + "; ".join(warnings))

    def current_or_none(self) -> ServedRelease | None:
        try:
            return self.get()
        except ReleaseError:
            return None
