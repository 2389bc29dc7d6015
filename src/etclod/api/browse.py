"""HTTP layer: full-text search for people (HTML) and programs (JSON, JSON-LD)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from etclod.api.http import choose_format, choose_language
from etclod.errors import QueryError, ReleaseError
from etclod.formats import DATA_FORMATS
from etclod.reconcile import TYPES
from etclod.search import SEARCH_FILE, Search

router = APIRouter(tags=["browse"])
SEARCH_FORMATS = DATA_FORMATS
PAGE = 20


@router.get("/search", summary="Full-text search over names, acronyms and descriptions (any language, "
                                "case and diacritics ignored)")
def search(request: Request, q: str = Query("", max_length=500), type: str | None = None,
           offset: int = Query(0, ge=0, le=100_000), format: str | None = None) -> Response:
    fmt = choose_format(request, SEARCH_FORMATS)
    if type is not None and type not in TYPES:
        raise QueryError(f"unknown type {type!r}; types are {', '.join(TYPES)}", code="bad_type")
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
    page = request.app.state.pages.render(
        "search.html", lang=lang, title="Search" if lang == "en" else "Meklēt", q=q, type=type, types=TYPES,
        results=results, total=total, offset=offset, next_offset=next_offset, release=release.version)
    return HTMLResponse(page, headers=headers)


LIST_FORMATS = SEARCH_FORMATS


@router.get("/id/{rtype}/", summary="The resources of one type: facets, keyset pages; HTML, JSON or JSON-LD")
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
    query = "&".join(f"{k}={v}" for k, v in sorted(filters.items()) + ([("limit", str(limit))] if limit != 50 else []))
    next_url = f"/id/{rtype}/?{query + '&' if query else ''}cursor={result.next_cursor}" if result.next_cursor else None
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
    page = request.app.state.pages.render(
        "list.html", lang=language, title=TYPES.get(rtype, rtype), rtype=rtype, type_name=TYPES.get(rtype, rtype),
        items=result.items, facets=result.facets, filters=filters, next_url=next_url, release=release.version)
    return HTMLResponse(page, headers=headers)
