"""Description layer: what the service says about one resource, read from any GraphStore."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS
from rdflib.term import Identifier

from etclod.namespaces import ETC, ORG
from etclod.store import GraphStore


_NOT_IN_IRI = re.compile('[<>"{}|^`\\\\\\x00-\\x20\\ud800-\\udfff]')


def _iri(value: str) -> str:
    """``<value>`` for a SPARQL query; ValueError for what cannot be an IRI (no injection)."""
    if _NOT_IN_IRI.search(value):
        raise ValueError(f"not an IRI: {value!r}")
    return f"<{value}>"


@dataclass
class Description:
    """A resource's own triples, the labels of what it links to, and one page of incoming links."""

    iri: URIRef
    graph: Graph
    incoming: list[tuple[URIRef, URIRef]] = field(default_factory=list)
    next_cursor: str | None = None
    cursor: int = 0

    @property
    def exists(self) -> bool:
        return (self.iri, None, None) in self.graph


def new_graph() -> Graph:
    """An empty graph without rdflib's default prefix bindings (binding costs more than the
    whole description; the writers add the prefixes they need)."""
    return Graph(bind_namespaces="none")


def describe_query(iri: str) -> str:
    """The SPARQL a reader can run to get what a page shows of a resource (without paging)."""
    r = _iri(iri)
    return (f"CONSTRUCT {{ ?s ?p ?o . ?x ?in {r} . ?o <{RDFS.label}> ?label }}\n"
            f"WHERE {{\n  {{ {r} ?p ?o . BIND({r} AS ?s) }}\n"
            f"  UNION {{ {r} ?link ?s . FILTER(STRSTARTS(STR(?s), CONCAT(STR({r}), \"#\"))) ?s ?p ?o }}\n"
            f"  UNION {{ ?x ?in {r} }}\n"
            f"  OPTIONAL {{ ?o <{RDFS.label}> ?label }}\n}}")


def describe(store: GraphStore, iri: str, *, cursor: int = 0, page_size: int = 200) -> Description:
    """Own triples (with those of its ``#parts``), labels of linked resources, and incoming
    links ``cursor .. cursor + page_size`` (ordered, so pages are stable)."""
    r = _iri(iri)
    node = URIRef(iri)
    graph = new_graph()
    # three plain lookups rather than one UNION: every engine plans them well (Virtuoso took
    # 100x longer on the UNION with its FILTER)
    own = store.select(f"SELECT ?p ?o WHERE {{ {r} ?p ?o }}")
    if not own:
        return Description(node, graph)
    for row in own:
        graph.add((node, row["p"], row["o"]))
    parts = sorted({o for o in graph.objects(node) if isinstance(o, URIRef) and str(o).startswith(f"{iri}#")})
    if parts:
        values = " ".join(_iri(str(part)) for part in parts)
        for row in store.select(f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {values} }} ?s ?p ?o }}"):
            graph.add((row["s"], row["p"], row["o"]))
    linked = {o for o in graph.objects() if isinstance(o, URIRef)}
    for subject, names in labels_of(store, linked).items():
        for label in names:
            graph.add((subject, RDFS.label, label))
    rows = store.select(f"""
        SELECT ?s ?p WHERE {{ ?s ?p {r} . FILTER(!STRSTARTS(STR(?s), CONCAT(STR({r}), "#"))) }}
        ORDER BY ?s ?p LIMIT {page_size + 1} OFFSET {cursor}""")
    incoming = [(row["s"], row["p"]) for row in rows[:page_size]]
    for s, p in incoming:
        graph.add((s, p, node))
    if incoming:
        values = " ".join(_iri(str(s)) for s in {s for s, _ in incoming})
        for row in store.select(f"""SELECT ?s ?label WHERE {{ VALUES ?s {{ {values} }}
                                     ?s <{RDFS.label}> ?label }}"""):
            graph.add((row["s"], RDFS.label, row["label"]))
    next_cursor = str(cursor + page_size) if len(rows) > page_size else None
    return Description(node, graph, incoming, next_cursor, cursor)


@dataclass(frozen=True)
class Row:
    """One line of a table on a page: a resource and some values."""

    iri: URIRef
    values: dict[str, Any]


def partners(store: GraphStore, project: str) -> list[Row]:
    """Partners of a project, with role and budget (lead partner first)."""
    r = _iri(project)
    rows = store.select(f"""
        PREFIX org: <{ORG}> PREFIX etc: <{ETC}>
        SELECT ?org ?role ?budget WHERE {{
          ?m org:organization {r} ; org:member ?org .
          OPTIONAL {{ ?m org:role ?role }} OPTIONAL {{ ?m etc:partnerBudget ?budget }}
        }}""")  # the role is optional: none is published where no source states it
    out = [Row(row["org"], {"role": row.get("role"), "budget": row.get("budget")}) for row in rows]
    return sorted(out, key=lambda r: (r.values["role"] != ETC.LeadPartner, str(r.iri)))


def projects_of_programme(store: GraphStore, programme: str) -> list[Row]:
    r = _iri(programme)
    rows = store.select(f"""
        PREFIX etc: <{ETC}> PREFIX schema: <https://schema.org/>
        SELECT ?p ?start ?end ?total ?eu WHERE {{
          ?p etc:programme {r} .
          OPTIONAL {{ ?p schema:startDate ?start }} OPTIONAL {{ ?p schema:endDate ?end }}
          OPTIONAL {{ ?p etc:totalBudget ?total }} OPTIONAL {{ ?p etc:euFunding ?eu }}
        }} ORDER BY ?p LIMIT 1000""")
    return [Row(row["p"], {k: row.get(k) for k in ("start", "end", "total", "eu")}) for row in rows]


def projects_of_organisation(store: GraphStore, organisation: str) -> list[Row]:
    r = _iri(organisation)
    rows = store.select(f"""
        PREFIX org: <{ORG}> PREFIX etc: <{ETC}>
        SELECT ?p ?role ?budget ?programme WHERE {{
          ?m org:member {r} ; org:organization ?p .
          OPTIONAL {{ ?m org:role ?role }} OPTIONAL {{ ?m etc:partnerBudget ?budget }}
          OPTIONAL {{ ?p etc:programme ?programme }}
        }} ORDER BY ?p LIMIT 1000""")
    return [Row(row["p"], {k: row.get(k) for k in ("role", "budget", "programme")}) for row in rows]


def labels_of(store: GraphStore, iris: set[URIRef]) -> dict[URIRef, list[Literal]]:
    """Every rdfs:label of the given resources."""
    if not iris:
        return {}
    values = " ".join(_iri(str(i)) for i in sorted(iris))
    out: dict[URIRef, list[Literal]] = {}
    for row in store.select(f"SELECT ?s ?label WHERE {{ VALUES ?s {{ {values} }} "
                            f"?s <{RDFS.label}> ?label }}"):
        out.setdefault(row["s"], []).append(row["label"])
    return out


def pick_label(labels: list[Any], lang: str) -> str | None:
    """The label in ``lang``, else English, else Latvian, else any."""
    by_lang: dict[str, str] = {}
    for label in labels:
        by_lang.setdefault(getattr(label, "language", None) or "", str(label))
    for choice in (lang, "en", "lv", ""):
        if choice in by_lang:
            return by_lang[choice]
    return next(iter(by_lang.values()), None)


def types_of(graph: Graph, iri: URIRef) -> set[Identifier]:
    # rdflib types a graph's objects as Node; a description's graph holds what a store's
    # select() answers (store.from_ox, results.read_json_term): URIRefs, Literals, BNodes,
    # all Identifiers
    return cast("set[Identifier]", set(graph.objects(iri, RDF.type)))


def funding_in_programme(store: GraphStore, project: str) -> dict[str, Any] | None:
    """A project's EU funding against the sum over its programme's projects in the data set
    that have figures (how many, too). The share is given only against a total the programme
    itself states (``etc:euFunding`` on the programme): a sum over the projects we happen to
    hold is not the programme's funding."""
    r = _iri(project)
    rows = store.select(f"""
        PREFIX etc: <{ETC}>
        SELECT ?programme (SAMPLE(?own) AS ?mine) (SUM(?eu) AS ?total) (COUNT(DISTINCT ?p) AS ?projects)
               (COUNT(DISTINCT ?counted) AS ?with_figures) (SAMPLE(?stated) AS ?programme_total) WHERE {{
          {r} etc:programme ?programme . OPTIONAL {{ {r} etc:euFunding ?own }}
          OPTIONAL {{ ?programme etc:euFunding ?stated }}
          ?p etc:programme ?programme . OPTIONAL {{ ?p etc:euFunding ?eu BIND(?p AS ?counted) }}
        }} GROUP BY ?programme""")
    if not rows:
        return None
    row = rows[0]
    mine = row.get("mine")
    stated = row.get("programme_total")
    share = (float(mine) / float(stated) * 100) if mine is not None and stated and float(stated) > 0 else None
    return {"programme": row["programme"], "mine": mine, "total": row.get("total") if row.get("with_figures") else None,
            "projects": int(row["projects"]), "with_figures": int(row.get("with_figures") or 0),
            "programme_total": stated, "share": share}
