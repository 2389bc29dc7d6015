"""Dump layer: a release's downloadable files, written from its store (what queries see)."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyoxigraph as ox

from etclod.forking import worker_pool
from etclod.formats import DUMP_FORMATS, dump_name
from etclod.manifest import Changes
from etclod.namespaces import PREFIXES
from etclod.oxtyped import select, serialized

ALL_TRIPLES = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


GZIP_LEVEL = 2
"""isal's level 2: about ten times as fast as zlib's 6, files about a third larger."""

PARALLEL_FROM = 100_000
"""Triples from which Turtle and JSON-LD are written in worker processes, beside the rest."""

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


def union_triples(store: ox.Store) -> Any:
    """Every triple of the union default graph, in the store's (deterministic) order."""
    return store.query(ALL_TRIPLES, use_default_graph_as_union=True)


def count(store: ox.Store, query: str) -> int:
    return int(next(iter(select(store, query, use_default_graph_as_union=True)))["n"].value)


def union_ntriples(store: ox.Store) -> bytes:
    """The union default graph as N-Triples: each named graph dumped in turn (every triple sits
    in exactly one graph, so that is the union), graphs in IRI order."""
    graphs = sorted(store.named_graphs(), key=lambda g: g.value)
    return b"".join(serialized(store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=g)) for g in graphs)


def _serialize_dump(key: str, ntriples: str, target: str) -> tuple[str, int]:
    """In a worker process: one dump written from the N-Triples dump's file; its sha256 and size."""
    from isal import igzip

    from etclod.formats import by_key

    fmt = by_key(key)
    assert fmt is not None
    with open(ntriples, "rb") as handle:
        # isal ships no annotations; igzip.decompress is gzip.decompress, faster
        data = cast("Callable[[bytes], bytes]", igzip.decompress)(handle.read())
    digests: Digests = {}
    prefixes = {k: str(v) for k, v in PREFIXES.items()}
    with gzip_writer(Path(target), digests) as out:
        ox.serialize(ox.parse(data, format=ox.RdfFormat.N_TRIPLES), out, format=fmt.oxigraph,
                     prefixes=prefixes if fmt.key == "ttl" else None)
    return digests[target]


class PendingDumps:
    """The dumps being written: N-Quads and N-Triples here, the others in worker processes
    (Turtle and JSON-LD are each a full serialisation) while the caller goes on."""

    def __init__(self, folder: Path, store: ox.Store, nquads: bytes, digests: Digests) -> None:
        folder.mkdir()
        self.digests = digests
        with gzip_writer(folder / "etclod.nq.gz", digests) as out:
            out.write(nquads)
        ntriples = union_ntriples(store)
        self.triples = ntriples.count(b"\n")
        self.quads = len(store)
        nt_path = folder / "etclod.nt.gz"
        with gzip_writer(nt_path, digests) as out:
            out.write(ntriples)
        del ntriples
        others = [fmt for fmt in DUMP_FORMATS if fmt.key not in ("nq", "nt")]
        self.pool: ProcessPoolExecutor | None = None
        self.futures: dict[str, Any] = {}
        if self.triples < PARALLEL_FROM:  # starting the workers would cost more than it saves
            for fmt in others:
                path = str(folder / dump_name(fmt))
                digests[path] = _serialize_dump(fmt.key, str(nt_path), path)
            return
        self.pool = worker_pool(len(others))
        self.futures = {str(folder / dump_name(fmt)): self.pool.submit(_serialize_dump, fmt.key, str(nt_path),
                                                                       str(folder / dump_name(fmt)))
                        for fmt in others}

    def wait(self) -> dict[str, int]:
        """Wait for every dump; the triple (or quad) count of each format."""
        try:
            for path, future in self.futures.items():
                self.digests[path] = future.result()
        finally:
            self.close()
        return {fmt.key: self.quads if fmt.key == "nq" else self.triples for fmt in DUMP_FORMATS}

    def close(self) -> None:
        """Stop the workers (waiting for those running: the folder may be removed next)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def write_dumps(folder: Path, store: ox.Store, nquads: bytes, digests: Digests | None = None) -> dict[str, int]:
    """Every dump format, written from the store (``nquads``: its N-Quads, already dumped for
    the on-disk store); return the triple (or quad) count of each."""
    return PendingDumps(folder, store, nquads, {} if digests is None else digests).wait()


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


def _renamed(lines: list[bytes], prefix: bytes) -> bytes:
    """The N-Quads lines, each with its graph ``<g>`` written as ``<prefix g>``, as one block
    (one write to the compressor: a write per line cost more than the compression)."""
    out = []
    for line in lines:
        cut = line.rindex(b" <") + 2
        out.append(line[:cut] + prefix + line[cut:])
    return b"\n".join(out) + b"\n" if out else b""


def write_changes(path: Path, nquads: bytes, previous: Path | None, digests: Digests | None = None) -> Changes:
    """``changes.nq.gz``: quads added since the previous release, each in graph
    ``urn:etclod:added:<graph>``, and quads removed, each in ``urn:etclod:removed:<graph>``.

    Both releases' N-Quads come from Oxigraph's canonical writer, so lines compare as bytes;
    the previous dump is read a line at a time, never whole.
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
        out.write(_renamed(added, b"urn:etclod:added:"))
        out.write(_renamed(removed, b"urn:etclod:removed:"))
    return {"added": len(added), "removed": len(removed)}


def statistics(store: ox.Store, base: str, triples: int | None = None) -> dict[str, Any]:
    """Counts per class, per named graph and per property, and the entities, by SPARQL
    (``triples``: the union's triple count, where the dumps counted it already)."""
    def pairs(query: str) -> dict[str, int]:
        return {row["k"].value: int(row["n"].value)
                for row in select(store, query, use_default_graph_as_union=True)}

    return {
        "classes": dict(sorted(pairs("SELECT ?k (COUNT(*) AS ?n) WHERE { ?s a ?k } GROUP BY ?k").items())),
        "graphs": dict(sorted(pairs("SELECT ?k (COUNT(*) AS ?n) WHERE { GRAPH ?k { ?s ?p ?o } } GROUP BY ?k").items())),
        "properties": dict(sorted(pairs("SELECT ?k (COUNT(*) AS ?n) WHERE { ?s ?k ?o } GROUP BY ?k").items())),
        "entities": count(store, f'SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s ?p ?o FILTER(isIRI(?s) && '
                                 f'STRSTARTS(STR(?s), "{base}id/") && !CONTAINS(STR(?s), "#")) }}'),
        "triples": triples if triples is not None else count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"),
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
