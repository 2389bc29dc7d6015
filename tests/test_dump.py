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


GRAPHED = [b'<http://e.org/id/a> <urn:p> "x" <http://e.org/graph/one> .',
           b'<http://e.org/id/a> <urn:p> <urn:o> <http://e.org/graph/two> .',
           b'_:b1 <urn:p> "y"@lv <http://e.org/graph/one> .']


def test_the_renaming_in_one_step_equals_the_line_by_line_one_or_is_not_taken() -> None:
    """``_renamed`` with the graphs given replaces their shared start once in the whole block;
    where that start also occurs elsewhere in a line (an object, a literal), or the graphs share
    nothing, it must fall back to the step per line: the result is the same either way."""
    from etclod.dump import _renamed

    graphs = ["http://e.org/graph/one", "http://e.org/graph/two"]
    tricky = [*GRAPHED,
              b'<http://e.org/id/b> <urn:p> <http://e.org/graph/one> <http://e.org/graph/two> .',  # an object
              b'<http://e.org/id/c> <urn:p> "see <http://e.org/graph/ x>" <http://e.org/graph/one> .']  # a literal
    for lines, known in ((GRAPHED, graphs), (tricky, graphs), (LINES, ["urn:g", "urn:g2", "http://e.org/g/1"]),
                         (GRAPHED, ["http://e.org/graph/one"]), ([], graphs)):
        for prefix in (b"urn:etclod:added:", b"urn:etclod:removed:"):
            assert _renamed(lines, prefix, known) == _by_line_renamed(lines, prefix), (lines, known)


def test_the_changes_with_graphs_known_equal_the_changes_without(tmp_path: Path) -> None:
    new = b"\n".join(GRAPHED) + b"\n"
    for name, graphs in (("a.nq.gz", None), ("b.nq.gz", ["http://e.org/graph/one", "http://e.org/graph/two"])):
        assert write_changes(tmp_path / name, new, None, None, graphs) == {"added": 3, "removed": 0}
    assert (tmp_path / "a.nq.gz").read_bytes() == (tmp_path / "b.nq.gz").read_bytes()
    assert b"<urn:etclod:added:http://e.org/graph/two>" in gzip.decompress((tmp_path / "b.nq.gz").read_bytes())


def test_the_entities_counted_from_the_dumps_subjects_equal_the_sparql_count() -> None:
    """``statistics``' entity count from the subjects the dumps collected (``chunks.bucketed``)
    is the one its SPARQL DISTINCT gives: IRIs under ``{base}id/`` without a fragment, each once
    however many graphs and quads hold it; blank nodes, fragments and other IRIs left out."""
    import pyoxigraph as ox

    from etclod.chunks import bucketed
    from etclod.dump import statistics

    store = ox.Store()
    p, g1, g2 = ox.NamedNode("urn:p"), ox.NamedNode("http://e.org/graph/1"), ox.NamedNode("http://e.org/graph/2")
    for s in ("http://e.org/id/project/a", "http://e.org/id/project/a#budget", "http://e.org/def#C",
              "http://e.org/id/organisation/ā", "http://other.org/id/x"):
        store.add(ox.Quad(ox.NamedNode(s), p, ox.Literal("v"), g1))
        store.add(ox.Quad(ox.NamedNode(s), p, ox.Literal("w"), g2))
    store.add(ox.Quad(ox.BlankNode("b"), p, ox.NamedNode("http://e.org/id/project/only-an-object"), g1))
    _buckets, subjects = bucketed(store.dump(format=ox.RdfFormat.N_QUADS))
    by_sparql, counted = statistics(store, "http://e.org/"), statistics(store, "http://e.org/", None, subjects)
    assert by_sparql["entities"] == 2
    assert counted == by_sparql


def test_a_chunk_parsed_leniently_serialises_as_one_parsed_strictly() -> None:
    """``chunks.serialize_chunk`` parses the release's own N-Triples ``lenient``: on what
    Oxigraph wrote (escapes, non-ASCII IRIs, language tags, datatypes, blank nodes) the
    Turtle and JSON-LD are byte for byte those of a strict parse."""
    import pyoxigraph as ox

    from etclod.chunks import _prefixes, serialize_chunk

    store = ox.Store()
    s, p = ox.NamedNode("http://e.org/id/organisation/liepājas-ūdens"), ox.NamedNode("http://e.org/def#name")
    for o in (ox.Literal('Liepājas "ūdens"\n\t\\ 😀'), ox.Literal("Rīga", language="lv"),
              ox.Literal("2016-03", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#gYearMonth")),
              ox.NamedNode("http://e.org/id/project/p%C4%81?x=1#a"), ox.BlankNode("b1"), ox.Literal("x", language="en-GB")):
        store.add(ox.Quad(s, p, o, ox.NamedNode("http://e.org/graph/1")))
    store.add(ox.Quad(ox.BlankNode("b1"), p, ox.Literal("1.50", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")),
                      ox.NamedNode("http://e.org/graph/1")))
    ntriples = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode("http://e.org/graph/1"))
    assert ntriples and ntriples.count(b"\n") == 7
    for key, fmt in (("ttl", ox.RdfFormat.TURTLE), ("jsonld", ox.RdfFormat.JSON_LD)):
        strict = ox.serialize(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES), format=fmt,
                              prefixes=_prefixes() if key == "ttl" else None)
        assert strict is not None
        assert serialize_chunk(key, ntriples) == (strict if key == "ttl" else strict.strip()[1:-1].strip())


def test_the_graphs_counted_in_the_dump_equal_the_sparql_counts() -> None:
    """``dump.graph_counts`` (a count of line ends in the N-Quads bytes) gives what the SPARQL
    GROUP BY gives, also where a literal or an object names a graph; it declines (None) where the
    default graph holds quads or a graph is a blank node."""
    import pyoxigraph as ox

    from etclod.dump import graph_counts, statistics

    store = ox.Store()
    p = ox.NamedNode("urn:p")
    g1, g2 = ox.NamedNode("http://e.org/graph/1"), ox.NamedNode("http://e.org/graph/1x")
    for n in range(5):
        store.add(ox.Quad(ox.NamedNode(f"http://e.org/id/a{n}"), p, ox.Literal(f"see <{g1.value}> .\n{n}"), g1))
        store.add(ox.Quad(ox.NamedNode(f"http://e.org/id/a{n}"), p, g1, g2))
    store.add(ox.Quad(ox.NamedNode("http://e.org/id/b"), p, g2, g1))
    store.add_graph(ox.NamedNode("http://e.org/graph/empty"))
    dump = store.dump(format=ox.RdfFormat.N_QUADS)
    assert graph_counts(store, dump) == {g1.value: 6, g2.value: 5}
    assert statistics(store, "http://e.org/", None, None, dump) == statistics(store, "http://e.org/")
    store.add(ox.Quad(ox.NamedNode("http://e.org/id/c"), p, g1))  # the default graph
    assert graph_counts(store, store.dump(format=ox.RdfFormat.N_QUADS)) is None
    store.remove(ox.Quad(ox.NamedNode("http://e.org/id/c"), p, g1))
    store.add(ox.Quad(ox.NamedNode("http://e.org/id/c"), p, g1, ox.BlankNode("g")))
    assert graph_counts(store, store.dump(format=ox.RdfFormat.N_QUADS)) is None
