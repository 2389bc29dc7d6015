"""Conflict layer: one published value per single-valued field of a resource many sources tell of.

After merging (``merge``), the records of one resource are mapped each into its own source's
graph. Here their triples are made to agree: a triple another record of the resource already
states is dropped (each triple lives in one graph); where two records give different values
for a single-valued field (two budgets, two end dates, two names in one language) the record
of higher precedence wins (records come in that order), and the other value stays attributed
in its source's graph as an ``rdf:Statement`` (an organisation's other name as a
``skos:altLabel``). Every such case is a ``Conflict``, written with the release as
``conflicts.ttl`` and ``conflicts.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, SKOS

from etclod import recordtypes
from etclod.mapping import FIELD_OF_PREDICATE, Triple
from etclod.namespaces import ETC, OxNamespace, mint, mint_part
from etclod.oxtyped import from_ox
from etclod.validation import Mapped

CONFLICTS_TTL = "conflicts.ttl"
CONFLICTS_CSV = "conflicts.csv"
CSV_COLUMNS = ("resource", "field", "language", "value", "source", "record", "chosen")
NAMES = (SKOS.prefLabel, RDFS.label)
"""An organisation's name: the losing one becomes an alternative name."""
_NAMES = {str(n) for n in NAMES}
_LABEL = str(RDFS.label)
_FIELD_OF_IRI = {str(p): name for p, name in FIELD_OF_PREDICATE.items()}
_RDF, _SKOS, _PROV = OxNamespace(RDF), OxNamespace(SKOS), OxNamespace(PROV)


@dataclass
class Said:
    value: Any
    graph: str
    record: str


@dataclass
class Conflict:
    resource: str
    record_field: str
    predicate: str
    language: str
    chosen: Said
    others: list[Said] = field(default_factory=list)


def _single_fields(rtype: str) -> set[str]:
    model = recordtypes.get(rtype).model
    return {name for name, info in model.model_fields.items() if typing.get_origin(info.annotation) is not list}


def resolve(mapped: list[Mapped], base: str) -> list[Conflict]:
    """Make the records of every merged resource agree (in place); return the conflicts."""
    groups: dict[URIRef, list[Mapped]] = {}
    for m in mapped:
        groups.setdefault(m.iri, []).append(m)
    conflicts: list[Conflict] = []
    singles: dict[str, set[str]] = {}
    for iri, members in groups.items():
        if len(members) < 2:
            continue
        rtype = members[0].loaded.record.type
        single = singles.setdefault(rtype, _single_fields(rtype))
        stated: set[Triple] = set()
        chosen: dict[tuple[Any, Any, str], tuple[Any, Mapped]] = {}
        found: dict[tuple[Any, Any, str], Conflict] = {}
        for m in members:
            kept: list[Triple] = []
            extra: list[Triple] = []
            for triple in m.triples:
                s, p, o = triple
                if triple in stated:
                    continue
                name = _FIELD_OF_IRI.get(p.value)
                if not (p.value == _LABEL or (name is not None and name in single)):
                    kept.append(triple)
                    stated.add(triple)
                    continue
                slot = (s, p, o.language or "" if isinstance(o, ox.Literal) else "")
                if slot not in chosen:
                    chosen[slot] = (o, m)
                    kept.append(triple)
                    stated.add(triple)
                    continue
                winner, by = chosen[slot]
                extra += _kept_aside(s, p, o, m, rtype, stated, base)
                if p.value == _LABEL:
                    continue  # a label mirrors a name, title or acronym: reported there, once
                conflict = found.get(slot)
                if conflict is None:
                    conflict = found[slot] = Conflict(str(iri), name or "label", p.value, slot[2],
                                                      Said(from_ox(winner), str(by.graph), _record(by)))
                    conflicts.append(conflict)
                conflict.others.append(Said(from_ox(o), str(m.graph), _record(m)))
            m.triples = kept + extra
    conflicts.sort(key=lambda c: (c.resource, c.record_field, c.language, c.predicate))
    return conflicts


def _record(m: Mapped) -> str:
    return f"{m.loaded.where}#{m.loaded.record.type}/{m.loaded.record.id}"


def _kept_aside(s: Any, p: Any, o: Any, m: Mapped, rtype: str, stated: set[Triple], base: str) -> list[Triple]:
    """The losing value, still attributed to its source in its source's graph (the triples'
    terms are pyoxigraph's, as the mapping's are; the node's name hashes the rdflib forms)."""
    if rtype == "organisation" and p.value in _NAMES:
        triple = (s, _SKOS.altLabel, o)
        if triple in stated:
            return []
        stated.add(triple)
        return [triple]
    digest = hashlib.sha1(f"{s.value}\n{p.value}\n{from_ox(o).n3()}\n{m.graph}".encode()).hexdigest()[:12]
    node = ox.NamedNode(mint_part(URIRef(s.value.split("#", 1)[0]), f"said-{digest}"))
    source = ox.NamedNode(mint(base, "source", recordtypes.get("source").key_of_text(m.loaded.record.sources[0])))
    return [(node, _RDF.type, _RDF.Statement), (node, _RDF.subject, s), (node, _RDF.predicate, p),
            (node, _RDF.object, o), (node, _PROV.wasDerivedFrom, source)]


def write_conflicts(folder: Path, conflicts: list[Conflict]) -> int:
    """``conflicts.ttl`` and ``conflicts.csv`` in a release folder; the number of conflicts."""
    with (folder / CONFLICTS_CSV).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for c in conflicts:
            for said, chosen in [(c.chosen, "yes"), *((o, "no") for o in c.others)]:
                writer.writerow([c.resource, c.record_field, c.language, _csv_text(said.value), said.graph, said.record,
                                 chosen])
    graph = Graph()
    graph.bind("etc", str(ETC))
    graph.bind("prov", str(PROV))
    for n, c in enumerate(conflicts, start=1):
        node = BNode(f"conflict{n}")
        graph.add((node, RDF.type, ETC.Conflict))
        graph.add((node, ETC.conflictResource, URIRef(c.resource)))
        graph.add((node, ETC.conflictProperty, URIRef(c.predicate)))
        graph.add((node, ETC.conflictField, Literal(c.record_field)))
        if c.language:
            graph.add((node, ETC.conflictLanguage, Literal(c.language)))
        for k, (said, won) in enumerate([(c.chosen, True), *((o, False) for o in c.others)], start=1):
            value = BNode(f"conflict{n}-value{k}")  # named, not random: Turtle orders nodes by label
            graph.add((node, ETC.chosenValue if won else ETC.otherValue, value))
            graph.add((value, RDF.value, said.value))
            graph.add((value, PROV.wasDerivedFrom, URIRef(said.graph)))
            graph.add((value, ETC.record, Literal(said.record)))
    with (folder / CONFLICTS_TTL).open("wb") as handle:
        graph.serialize(handle, format="turtle")
    return len(conflicts)


def _csv_text(value: Any) -> str:
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") and not text[1:2].isdigit() else text
