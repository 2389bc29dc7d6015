"""Dump layer: a release's downloadable files, written from its store (what queries see)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pyoxigraph as ox

from etclod.manifest import Changes
from etclod.formats import DUMP_FORMATS, dump_name
from etclod.namespaces import PREFIXES

ALL_TRIPLES = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
_GRAPH_AT_END = re.compile(rb" <([^<>]*)> \.$", re.MULTILINE)


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


def write_dumps(folder: Path, store: ox.Store, nquads: bytes) -> dict[str, int]:
    """Every dump format, written from the store (``nquads``: its N-Quads, already dumped for
    the on-disk store); return the triple (or quad) count of each."""
    folder.mkdir()
    triples = count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    prefixes = {k: str(v) for k, v in PREFIXES.items()}
    counts: dict[str, int] = {}
    for fmt in DUMP_FORMATS:
        with gzip_writer(folder / dump_name(fmt)) as out:
            if fmt.key == "nq":
                out.write(nquads)
                counts[fmt.key] = len(store)
            elif fmt.key == "nt":
                # every triple sits in exactly one graph: dropping the graph term gives the union
                out.write(_GRAPH_AT_END.sub(b" .", nquads))
                counts[fmt.key] = triples
            else:
                ox.serialize(union_triples(store), out, format=fmt.oxigraph,
                             prefixes=prefixes if fmt.key == "ttl" else None)
                counts[fmt.key] = triples
    return counts


def write_store(path: Path, nquads: bytes) -> None:
    """The release's on-disk Oxigraph store, bulk-loaded from the N-Quads dump's bytes."""
    store = ox.Store(str(path))
    store.bulk_load(nquads, format=ox.RdfFormat.N_QUADS)
    store.flush()
    del store


def _rename_graphs(lines: bytes, prefix: bytes) -> bytes:
    return _GRAPH_AT_END.sub(b" <" + prefix.replace(b"\\", b"\\\\") + rb"\1> .", lines)


def write_changes(path: Path, nquads: bytes, previous: Path | None) -> Changes:
    """``changes.nq.gz``: quads added since the previous release, each in graph
    ``urn:etclod:added:<graph>``, and quads removed, each in ``urn:etclod:removed:<graph>``.

    Both releases' N-Quads come from Oxigraph's canonical writer, so lines compare as bytes.
    """
    dump = previous / "dumps" / "etclod.nq.gz" if previous else None
    new = set(nquads.splitlines())
    new.discard(b"")
    old: set[bytes] = set()
    if dump is not None and dump.is_file():
        with gzip.open(dump, "rb") as handle:
            old = set(handle.read().splitlines())
        old.discard(b"")
    added, removed = sorted(new - old), sorted(old - new)
    with gzip_writer(path) as out:
        if added:
            out.write(_rename_graphs(b"\n".join(added), b"urn:etclod:added:") + b"\n")
        if removed:
            out.write(_rename_graphs(b"\n".join(removed), b"urn:etclod:removed:") + b"\n")
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


def write_linksets(folder: Path, store: ox.Store, base: str, links: Any) -> dict[str, Any]:
    """``dumps/links-<target>.nt.gz`` per linkset; return what the catalogue says of each."""
    from etclod.linkset import TARGETS, linkset_graph

    out: dict[str, Any] = {}
    for key, quads in sorted(links.quads.items()):
        graph = ox.NamedNode(linkset_graph(base, key))
        name = f"links-{key}.nt.gz"
        with gzip_writer(folder / name) as handle:
            store.dump(handle, format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
        predicates = sorted({q.predicate.value for q in store.quads_for_pattern(None, None, None, graph)})
        out[key] = {"graph": graph.value, "dump": f"dumps/{name}", "triples": len(quads),
                    "predicates": predicates, "target": TARGETS[key][1], "title": TARGETS[key][2],
                    "sources": links.sources.get(key, [])}
    return out
