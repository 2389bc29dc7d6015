"""HTTP layer: HTML pages rendered from Jinja2 templates, with labels instead of raw IRIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from etclod.describe import pick_label
from etclod.namespaces import PREFIXES


class Pages:
    """Templates plus the ontology's labels, loaded once per app."""

    def __init__(self, ontology_dir: Path) -> None:
        self.env = Environment(loader=PackageLoader("etclod", "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True,
                               lstrip_blocks=True)
        self.ontology = Graph()
        with (ontology_dir / "etc.ttl").open("rb") as handle:
            self.ontology.parse(source=handle, format="turtle")
        self.term_labels: dict[URIRef, list[Literal]] = {}
        for s, label in self.ontology.subject_objects(RDFS.label):
            if isinstance(s, URIRef) and isinstance(label, Literal):
                self.term_labels.setdefault(s, []).append(label)

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def term(self, iri: URIRef, lang: str) -> str:
        """A property or class as words: its ontology label, else its prefixed name."""
        label = pick_label(self.term_labels.get(iri, []), lang)
        return label or qname(iri)


def qname(iri: URIRef | str) -> str:
    text = str(iri)
    best = ""
    for prefix, ns in PREFIXES.items():
        if text.startswith(str(ns)) and len(str(ns)) > len(best):
            best, name = str(ns), f"{prefix}:{text[len(str(ns)):]}"
    return name if best else text


def local_href(iri: str, base: str) -> str:
    """Our own IRIs link to this server's path (so a page works whatever host serves it)."""
    return "/" + iri[len(base):] if iri.startswith(base) else iri
