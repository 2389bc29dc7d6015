"""Linkset layer: link tables in ``data/links/`` become triples in one named graph per target.

A link table is a CSV with the columns ``resource,relation,target,source``: our resource
(``type/key`` or its full IRI), ``owl:sameAs``, ``skos:exactMatch`` or ``skos:closeMatch``, the
external IRI, and the evidence for the claim. Rows that do not hold (unknown resource,
relation or target dataset, no evidence) are rejected with their reasons like records.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from etclod.namespaces import linkset_graph as linkset_graph  # re-exported: dump.py reads it here
from etclod import records as rec

LINKS_DIR = "links"
RELATIONS = {"owl:sameAs": "http://www.w3.org/2002/07/owl#sameAs",
             "skos:exactMatch": "http://www.w3.org/2004/02/skos/core#exactMatch",
             "skos:closeMatch": "http://www.w3.org/2004/02/skos/core#closeMatch"}
TARGETS = {  # linkset key -> (IRI prefixes of the target dataset, the dataset's IRI, title)
    "keep-eu": (("https://keep.eu/",), "https://keep.eu/", "keep.eu"),
    "kohesio": (("https://linkedopendata.eu/",), "https://linkedopendata.eu/", "Kohesio (linkedopendata.eu)"),
    "wikidata": (("http://www.wikidata.org/entity/", "https://www.wikidata.org/entity/"),
                 "http://www.wikidata.org/", "Wikidata"),
    "nuts": (("http://data.europa.eu/nuts/",), "http://data.europa.eu/nuts/", "NUTS (Eurostat)"),
    "eu-country": (("http://publications.europa.eu/resource/authority/country/",),
                   "http://publications.europa.eu/resource/authority/country", "EU country authority table"),
    "eu-language": (("http://publications.europa.eu/resource/authority/language/",),
                    "http://publications.europa.eu/resource/authority/language", "EU language authority table"),
}
_IRI = re.compile(rec.HTTP_IRI)


@dataclass
class Linksets:
    """Per target: the link quads (all in ``{base}graph/links/{target}``) and their evidence."""

    quads: dict[str, list[ox.Quad]] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)
    rejected: list[rec.Rejection] = field(default_factory=list)


def target_of(iri: str) -> str | None:
    for key, (prefixes, _, _) in TARGETS.items():
        if iri.startswith(prefixes):
            return key
    return None


def load_links(data_dir: Path, base: str, published: Container[str]) -> Linksets:
    """Read every link table; keep the rows whose resource is published."""
    out = Linksets()
    folder = data_dir / LINKS_DIR
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.csv")):
        name = f"{LINKS_DIR}/{path.name}"
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            out.rejected.append(rec.Rejection(name, [rec.Reason(f"not UTF-8 (byte {exc.start})", check="links")]))
            continue
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames or not {"resource", "relation", "target", "source"} <= set(reader.fieldnames):
            out.rejected.append(rec.Rejection(name, [rec.Reason(
                "a link table has the columns resource,relation,target,source", check="links")], 1))
            continue
        for row in reader:
            _row(row, name, reader.line_num, base, published, out)
    return out


def _row(row: dict[str, str], file: str, line: int, base: str, published: Container[str], out: Linksets) -> None:
    resource = (row.get("resource") or "").strip()
    relation = (row.get("relation") or "").strip()
    target = (row.get("target") or "").strip()
    source = (row.get("source") or "").strip()
    iri = resource if resource.startswith(("http://", "https://")) else f"{base}id/{resource}"
    reasons = []
    if iri not in published:
        reasons.append(rec.Reason(f"{resource!r} is not a published resource", "resource", resource, "links"))
    predicate = RELATIONS.get(relation) or (relation if relation in RELATIONS.values() else None)
    if predicate is None:
        reasons.append(rec.Reason(f"relation must be one of {', '.join(RELATIONS)}", "relation", relation, "links"))
    key = target_of(target) if _IRI.match(target) else None
    if key is None:
        reasons.append(rec.Reason("target must be an IRI of keep.eu, Kohesio, Wikidata, NUTS or the EU country or "
                                  "language tables", "target", target, "links"))
    if not source:
        reasons.append(rec.Reason("every link needs its evidence in source", "source", None, "links"))
    if reasons:
        out.rejected.append(rec.Rejection(file, reasons, line, "link", resource, row))
        return
    assert key is not None and predicate is not None
    quad = ox.Quad(ox.NamedNode(iri), ox.NamedNode(predicate), ox.NamedNode(target),
                   ox.NamedNode(linkset_graph(base, key)))
    if quad not in out.quads.setdefault(key, []):
        out.quads[key].append(quad)
    if source not in out.sources.setdefault(key, []):
        out.sources[key].append(source)


REVIEW_COLUMNS = ["name", "country", "town", "iri", "candidate", "candidate_name", "score", "match", "accept"]


def suggest_links(index: object, rows: list[dict[str, str]], rtype: str) -> list[dict[str, str]]:
    """Reconcile an outside list (name, country, town, iri) against our resources: one review
    row each, with the best candidate, its score, and ``accept`` filled in where it is a match."""
    out = []
    for row in rows:
        properties = {k: row[k] for k in ("country", "town") if row.get(k)}
        found = index.search(row.get("name", ""), rtype, 3, properties)  # type: ignore[attr-defined]
        best = found[0] if found else None
        out.append({"name": row.get("name", ""), "country": row.get("country", ""), "town": row.get("town", ""),
                    "iri": row.get("iri", ""), "candidate": best.entity["id"] if best else "",
                    "candidate_name": best.entity["names"][0] if best else "",
                    "score": f"{best.score:.1f}" if best else "", "match": "yes" if best and best.match else "no",
                    "accept": "yes" if best and best.match else ""})
    return out


def accepted_links(review: list[dict[str, str]], relation: str, evidence: str) -> list[dict[str, str]]:
    """Link-table rows for the review rows a steward marked ``accept=yes``."""
    return [{"resource": r["candidate"], "relation": relation, "target": r["iri"],
             "source": f"{evidence}: {r['name']!r} matched {r['candidate_name']!r} (score {r['score']})"}
            for r in review if r.get("accept", "").strip().lower() in ("yes", "y", "1", "true") and r.get("candidate")
            and r.get("iri")]
