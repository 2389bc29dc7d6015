"""Store layer: the GraphStore protocol and its embedded Oxigraph implementation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio.to_thread
import pyoxigraph as ox
from rdflib import URIRef

from etclod.errors import ReleaseError
from etclod.oxtyped import from_ox as from_ox, named, to_ox as to_ox  # re-exported: store.to_ox keeps working
from etclod.executor import Answer, Job, SyntaxJob
from etclod.query import CheckedQuery

if TYPE_CHECKING:
    from etclod.describe import Description

Quad = tuple[Any, Any, Any, Any]
T = TypeVar("T")
REFRESH_CHECK = 64
"""Reads between two looks at how much the process grew since the store was opened."""
REFRESH_EVERY = 512
"""Reads at least between two fresh handles of the store."""


_named = named


def to_quads(graph: URIRef | ox.NamedNode, triples: Iterable[tuple[Any, Any, Any]]) -> Iterator[ox.Quad]:
    """Triples (pyoxigraph or rdflib terms) as quads in ``graph``."""
    g = graph if isinstance(graph, ox.NamedNode) else _named(str(graph))
    for s, p, o in triples:
        try:
            quad = ox.Quad(s, p, o, g)
        except TypeError:  # rdflib terms (the themes scheme, tests): converted
            quad = ox.Quad(to_ox(s), to_ox(p), to_ox(o), g)
        yield quad


@dataclass(frozen=True)
class ResultFormat:
    """What a client accepts for an answer: a results format for SELECT and ASK (json, xml,
    csv or tsv), and the media type of an RDF format for CONSTRUCT and DESCRIBE; None where it
    accepts none of them (the query's form decides which one answers)."""

    select: str | None
    graph: str | None


@dataclass(frozen=True)
class Dataset:
    """The dataset of a query: the protocol's parameters, else its FROM clauses; None for
    both: the union of every graph as the default graph, and every graph named."""

    default: tuple[str, ...] | None = None
    named: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Page:
    """One page of a resource's incoming links."""

    cursor: int = 0
    size: int = 200


ALL_GRAPHS = Dataset()
FIRST_PAGE = Page()


class Runner(Protocol):
    """Where a store's ``/sparql`` answers are worked out: ``executor.QueryPool``."""

    timeout: float

    def run(self, job: Job | SyntaxJob) -> Answer: ...

    async def run_here(self, function: Callable[..., Awaitable[Answer]], *args: Any) -> Answer: ...


async def off_the_loop_past(size: int, limit: int, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` here, on the event loop, when ``size`` (of its input: characters,
    bytes) is at most ``limit``; in a thread beyond, so that a long one never stalls the other
    clients (a short one costs less than the hop to a thread)."""
    if size <= limit:
        return function(*args)
    return await anyio.to_thread.run_sync(function, *args)


class GraphStore(Protocol):
    """What the service needs from a store; it owns the whole read path.

    ``select`` answers with rdflib terms, so the code above it works on any store; ``answer``
    (awaited on the event loop, which it never blocks) answers a checked ``/sparql`` query with
    bytes in the client's format, under the service's limits; ``describe`` gives what a
    resource page shows. Two implementations: the embedded
    :class:`OxigraphStore` here (queries in killable worker processes), and
    ``remote.RemoteView`` (one release's graphs on a SPARQL server). A third server is a new
    class, not new branches in the routers.
    """

    version: str

    def select(self, query: str) -> list[dict[str, Any]]: ...

    async def answer(self, checked: CheckedQuery, format: ResultFormat, dataset: Dataset = ALL_GRAPHS) -> Answer: ...

    def describe(self, iri: str, page: Page = FIRST_PAGE) -> Description: ...

    def read_aside(self, read: Callable[[GraphStore], T]) -> T:
        """``read`` for a one-off read of much of the release (the landing page's figures),
        whose caches this process need not keep: the embedded store gives it a handle of its
        own, closed after; a server's view gives itself."""
        ...


MEMORY_BELOW = 300_000
"""Quads under which ``ETCLOD_QUERY_STORE=auto`` answers ``/sparql`` from an in-memory copy (about
3,500 keep.eu projects; a copy costs each query worker about 420 bytes a quad)
(see benchmarks/README.md: faster first runs, at the cost of each worker holding the release)."""


def query_in_memory(mode: str, quads: int) -> bool:
    """Whether the query workers answer from memory: ``memory``, ``disk``, or ``auto`` by size.

    >>> query_in_memory("auto", 250_000), query_in_memory("auto", 2_500_000), query_in_memory("memory", 10**9)
    (True, False, True)
    """
    return mode == "memory" or (mode == "auto" and quads < MEMORY_BELOW)


class OxigraphStore:
    """A release's embedded store, opened read-only; ``/sparql`` runs in ``runner``'s worker
    processes, which open the same folder themselves."""

    def __init__(self, path: Path, runner: Runner | None = None, max_rows: int = 100_000,
                 version: str = "", in_memory: bool = False, max_growth_mb: int = 0) -> None:
        self.path, self.runner, self.max_rows, self.version = path, runner, max_rows, version
        self.in_memory = in_memory
        """Workers answer from an in-memory copy of the release (``ETCLOD_QUERY_STORE``)."""
        self.max_growth = max_growth_mb * 1024 * 1024
        """Past this growth of the process since the handle was opened, it is opened anew (0: never)."""
        self.refreshed = 0
        self._reads = 0
        self.store = self._open()
        from etclod.executor import resident_bytes

        self._baseline = resident_bytes()
        """The process's size when the first handle was opened."""

    def _open(self) -> Any:
        try:
            return ox.Store.read_only(str(self.path))
        except OSError as exc:
            raise ReleaseError(f"cannot open the store at {str(self.path)!r}: {exc}") from exc

    def _bounded(self) -> None:
        """Every ``REFRESH_CHECK`` reads, once the process grew past ``max_growth`` since the
        store was opened, the handle is replaced by a fresh one (at most once every
        ``REFRESH_EVERY`` reads, should the growth be something else's): RocksDB keeps what
        descriptions read (up to about 160 MB a handle, its block and point-lookup caches),
        and only closing the handle gives that back. Reads in flight keep the old handle."""
        self._reads += 1
        if not self.max_growth or self._reads % REFRESH_CHECK or self._reads < REFRESH_EVERY:
            return
        from etclod.executor import give_back_memory, resident_bytes

        if resident_bytes() - self._baseline > self.max_growth:
            self._reads = 0
            self.store = None
            give_back_memory()
            self.store = self._open()
            self.refreshed += 1

    def query(self, query: str, **options: Any) -> Any:
        options.setdefault("use_default_graph_as_union", True)
        self._bounded()
        return self.store.query(query, **options)

    def select(self, query: str) -> list[dict[str, Any]]:
        solutions = self.query(query)
        names = [v.value for v in solutions.variables]
        return [{n: from_ox(s[n]) for n in names if s[n] is not None} for s in solutions]

    async def answer(self, checked: CheckedQuery, format: ResultFormat, dataset: Dataset = ALL_GRAPHS) -> Answer:
        """Evaluate in a worker process (killed at the time limit; the answer refused past
        ``max_rows``), waited for in a thread."""
        if self.runner is None:
            raise ReleaseError("this store was opened without query workers")
        job = Job(str(self.path), checked.text, format.select, format.graph, self.max_rows,
                  dataset.default, dataset.named, checked.base_iri, self.in_memory)
        return await anyio.to_thread.run_sync(self.runner.run, job)

    def describe(self, iri: str, page: Page = FIRST_PAGE) -> Description:
        from etclod.describe import describe

        return describe(self, iri, cursor=page.cursor, page_size=page.size)

    def __len__(self) -> int:
        return len(self.store)

    def read_aside(self, read: Callable[[GraphStore], T]) -> T:
        """GraphStore: ``read`` on a handle of its own, closed after (its caches with it)."""
        from etclod.executor import give_back_memory

        reading: OxigraphStore | None = OxigraphStore(self.path, None, self.max_rows, self.version)
        try:
            assert reading is not None
            return read(reading)
        finally:
            reading = None
            give_back_memory()

    def count_quads(self) -> int:
        """The store's quads, counted on a handle of their own that is closed after: a count
        reads every quad, and the caches it fills (about 35 MB at 30,000 projects) would stay
        in this process, which needs them for nothing else."""
        from etclod.executor import give_back_memory

        counting = ox.Store.read_only(str(self.path))
        try:
            return len(counting)
        finally:
            del counting
            give_back_memory()
