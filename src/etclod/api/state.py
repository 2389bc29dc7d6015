"""HTTP layer: the release being served, swapped when ``var/current`` moves."""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import Graph

from etclod.errors import ReleaseError
from etclod.release import read_manifest
from etclod.settings import Settings
from etclod.store import OxigraphStore


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

    @classmethod
    def open(cls, path: Path) -> ServedRelease:
        manifest = read_manifest(path)
        created = dt.datetime.fromisoformat(manifest["created"])
        return cls(manifest["version"], path, manifest, OxigraphStore(path / "store"), created)

    @property
    def catalog(self) -> Graph:
        if self._catalog is None:
            graph = Graph()
            with (self.path / "catalog.ttl").open("rb") as handle:
                graph.parse(source=handle, format="turtle")
            self._catalog = graph
        return self._catalog

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

    def _read_target(self) -> str | None:
        try:
            return os.readlink(self.settings.current_link)
        except OSError:
            return None

    def get(self) -> ServedRelease:
        target = self._read_target()
        served = self._served
        if served is not None and target == self._target:
            return served
        with self._lock:
            if self._served is not None and target == self._target:
                return self._served
            if target is None:
                if self._served is not None:
                    return self._served
                raise ReleaseError("no release has been built yet: run `etclod build`")
            path = (self.settings.var_dir / target).resolve()
            try:
                self._served = ServedRelease.open(path)
            except ReleaseError:
                if self._served is not None:  # keep serving the release we have
                    return self._served
                raise
            self._target = target
            return self._served

    def current_or_none(self) -> ServedRelease | None:
        try:
            return self.get()
        except ReleaseError:
            return None
