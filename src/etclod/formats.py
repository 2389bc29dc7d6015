"""Format layer: the one table of media types, file extensions and serialisers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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
    name: str = ""
    """What people call it (the catalogue page names a distribution's format so)."""
    w3c: str = ""
    """Its name in http://www.w3.org/ns/formats/ (the service description lists them)."""

    @property
    def oxigraph(self) -> ox.RdfFormat:
        fmt = ox.RdfFormat.from_media_type(self.media_type)
        if fmt is None:
            raise ValueError(f"{self.key} is not an RDF format")
        return fmt

    @property
    def results(self) -> ox.QueryResultsFormat:
        """pyoxigraph's results format of this media type (the tests parse answers with it)."""
        fmt = ox.QueryResultsFormat.from_media_type(self.media_type)
        if fmt is None:
            raise ValueError(f"{self.key} is not a SPARQL results format")
        return fmt

    @property
    def content_type(self) -> str:
        if self.media_type.startswith("text/") or self.media_type.endswith(("+json", "+xml", "/json")):
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


FORMATS: tuple[Format, ...] = (
    Format("html", "text/html", "html", "html", ("application/xhtml+xml",)),
    Format("ttl", "text/turtle", "ttl", "rdf", ("application/x-turtle",), "turtle", "Turtle", "Turtle"),
    Format("jsonld", "application/ld+json", "jsonld", "rdf", (), "json-ld", "JSON-LD", "JSON-LD"),
    Format("nt", "application/n-triples", "nt", "rdf", ("text/plain",), "nt", "N-Triples", "N-Triples"),
    Format("rdf", "application/rdf+xml", "rdf", "rdf", ("application/xml", "text/xml"), "xml", "RDF/XML", "RDF_XML"),
    Format("nq", "application/n-quads", "nq", "dataset", (), "nquads", "N-Quads"),
    Format("trig", "application/trig", "trig", "dataset", (), "trig", "TriG"),
    Format("json", "application/sparql-results+json", "srj", "results", ("application/json",),
           name="SPARQL results JSON", w3c="SPARQL_Results_JSON"),
    Format("data", "application/json", "json", "data", name="JSON"),
    Format("xml", "application/sparql-results+xml", "srx", "results", (), name="SPARQL results XML",
           w3c="SPARQL_Results_XML"),
    Format("csv", "text/csv", "csv", "results", (), name="CSV", w3c="SPARQL_Results_CSV"),
    Format("tsv", "text/tab-separated-values", "tsv", "results", (), name="TSV", w3c="SPARQL_Results_TSV"),
)

# --- the other media types etclod reads or serves (not representations it negotiates)

RDF_INPUT_FORMATS = tuple(f for f in FORMATS if f.kind in ("rdf", "dataset"))
"""What ``POST /validate`` reads."""
RECORD_FILE_SUFFIX = {"application/yaml": ".yaml", "application/x-yaml": ".yaml", "text/yaml": ".yaml",
                      "text/x-yaml": ".yaml", "application/json": ".json", "text/csv": ".csv"}
"""Record files uploaded to ``POST /admin/records``, by Content-Type: the suffix they are kept with."""
RELEASE_FILE_MEDIA = {".gz": "application/gzip", ".ttl": "text/turtle; charset=utf-8", ".jsonl": "application/jsonl",
                      ".json": "application/json"}
"""A release's files as served, by suffix (anything else is application/octet-stream)."""
FORMAT_PARAMS = {
    "json": "json", "srj": "json", "application/sparql-results+json": "json",
    "xml": "xml", "srx": "xml", "csv": "csv", "tsv": "tsv", "turtle": "ttl", "ttl": "ttl",
    "n3": "ttl", "nt": "nt", "ntriples": "nt", "n-triples": "nt", "jsonld": "jsonld",
    "json-ld": "jsonld", "rdf": "rdf", "rdfxml": "rdf", "rdf+xml": "rdf",
}
"""The values of the ``format``/``output``/``results`` parameters SPARQL clients send, as keys."""

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


def quality(header: str | None, media_type: str) -> tuple[float, int, int] | None:
    """How much an Accept header wants ``media_type``, as RFC 9110 section 12.5.1 says: the q
    of the most specific range that matches it (``type/subtype`` over ``type/*`` over
    ``*/*``), with that specificity (3, 2, 1) and the range's place in the header; None when no
    range matches.

    >>> quality("text/*;q=0.9, text/html;q=0", "text/html")
    (0.0, 3, 1)
    >>> quality("text/*;q=0.9, text/html;q=0", "text/turtle")
    (0.9, 2, 0)
    """
    if not header:
        return (1.0, 1, 0)
    # a pure function of two strings, asked 20-40 times a request with the same header (every
    # format and alias, for a page, for results, for graphs): remembered for headers of
    # ordinary length
    return _quality(header, media_type) if len(header) <= REMEMBERED_ACCEPT else _quality.__wrapped__(header, media_type)


REMEMBERED_ACCEPT = 512
"""Accept headers up to this long have their answers remembered (the last 4,096 pairs)."""


@lru_cache(maxsize=4096)
def _quality(header: str, media_type: str) -> tuple[float, int, int] | None:
    media_type = media_type.lower()
    best: tuple[float, int, int] | None = None
    for index, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if media == media_type:
            specificity = 3
        elif media.endswith("/*") and media != "*/*" and media_type.startswith(media[:-1]):
            specificity = 2
        elif media == "*/*":
            specificity = 1
        else:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        if best is None or specificity > best[1]:
            best = (q, specificity, index)
    return best


def format_quality(header: str | None, fmt: Format) -> tuple[float, int, int] | None:
    """:func:`quality` of a format: of the range naming it most specifically, its own media type
    or an alias (``text/turtle;q=0`` excludes Turtle though ``*/*`` matches its alias too)."""
    found = [q for q in (quality(header, m) for m in (fmt.media_type, *fmt.aliases)) if q is not None]
    return max(found, key=lambda q: q[1]) if found else None


def negotiate(header: str | None, offered: tuple[Format, ...]) -> Format | None:
    """The best of ``offered`` for an Accept header, or None when nothing acceptable.

    Each format takes the q of the most specific range that matches it (so ``q=0`` on a type
    excludes it even where ``*/*`` also matches); the highest q wins, then the more specific
    range, then the client's order; ``*/*`` alone picks the first offered format.

    >>> negotiate("text/turtle;q=0, */*", RDF_FORMATS).key
    'jsonld'
    """
    best: tuple[tuple[float, int, int, int], Format] | None = None
    for order, fmt in enumerate(offered):
        found = format_quality(header, fmt)
        if found is None or found[0] <= 0:
            continue
        rank = (found[0], found[1], -found[2], -order)
        if best is None or rank > best[0]:
            best = (rank, fmt)
    return best[1] if best else None
