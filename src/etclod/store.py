"""Store layer: the GraphStore protocol and its embedded Oxigraph implementation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

from etclod.errors import ReleaseError

Quad = tuple[Any, Any, Any, Any]


def to_ox(term: Any) -> Any:
    """An rdflib term as a pyoxigraph term."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype or XSD.string)))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    raise TypeError(f"cannot store {term!r}")


def from_ox(term: Any) -> Any:
    """A pyoxigraph term as an rdflib term."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        return Literal(term.value, datatype=None if datatype == str(XSD.string) else URIRef(datatype))
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    raise TypeError(f"unexpected term {term!r}")


def to_quads(graph: URIRef, triples: Iterable[tuple[Any, Any, Any]]) -> Iterator[ox.Quad]:
    g = ox.NamedNode(str(graph))
    for s, p, o in triples:
        yield ox.Quad(to_ox(s), to_ox(p), to_ox(o), g)


def write_store(path: Path, quads: list[ox.Quad]) -> list[ox.Quad]:
    """Create a new Oxigraph store at ``path`` holding ``quads``; return what it holds.

    Each triple is kept in exactly one named graph (pyoxigraph 0.5's union default graph
    repeats a triple once per graph that holds it). The store keeps literals in canonical
    form; anything it would change is a mapping bug, refused here so that dumps (written from
    what the store holds) and query answers never differ from what was validated.
    """
    store = ox.Store(str(path))
    store.bulk_extend(quads)
    store.flush()
    stored = list(store)
    store.optimize()
    del store
    changed = set(stored).symmetric_difference(quads)
    if changed:
        example = sorted(str(q) for q in changed)[0]
        raise ReleaseError(f"the store changed {len(changed)} quads on loading (non-canonical "
                           f"literals?), e.g. {example}")
    return stored


class GraphStore(Protocol):
    """What the service needs from a store: SPARQL over the union of the release's graphs.

    ``select`` answers with rdflib terms, so the code above it works on any store.
    """

    def select(self, query: str) -> list[dict[str, Any]]: ...

    def ask(self, query: str) -> bool: ...


class OxigraphStore:
    """A release's embedded store, opened read-only."""

    def __init__(self, path: Path) -> None:
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

    def quads(self) -> Iterator[ox.Quad]:
        return iter(self.store)

    def __len__(self) -> int:
        return len(self.store)
