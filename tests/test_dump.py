"""Dump writing: deterministic gzip, hashes taken while writing, the changes diff."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from etclod.dump import gzip_writer, write_changes


def test_gzip_writer_gives_the_same_bytes_for_the_same_input_and_hashes_what_it_wrote(tmp_path: Path) -> None:
    data = b"".join(f"<urn:s:{i}> <urn:p> \"Liep\\u0101ja {i * 7919 % 1000}\" <urn:g> .\n".encode()
                    for i in range(50_000))
    digests: dict[str, tuple[str, int]] = {}
    for name in ("a.nq.gz", "b.nq.gz"):
        with gzip_writer(tmp_path / name, digests) as out:
            out.write(data[:100_000])
            out.write(data[100_000:])
    a, b = (tmp_path / "a.nq.gz").read_bytes(), (tmp_path / "b.nq.gz").read_bytes()
    assert a == b and gzip.decompress(a) == data
    assert a[4:8] == b"\x00\x00\x00\x00"  # no timestamp in the header
    assert digests[str(tmp_path / "a.nq.gz")] == (hashlib.sha256(a).hexdigest(), len(a))


def test_changes_name_added_and_removed_quads_by_graph(tmp_path: Path) -> None:
    old = b"<urn:s> <urn:p> \"1\" <urn:g> .\n<urn:s> <urn:p> \"2\" <urn:g> .\n"
    new = b"<urn:s> <urn:p> \"2\" <urn:g> .\n<urn:s> <urn:p> \"3 <x> .\" <urn:h> .\n"
    (tmp_path / "previous" / "dumps").mkdir(parents=True)
    with gzip_writer(tmp_path / "previous" / "dumps" / "etclod.nq.gz") as out:
        out.write(old)
    counts = write_changes(tmp_path / "changes.nq.gz", new, tmp_path / "previous")
    assert counts == {"added": 1, "removed": 1}
    lines = gzip.decompress((tmp_path / "changes.nq.gz").read_bytes()).decode().splitlines()
    assert lines == ['<urn:s> <urn:p> "3 <x> ." <urn:etclod:added:urn:h> .',
                     '<urn:s> <urn:p> "1" <urn:etclod:removed:urn:g> .']


def _by_line_renamed(lines: list[bytes], prefix: bytes) -> bytes:
    out = [line[:line.rindex(b" <") + 2] + prefix + line[line.rindex(b" <") + 2:] for line in lines]
    return b"\n".join(out) + b"\n" if out else b""


LINES = [b'<urn:s> <urn:p> "a <urn:x> ." <urn:g> .', b"<urn:s#p> <urn:p> <urn:o> <urn:g2> .",
         b'_:b1 <urn:p> "x"@lv <urn:g> .', b'<urn:s> <urn:p> "1"^^<urn:t> <http://e.org/g/1> .']


def test_the_renaming_and_ntriples_of_a_block_equal_the_line_by_line_ones() -> None:
    """``dump._renamed`` and ``chunks.block_ntriples`` (a chunk's lines joined in one step)
    give what the step per line gave."""
    from etclod.chunks import block_ntriples, to_ntriples
    from etclod.dump import _renamed

    for lines in (LINES, []):
        assert _renamed(lines, b"urn:etclod:added:") == _by_line_renamed(lines, b"urn:etclod:added:")
    block = b"\n".join(LINES) + b"\n"
    assert block_ntriples(block) == b"".join(to_ntriples(line) + b"\n" for line in LINES)
    assert block_ntriples(b"") == b""
