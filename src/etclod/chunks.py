"""Chunked dumps: each dump a multi-member gzip file (one valid gzip stream), a member per
chunk of records, so a delta release copies the chunks a change does not touch as bytes.

A quad goes to the chunk of its subject's record (the subject IRI before any ``#``, hashed):
a record's quads, its parts' too, are in one chunk. N-Quads and N-Triples members hold lines;
a Turtle member is a Turtle document of its own (with the prefixes: Turtle allows them again);
JSON-LD members hold a chunk's node objects between one ``[`` and one ``]`` member, with ``,``
members between chunks. Where each chunk's member starts and ends is kept in the release's
``build-state/dumps.json``. Within a chunk, lines are in the store's order (a full build) or
with the delta at the end (a delta release): the same set of lines either way.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyoxigraph as ox

from etclod.formats import DUMP_FORMATS, dump_name

CHUNKS = 256
INDEX = "dumps.json"
PARALLEL_FROM = 100_000
"""Triples from which Turtle and JSON-LD are written in worker processes, beside the rest."""
GZIP_LEVEL = 2
Index = list[tuple[int, int]]
"""Per chunk: the offset and length of its member (0, 0: an empty chunk)."""


def compress(data: bytes) -> bytes:
    """One deterministic gzip member (no time, no name): the same bytes in, the same out."""
    from isal import igzip

    return cast("Callable[..., bytes]", igzip.compress)(data, compresslevel=GZIP_LEVEL, mtime=0)


def decompress(data: bytes) -> bytes:
    from isal import igzip

    return cast("Callable[[bytes], bytes]", igzip.decompress)(data)


def chunk_of(line: bytes) -> int:
    """The chunk of an N-Quads or N-Triples line: of its subject's record."""
    subject = line[:line.index(b" ")]
    return zlib.crc32(subject.strip(b"<>").split(b"#", 1)[0]) % CHUNKS


def to_ntriples(line: bytes) -> bytes:
    """An N-Quads line of a named graph as the N-Triples line of its triple."""
    return line[:line.rindex(b" <")] + b" ."


def _joined(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n" if lines else b""


def _prefixes() -> dict[str, str]:
    from etclod.namespaces import PREFIXES

    return {k: str(v) for k, v in PREFIXES.items()}


def serialize_chunk(key: str, ntriples: bytes) -> bytes:
    """A chunk's N-Triples as the text of its member in the ``key`` dump."""
    if key in ("nq", "nt") or not ntriples:
        return ntriples
    fmt = ox.RdfFormat.TURTLE if key == "ttl" else ox.RdfFormat.JSON_LD
    text = ox.serialize(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES), format=fmt,
                        prefixes=_prefixes() if key == "ttl" else None) or b""
    if key == "jsonld":  # the node objects, without the array's brackets
        text = text.strip()[1:-1].strip()
    return text


class _Writer:
    """A dump file written member by member, hashed and indexed as it goes."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self.handle: BinaryIO = path.open("wb")
        self.sha, self.size, self.written = hashlib.sha256(), 0, 0
        self.index: Index = []

    def _raw(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha.update(data)
        self.size += len(data)

    def member(self, compressed: bytes) -> None:
        """A chunk's member (empty bytes: an empty chunk)."""
        if compressed and self.key == "jsonld":
            self._raw(_SEPARATOR[self.written == 0])
        start = self.size
        self._raw(compressed)
        self.index.append((start, len(compressed)) if compressed else (0, 0))
        self.written += bool(compressed)

    def close(self) -> tuple[str, int]:
        if self.key == "jsonld":
            self._raw(compress(b"]") if self.written else compress(b"[]"))
        self.handle.close()
        return self.sha.hexdigest(), self.size


_SEPARATOR = {True: compress(b"["), False: compress(b",")}


def _write_format(key: str, target: str, chunks: Iterable[bytes]) -> tuple[str, int, Index]:
    """One dump from each chunk's N-Triples; its sha256, size and member index."""
    writer = _Writer(Path(target), key)
    for ntriples in chunks:
        text = serialize_chunk(key, ntriples)
        writer.member(compress(text) if text else b"")
    sha, size = writer.close()
    return sha, size, writer.index


def _from_nt_file(key: str, nt_path: str, index: Index, target: str) -> tuple[str, int, Index]:
    """In a worker process: one dump from the chunked N-Triples dump's file."""
    data = Path(nt_path).read_bytes()
    return _write_format(key, target, (decompress(data[o:o + n]) if n else b"" for o, n in index))


class ChunkedDumps:
    """The dumps being written (``dump.PendingDumps``' interface): N-Quads and N-Triples here,
    Turtle and JSON-LD in worker processes while the caller goes on."""

    def __init__(self, folder: Path, store: ox.Store, nquads: bytes, digests: dict[str, tuple[str, int]]) -> None:
        folder.mkdir()
        self.folder, self.digests = folder, digests
        buckets: list[list[bytes]] = [[] for _ in range(CHUNKS)]
        for line in nquads.splitlines():
            if line:
                buckets[chunk_of(line)].append(line)
        self.quads = sum(len(b) for b in buckets)
        self.triples = self.quads  # every quad is in a named graph, each triple in one of them
        self.index: dict[str, Index] = {}
        self._write("nq", (_joined(b) for b in buckets))
        nts = [_joined([to_ntriples(line) for line in b]) for b in buckets]
        del buckets
        self._write("nt", iter(nts))
        self.pool: ProcessPoolExecutor | None = None
        self.futures: dict[str, Any] = {}
        others = [fmt.key for fmt in DUMP_FORMATS if fmt.key not in ("nq", "nt")]
        if self.triples < PARALLEL_FROM:
            for key in others:
                self._write(key, iter(nts))
            return
        nt_path = str(folder / _name("nt"))
        self.pool = ProcessPoolExecutor(len(others), mp_context=mp.get_context("spawn"))
        self.futures = {key: self.pool.submit(_from_nt_file, key, nt_path, self.index["nt"], str(folder / _name(key)))
                        for key in others}

    def _write(self, key: str, chunks: Iterable[bytes]) -> None:
        path = self.folder / _name(key)
        sha, size, self.index[key] = _write_format(key, str(path), chunks)
        self.digests[str(path)] = (sha, size)

    def wait(self) -> dict[str, int]:
        """Wait for every dump; the triple (or quad) count of each format. The member index
        goes to ``build-state/dumps.json`` beside the dumps' folder."""
        try:
            for key, future in self.futures.items():
                sha, size, self.index[key] = future.result()
                self.digests[str(self.folder / _name(key))] = (sha, size)
        finally:
            self.close()
        save_index(self.folder.parent, self.index)
        return {fmt.key: self.quads if fmt.key == "nq" else self.triples for fmt in DUMP_FORMATS}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _name(key: str) -> str:
    return dump_name(next(fmt for fmt in DUMP_FORMATS if fmt.key == key))


def save_index(release: Path, index: dict[str, Index]) -> None:
    from etclod.incremental import STATE_DIR

    (release / STATE_DIR).mkdir(exist_ok=True)
    (release / STATE_DIR / INDEX).write_text(json.dumps({"chunks": CHUNKS, "formats": index}), "utf-8")


def read_index(release: Path) -> dict[str, Index] | None:
    from etclod.incremental import STATE_DIR

    try:
        found = json.loads((release / STATE_DIR / INDEX).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if found.get("chunks") != CHUNKS:
        return None
    return {k: [(int(m[0]), int(m[1])) for m in v] for k, v in found["formats"].items()}


def patch_dumps(previous: Path, folder: Path, index: dict[str, Index], added: list[bytes], removed: list[bytes],
                digests: dict[str, tuple[str, int]]) -> None:
    """The dumps of a delta release: the previous release's chunks, the touched ones made
    again from their lines with ``removed`` taken out and ``added`` put in (N-Quads lines)."""
    folder.mkdir()
    touched: dict[int, tuple[set[bytes], list[bytes]]] = {}
    for line in removed:
        touched.setdefault(chunk_of(line), (set(), []))[0].add(line)
    for line in added:
        touched.setdefault(chunk_of(line), (set(), []))[1].append(line)
    old_nq = (previous / "dumps" / _name("nq")).read_bytes()
    fresh: dict[int, bytes] = {}  # chunk -> its new N-Quads lines
    for c, (minus, plus) in touched.items():
        offset, length = index["nq"][c]
        lines = decompress(old_nq[offset:offset + length]).splitlines() if length else []
        fresh[c] = _joined([line for line in lines if line and line not in minus] + plus)
    del old_nq
    new_index: dict[str, Index] = {}
    for fmt in DUMP_FORMATS:
        key = fmt.key
        old = (previous / "dumps" / _name(key)).read_bytes()
        writer = _Writer(folder / _name(key), key)
        for c, (offset, length) in enumerate(index[key]):
            if c in fresh:
                nq = fresh[c]
                text = nq if key == "nq" else serialize_chunk(
                    key, _joined([to_ntriples(line) for line in nq.splitlines() if line]))
                writer.member(compress(text) if text else b"")
            else:
                writer.member(old[offset:offset + length])
        digests[str(folder / _name(key))] = writer.close()
        new_index[key] = writer.index
    save_index(folder.parent, new_index)
