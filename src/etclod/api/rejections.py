"""HTTP layer: what a release did not publish as written, for ``/validation``: every rejected
record with its reasons (a cascaded one with the record it depended on), every record held
back at its last good version, as page rows and as RDF beside the SHACL report."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from etclod.namespaces import ETC

_DEPENDS = re.compile(r"^points at ([a-z]+) '(.*)', which is rejected")


@lru_cache(maxsize=8)
def read_rejected(path: Path) -> tuple[dict[str, Any], ...]:
    """The entries of a release's ``rejected.jsonl`` (releases never change: read once)."""
    if not path.is_file():
        return ()
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
    return tuple(rows)


def _where(row: dict[str, Any], reason: dict[str, Any]) -> str:
    line = reason.get("line") or row.get("line")
    return f"{row['file']}:{line}" if line else row["file"]


def rows(release: Path, held_iris: dict[tuple[str, str], str], base: str) -> dict[str, list[dict[str, Any]]]:
    """``held`` and ``rejected`` rows of the page: where, which record, each reason with its
    field and line, the record a cascaded rejection depended on, the release a held one is
    kept from (with a link to what is published)."""
    held, rejected = [], []
    for row in read_rejected(release / "rejected.jsonl"):
        reasons = []
        for reason in row.get("reasons", []):
            depends = _DEPENDS.match(reason.get("message") or "")
            reasons.append({"where": _where(row, reason), "field": reason.get("field") or "",
                            "message": reason.get("message") or "",
                            "value": "" if reason.get("value") in (None, "") else json.dumps(reason["value"],
                                                                                            ensure_ascii=False)[:200],
                            "depends": f"{depends.group(1)} '{depends.group(2)}'" if depends else ""})
        entry = {"record": f"{row['type']} '{row['id']}'" if row.get("id") else "", "file": row["file"],
                 "reasons": reasons, "kept_from": row.get("kept_from")}
        if row.get("kept_from"):
            iri = held_iris.get((row.get("type") or "", row.get("id") or ""))
            entry["href"] = "/" + iri[len(base):] if iri and iri.startswith(base) else iri
            held.append(entry)
        else:
            rejected.append(entry)
    return {"held": held, "rejected": rejected}


def add_to_report(graph: Graph, release: Path, held_iris: dict[tuple[str, str], str]) -> Graph:
    """The rejected and held-back records as RDF, added to the SHACL report graph: one
    ``etc:RejectedRecord`` each, with ``etc:record`` (file#type/id), ``etc:line``, one
    ``etc:reason`` per reason, and for a held one ``etc:keptFromRelease`` and the published
    resource as ``rdfs:seeAlso``."""
    graph.bind("etc", ETC)
    for row in read_rejected(release / "rejected.jsonl"):
        node = BNode()
        graph.add((node, RDF.type, ETC.RejectedRecord))
        record = f"{row['file']}#{row['type']}/{row['id']}" if row.get("id") else row["file"]
        graph.add((node, ETC.record, Literal(record)))
        if row.get("line"):
            graph.add((node, ETC.line, Literal(row["line"], datatype=XSD.integer)))
        for reason in row.get("reasons", []):
            field = f" field '{reason['field']}'" if reason.get("field") else ""
            graph.add((node, ETC.reason, Literal(f"{_where(row, reason)}{field}: {reason.get('message')}", lang="en")))
        if row.get("kept_from"):
            graph.add((node, ETC.keptFromRelease, Literal(row["kept_from"])))
            iri = held_iris.get((row.get("type") or "", row.get("id") or ""))
            if iri:
                graph.add((node, RDFS.seeAlso, URIRef(iri)))
    return graph
