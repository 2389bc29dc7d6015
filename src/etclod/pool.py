"""Store layer: a pool of SPARQL servers holding the same releases, behind one GraphStore.

``ETCLOD_STORE`` may list several servers (``settings.StoreEndpoint``); each is a
``remote.RemoteStore`` of its own, and this layer only decides which one is asked:

- **pushing**: load and verify the release on every server (in parallel), and only then switch
  every server that passed; a server that failed a step stays on its old release, is named in
  the result, and is out of the pool for this release until it has it (``etclod push --sync``,
  or the build host's next poll with ``ETCLOD_STORE_SYNC=1``).
- **reading**: the pool's current release is the one switched to last on any server that
  answers (a rollback is a switch too). A server is *in* while it answers and holds that
  release as its current one. Each read goes to the server *in* with the fewest requests
  outstanding (ties in turn); a read that failed for a server-side reason with nothing
  answered (refused, reset, hung before the status line, a 5xx) is asked once more of another
  server. Never an update, never after a partial answer, never a query the server refused.
- **health**: after ``FAIL_AFTER`` such failures in a row a server is out; every poll
  (``ETCLOD_STORE_POLL``) looks at every server, and one that answers and holds the current
  release is back in.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread

from etclod.errors import EtclodError, ReleaseError
from etclod.release import version_key
from etclod.remote import (
    PushResult,
    RemoteStore,
    RemoteStoreError,
    RemoteUnavailableError,
    RemoteView,
)
from etclod.settings import Settings
from etclod.store import Dataset, GraphStore, Page, ResultFormat, Runner

if TYPE_CHECKING:
    from etclod.describe import Description
    from etclod.executor import Answer
    from etclod.query import CheckedQuery

log = logging.getLogger("etclod")
T = TypeVar("T")
FAIL_AFTER = 3
"""Failures in a row (queries or health checks) that take a server out of the pool."""
BALANCING = "least outstanding requests, ties in turn; one retry on another server"


@dataclass
class Member:
    """One server of the pool and what the pool knows of it."""

    number: int
    """1-based, in ``ETCLOD_STORE``'s order (``ETCLOD_STORE_<n>_*`` configure it)."""
    store: RemoteStore
    failures: int = 0
    """Failures in a row; at ``FAIL_AFTER`` the server is out until a health check passes."""
    healthy: bool = True
    problem: str | None = None
    """The last failure, or why it is behind."""
    polled: bool = False
    answering: bool = True
    """Whether the last health check got an answer."""
    current: str | None = None
    switched: str | None = None
    complete: tuple[str, ...] = ()
    behind: bool = False
    outstanding: int = 0
    answered: int = 0
    failed: int = 0
    syncing: bool = False
    views: dict[str, RemoteView] = field(default_factory=dict, repr=False)

    @property
    def endpoint(self) -> str:
        return self.store.endpoint

    @property
    def is_in(self) -> bool:
        return self.healthy and self.answering and not self.behind

    def holds(self, version: str) -> bool:
        return not self.polled or version == self.current or version in self.complete

    def view(self, version: str) -> RemoteView:
        view = self.views.get(version)
        if view is None:
            view = self.store.view(version)
            self.views = {v: w for v, w in self.views.items() if v in self.complete} | {version: view}
        return view

    def state(self) -> dict[str, Any]:
        """What /health and ``etclod releases`` say of it."""
        reason = None if self.is_in else self.problem
        return {"server": self.number, "endpoint": self.endpoint, "state": "in" if self.is_in else "out",
                "reason": reason, "answering": self.answering, "release": self.current, "failures_in_a_row": self.failures,
                "outstanding": self.outstanding, "answered": self.answered, "failed": self.failed}


@dataclass
class ServerPush:
    """What a push did on one server: its result, or the step that failed and why."""

    number: int
    endpoint: str
    result: PushResult | None = None
    step: str | None = None
    error: str | None = None


@dataclass
class PoolPush:
    version: str
    servers: list[ServerPush]

    @property
    def switched(self) -> list[ServerPush]:
        return [s for s in self.servers if s.error is None]

    @property
    def failed(self) -> list[ServerPush]:
        return [s for s in self.servers if s.error is not None]

    def summary(self) -> PushResult:
        """One PushResult for callers that knew one server (the first that switched)."""
        first = self.switched[0].result
        assert first is not None
        return first


class StorePool:
    """Several SPARQL servers serving the same releases; one of them is a pool of one."""

    def __init__(self, stores: list[RemoteStore], *, sync_from: Path | None = None, keep: int = 2) -> None:
        if not stores:
            raise ReleaseError("a pool needs at least one SPARQL server (ETCLOD_STORE)")
        self.members = [Member(n, store) for n, store in enumerate(stores, start=1)]
        self.current_release: str | None = None
        self.retries = 0
        self.sync_from, self.keep = sync_from, keep
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._polling = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> StorePool:
        endpoints = settings.store_endpoints()
        if not endpoints:
            raise ReleaseError("no remote store is configured (ETCLOD_STORE)")
        timeout = max(30.0, settings.query_timeout + 5)
        stores = [RemoteStore.from_url(e.url, e.user, e.password, timeout, e.update_url, e.graph_store_url)
                  for e in endpoints]
        return cls(stores, sync_from=settings.releases_dir if settings.store_sync else None,
                   keep=settings.keep_releases)

    @property
    def endpoint(self) -> str:
        return ", ".join(m.endpoint for m in self.members)

    # ------------------------------------------------------------------ health

    def _look(self, member: Member, timeout: float | None) -> tuple[str | None, str | None, tuple[str, ...]] | Exception:
        try:
            current, switched = member.store.current_switch(timeout=timeout)
            complete = tuple(v for v, done in member.store.pushed(timeout=timeout) if done)
            return current, switched, complete
        except EtclodError as exc:
            return exc

    def poll(self, timeout: float | None = None) -> tuple[str | None, list[str]]:
        """Look at every server at once (the health check): the pool's current release and
        the releases complete on the servers in the pool. Raises when no server answers."""
        if not self._polling.acquire(blocking=False):  # another request is polling: use its result
            with self._polling:
                return self._result()
        try:
            if len(self.members) == 1:
                looks = [self._look(self.members[0], timeout)]
            else:
                with ThreadPoolExecutor(len(self.members)) as pool:
                    looks = list(pool.map(lambda m: self._look(m, timeout), self.members))
            answering = [(m, look) for m, look in zip(self.members, looks) if not isinstance(look, Exception)]
            if not answering:
                errors = [look for look in looks if isinstance(look, Exception)]
                for member, exc in zip(self.members, errors):
                    member.answering = False
                    self._failed(member, exc)
                if len(errors) == 1:
                    raise errors[0]
                raise RemoteStoreError("no SPARQL server of the pool answers: " + "; ".join(
                    f"server {m.number} ({getattr(e, 'message', e)})" for m, e in zip(self.members, errors)))
            with_current = [(look[1] or "", version_key(look[0]), look[0]) for _, look in answering
                            if look[0] is not None]
            current = max(with_current)[2] if with_current else None
            with self._lock:
                self.current_release = current
                for member, look in zip(self.members, looks):
                    if isinstance(look, Exception):
                        member.answering = False
                        self._failed(member, look, locked=True)
                        continue
                    member.polled = member.answering = True
                    member.current, member.switched, member.complete = look
                    member.behind = current is not None and member.current != current
                    if member.behind:
                        member.problem = (f"holds release {member.current or 'none'}, not the pool's current "
                                          f"{current}: it rejoins once it has it (`etclod push --sync`)")
                    else:
                        member.failures, member.healthy, member.problem = 0, True, None
            self._sync_behind()
            return self._result()
        finally:
            self._polling.release()

    def _result(self) -> tuple[str | None, list[str]]:
        complete = sorted({v for m in self.members if m.is_in for v in m.complete}, key=version_key)
        return self.current_release, complete

    def current(self, timeout: float | None = None) -> str | None:
        return self.poll(timeout)[0]

    def _failed(self, member: Member, exc: Exception, locked: bool = False) -> None:
        message = getattr(exc, "message", str(exc))
        if not locked:
            self._lock.acquire()
        try:
            member.failures += 1
            member.failed += 1
            member.problem = f"failed {member.failures} time(s) in a row, last: {message}"
            if member.failures >= FAIL_AFTER and member.healthy:
                member.healthy = False
                log.error("SPARQL server %d (%s) is out of the pool: %s", member.number, member.endpoint, message)
        finally:
            if not locked:
                self._lock.release()

    def states(self) -> list[dict[str, Any]]:
        with self._lock:
            return [m.state() for m in self.members]

    def warnings(self) -> list[str]:
        """One line per server out of the pool, saying why (what /health reports)."""
        if len(self.members) == 1:
            return []  # one server: the release holder words its outage itself
        with self._lock:
            return [f"SPARQL server {m.number} ({m.endpoint}) is out of the pool: {m.problem}"
                    for m in self.members if not m.is_in]

    # ------------------------------------------------------------------ reading

    def _order(self, version: str) -> list[Member]:
        """Who is asked for ``version``: the servers in, fewest requests outstanding first
        (ties in turn); the others that may hold it only as a last resort."""
        with self._lock:
            turn = next(self._turn) % len(self.members)
            rotated = self.members[turn:] + self.members[:turn]
            ready = sorted((m for m in rotated if m.is_in and m.holds(version)), key=lambda m: m.outstanding)
            rest = sorted((m for m in rotated if m not in ready and m.holds(version)), key=lambda m: m.failures)
            return ready + rest or rotated

    def run(self, version: str, read: Callable[[RemoteView], T]) -> T:
        """``read`` on one server's view of ``version``; once more on another server if the
        first failed with nothing answered (:class:`RemoteUnavailableError`) or does not hold
        the release (``ReleaseError``, raised as is when no server does)."""
        last: EtclodError | None = None
        for member in self._tries(version):
            try:
                try:
                    view = member.view(version)
                except ReleaseError as exc:  # it answers but does not hold this release: not a failure
                    last = exc
                    continue
                result = read(view)
            except RemoteUnavailableError as exc:
                self._failed(member, exc)
                last = exc
                continue
            finally:
                self._done(member)
            self._answered(member)
            return result
        assert last is not None
        raise last

    async def run_async(self, version: str, read: Callable[[RemoteView], Awaitable[T]]) -> T:
        """:meth:`run` for a read awaited on the event loop (``/sparql``), by the same rules; a
        view not opened yet is opened in a thread."""
        last: EtclodError | None = None
        for member in self._tries(version):
            try:
                try:
                    held = member.views.get(version)
                    view = held if held is not None else await anyio.to_thread.run_sync(member.view, version)
                except ReleaseError as exc:  # it answers but does not hold this release: not a failure
                    last = exc
                    continue
                result = await read(view)
            except RemoteUnavailableError as exc:
                self._failed(member, exc)
                last = exc
                continue
            finally:
                self._done(member)
            self._answered(member)
            return result
        assert last is not None
        raise last

    def _tries(self, version: str) -> Iterator[Member]:
        """The (at most two) servers a read goes to, each counted outstanding as it is asked."""
        for attempt, member in enumerate(self._order(version)[:2]):
            if attempt:
                self.retries += 1
            with self._lock:
                member.outstanding += 1
            yield member

    def _done(self, member: Member) -> None:
        with self._lock:
            member.outstanding -= 1

    def _answered(self, member: Member) -> None:
        with self._lock:
            member.answered += 1
            if member.healthy:
                member.failures = 0

    def view(self, version: str) -> PoolView:
        """One pushed release on the pool, as a store of its own."""
        first = self.run(version, lambda view: view)
        return PoolView(self, version, dict(first.graphs))

    # ------------------------------------------------------------------ writing

    def push(self, release: Path, keep: int = 2, progress: Callable[[int], None] | None = None) -> PoolPush:
        """Load and verify everywhere, then switch everywhere that passed. Raises only when
        no server switched (the current release stays on every server)."""
        version = json.loads((release / "manifest.json").read_text("utf-8"))["version"]
        pushes = [ServerPush(m.number, m.endpoint) for m in self.members]

        def load(pair: tuple[Member, ServerPush]) -> None:
            member, push = pair
            try:
                push.result = member.store.load(release, progress)
            except EtclodError as exc:
                push.step, push.error = "load and verify", exc.message

        pairs = list(zip(self.members, pushes))
        if len(pairs) == 1:
            load(pairs[0])
        else:
            with ThreadPoolExecutor(len(pairs)) as pool:
                list(pool.map(load, pairs))
        for member, push in pairs:
            if push.error is not None:
                continue
            assert push.result is not None
            try:
                if push.result.skipped:  # whole there already: a rollback, or a server catching up
                    push.result = member.store.push(release, keep=keep)
                else:
                    push.result.dropped += member.store.activate(version, keep)
            except EtclodError as exc:
                push.step, push.error = "switch", exc.message
        result = PoolPush(version, pushes)
        for failed in result.failed:
            log.error("release %s: server %d (%s) failed to %s: %s; it is out of the pool for this release",
                      version, failed.number, failed.endpoint, failed.step, failed.error)
        if not result.switched:
            raise RemoteStoreError(f"release {version} is on no SPARQL server; each stays on its release: "
                                   + "; ".join(f"server {s.number} ({s.endpoint}) failed to {s.step}: {s.error}"
                                               for s in result.failed))
        return result

    def _sync_behind(self) -> None:
        """On the build host (``ETCLOD_STORE_SYNC``): push the current release, in the
        background, to each server that answers but is behind; it rejoins once switched."""
        if self.sync_from is None or self.current_release is None:
            return
        release = self.sync_from / self.current_release
        if not (release / "manifest.json").is_file():
            return
        for member in self.members:
            if member.behind and member.answering and not member.syncing:
                member.syncing = True
                threading.Thread(target=self._sync, args=(member, release), daemon=True).start()

    def _sync(self, member: Member, release: Path) -> None:
        try:
            member.store.push(release, keep=self.keep)
            log.warning("release %s pushed to server %d (%s), which was behind", release.name, member.number,
                        member.endpoint)
        except EtclodError as exc:
            log.error("catching server %d (%s) up failed: %s", member.number, member.endpoint, exc.message)
        finally:
            member.syncing = False


@dataclass
class PoolView:
    """GraphStore: one release on the pool; every read goes to one server holding it
    (``StorePool.run``), whose ``RemoteView`` answers it."""

    pool: StorePool
    version: str
    graphs: dict[str, str]
    """each graph's name in the release -> its name on the servers (the same on every one)."""
    runner: Runner | None = None
    """Bounds the queries running at once and their time, over the whole pool (``executor.QueryPool``)."""
    max_rows: int = 100_000

    @property
    def endpoint(self) -> str:
        return self.pool.endpoint

    def select(self, query: str) -> list[dict[str, Any]]:
        return self.pool.run(self.version, lambda view: view.select(query))

    async def answer(self, checked: CheckedQuery, format: ResultFormat, dataset: Dataset = Dataset()) -> Answer:
        """``/sparql``: answered by one server, asked of another once if it failed with nothing answered."""
        async def read(view: RemoteView) -> Answer:
            view.runner, view.max_rows = self.runner, self.max_rows
            return await view.answer(checked, format, dataset)

        return await self.pool.run_async(self.version, read)

    def describe(self, iri: str, page: Page = Page()) -> Description:
        from etclod.describe import describe

        return describe(self, iri, cursor=page.cursor, page_size=page.size)

    def read_aside(self, read: Callable[[GraphStore], T]) -> T:
        """GraphStore: the servers do the reading; nothing is kept here."""
        return read(self)


def push_if_remote(settings: Settings, release: Path) -> PushResult | None:
    """Publish a release just built to the pool, when one is configured: what makes a build
    served there (the admin routes use it; the CLI keeps build and push apart)."""
    if settings.store_url is None:
        return None
    try:
        return StorePool.from_settings(settings).push(release, keep=settings.keep_releases).summary()
    except RemoteStoreError as exc:
        raise RemoteStoreError(f"release {release.name} was built, but pushing it to the SPARQL server failed, "
                               f"so the server still serves the one before: {exc.message}; run `etclod push`") from exc
