"""The list tables of ``search.sqlite`` (``listing.write_listing``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyoxigraph as ox

from etclod.listing import write_listing
from etclod.namespaces import RDF, RDFS, class_iri

BASE = "http://e.org/"


def _store() -> ox.Store:
    """Labels in several languages and graphs (one triple in two graphs, as oxigraph issue
    1919 counts it twice), partnerships, blank nodes and fragments, added out of order."""
    store = ox.Store()
    label, a = ox.NamedNode(str(RDFS.label)), ox.NamedNode(str(RDF.type))
    g1, g2 = ox.NamedNode(f"{BASE}graph/1"), ox.NamedNode(f"{BASE}graph/2")
    project, org = ox.NamedNode(str(class_iri("project"))), ox.NamedNode(str(class_iri("organisation")))
    member, organization = ox.NamedNode("http://www.w3.org/ns/org#member"), ox.NamedNode("http://www.w3.org/ns/org#organization")
    partnership = ox.NamedNode(str(class_iri("partnership")))
    for n in (7, 3, 9, 1, 5):
        p, o, m = (ox.NamedNode(f"{BASE}id/{t}/{k}{n}") for t, k in
                   (("project", "p"), ("organisation", "o"), ("partnership", "m")))
        store.add(ox.Quad(p, a, project, g1))
        store.add(ox.Quad(p, a, project, g2))
        store.add(ox.Quad(p, label, ox.Literal(f"Projekts {n}", language="lv"), g1))
        store.add(ox.Quad(p, label, ox.Literal(f"Project {n}", language="en"), g2))
        store.add(ox.Quad(o, a, org, g1))
        store.add(ox.Quad(o, label, ox.Literal(f"Ōrg {n}"), g1))
        store.add(ox.Quad(ox.NamedNode(f"{p.value}#budget"), label, ox.Literal("a part"), g1))
        store.add(ox.Quad(m, a, partnership, g1))
        store.add(ox.Quad(m, member, o, g1))
        store.add(ox.Quad(m, organization, p, g1))
    store.add(ox.Quad(ox.BlankNode("x"), a, org, g1))
    store.add(ox.Quad(ox.BlankNode("x"), label, ox.Literal("anonymous"), g1))
    return store


def test_a_pattern_iterated_on_the_store_gives_the_rows_and_order_of_its_sparql_query() -> None:
    """``write_listing`` reads its one-pattern queries as the store's iteration of the pattern:
    the rows it writes, and so the bytes of ``search.sqlite``, stay those of the SPARQL queries
    it ran before (union default graph, a triple once per graph; DISTINCT: first seen)."""
    store = _store()
    label, a = ox.NamedNode(str(RDFS.label)), ox.NamedNode(str(RDF.type))
    by_sparql = [(e, l) for e, l in store.query(f"SELECT ?e ?l WHERE {{ ?e <{label.value}> ?l }}",
                                                use_default_graph_as_union=True)]
    assert by_sparql == [(q.subject, q.object) for q in store.quads_for_pattern(None, label, None, None)]
    for rtype in ("project", "organisation", "partnership"):
        distinct = [e for (e,) in store.query(f"SELECT DISTINCT ?e WHERE {{ ?e a <{class_iri(rtype)}> }}",
                                              use_default_graph_as_union=True)]
        assert distinct == list(dict.fromkeys(q.subject for q in store.quads_for_pattern(
            None, a, ox.NamedNode(str(class_iri(rtype))), None)))


def test_the_entity_table_lists_each_resource_once_with_its_labels(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "l.sqlite")
    write_listing(connection, _store(), BASE)
    rows = connection.execute("SELECT id, type, label_en, label_lv, label FROM entity ORDER BY rowid").fetchall()
    assert sorted(r[0] for r in rows if r[1] == "project") == [f"project/p{n}" for n in (1, 3, 5, 7, 9)]
    assert ("project/p3", "project", "Project 3", "Projekts 3", "Project 3") in rows
    assert ("organisation/o3", "organisation", None, None, "Ōrg 3") in rows
    assert ("partnership/m3", "partnership", "Ōrg 3 · Project 3", "Ōrg 3 · Projekts 3", "Ōrg 3 · Project 3") in rows
    assert not [r for r in rows if "#" in r[0] or not r[0].count("/") == 1]
    assert len(rows) == 15
