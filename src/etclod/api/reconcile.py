"""HTTP layer: the W3C Reconciliation Service API (0.2, as OpenRefine 3 speaks it; the 1.0
draft's JSON request shape is accepted too) at ``/reconcile``."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from etclod import recordtypes
from etclod.errors import QueryError
from etclod.reconcile import TYPES, Candidate

router = APIRouter(tags=["reconciliation"])
CALLBACK = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$")
PROPERTIES = {"country": "Country", "town": "Town", "nuts": "NUTS region", "programme": "Programme",
              "period": "Programme period", "eu_funding": "EU funding (EUR)"}
CORS = {"Access-Control-Allow-Origin": "*"}


def _answer(request: Request, data: Any) -> Response:
    """JSON, or JSONP when a ``callback`` parameter asks for it (GET, as the spec allows)."""
    callback = request.query_params.get("callback")
    if callback:
        if not CALLBACK.match(callback):
            raise QueryError("callback must be a JavaScript identifier", code="bad_callback")
        body = f"/**/{callback}({json.dumps(data, ensure_ascii=False)});"
        return Response(body, media_type="application/javascript; charset=utf-8", headers=CORS)
    return JSONResponse(data, headers=CORS)


def manifest(request: Request) -> dict[str, Any]:
    base = request.app.state.settings.base_uri
    service = f"{base}reconcile"
    return {
        "versions": ["0.2", "1.0-draft"],
        "name": "etclod: European Territorial Cooperation organisations, projects and programmes",
        "identifierSpace": f"{base}id/",
        "schemaSpace": "https://w3id.org/etclod/def#",
        "defaultTypes": [{"id": key, "name": name} for key, name in TYPES.items()],
        "view": {"url": f"{base}id/{{{{id}}}}"},
        "preview": {"url": f"{service}/preview?id={{{{id}}}}", "width": 400, "height": 120},
        "suggest": {
            "entity": {"service_url": service, "service_path": "/suggest/entity"},
            "type": {"service_url": service, "service_path": "/suggest/type"},
            "property": {"service_url": service, "service_path": "/suggest/property"},
        },
        "extend": {"propose_properties": {"service_url": service, "service_path": "/propose_properties"},
                   "property_settings": []},
    }


def _candidate(c: Candidate) -> dict[str, Any]:
    entity = c.entity
    return {"id": entity["id"], "name": entity["names"][0], "score": c.score, "match": c.match,
            "type": [{"id": entity["type"], "name": TYPES[entity["type"]]}],
            "description": ", ".join(n for n in entity["names"][1:3])}


def _query_type(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    value = raw[0] if isinstance(raw, list) and raw else raw
    if isinstance(value, dict):
        value = value.get("id")
    text = str(value).rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower()
    text = {"organization": "organisation", "funding scheme": "programme"}.get(text, text)
    if text not in TYPES:
        raise QueryError(f"unknown type {value!r}; types are {', '.join(TYPES)}", code="bad_type")
    return text


def _run(request: Request, query: Any) -> list[dict[str, Any]]:
    if isinstance(query, str):
        query = {"query": query}
    if not isinstance(query, dict) or not isinstance(query.get("query", ""), str):
        raise QueryError("each reconciliation query is an object with a query string", code="bad_query")
    text = query.get("query", "")
    limit = query.get("limit", 5)
    if not isinstance(limit, int) or not 0 < limit <= 100:
        raise QueryError("limit must be an integer from 1 to 100", code="bad_query")
    properties = {}
    for prop in query.get("properties") or []:
        if isinstance(prop, dict):
            pid = prop.get("pid") or prop.get("id")
            value = prop.get("v")
            if isinstance(value, list):
                value = value[0] if value else None
            if isinstance(value, dict):
                value = value.get("id") or value.get("name")
            if pid and value is not None:
                properties[str(pid)] = str(value)
    index = request.app.state.holder.get().reconcile_index
    found = index.search(text, _query_type(query.get("type")), limit, properties) if text.strip() else []
    return [_candidate(c) for c in found]


def _extend(request: Request, extend: Any) -> dict[str, Any]:
    if not isinstance(extend, dict) or not isinstance(extend.get("ids"), list):
        raise QueryError("extend is an object with ids and properties", code="bad_query")
    wanted = [p.get("id") for p in extend.get("properties") or [] if isinstance(p, dict)]
    unknown = [p for p in wanted if p not in PROPERTIES]
    if unknown:
        raise QueryError(f"unknown properties {unknown}; available: {', '.join(PROPERTIES)}", code="bad_query")
    index = request.app.state.holder.get().reconcile_index
    base = request.app.state.settings.base_uri
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for entity_id in extend["ids"][:1000]:
        entity = index.by_id.get(str(entity_id), {})
        row: dict[str, list[dict[str, Any]]] = {}
        for prop in wanted:
            key = "eu" if prop == "eu_funding" else prop
            value = entity.get(key)
            if value is None:
                row[prop] = []
            elif prop == "programme" and value.startswith(f"{base}id/"):
                target = index.by_id.get(value[len(base) + 3:], {})
                row[prop] = [{"id": value[len(base) + 3:], "name": (target.get("names") or [value])[0]}]
            elif prop == "eu_funding":
                row[prop] = [{"float": float(value)}]
            else:
                row[prop] = [{"str": value.rsplit("/", 1)[-1] if prop in ("country", "nuts") else value}]
        rows[str(entity_id)] = row
    return {"meta": [{"id": p, "name": PROPERTIES[p]} for p in wanted], "rows": rows}


@router.api_route("/reconcile", methods=["GET", "POST"], summary="Reconciliation service: manifest, queries, extend")
async def reconcile(request: Request) -> Response:
    """Without parameters: the service manifest. ``queries`` (a JSON batch, by GET or form
    POST, or a JSON body ``{"queries": [...]}`` as in the 1.0 draft) reconciles names;
    ``extend`` fetches property values of reconciled ids."""
    params = dict(request.query_params)
    draft = False
    if request.method == "POST":
        body = await request.body()
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                document = json.loads(body or b"{}")
            except ValueError as exc:
                raise QueryError(f"the body is not JSON: {exc}", code="bad_query") from exc
            if isinstance(document, dict) and isinstance(document.get("queries"), list):
                draft = True
                params["queries"] = json.dumps(document["queries"])
            elif isinstance(document, dict):
                params.update({k: json.dumps(v) for k, v in document.items()})
        else:
            try:
                form = parse_qs(body.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise QueryError("the form is not UTF-8", code="bad_query") from exc
            params.update({k: v[0] for k, v in form.items()})
    if "extend" in params:
        try:
            return _answer(request, _extend(request, json.loads(params["extend"])))
        except ValueError as exc:
            raise QueryError(f"extend is not JSON: {exc}", code="bad_query") from exc
    if "queries" not in params:
        return _answer(request, manifest(request))
    try:
        queries = json.loads(params["queries"])
    except ValueError as exc:
        raise QueryError(f"queries is not JSON: {exc}", code="bad_query") from exc
    if draft:
        return _answer(request, {"results": [{"candidates": _run(request, q)} for q in queries]})
    if not isinstance(queries, dict):
        raise QueryError("queries is an object of named queries: {\"q0\": {\"query\": ...}}", code="bad_query")
    return _answer(request, {key: {"result": _run(request, q)} for key, q in list(queries.items())[:100]})


@router.get("/reconcile/suggest/entity", summary="Entity suggestions for a prefix")
def suggest_entity(request: Request, prefix: str = "", type: str | None = None, cursor: int = 0) -> Response:
    index = request.app.state.holder.get().reconcile_index
    found = index.suggest(prefix, _query_type(type), limit=10 + max(0, cursor))[max(0, cursor):]
    return _answer(request, {"result": [{"id": e["id"], "name": e["names"][0],
                                         "description": TYPES[e["type"]]} for e in found]})


@router.get("/reconcile/suggest/type", summary="Type suggestions")
def suggest_type(request: Request, prefix: str = "") -> Response:
    wanted = prefix.lower()
    return _answer(request, {"result": [{"id": k, "name": v} for k, v in TYPES.items()
                                        if k.startswith(wanted) or v.lower().startswith(wanted)]})


@router.get("/reconcile/suggest/property", summary="Property suggestions")
def suggest_property(request: Request, prefix: str = "") -> Response:
    wanted = prefix.lower()
    return _answer(request, {"result": [{"id": k, "name": v} for k, v in PROPERTIES.items()
                                        if k.startswith(wanted) or v.lower().startswith(wanted)]})


@router.get("/reconcile/propose_properties", summary="Properties a data extension can fetch")
def propose_properties(request: Request, type: str = "organisation", limit: int = 10) -> Response:
    rtype = _query_type(type) or "organisation"
    found = recordtypes.get(rtype).reconcile
    allowed = list(found.properties) if found else []
    return _answer(request, {"type": rtype, "properties": [{"id": p, "name": PROPERTIES[p]} for p in allowed][:limit]})


@router.get("/reconcile/preview", summary="A small HTML card of one resource", response_class=HTMLResponse)
def preview(request: Request, id: str) -> HTMLResponse:
    index = request.app.state.holder.get().reconcile_index
    entity = index.by_id.get(id)
    if entity is None:
        from etclod.errors import NotFoundError
        raise NotFoundError(f"no resource {id!r}")
    extra = [f"{html.escape(k)}: {html.escape(str(entity[k]).rsplit('/', 1)[-1])}"
             for k in ("country", "town", "nuts", "period") if entity.get(k)]
    body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(entity["names"][0])}</title>'
            f'</head><body style="font:14px sans-serif;margin:6px"><strong><a href="/id/{html.escape(id)}" target="_blank">'
            f'{html.escape(entity["names"][0])}</a></strong><br><small>{TYPES[entity["type"]]}'
            f'{" · " + " · ".join(extra) if extra else ""}</small><br>'
            f'{"<br>".join(html.escape(n) for n in entity["names"][1:4])}</body></html>')
    return HTMLResponse(body, headers=CORS)
