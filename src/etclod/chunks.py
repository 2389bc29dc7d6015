"""Chunked dumps: each dump one gzip member made of independent deflate segments, a segment
per chunk of records, so a delta release copies the segments a change does not touch as bytes.

A quad goes to the chunk of its subject's record (the subject IRI before any ``#``, hashed):
a record's quads, its parts' too, are in one chunk. Each chunk is compressed on its own as raw
deflate ending in a full flush (no shared dictionary, byte-aligned), so segments can be put
side by side; the file is the gzip header, the segments, a final empty block and the trailer,
whose CRC-32 is combined from the segments' (``crc32_combine``). It is one ordinary gzip member:
every reader, HTTP clients with ``Content-Encoding: gzip`` too, reads it whole (several members
would be valid gzip, but curl and httpx stop after the first). N-Quads and N-Triples segments
hold lines; a Turtle segment is a Turtle document of its own (with the prefixes: Turtle allows
them again); JSON-LD segments hold a chunk's node objects, between ``[``, ``,`` and ``]``
segments. Where each chunk's segment lies, its CRC-32 and size are kept in the release's
``build-state/dumps.json``. Within a chunk lines are in the store's order (a full build) or with
the delta at the end (a delta release): the same set of lines either way.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import pyoxigraph as ox

from etclod.forking import worker_pool
from etclod.formats import DUMP_FORMATS, dump_name

CHUNKS = 256
INDEX = "dumps.json"
LAYOUT = "segments-1"
PARALLEL_FROM = 100_000
"""Triples from which Turtle and JSON-LD are written in worker processes, beside the rest."""
GZIP_LEVEL = 2
Index = list[tuple[int, int, int, int]]
"""Per chunk: the offset and length of its segment, the CRC-32 and size of its text (all 0: an
empty chunk)."""


def segment(data: bytes) -> bytes:
    """``data`` as raw deflate ending in a full flush: independent of what comes before or after."""
    from isal import isal_zlib

    packer = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -15)
    packed: bytes = packer.compress(data) + packer.flush(isal_zlib.Z_FULL_FLUSH)
    return packed


def unsegment(data: bytes) -> bytes:
    return zlib.decompressobj(-15).decompress(data)


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)`` (isal's, in C).

    >>> a, b = b"hello ", b"world"
    >>> crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
    True
    """
    from isal import isal_zlib

    return int(isal_zlib.crc32_combine(crc1, crc2, length2))


HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""A gzip header with no time and no name (deflate, unknown OS)."""
FINAL = b"\x03\x00"
"""An empty final deflate block."""


def chunk_of(line: bytes) -> int:
    """The chunk of an N-Quads or N-Triples line: of its subject's record."""
    subject = line[:line.index(b" ")]
    return zlib.crc32(subject.strip(b"<>").split(b"#", 1)[0]) % CHUNKS


def to_ntriples(line: bytes) -> bytes:
    """An N-Quads line of a named graph as the N-Triples line of its triple."""
    return line[:line.rindex(b" <")] + b" ."


def bucketed(nquads: bytes) -> tuple[list[list[bytes]], list[bytes]]:
    """The N-Quads lines of ``nquads`` by chunk (``chunk_of``), in their order, and every
    subject once (as written: ``statistics`` counts the entities from them). A record's lines
    come one after another, so a subject's chunk is worked out once, not per line."""
    buckets: list[list[bytes]] = [[] for _ in range(CHUNKS)]
    seen: dict[bytes, list[bytes]] = {}
    for line in nquads.splitlines():
        if line:
            subject = line[:line.index(b" ")]
            bucket = seen.get(subject)
            if bucket is None:
                bucket = seen[subject] = buckets[chunk_of(line)]
            bucket.append(line)
    return buckets, list(seen)


def ntriples_of(lines: list[bytes]) -> bytes:
    """N-Quads lines of named graphs as the N-Triples block of their triples (``to_ntriples``
    of each, joined)."""
    return b" .\n".join([line[:line.rindex(b" <")] for line in lines]) + b" .\n" if lines else b""


def block_ntriples(block: bytes) -> bytes:
    """A block of whole N-Quads lines as N-Triples (``ntriples_of``)."""
    return ntriples_of([line for line in block.splitlines() if line])


def _joined(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n" if lines else b""


def _prefixes() -> dict[str, str]:
    from etclod.namespaces import PREFIXES

    return {k: str(v) for k, v in PREFIXES.items()}


def serialize_chunk(key: str, ntriples: bytes) -> bytes:
    """A chunk's N-Triples as the text of its member in the ``key`` dump.

    The N-Triples are Oxigraph's own output (the release's dump, or lines of it), so they are
    parsed ``lenient``: without checking each IRI and language tag again, 40 % less time, the
    same triples (checked: tests/test_dump.py)."""
    if key in ("nq", "nt") or not ntriples:
        return ntriples
    fmt = ox.RdfFormat.TURTLE if key == "ttl" else ox.RdfFormat.JSON_LD
    text = ox.serialize(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES, lenient=True), format=fmt,
                        prefixes=_prefixes() if key == "ttl" else None) or b""
    if key == "jsonld":  # the node objects, without the array's brackets
        text = text.strip()[1:-1].strip()
    return text


class _Writer:
    """A dump file written segment by segment, hashed and indexed as it goes."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self.handle: BinaryIO = path.open("wb")
        self.sha, self.size, self.written, self.crc, self.length = hashlib.sha256(), 0, 0, 0, 0
        self.index: Index = []
        self._raw(HEADER)

    def _raw(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha.update(data)
        self.size += len(data)

    def _segment(self, packed: bytes, crc: int, length: int) -> None:
        self._raw(packed)
        self.crc = crc32_combine(self.crc, crc, length)
        self.length += length

    def text(self, text: bytes) -> None:
        """A chunk's text (empty: an empty chunk)."""
        if text:
            self.member(segment(text), zlib.crc32(text), len(text))
        else:
            self.index.append((0, 0, 0, 0))

    def member(self, packed: bytes, crc: int, length: int) -> None:
        """A chunk's segment as it is (copied from another release), with its text's CRC-32 and size."""
        if not length:
            self.index.append((0, 0, 0, 0))
            return
        if self.key == "jsonld":
            mark = b"," if self.written else b"["
            self._segment(segment(mark), zlib.crc32(mark), 1)
        start = self.size
        self._segment(packed, crc, length)
        self.index.append((start, len(packed), crc, length))
        self.written += 1

    def close(self) -> tuple[str, int]:
        if self.key == "jsonld":
            end = b"]" if self.written else b"[]"
            self._segment(segment(end), zlib.crc32(end), len(end))
        self._raw(FINAL + struct.pack("<II", self.crc, self.length & 0xFFFFFFFF))
        self.handle.close()
        return self.sha.hexdigest(), self.size


def _write_format(key: str, target: str, chunks: Iterable[bytes]) -> tuple[str, int, Index]:
    """One dump from each chunk's N-Triples; its sha256, size and member index."""
    writer = _Writer(Path(target), key)
    for ntriples in chunks:
        writer.text(serialize_chunk(key, ntriples))
    sha, size = writer.close()
    return sha, size, writer.index


def _from_nt_file(key: str, nt_path: str, index: Index, target: str) -> tuple[str, int, Index]:
    """In a worker process: one dump from the chunked N-Triples dump's file."""
    data = Path(nt_path).read_bytes()
    return _write_format(key, target, (unsegment(data[o:o + n]) if n else b"" for o, n, _c, _s in index))


class ChunkedDumps:
    """The dumps being written: N-Quads and N-Triples here,
    Turtle and JSON-LD in worker processes while the caller goes on."""

    def __init__(self, folder: Path, store: ox.Store, nquads: bytes, digests: dict[str, tuple[str, int]]) -> None:
        folder.mkdir()
        self.folder, self.digests = folder, digests
        buckets, self.subjects = bucketed(nquads)
        self.quads = sum(len(b) for b in buckets)
        self.triples = self.quads  # every quad is in a named graph, each triple in one of them
        self.index: dict[str, Index] = {}
        self._write("nq", (_joined(b) for b in buckets))
        nts = [ntriples_of(b) for b in buckets]
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
        self.pool = worker_pool(len(others))
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
    (release / STATE_DIR / INDEX).write_text(json.dumps({"chunks": CHUNKS, "layout": LAYOUT, "formats": index}), "utf-8")


def read_index(release: Path) -> dict[str, Index] | None:
    from etclod.incremental import STATE_DIR

    try:
        found = json.loads((release / STATE_DIR / INDEX).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if found.get("chunks") != CHUNKS or found.get("layout") != LAYOUT:
        return None
    return {k: [(int(m[0]), int(m[1]), int(m[2]), int(m[3])) for m in v] for k, v in found["formats"].items()}


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
        offset, length, _crc, _size = index["nq"][c]
        lines = unsegment(old_nq[offset:offset + length]).splitlines() if length else []
        fresh[c] = _joined([line for line in lines if line and line not in minus] + plus)
    del old_nq
    new_index: dict[str, Index] = {}
    for fmt in DUMP_FORMATS:
        key = fmt.key
        old = (previous / "dumps" / _name(key)).read_bytes()
        writer = _Writer(folder / _name(key), key)
        for c, (offset, length, crc, size) in enumerate(index[key]):
            if c in fresh:
                nq = fresh[c]
                writer.text(nq if key == "nq" else serialize_chunk(
                    key, block_ntriples(nq)))
            else:
                writer.member(old[offset:offset + length], crc, size)
        digests[str(folder / _name(key))] = writer.close()
        new_index[key] = writer.index
    save_index(folder.parent, new_index)


# ------------------------------------------------------------------ the reconciliation index

JSON_INDEX = "reconcile.json"
JSON_LAYOUT = "entities-1"
PER_SEGMENT = 1000
"""Entities per segment of the reconciliation index a full build writes (a patched segment
is split again past twice that)."""
JsonIndex = list[tuple[str, int, int, int, int, int]]
"""Per segment of a JSON array of entities sorted by id: its first id, entity count, offset,
length, and its text's CRC-32 and size."""


def _entity_text(entities: list[dict[str, Any]]) -> bytes:
    return b",".join(json.dumps(e, ensure_ascii=False, sort_keys=True).encode("utf-8") for e in entities)


def write_entities(entities: list[dict[str, Any]], path: Path, release: Path | None,
                   digests: dict[str, tuple[str, int]] | None = None) -> int:
    """A JSON array of ``entities`` (sorted by id) as one gzip member of segments, a segment per
    ``PER_SEGMENT`` entities; where each lies goes to ``release``'s ``build-state`` (if given)."""
    writer = _Writer(path, "jsonld")  # the same marks: "[" "," "]" as segments of their own
    index: JsonIndex = []
    for start in range(0, len(entities), PER_SEGMENT):
        _entity_segment(writer, entities[start:start + PER_SEGMENT], index)
    sha_size = writer.close()
    if digests is not None:
        digests[str(path)] = sha_size
    if release is not None:
        _save_json_index(release, index)
    return len(entities)


def _entity_segment(writer: _Writer, group: list[dict[str, Any]], index: JsonIndex) -> None:
    if not group:
        return
    text = _entity_text(group)
    writer.text(text)
    offset, length, crc, size = writer.index[-1]
    index.append((group[0]["id"], len(group), offset, length, crc, size))


def _save_json_index(release: Path, index: JsonIndex) -> None:
    from etclod.incremental import STATE_DIR

    (release / STATE_DIR).mkdir(exist_ok=True)
    (release / STATE_DIR / JSON_INDEX).write_text(json.dumps({"layout": JSON_LAYOUT, "segments": index}), "utf-8")


def read_json_index(release: Path) -> JsonIndex | None:
    """Where the segments of ``release``'s reconciliation index lie (None: written in one piece)."""
    from etclod.incremental import STATE_DIR

    try:
        found = json.loads((release / STATE_DIR / JSON_INDEX).read_text("utf-8"))
        if found.get("layout") != JSON_LAYOUT:
            return None
        return [(str(s[0]), int(s[1]), int(s[2]), int(s[3]), int(s[4]), int(s[5])) for s in found["segments"]]
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return None


def patch_entities(old: Path, index: JsonIndex, target: Path, release: Path, ids: set[str],
                   fresh: list[dict[str, Any]], digests: dict[str, tuple[str, int]] | None = None) -> int:
    """The reconciliation index ``old`` (of ``previous``, laid out as ``index``) with the
    entities ``ids`` dropped and ``fresh`` put in, written to ``target``: the segments that hold
    none of them copied as bytes. The number of entities."""
    import bisect

    firsts = [s[0] for s in index]

    def home(rid: str) -> int:
        return max(bisect.bisect_right(firsts, rid) - 1, 0)

    redo: dict[int, list[dict[str, Any]]] = {}
    for rid in ids:
        if index:
            redo.setdefault(home(rid), [])
    for entity in fresh:
        redo.setdefault(home(entity["id"]) if index else 0, []).append(entity)
    data = old.read_bytes()
    writer = _Writer(target, "jsonld")
    new_index: JsonIndex = []
    count = 0
    for n in range(max(len(index), 1 if redo else 0)):
        if n not in redo:
            first, entities, offset, length, crc, size = index[n]
            writer.member(data[offset:offset + length], crc, size)
            new_index.append((first, entities, *writer.index[-1]))
            count += entities
            continue
        kept: list[dict[str, Any]] = []
        if n < len(index):
            _first, _n, offset, length, _crc, _size = index[n]
            kept = [e for e in json.loads(b"[" + unsegment(data[offset:offset + length]) + b"]") if e["id"] not in ids]
        group = sorted(kept + redo[n], key=lambda e: e["id"])
        step = PER_SEGMENT if len(group) > 2 * PER_SEGMENT else max(len(group), 1)
        for start in range(0, len(group), step):
            _entity_segment(writer, group[start:start + step], new_index)
        count += len(group)
    sha_size = writer.close()
    if digests is not None:
        digests[str(target)] = sha_size
    _save_json_index(release, new_index)
    return count
