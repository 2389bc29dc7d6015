"""Dump layer: a release's downloadable files, written from its store (what queries see)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pyoxigraph as ox

from etclod.formats import DUMP_FORMATS, dump_name
from etclod.namespaces import PREFIXES

ALL_TRIPLES = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


@contextmanager
def gzip_writer(path: Path) -> Iterator[BinaryIO]:
    """Deterministic gzip (no timestamp, no file name): the same bytes in, the same bytes out."""
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="",
                                               compresslevel=6) as gz:
        yield gz  # type: ignore[misc]


def union_triples(store: ox.Store) -> Any:
    """Every triple of the union default graph, in the store's (deterministic) order."""
    return store.query(ALL_TRIPLES, use_default_graph_as_union=True)


def count(store: ox.Store, query: str) -> int:
    return int(next(iter(store.query(query, use_default_graph_as_union=True)))["n"].value)


def write_dumps(folder: Path, store: ox.Store) -> dict[str, int]:
    """Every dump format, streamed from the store; return the triple (or quad) count of each."""
    folder.mkdir()
    triples = count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    prefixes = {k: str(v) for k, v in PREFIXES.items()}
    counts: dict[str, int] = {}
    for fmt in DUMP_FORMATS:
        with gzip_writer(folder / dump_name(fmt)) as out:
            if fmt.key == "nq":
                store.dump(out, format=ox.RdfFormat.N_QUADS)
                counts[fmt.key] = len(store)
            else:
                ox.serialize(union_triples(store), out, format=fmt.oxigraph,
                             prefixes=prefixes if fmt.key == "ttl" else None)
                counts[fmt.key] = triples
    return counts


def _quad_key(q: ox.Quad) -> tuple[str, str, str, str]:
    return (str(q.subject), str(q.predicate), str(q.object), q.graph_name.value)


def write_changes(path: Path, store: ox.Store, previous: Path | None) -> dict[str, int]:
    """``changes.nq.gz``: quads added since the previous release, each in graph
    ``urn:etclod:added:<graph>``, and quads removed, each in ``urn:etclod:removed:<graph>``."""
    dump = previous / "dumps" / "etclod.nq.gz" if previous else None
    if dump is None or not dump.is_file():
        with gzip_writer(path) as out:
            for q in store:
                out.write(f"{q.subject} {q.predicate} {q.object} <urn:etclod:added:{q.graph_name.value}> .\n"
                          .encode("utf-8"))
        return {"added": len(store), "removed": 0}
    new = {_quad_key(q) for q in store}
    with gzip.open(dump, "rb") as handle:
        old = {_quad_key(q) for q in ox.parse(handle, format=ox.RdfFormat.N_QUADS)}
    added, removed = sorted(new - old), sorted(old - new)
    with gzip_writer(path) as out:
        for s, p, o, g in added:
            out.write(f"{s} {p} {o} <urn:etclod:added:{g}> .\n".encode("utf-8"))
        for s, p, o, g in removed:
            out.write(f"{s} {p} {o} <urn:etclod:removed:{g}> .\n".encode("utf-8"))
    return {"added": len(added), "removed": len(removed)}


def statistics(store: ox.Store, base: str) -> dict[str, Any]:
    """Counts per class, per named graph and per property, and the entities, by SPARQL."""
    def pairs(query: str) -> dict[str, int]:
        return {row["k"].value: int(row["n"].value)
                for row in store.query(query, use_default_graph_as_union=True)}

    return {
        "classes": dict(sorted(pairs("SELECT ?k (COUNT(*) AS ?n) WHERE { ?s a ?k } GROUP BY ?k").items())),
        "graphs": dict(sorted(pairs("SELECT ?k (COUNT(*) AS ?n) WHERE { GRAPH ?k { ?s ?p ?o } } GROUP BY ?k").items())),
        "properties": dict(sorted(pairs("SELECT ?k (COUNT(*) AS ?n) WHERE { ?s ?k ?o } GROUP BY ?k").items())),
        "entities": count(store, f'SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s ?p ?o FILTER(isIRI(?s) && '
                                 f'STRSTARTS(STR(?s), "{base}id/") && !CONTAINS(STR(?s), "#")) }}'),
        "triples": count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"),
        "quads": len(store),
    }
