"""HTTP layer: full-text search and the lists of each type, for people (HTML) and programs
(JSON, JSON-LD)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from etclod import i18n
from etclod.api.http import choose_format, choose_language
from etclod.errors import BadTypeError, ReleaseError
from etclod.formats import DATA_FORMATS
from etclod.i18n import N_
from etclod.listing import labels_for
from etclod.places import facet_label
from etclod.reconcile import TYPES
from etclod.search import SEARCH_FILE, Search

router = APIRouter(tags=["browse"])
SEARCH_FORMATS = DATA_FORMATS
PAGE = 20
FACET_TITLES = {"programme": N_("Programme"), "theme": N_("Theme"), "country": N_("Country"),
                "region": N_("Region (NUTS)"), "period": N_("Period")}


@router.get("/search", summary="Full-text search over names, acronyms, project codes and descriptions (any "
                                "language, case and diacritics ignored)")
def search(request: Request, q: str = Query("", max_length=500), type: str | None = None,
           offset: int = Query(0, ge=0, le=100_000), format: str | None = None) -> Response:
    fmt = choose_format(request, SEARCH_FORMATS)
    if type is not None and type != "" and type not in TYPES:
        raise BadTypeError(f"unknown type {type!r}; types are {', '.join(TYPES)}")
    type = type or None
    release = request.app.state.holder.get()
    path = release.path / SEARCH_FILE
    if not path.is_file():
        raise ReleaseError(f"release {release.version} has no search index; build a new release")
    results, total = Search(path).query(q, type, PAGE, offset) if q.strip() else ([], 0)
    base = request.app.state.settings.base_uri
    next_offset = offset + PAGE if offset + PAGE < total else None
    headers = {"Vary": "Accept, Accept-Language, Cookie", "Access-Control-Allow-Origin": "*"}
    if fmt.key == "data":
        return JSONResponse({"query": q, "type": type, "total": total, "offset": offset,
                             "next": next_offset, "results": [
                                 {**r, "iri": f"{base}id/{r['id']}"} for r in results]}, headers=headers)
    if fmt.key == "jsonld":
        return JSONResponse({"@context": f"{base}context.jsonld", "@graph": [
            {"@id": f"{base}id/{r['id']}", "rdfs:label": r["name"]} for r in results]},
            media_type="application/ld+json", headers=headers)
    lang = choose_language(request)
    pages = request.app.state.pages
    names = labels_for(path, [r["id"] for r in results], lang)
    shown = [{**r, "name": names.get(r["id"]) or r["name"], "type_name": pages.type_name(r["type"], lang)}
             for r in results]
    crumbs = [(i18n.tr(lang, "Home"), "/"), (i18n.tr(lang, "Search"), None)]
    page = pages.render(
        "search.html", lang=lang, request=request, title=i18n.tr(lang, "Search"), q=q, type=type,
        types=[(t, pages.type_name(t, lang, 1)) for t in TYPES], results=shown, total=total, offset=offset,
        next_offset=next_offset, release=release.version, crumbs=crumbs)
    return HTMLResponse(page, headers=headers)


LIST_FORMATS = SEARCH_FORMATS


@router.get("/id/{rtype}/", summary="The resources of one type, ordered by name: facets, keyset pages; "
                                     "HTML, JSON or JSON-LD")
def listing(request: Request, rtype: str, cursor: str | None = Query(None, max_length=300),
            programme: str | None = None, theme: str | None = None, country: str | None = None,
            region: str | None = None, period: str | None = None, format: str | None = None,
            lang: str | None = None, limit: int = Query(50, ge=1, le=200)) -> Response:
    from etclod.listing import list_resources

    fmt = choose_format(request, LIST_FORMATS)
    release = request.app.state.holder.get()
    settings = request.app.state.settings
    language = choose_language(request)
    filters = {k: v for k, v in (("programme", programme), ("theme", theme), ("country", country),
                                 ("region", region), ("period", period)) if v}
    path = release.path / SEARCH_FILE
    if not path.is_file():
        raise ReleaseError(f"release {release.version} has no list index; build a new release")
    result = list_resources(path, settings.base_uri, rtype, filters, cursor, language, limit,
                            with_facets=fmt.key != "jsonld")
    params = sorted(filters.items()) + ([("limit", str(limit))] if limit != 50 else [])
    next_url = (f"/id/{rtype}/?{urlencode([*params, ('cursor', result.next_cursor)])}"
                if result.next_cursor else None)
    headers = {"Vary": "Accept, Accept-Language, Cookie", "Access-Control-Allow-Origin": "*"}
    if next_url:
        headers["Link"] = f'<{next_url}>; rel="next"'
    if fmt.key == "data":
        return JSONResponse({"type": rtype, "filters": filters, "items": result.items, "facets": result.facets,
                             "next": next_url}, headers=headers)
    if fmt.key == "jsonld":
        return JSONResponse({"@context": f"{settings.base_uri}context.jsonld", "@graph": [
            {"@id": item["iri"], "rdfs:label": item["label"]} for item in result.items]},
            media_type="application/ld+json", headers=headers)
    pages = request.app.state.pages

    def label(facet: str, value: dict) -> str:
        return facet_label(facet, value["value"], language) or value["label"]

    def href(facet: str | None, value: str | None) -> str:
        chosen = {**filters, **({facet: value} if facet and value else {})}
        return f"/id/{rtype}/?{urlencode(sorted(chosen.items()))}" if chosen else f"/id/{rtype}/"

    facet_names = {name: {v["value"]: label(name, v) for v in values} for name, values in result.facets.items()}
    facets = [{"title": i18n.tr(language, FACET_TITLES.get(name, name)),
               "values": [{"label": label(name, v), "count": v["count"], "href": href(name, v["value"])}
                          for v in values if filters.get(name) != v["value"]]}
              for name, values in result.facets.items()]
    active = [{"facet": i18n.tr(language, FACET_TITLES.get(name, name)),
               "label": facet_names.get(name, {}).get(value) or facet_label(name, value, language) or value,
               "remove": f"/id/{rtype}/?{urlencode(sorted((k, v) for k, v in filters.items() if k != name))}"}
              for name, value in sorted(filters.items())]
    heading = pages.type_name(rtype, language, 1)
    crumbs = [(i18n.tr(language, "Home"), "/"), (heading, None)]
    page = pages.render(
        "list.html", lang=language, request=request, title=heading, heading=heading, rtype=rtype,
        items=result.items, facets=[f for f in facets if f["values"]], filters=filters, active=active,
        next_url=next_url, release=release.version, crumbs=crumbs,
        count_text=pages.type_count(rtype, result.total, language))
    return HTMLResponse(page, headers=headers)
