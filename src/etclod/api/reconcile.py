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

from etclod.namespaces import ETC
from etclod import i18n, recordtypes
from etclod.i18n import N_
from etclod.places import country_name, nuts_name
from etclod.errors import BatchTooLargeError, BadCallbackError, BadTypeError, QueryError
from etclod.jsoninput import read_json
from etclod.formats import parse_accept
from etclod.reconcile import TYPES, Candidate, has_value, name_in

router = APIRouter(tags=["reconciliation"])
CALLBACK = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$")
PROPERTIES = {"country": "Country", "town": "Town", "nuts": "NUTS region", "programme": "Programme",
              "period": "Programme period", "eu_funding": "EU funding (EUR)"}
CORS = {"Access-Control-Allow-Origin": "*"}


def _answer(request: Request, data: Any, headers: dict[str, str] | None = None) -> Response:
    """JSON, or JSONP when a ``callback`` parameter asks for it (GET, as the spec allows)."""
    headers = {**CORS, "Vary": "Accept-Language", **(headers or {})}
    callback = request.query_params.get("callback")
    if callback:
        if not CALLBACK.match(callback):
            raise BadCallbackError("callback must be a JavaScript identifier")
        body = f"/**/{callback}({json.dumps(data, ensure_ascii=False)});"
        return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)
    return JSONResponse(data, headers=headers)


def languages(request: Request) -> list[str]:
    """The languages the client reads, most wanted first (``Accept-Language``; ``lang`` of a
    1.0 query where given)."""
    return [lang for lang, q in parse_accept(request.headers.get("accept-language"))
            if q > 0 and lang not in ("*", "*/*")]


V1_LINK = '<{base}reconcile/v1>; rel="alternate"; title="W3C Reconciliation API 1.0-draft"'



def manifest(request: Request) -> dict[str, Any]:
    base = request.app.state.settings.base_uri
    service = f"{base}reconcile"
    return {
        "versions": ["0.2"],  # the 1.0 draft has its own manifest, at /reconcile/v1
        "name": "etclod: European Territorial Cooperation organisations, projects and programmes",
        "identifierSpace": f"{base}id/",
        "schemaSpace": str(ETC),
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


def _candidate(c: Candidate, langs: list[str] | None = None) -> dict[str, Any]:
    entity = c.entity
    name, lang = name_in(entity, langs or [])
    out = {"id": entity["id"], "name": name, "score": c.score, "match": c.match,
           "type": [{"id": entity["type"], "name": TYPES[entity["type"]]}],
           "description": ", ".join([n for n in entity["names"] if n != name][:2])}
    if lang:
        out["lang"] = lang
    return out


def _one_type(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    text = str(value).rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower()
    text = {"organization": "organisation", "funding scheme": "programme"}.get(text, text)
    if text not in TYPES:
        raise BadTypeError(f"unknown type {value!r}; types are {', '.join(TYPES)}")
    return text


def _query_type(raw: Any) -> tuple[str, ...] | None:
    """The types a query names: one (a string or ``{"id": ...}``) or a list of them, as the
    API allows; None for any type."""
    if raw is None or raw == "" or raw == []:
        return None
    values = raw if isinstance(raw, list) else [raw]
    return tuple(dict.fromkeys(_one_type(v) for v in values))


def from_conditions(query: dict[str, Any]) -> dict[str, Any]:
    """A 1.0-draft query (``conditions``: ``name``, ``id`` and ``property`` matches) as the
    0.2 shape the matcher reads: the names as the query text, ids to look up, properties."""
    conditions = query.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise QueryError("conditions is a non-empty list of {matchType, propertyValue}")
    names, ids, properties, required = [], [], [], []
    for number, condition in enumerate(conditions):
        if not isinstance(condition, dict) or "propertyValue" not in condition:
            raise QueryError(f"condition {number} needs matchType and propertyValue")
        values = condition["propertyValue"] if isinstance(condition["propertyValue"], list) else [condition["propertyValue"]]
        values = [v.get("id") if isinstance(v, dict) else v for v in values]
        kind = condition.get("matchType")
        if kind == "name":
            names += [str(v) for v in values if v is not None]
        elif kind == "id":
            ids += [str(v) for v in values if v is not None]
        elif kind == "property":
            pid = condition.get("propertyId")
            if not isinstance(pid, str) or not pid:
                raise QueryError(f"condition {number} matches a property: it needs propertyId")
            properties += [{"pid": pid, "v": v} for v in values if v is not None]
            if condition.get("required"):
                required += [(pid, str(v)) for v in values if v is not None]
        else:
            raise QueryError(f"condition {number}: matchType is name, id or property, not {kind!r}")
    return {"query": " ".join(names), "ids": ids, "properties": properties, "required": required,
            "type": query.get("type"), "limit": query.get("limit", 5)}


def _run(request: Request, query: Any, langs: list[str] | None = None) -> list[dict[str, Any]]:
    if isinstance(query, str):
        query = {"query": query}
    if isinstance(query, dict) and "conditions" in query:
        query = from_conditions(query)
    if not isinstance(query, dict) or not isinstance(query.get("query", ""), str):
        raise QueryError("each reconciliation query is an object with a query string")
    text = query.get("query", "")
    limit = query.get("limit", 5)
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= 100:
        raise QueryError("limit must be an integer from 1 to 100")
    properties = {}
    if not isinstance(query.get("properties") or [], list) or not isinstance(query.get("ids") or [], list) \
            or not all(isinstance(i, str) for i in query.get("ids") or []):
        raise QueryError("properties and ids of a query are lists: [{\"pid\": ..., \"v\": ...}], [\"type/key\"]")
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
    types = _query_type(query.get("type"))
    base = request.app.state.settings.base_uri
    exact = [index.by_id[i.removeprefix(f"{base}id/")] for i in query.get("ids") or []
             if i.removeprefix(f"{base}id/") in index.by_id]
    found = [Candidate(e, 100.0, True) for e in exact if not types or e["type"] in types]
    if text.strip():
        known = {c.entity["id"] for c in found}
        found += [c for c in index.search(text, types, limit, properties) if c.entity["id"] not in known]
    for pid, value in query.get("required") or []:
        found = [c for c in found if has_value(c.entity, pid, value)]
    return [_candidate(c, langs) for c in found[:limit]]


def _extend(request: Request, extend: Any) -> dict[str, Any]:
    if not isinstance(extend, dict) or not isinstance(extend.get("ids"), list):
        raise QueryError("extend is an object with ids and properties")
    if not isinstance(extend.get("properties") or [], list) or len(extend["ids"]) > MAX_EXTEND_IDS:
        raise QueryError(f"extend names at most {MAX_EXTEND_IDS} ids and a list of properties "
                         "[{\"id\": \"country\"}]")
    named = [p.get("id") for p in extend.get("properties") or [] if isinstance(p, dict)]
    wanted = [p for p in named if isinstance(p, str)]
    if len(wanted) != len(named):
        raise QueryError("each property to extend is named by a string id: {\"id\": \"country\"}")
    unknown = [p for p in wanted if p not in PROPERTIES]
    if unknown:
        raise QueryError(f"unknown properties {unknown}; available: {', '.join(PROPERTIES)}")
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
            document = _read(request, body or b"{}", "the body")
            if isinstance(document, dict) and isinstance(document.get("queries"), list):
                draft = True
                params["queries"] = json.dumps(document["queries"])
            elif isinstance(document, dict):
                params.update({k: json.dumps(v) for k, v in document.items()})
        else:
            try:
                form = parse_qs(body.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise QueryError("the form is not UTF-8") from exc
            params.update({k: v[0] for k, v in form.items()})
    if "extend" in params:
        try:
            return _answer(request, _extend(request, _read(request, params["extend"], "extend")))
        except ValueError as exc:
            raise QueryError(f"extend is not JSON: {exc}") from exc
    if "queries" not in params:
        link = V1_LINK.format(base=request.app.state.settings.base_uri)
        return _answer(request, manifest(request), {"Link": link})
    queries = _read(request, params["queries"], "queries")
    _check_batch(request, queries)
    langs = languages(request)
    if draft:
        return _answer(request, match_batch(request, queries, langs))
    if not isinstance(queries, dict):
        raise QueryError("queries is an object of named queries: {\"q0\": {\"query\": ...}}")
    return _answer(request, {key: {"result": _run(request, q, langs)} for key, q in list(queries.items())[:100]})


MAX_EXTEND_IDS = 1000


def _read(request: Request, data: str | bytes, what: str) -> Any:
    """Bounded JSON: size, nesting and lone surrogates checked (``jsoninput.read_json``)."""
    return read_json(data, what, request.app.state.settings.reconcile_max_bytes)


def _check_batch(request: Request, queries: Any) -> None:
    """A batch over ``reconcile_max_queries`` is refused, never cut short."""
    limit = request.app.state.settings.reconcile_max_queries
    if isinstance(queries, (dict, list)) and len(queries) > limit:
        raise BatchTooLargeError(f"the batch holds {len(queries)} queries; the limit is {limit} a batch: split it")


def match_batch(request: Request, queries: Any, langs: list[str]) -> dict[str, Any]:
    """A 1.0-draft batch (a list of queries; ``lang`` of a query before Accept-Language)."""
    if not isinstance(queries, list):
        raise QueryError("queries is a list of queries")
    _check_batch(request, queries)
    results = []
    for query in queries[:100]:
        wanted = [query["lang"], *langs] if isinstance(query, dict) and isinstance(query.get("lang"), str) else langs
        results.append({"candidates": _run(request, query, wanted)})
    return {"results": results}


def page(request: Request, cursor: int, offset: int | None, limit: int | None) -> tuple[int, int]:
    """Where a suggest page starts and how long it is: ``cursor`` (0.2 and 1.0) or ``offset``,
    and ``limit`` (default 10, at most 100)."""
    start = offset if offset is not None else cursor
    size = 10 if limit is None else limit
    if start < 0 or not 0 < size <= 100:
        raise QueryError("cursor and offset are 0 or more; limit is from 1 to 100")
    return start, size


def suggest_entities(request: Request, prefix: str, type: Any, start: int, size: int) -> dict[str, Any]:
    index = request.app.state.holder.get().reconcile_index
    langs = languages(request)
    types = _query_type(type.split(",") if isinstance(type, str) and "," in type else type)
    base = request.app.state.settings.base_uri
    exact = index.by_id.get(prefix.strip().removeprefix(f"{base}id/"))  # an id as the prefix finds it
    found = [exact] if exact is not None and (not types or exact["type"] in types) else []
    found += [e for e in index.suggest(prefix, types, limit=start + size + 1) if e is not exact]
    result = []
    for entity in found[start:start + size]:
        name, lang = name_in(entity, langs)
        item = {"id": entity["id"], "name": name, "description": TYPES[entity["type"]],
                "notable": [{"id": entity["type"], "name": TYPES[entity["type"]]}]}
        if lang:
            item["lang"] = lang
        result.append(item)
    return {"result": result}


def suggest_names(table: dict[str, str], prefix: str, start: int, size: int) -> dict[str, Any]:
    wanted = prefix.lower().strip()
    found = [{"id": k, "name": v} for k, v in table.items() if k.startswith(wanted) or v.lower().startswith(wanted)
             or any(w.startswith(wanted) for w in v.lower().split())]
    return {"result": found[start:start + size]}


@router.get("/reconcile/suggest/entity", summary="Entity suggestions for a prefix (an id finds itself)")
def suggest_entity(request: Request, prefix: str = "", type: str | None = None, cursor: int = 0,
                   offset: int | None = None, limit: int | None = None) -> Response:
    start, size = page(request, cursor, offset, limit)
    return _answer(request, suggest_entities(request, prefix, type, start, size))


@router.get("/reconcile/suggest/type", summary="Type suggestions")
def suggest_type(request: Request, prefix: str = "", cursor: int = 0, offset: int | None = None,
                 limit: int | None = None) -> Response:
    start, size = page(request, cursor, offset, limit)
    return _answer(request, suggest_names(TYPES, prefix, start, size))


@router.get("/reconcile/suggest/property", summary="Property suggestions")
def suggest_property(request: Request, prefix: str = "", cursor: int = 0, offset: int | None = None,
                     limit: int | None = None) -> Response:
    start, size = page(request, cursor, offset, limit)
    return _answer(request, suggest_names(PROPERTIES, prefix, start, size))


@router.get("/reconcile/propose_properties", summary="Properties a data extension can fetch")
def propose_properties(request: Request, type: str = "organisation", limit: int = 10) -> Response:
    rtype = (_query_type(type) or ("organisation",))[0]
    found = recordtypes.get(rtype).reconcile
    allowed = list(found.properties) if found else []
    return _answer(request, {"type": rtype, "properties": [{"id": p, "name": PROPERTIES[p]} for p in allowed][:limit]})


PREVIEW_FIELDS = {"country": N_("Country"), "town": N_("Town"), "nuts": N_("Region (NUTS)"), "period": N_("Period")}


def _place(field: str, value: str, lang: str) -> str:
    """A country or NUTS region by name; other values as they are."""
    code = value.rsplit("/", 1)[-1]
    if field == "country":
        return country_name(code, lang) or code
    if field == "nuts":
        return nuts_name(code) or code
    return value


def preview_card(request: Request, id: str) -> HTMLResponse:
    """A small HTML card of one resource, in the reader's language where it has a name in it."""
    index = request.app.state.holder.get().reconcile_index
    base = request.app.state.settings.base_uri
    entity = index.by_id.get(id.removeprefix(f"{base}id/"))
    if entity is None:
        from etclod.errors import NotFoundError
        raise NotFoundError(f"no resource {id!r}")
    name, lang = name_in(entity, languages(request))
    others = [n for n in entity["names"] if n != name]
    words = lang if lang in i18n.LANGUAGES else "en"  # the card's own words: lv or en
    extra = [f"{html.escape(i18n.tr(words, PREVIEW_FIELDS[k]))}: {html.escape(_place(k, str(entity[k]), words))}"
             for k in ("country", "town", "nuts", "period") if entity.get(k)]
    kind = recordtypes.get(entity["type"]).label(words) if entity["type"] in recordtypes.TYPES else TYPES[entity["type"]]
    body = (f'<!doctype html><html lang="{html.escape(lang or "en")}"><head><meta charset="utf-8"><title>{html.escape(name)}</title>'
            f'</head><body style="font:14px sans-serif;margin:6px"><strong><a href="/id/{html.escape(entity["id"])}" target="_blank">'
            f'{html.escape(name)}</a></strong><br><small>{html.escape(kind[:1].upper() + kind[1:])}'
            f'{" · " + " · ".join(extra) if extra else ""}</small><br>'
            f'{"<br>".join(html.escape(n) for n in others[:3])}</body></html>')
    return HTMLResponse(body, headers={**CORS, "Vary": "Accept-Language"})


@router.get("/reconcile/preview", summary="A small HTML card of one resource", response_class=HTMLResponse)
def preview(request: Request, id: str) -> HTMLResponse:
    return preview_card(request, id)
