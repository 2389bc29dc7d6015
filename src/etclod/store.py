"""Store layer: the GraphStore protocol and its embedded Oxigraph implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

from etclod.errors import ReleaseError
from etclod.executor import Answer, Job, SyntaxJob
from etclod.query import CheckedQuery

if TYPE_CHECKING:
    from etclod.describe import Description

Quad = tuple[Any, Any, Any, Any]


@lru_cache(maxsize=1 << 16)
def _named(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def to_ox(term: Any) -> Any:
    """An rdflib term as a pyoxigraph term (IRIs memoised: predicates and classes repeat)."""
    if isinstance(term, URIRef):
        return _named(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=_named(str(term.datatype or XSD.string)))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    raise TypeError(f"cannot store {term!r}")


@lru_cache(maxsize=8192)
def _uri(value: str) -> URIRef:
    return URIRef(value)


@lru_cache(maxsize=8192)
def _literal(value: str, language: str | None, datatype: str) -> Literal:
    if language:
        return Literal(value, lang=language)
    return Literal(value, datatype=None if datatype == _XSD_STRING else _uri(datatype))


_XSD_STRING = str(XSD.string)


def from_ox(term: Any) -> Any:
    """A pyoxigraph term as an rdflib term (memoised: rdflib's constructors check and cast,
    and a description reads the same IRIs and labels again and again)."""
    if isinstance(term, ox.NamedNode):
        return _uri(term.value)
    if isinstance(term, ox.Literal):
        return _literal(term.value, term.language, term.datatype.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    raise TypeError(f"unexpected term {term!r}")


def to_quads(graph: URIRef, triples: Iterable[tuple[Any, Any, Any]]) -> Iterator[ox.Quad]:
    g = _named(str(graph))
    for s, p, o in triples:
        yield ox.Quad(to_ox(s), to_ox(p), to_ox(o), g)


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

    def run_here(self, function: Callable[..., Answer], *args: Any) -> Answer: ...


class GraphStore(Protocol):
    """What the service needs from a store; it owns the whole read path.

    ``select`` answers with rdflib terms, so the code above it works on any store; ``answer``
    answers a checked ``/sparql`` query with bytes in the client's format, under the service's
    limits; ``describe`` gives what a resource page shows. Two implementations: the embedded
    :class:`OxigraphStore` here (queries in killable worker processes), and
    ``remote.RemoteView`` (one release's graphs on a SPARQL server). A third server is a new
    class, not new branches in the routers.
    """

    version: str

    def select(self, query: str) -> list[dict[str, Any]]: ...

    def answer(self, checked: CheckedQuery, format: ResultFormat, dataset: Dataset = ALL_GRAPHS) -> Answer: ...

    def describe(self, iri: str, page: Page = FIRST_PAGE) -> Description: ...

    def aside(self) -> AbstractContextManager[GraphStore]:
        """The store for a one-off read of much of the release (the landing page's figures),
        whose caches this process need not keep: the embedded store reads it on a handle of
        its own, closed after; a server's view is itself."""
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
                 version: str = "", in_memory: bool = False) -> None:
        self.path, self.runner, self.max_rows, self.version = path, runner, max_rows, version
        self.in_memory = in_memory
        """Workers answer from an in-memory copy of the release (``ETCLOD_QUERY_STORE``)."""
        try:
            self.store = ox.Store.read_only(str(path))
        except OSError as exc:
            raise ReleaseError(f"cannot open the store at {str(path)!r}: {exc}") from exc

    def query(self, query: str, **options: Any) -> Any:
        options.setdefault("use_default_graph_as_union", True)
        return self.store.query(query, **options)

    def select(self, query: str) -> list[dict[str, Any]]:
        solutions = self.query(query)
        names = [v.value for v in solutions.variables]
        return [{n: from_ox(s[n]) for n in names if s[n] is not None} for s in solutions]

    def answer(self, checked: CheckedQuery, format: ResultFormat, dataset: Dataset = ALL_GRAPHS) -> Answer:
        """Evaluate in a worker process (killed at the time limit; the answer refused past
        ``max_rows``)."""
        if self.runner is None:
            raise ReleaseError("this store was opened without query workers")
        job = Job(str(self.path), checked.text, format.select, format.graph, self.max_rows,
                  dataset.default, dataset.named, checked.base_iri, self.in_memory)
        return self.runner.run(job)

    def describe(self, iri: str, page: Page = FIRST_PAGE) -> Description:
        from etclod.describe import describe

        return describe(self, iri, cursor=page.cursor, page_size=page.size)

    def __len__(self) -> int:
        return len(self.store)

    @contextmanager
    def aside(self) -> Iterator[OxigraphStore]:
        """GraphStore: a handle of its own for a one-off read, closed after (its caches with it)."""
        from etclod.executor import give_back_memory

        reading = OxigraphStore(self.path, None, self.max_rows, self.version)
        try:
            yield reading
        finally:
            del reading
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
