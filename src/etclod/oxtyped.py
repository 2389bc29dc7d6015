"""Typed access to pyoxigraph's answers: ``Store.query()`` returns a union of solutions, a
boolean and triples, and ``serialize()`` returns ``bytes | None``; these narrow them once, and
raise a TypeError naming the query where the old code would have failed on a missing attribute.

Layer 2 (beside ``formats.py``), so every layer that queries a pyoxigraph store can use it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef


def _form(query: str) -> str:
    return " ".join(query.split())[:120]


def select(store: ox.Store, query: str, **options: Any) -> ox.QuerySolutions:
    """``store.query`` of a SELECT query, typed: its solutions, else a TypeError naming the query.

    >>> [row["n"].value for row in select(ox.Store(), "SELECT (1 AS ?n) {}")]
    ['1']
    """
    result = store.query(query, **options)
    if not isinstance(result, ox.QuerySolutions):
        raise TypeError(f"expected solutions of a SELECT query, got {type(result).__name__}: {_form(query)}")
    return result


def construct(store: ox.Store, query: str, **options: Any) -> ox.QueryTriples:
    """``store.query`` of a CONSTRUCT or DESCRIBE query, typed: its triples, else a TypeError."""
    result = store.query(query, **options)
    if not isinstance(result, ox.QueryTriples):
        raise TypeError(f"expected triples of a CONSTRUCT query, got {type(result).__name__}: {_form(query)}")
    return result


def ask(store: ox.Store, query: str, **options: Any) -> bool:
    """``store.query`` of an ASK query, typed: its answer, else a TypeError."""
    result = store.query(query, **options)
    if not isinstance(result, ox.QueryBoolean):
        raise TypeError(f"expected the boolean of an ASK query, got {type(result).__name__}: {_form(query)}")
    return bool(result)


def serialized(data: bytes | None) -> bytes:
    """What a pyoxigraph ``serialize()`` without an output returns: bytes (None only when it was
    given a file to write to)."""
    if data is None:
        raise TypeError("serialize() wrote to a file where bytes were expected")
    return data


def value(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> str:
    """A term's ``.value`` (IRI, blank node id or lexical form); a TypeError for an RDF-star
    triple term, which has none.

    >>> value(ox.NamedNode("http://example.org/a")), value(ox.Literal("1"))
    ('http://example.org/a', '1')
    """
    if isinstance(term, ox.Triple):
        raise TypeError(f"expected an IRI, blank node or literal, got the triple term {term}")
    return term.value


# ------------------------------------------------------------------ terms: rdflib <-> Oxigraph
# The mapping makes Oxigraph terms directly; rdflib terms are made only at the edges (the
# catalogue, the pyshacl reference validator, the validation report, resource pages).

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


@lru_cache(maxsize=1 << 16)
def named(iri: str) -> ox.NamedNode:
    """An IRI as a pyoxigraph NamedNode (memoised: predicates and classes repeat)."""
    return ox.NamedNode(iri)


def to_ox(term: Any) -> Any:
    """An rdflib term as a pyoxigraph term; a pyoxigraph term is returned as it is.

    >>> to_ox(URIRef("http://example.org/a")) == to_ox(ox.NamedNode("http://example.org/a"))
    True
    """
    if isinstance(term, URIRef):
        return named(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=named(str(term.datatype or _XSD_STRING)))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, (ox.NamedNode, ox.Literal, ox.BlankNode)):
        return term
    raise TypeError(f"cannot store {term!r}")


@lru_cache(maxsize=8192)
def _uri(value: str) -> URIRef:
    return URIRef(value)


@lru_cache(maxsize=8192)
def _literal(value: str, language: str | None, datatype: str) -> Literal:
    if language:
        return Literal(value, lang=language)
    return Literal(value, datatype=None if datatype == _XSD_STRING else _uri(datatype))


def from_ox(term: Any) -> Any:
    """A pyoxigraph term as an rdflib term (memoised: rdflib's constructors check and cast,
    and a description reads the same IRIs and labels again and again); an rdflib term is
    returned as it is."""
    if isinstance(term, ox.NamedNode):
        return _uri(term.value)
    if isinstance(term, ox.Literal):
        return _literal(term.value, term.language, term.datatype.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, (URIRef, Literal, BNode)):
        return term
    raise TypeError(f"unexpected term {term!r}")
