"""Format layer: the one table of media types, file extensions and serialisers."""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox


@dataclass(frozen=True)
class Format:
    """One representation we can produce.

    ``kind`` is ``rdf`` (graphs), ``results`` (SPARQL SELECT/ASK results) or ``html``.
    """

    key: str
    media_type: str
    extension: str
    kind: str
    aliases: tuple[str, ...] = ()
    rdflib_name: str | None = None

    @property
    def oxigraph(self) -> ox.RdfFormat:
        return ox.RdfFormat.from_media_type(self.media_type)

    @property
    def results(self) -> ox.QueryResultsFormat:
        return ox.QueryResultsFormat.from_media_type(self.media_type)

    @property
    def content_type(self) -> str:
        if self.media_type.startswith("text/") or self.media_type.endswith(("+json", "+xml", "/json")):
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


FORMATS: tuple[Format, ...] = (
    Format("html", "text/html", "html", "html", ("application/xhtml+xml",)),
    Format("ttl", "text/turtle", "ttl", "rdf", ("application/x-turtle",), "turtle"),
    Format("jsonld", "application/ld+json", "jsonld", "rdf", (), "json-ld"),
    Format("nt", "application/n-triples", "nt", "rdf", ("text/plain",), "nt"),
    Format("rdf", "application/rdf+xml", "rdf", "rdf", ("application/xml", "text/xml"), "xml"),
    Format("nq", "application/n-quads", "nq", "dataset", (), "nquads"),
    Format("trig", "application/trig", "trig", "dataset", (), "trig"),
    Format("json", "application/sparql-results+json", "srj", "results", ("application/json",)),
    Format("data", "application/json", "json", "data"),
    Format("xml", "application/sparql-results+xml", "srx", "results", ()),
    Format("csv", "text/csv", "csv", "results", ()),
    Format("tsv", "text/tab-separated-values", "tsv", "results", ()),
)

RDF_FORMATS = tuple(f for f in FORMATS if f.kind == "rdf")
HTML = next(f for f in FORMATS if f.key == "html")
DATA_FORMATS = (HTML, next(f for f in FORMATS if f.key == "data"), next(f for f in FORMATS if f.key == "jsonld"))
"""Lists and searches: a page, plain JSON, or JSON-LD."""
RESULT_FORMATS = tuple(f for f in FORMATS if f.kind == "results")
DUMP_FORMATS = tuple(f for f in FORMATS if f.key in ("nt", "ttl", "nq", "jsonld"))
"""The dumps of every release: ``dumps/etclod.{ext}.gz``."""


def by_key(key: str) -> Format | None:
    """The format a ``?format=`` value names (its key, extension or media type)."""
    for fmt in FORMATS:
        if key in (fmt.key, fmt.extension, fmt.media_type) or key in fmt.aliases:
            return fmt
    return None


def dump_name(fmt: Format) -> str:
    return f"etclod.{fmt.extension}.gz"


def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """Media ranges of an Accept header, highest preference first (stable for ties).

    >>> parse_accept("text/html;q=0.9, text/turtle")
    [('text/turtle', 1.0), ('text/html', 0.9)]
    """
    if not header:
        return [("*/*", 1.0)]
    ranges: list[tuple[str, float, int]] = []
    for index, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        ranges.append((media, q, index))
    ranges.sort(key=lambda r: (-r[1], r[2]))
    return [(m, q) for m, q, _ in ranges]


def negotiate(header: str | None, offered: tuple[Format, ...]) -> Format | None:
    """The best of ``offered`` for an Accept header, or None when nothing acceptable.

    Ties on q go to the client's order; ``*/*`` picks the first offered format.
    """
    for media, q in parse_accept(header):
        if q <= 0:
            continue
        for fmt in offered:
            names = (fmt.media_type, *fmt.aliases)
            if media == "*/*" or media in names or (
                    media.endswith("/*") and fmt.media_type.startswith(media[:-1])):
                return fmt
    return None
