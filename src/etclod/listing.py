"""Listing layer: the resources of one type, filtered by facets, a page at a time (keyset
pagination on the IRI, so a page costs the same wherever it is)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from etclod.describe import pick_label
from etclod.errors import QueryError
from etclod.store import GraphStore

ETC = "https://w3id.org/etclod/def#"
ORG = "http://www.w3.org/ns/org#"
RDFS_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
CLASSES = {"programme": f"<{ETC}Programme>", "project": f"<{ETC}Project>",
           "organisation": f"<{ORG}Organization>", "person": "<http://www.w3.org/ns/person#Person>",
           "event": "<http://data.europa.eu/m8g/PublicEvent>", "theme": "<http://www.w3.org/2004/02/skos/core#Concept>",
           "partnership": f"<{ETC}Partnership>", "source": f"<{ETC}SourceDocument>"}
# facet -> (types it applies to, the pattern binding ?v for ?e, how a value is written)
FACETS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "programme": (("project",), f"?e <{ETC}programme> ?v", "iri"),
    "theme": (("project", "event"), f"?e <{ETC}theme> ?v", "iri"),
    "country": (("organisation", "project"), "", "country"),
    "region": (("organisation",), f"?e <{ETC}nutsRegion> ?v", "nuts"),
    "period": (("programme", "project"), "", "literal"),
}


def _facet_pattern(name: str, rtype: str) -> str:
    if name == "country":
        return (f"?e <{ETC}country> ?v" if rtype == "organisation"
                else f"?m <{ORG}organization> ?e ; <{ORG}member>/<{ETC}country> ?v")
    if name == "period":
        return f"?e <{ETC}period> ?v" if rtype == "programme" else f"?e <{ETC}programme>/<{ETC}period> ?v"
    return FACETS[name][1]


def _value_term(name: str, value: str, base: str, rtype: str) -> str:
    kind = FACETS[name][2]
    if any(c in value for c in '<>"{}|\\^` \n\t'):
        raise QueryError(f"{name}={value!r} is not a facet value", code="bad_facet")
    if kind == "iri":
        target = "programme" if name == "programme" else "theme"
        return f"<{base}id/{target}/{value}>"
    if kind == "country":
        return f"<http://publications.europa.eu/resource/authority/country/{value.upper()}>"
    if kind == "nuts":
        return f"<http://data.europa.eu/nuts/code/{value.upper()}>"
    return f'"{value}"'


@dataclass
class Listing:
    items: list[dict[str, Any]]
    next_cursor: str | None
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def list_resources(store: GraphStore, base: str, rtype: str, filters: dict[str, str], cursor: str | None,
                   lang: str, page_size: int = 50, with_facets: bool = True) -> Listing:
    if rtype not in CLASSES:
        raise QueryError(f"no list of {rtype!r}; types are {', '.join(CLASSES)}", code="not_found", status=404)
    patterns = [f"?e a {CLASSES[rtype]} ."]
    for name, value in sorted(filters.items()):
        if name not in FACETS or rtype not in FACETS[name][0]:
            raise QueryError(f"{rtype} lists have no facet {name!r}; they have "
                             f"{', '.join(f for f, spec in FACETS.items() if rtype in spec[0]) or 'none'}",
                             code="bad_facet")
        patterns.append(_facet_pattern(name, rtype).replace("?v", _value_term(name, value, base, rtype)) + " .")
    where = " ".join(patterns)
    after = ""
    if cursor:
        if any(c in cursor for c in '<>"{}|\\^` \n\t'):
            raise QueryError("not a page cursor: use the next link of the previous page", code="bad_cursor")
        after = f'FILTER(STR(?e) > "{base}id/{rtype}/{cursor}")'
    rows = store.select(f"SELECT DISTINCT ?e WHERE {{ {where} {after} }} ORDER BY STR(?e) LIMIT {page_size + 1}")
    iris = [r["e"] for r in rows[:page_size]]
    labels: dict[str, list[Any]] = {}
    if iris:
        values = " ".join(f"<{i}>" for i in iris)
        for row in store.select(f"SELECT ?e ?l WHERE {{ VALUES ?e {{ {values} }} ?e {RDFS_LABEL} ?l }}"):
            labels.setdefault(str(row["e"]), []).append(row["l"])
    prefix = f"{base}id/"
    items = [{"id": str(i)[len(prefix):], "iri": str(i), "label": pick_label(labels.get(str(i), []), lang) or str(i)}
             for i in iris]
    next_cursor = items[-1]["id"].split("/", 1)[1] if len(rows) > page_size and items else None
    facets = _facets(store, base, rtype, where, lang) if with_facets else {}
    return Listing(items, next_cursor, facets)


def _facets(store: GraphStore, base: str, rtype: str, where: str, lang: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, (types, _, kind) in FACETS.items():
        if rtype not in types:
            continue
        rows = store.select(f"SELECT ?v (COUNT(DISTINCT ?e) AS ?n) WHERE {{ {where} {_facet_pattern(name, rtype)} . }} "
                            f"GROUP BY ?v ORDER BY DESC(?n) LIMIT 30")
        labels: dict[str, list[Any]] = {}
        if kind == "iri" and rows:
            values = " ".join(f"<{r['v']}>" for r in rows)
            for row in store.select(f"SELECT ?v ?l WHERE {{ VALUES ?v {{ {values} }} ?v {RDFS_LABEL} ?l }}"):
                labels.setdefault(str(row["v"]), []).append(row["l"])
        out[name] = [{"value": str(r["v"]).rsplit("/", 1)[-1], "count": int(r["n"]),
                      "label": pick_label(labels.get(str(r["v"]), []), lang) or str(r["v"]).rsplit("/", 1)[-1]}
                     for r in rows]
    return out
