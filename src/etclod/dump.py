"""Dump layer: a release's downloadable files, written from its store (what queries see)."""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyoxigraph as ox

from etclod.manifest import Changes
from etclod.oxtyped import select

GZIP_LEVEL = 2
"""isal's level 2: about ten times as fast as zlib's 6, files about a third larger."""

Digests = dict[str, tuple[str, int]]
"""A file's path -> its sha256 and size, worked out as it was written (never read back)."""


class _Digesting:
    """A binary file that hashes and counts what goes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.sha, self.size = raw, hashlib.sha256(), 0

    def write(self, data: Any) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


@contextmanager
def gzip_writer(path: Path, digests: Digests | None = None) -> Iterator[BinaryIO]:
    """Deterministic gzip (no timestamp, no file name; isal's compressor, one thread): the same
    bytes in, the same bytes out. With ``digests``, the file's sha256 and size go there."""
    from isal import igzip

    # isal ships no annotations; its IGzipFile is gzip.GzipFile's drop-in subclass
    gzip_file = cast("type[gzip.GzipFile]", igzip.IGzipFile)
    with path.open("wb") as raw:
        sink = _Digesting(raw)
        with gzip_file(fileobj=cast(BinaryIO, sink), mode="wb", mtime=0, filename="", compresslevel=GZIP_LEVEL) as gz:
            # a GzipFile is a binary file, though typeshed does not call it typing.BinaryIO
            yield cast(BinaryIO, gz)
    if digests is not None:
        digests[str(path)] = (sink.sha.hexdigest(), sink.size)


def count(store: ox.Store, query: str) -> int:
    return int(next(iter(select(store, query, use_default_graph_as_union=True)))["n"].value)


def write_store(path: Path, nquads: bytes) -> None:
    """The release's on-disk Oxigraph store, bulk-loaded from the N-Quads dump's bytes."""
    store = ox.Store(str(path))
    store.bulk_load(nquads, format=ox.RdfFormat.N_QUADS)
    store.flush()
    # compacted now, beside the dumps: a bulk-loaded store left as it is starts compacting each
    # time it is opened for writing (at 30,000 projects a core and 200 MB written for seconds),
    # which each incremental build does to a hard-link copy of it, and breaks the hard links
    store.optimize()
    del store


def _renamed(lines: list[bytes], prefix: bytes, graphs: Iterable[str] | None = None) -> bytes:
    """The N-Quads lines, each with its graph ``<g>`` written as ``<prefix g>``, as one block
    (one write to the compressor: a write per line cost more than the compression).

    ``graphs``: every graph a line may be in (each line is in one). Where their IRIs share a
    start ``h`` and ``" <h"`` occurs exactly once a line, that occurrence is each line's graph,
    so one ``replace`` of the whole block renames them all (at 30,000 projects 0.3 s instead of
    5-7 s a line at a time); else, or without ``graphs``, line by line.
    """
    if graphs is not None and lines:
        start = b" <" + os.path.commonprefix(sorted(graphs)).encode()
        block = b"\n".join(lines) + b"\n"
        if block.count(start) == len(lines):
            return block.replace(start, b" <" + prefix + start[2:])
    out = []
    for line in lines:
        cut = line.rindex(b" <") + 2
        out.append(line[:cut] + prefix + line[cut:])
    return b"\n".join(out) + b"\n" if out else b""


def write_changes(path: Path, nquads: bytes, previous: Path | None, digests: Digests | None = None,
                  graphs: Iterable[str] | None = None) -> Changes:
    """``changes.nq.gz``: quads added since the previous release, each in graph
    ``urn:etclod:added:<graph>``, and quads removed, each in ``urn:etclod:removed:<graph>``.

    Both releases' N-Quads come from Oxigraph's canonical writer, so lines compare as bytes;
    the previous dump is read a line at a time, never whole. ``graphs``: the named graphs that
    hold every quad of ``nquads`` (``_renamed``), where known.
    """
    from isal import igzip

    dump = previous / "dumps" / "etclod.nq.gz" if previous else None
    lines = nquads.splitlines()
    removed: list[bytes] = []
    if dump is not None and dump.is_file():
        new = set(lines)
        new.discard(b"")
        # isal ships no annotations; igzip.open is gzip.open, faster
        with cast("Callable[[Path, str], gzip.GzipFile]", igzip.open)(dump, "rb") as handle:
            for line in handle:
                line = line.rstrip(b"\n")
                if line and line not in new:
                    removed.append(line)
                else:
                    new.discard(line)  # in both: not a change (what is left of ``new`` was added)
        added = sorted(new)
    else:  # no previous release: every quad is added (the store's dump holds each once)
        added = sorted(line for line in lines if line)
    del lines
    removed.sort()
    with gzip_writer(path, digests) as out:
        out.write(_renamed(added, b"urn:etclod:added:", graphs))
        out.write(_renamed(removed, b"urn:etclod:removed:"))
    return {"added": len(added), "removed": len(removed)}


def statistics(store: ox.Store, base: str, triples: int | None = None,
               subjects: Iterable[bytes] | None = None, nquads: bytes | None = None) -> dict[str, Any]:
    """Counts per class, per named graph and per property, and the entities, by SPARQL
    (``triples``: the union's triple count, where the dumps counted it already; ``subjects``:
    every subject of the store as N-Quads writes it, once each, where the dumps collected them:
    the entities are counted from them, ``entity_count``, instead of a DISTINCT over every quad;
    ``nquads``: the store's N-Quads dump, where the graphs may be counted in it, ``graph_counts``)."""
    def pairs(query: str) -> dict[str, int]:
        return {row["k"].value: int(row["n"].value)
                for row in select(store, query, use_default_graph_as_union=True)}

    graphs = graph_counts(store, nquads) if nquads is not None else None
    return {
        "classes": dict(sorted(pairs("SELECT ?k (COUNT(*) AS ?n) WHERE { ?s a ?k } GROUP BY ?k").items())),
        "graphs": dict(sorted((graphs if graphs is not None else pairs(
            "SELECT ?k (COUNT(*) AS ?n) WHERE { GRAPH ?k { ?s ?p ?o } } GROUP BY ?k")).items())),
        "properties": dict(sorted(pairs("SELECT ?k (COUNT(*) AS ?n) WHERE { ?s ?k ?o } GROUP BY ?k").items())),
        "entities": entity_count(subjects, base) if subjects is not None else count(
            store, f'SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s ?p ?o FILTER(isIRI(?s) && '
                   f'STRSTARTS(STR(?s), "{base}id/") && !CONTAINS(STR(?s), "#")) }}'),
        "triples": triples if triples is not None else count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"),
        "quads": len(store),
    }


GRAPHS_COUNTED_IN_BYTES = 16
"""Up to how many named graphs ``graph_counts`` counts in the dump's bytes (a pass each)."""


def graph_counts(store: ox.Store, nquads: bytes) -> dict[str, int] | None:
    """The quads of each named graph of ``store`` (the ones holding any), counted in its N-Quads
    dump ``nquads``: a quad of graph ``<g>`` is a line ending ``" <g> .\\n"`` (a literal holds
    no raw line feed, an IRI no space or ``<``, so a line of another graph cannot end so; with
    the default graph empty no line without a graph can either). None where that does not
    hold or there are more than ``GRAPHS_COUNTED_IN_BYTES`` graphs (the caller asks SPARQL).

    >>> s = ox.Store(); g = ox.NamedNode("urn:g")
    >>> s.add(ox.Quad(ox.NamedNode("urn:s"), ox.NamedNode("urn:p"), ox.Literal("a <urn:g> .\\n"), g))
    >>> graph_counts(s, s.dump(format=ox.RdfFormat.N_QUADS))
    {'urn:g': 1}
    """
    graphs: list[str] = []
    for graph in store.named_graphs():
        if not isinstance(graph, ox.NamedNode) or len(graphs) >= GRAPHS_COUNTED_IN_BYTES:
            return None
        graphs.append(graph.value)
    if next(iter(store.quads_for_pattern(None, None, None, ox.DefaultGraph())), None) is not None:
        return None
    counts = {g: nquads.count(b" <" + g.encode() + b"> .\n") for g in graphs}
    return {g: n for g, n in counts.items() if n} if sum(counts.values()) == len(store) else None


def entity_count(subjects: Iterable[bytes], base: str) -> int:
    """How many of ``subjects`` (distinct N-Quads subject terms) are entities: IRIs under
    ``{base}id/`` without a fragment (what ``statistics``' SPARQL counts).

    >>> entity_count([b"<http://x/id/a>", b"<http://x/id/a#p>", b"_:b", b"<http://x/def#C>"], "http://x/")
    1
    """
    start = b"<" + f"{base}id/".encode()
    return sum(1 for s in subjects if s.startswith(start) and b"#" not in s)


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
