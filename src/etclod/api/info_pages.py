"""HTTP layer: the catalogue, the releases and the validation report as pages a person reads
(the RDF and JSON of each stay one ``Accept`` or ``?format=`` away)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from etclod import i18n
from etclod.api.pages import Pages, local_href
from etclod.describe import pick_label
from etclod.formats import FORMATS
from etclod.namespaces import SPDX, VOID

MEDIA_NAMES = {f.media_type: f.name for f in FORMATS if f.kind in ("rdf", "dataset")}


def _text(graph: Graph, subject: Any, predicate: Any, lang: str) -> str | None:
    return pick_label(list(graph.objects(subject, predicate)), lang)


def _media(graph: Graph, distribution: Any) -> str:
    media = str(graph.value(distribution, DCAT.mediaType) or "")
    media = media.rsplit("/media-types/", 1)[-1]
    return MEDIA_NAMES.get(media, media or "?")


def catalog_page(pages: Pages, request: Any, catalog: Graph, lang: str, release: str) -> str:
    """The DCAT-AP catalogue: its datasets, their downloads (format, size, checksum), the
    query service and the linksets, in the page's language."""
    base = request.app.state.settings.base_uri
    datasets = []
    for dataset in sorted(catalog.subjects(RDF.type, DCAT.Dataset), key=str):
        downloads = []
        for dist in sorted(catalog.objects(dataset, DCAT.distribution), key=str):
            url = catalog.value(dist, DCAT.downloadURL) or catalog.value(dist, DCAT.accessURL)
            checksum = catalog.value(dist, SPDX.checksum)
            downloads.append({
                "format": _media(catalog, dist), "href": local_href(str(url), base) if url else None,
                "file": str(url).rsplit("/", 1)[-1] if url else "",
                "bytes": catalog.value(dist, DCAT.byteSize),
                "sha256": str(catalog.value(checksum, SPDX.checksumValue) or "") if checksum is not None else ""})
        linksets = []
        for subset in sorted(catalog.objects(dataset, VOID.subset), key=str):
            if (subset, RDF.type, VOID.Linkset) not in catalog:
                continue
            target = catalog.value(subset, VOID.objectsTarget)
            dump = catalog.value(subset, VOID.dataDump)
            linksets.append({"target": urlsplit(str(target)).netloc or str(target) if target else "?",
                             "triples": catalog.value(subset, VOID.triples),
                             "href": local_href(str(dump), base) if dump else None})
        datasets.append({"title": _text(catalog, dataset, DCTERMS.title, lang),
                         "description": _text(catalog, dataset, DCTERMS.description, lang),
                         "modified": catalog.value(dataset, DCTERMS.modified),
                         "triples": catalog.value(dataset, VOID.triples),
                         "downloads": downloads, "linksets": linksets})
    catalogue = next(iter(catalog.subjects(RDF.type, DCAT.Catalog)), None)
    title = (_text(catalog, catalogue, DCTERMS.title, lang) if catalogue is not None else None) or i18n.tr(lang, "Catalogue")
    crumbs = [(i18n.tr(lang, "Home"), "/"), (i18n.tr(lang, "Catalogue"), None)]
    return pages.render("catalog.html", lang=lang, request=request, title=title, datasets=datasets,
                        crumbs=crumbs, release=release)


def releases_page(pages: Pages, request: Any, releases: list[dict[str, Any]], current: str | None,
                  lang: str) -> str:
    """Every kept release, newest first, with what changed and its files."""
    crumbs = [(i18n.tr(lang, "Home"), "/"), (i18n.tr(lang, "Releases"), None)]
    return pages.render("releases.html", lang=lang, request=request, title=i18n.tr(lang, "Releases"),
                        releases=releases, current=current, crumbs=crumbs, release=current or "—")


def validation_rows(pages: Pages, graph: Graph, labels: dict[Any, list[Any]], lang: str, base: str,
                    sh: Any) -> list[dict[str, Any]]:
    """The report's results: the resource and property by name, the value, the message."""
    rows: list[dict[str, Any]] = []
    for node in graph.subjects(RDF.type, sh.ValidationResult):
        focus = graph.value(node, sh.focusNode)
        path = graph.value(node, sh.resultPath)
        value = graph.value(node, sh.value)
        rows.append({
            "focus": {"text": pick_label(labels.get(focus, []), lang) or str(focus).rsplit("/", 1)[-1],
                      "href": local_href(str(focus), base) if isinstance(focus, URIRef) else None},
            "path": pages.term(path, lang) if isinstance(path, URIRef) else "",
            "value": str(value) if value is not None else "",
            "message": str(graph.value(node, sh.resultMessage) or "")})
    rows.sort(key=lambda r: (str(r["focus"]["text"]), str(r["path"])))
    return rows


