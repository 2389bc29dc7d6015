"""Store layer: the GraphStore protocol and its embedded Oxigraph implementation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

from etclod.errors import ReleaseError

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


class GraphStore(Protocol):
    """What the service needs from a store: SPARQL over the union of the release's graphs.

    ``select`` answers with rdflib terms, so the code above it works on any store: the
    embedded :class:`OxigraphStore` here, or ``remote.RemoteView`` (one release's graphs on a
    SPARQL server). ``/sparql`` itself runs in query workers (embedded) or on the server
    (``proxy``), under the same limits.
    """

    def select(self, query: str) -> list[dict[str, Any]]: ...


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

    def __len__(self) -> int:
        return len(self.store)
