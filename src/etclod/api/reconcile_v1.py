"""HTTP layer: the W3C Reconciliation API 1.0 draft at ``/reconcile/v1``, at the paths the
draft names (``/match``, ``/suggest/{entity,type,property}``, ``/extend/propose``, ``/extend``,
``/preview``). The same matcher as the 0.2 service at ``/reconcile`` (which OpenRefine 3
speaks); the two manifests cannot be one document (0.2's ``suggest`` entries are objects,
1.0's booleans), so each has its own and names the other in a ``Link`` header."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from etclod.api.reconcile import (CORS, _read, PROPERTIES, _answer, _extend, languages, match_batch, page,
                                  preview_card, propose_properties, suggest_entities, suggest_names)
from etclod.errors import QueryError
from etclod.reconcile import TYPES

ROOT = "/reconcile/v1"
router = APIRouter(tags=["reconciliation 1.0-draft"])
V02_LINK = '<{base}reconcile>; rel="alternate"; title="W3C Reconciliation API 0.2"'


def manifest(request: Request) -> dict[str, Any]:
    base = request.app.state.settings.base_uri
    return {
        "versions": ["1.0-draft"],
        "name": "etclod: European Territorial Cooperation organisations, projects and programmes",
        "lang": "en",
        "view": {"url": f"{base}id/{{id}}"},
        "defaultTypes": [{"id": key, "name": name} for key, name in TYPES.items()],
        "suggest": {"entity": True, "type": True, "property": True},
        "preview": {"width": 400, "height": 120},
        "extend": {"proposeProperties": True, "propertySettings": []},
    }


@router.get(ROOT, summary="Reconciliation 1.0-draft: the service manifest")
def service(request: Request) -> Response:
    return _answer(request, manifest(request), {"Link": V02_LINK.format(base=request.app.state.settings.base_uri)})


async def _json_body(request: Request, field: str) -> Any:
    """The request document: a JSON body (the draft's form), or ``field=`` in a form."""
    body = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if ctype == "application/x-www-form-urlencoded":
            values = parse_qs(body.decode("utf-8")).get(field)
            if not values:
                raise QueryError(f"the form has no {field} field")
            value = _read(request, values[0], field)
            return value if field != "queries" else {"queries": value}
        return _read(request, body or b"null", "the body")
    except UnicodeDecodeError as exc:
        raise QueryError("the body is not UTF-8") from exc
    except ValueError as exc:
        raise QueryError(f"the body is not JSON: {exc}") from exc


@router.post(f"{ROOT}/match", summary="Reconciliation 1.0-draft: a batch of queries")
async def match(request: Request) -> Response:
    """``{"queries": [{"conditions": [...], "type": ..., "limit": ...}]}``; also the 0.2
    ``query`` string in place of conditions."""
    document = await _json_body(request, "queries")
    if not isinstance(document, dict) or not isinstance(document.get("queries"), list):
        raise QueryError('the body is {"queries": [...]}')
    return _answer(request, match_batch(request, document["queries"], languages(request)))


@router.get(f"{ROOT}/suggest/entity", summary="Reconciliation 1.0-draft: entity suggestions")
def suggest_entity(request: Request, prefix: str = "", type: str | None = None, cursor: int = 0,
                   offset: int | None = None, limit: int | None = None) -> Response:
    start, size = page(request, cursor, offset, limit)
    return _answer(request, suggest_entities(request, prefix, type, start, size))


@router.get(f"{ROOT}/suggest/type", summary="Reconciliation 1.0-draft: type suggestions")
def suggest_type(request: Request, prefix: str = "", cursor: int = 0, offset: int | None = None,
                 limit: int | None = None) -> Response:
    start, size = page(request, cursor, offset, limit)
    return _answer(request, suggest_names(TYPES, prefix, start, size))


@router.get(f"{ROOT}/suggest/property", summary="Reconciliation 1.0-draft: property suggestions")
def suggest_property(request: Request, prefix: str = "", cursor: int = 0, offset: int | None = None,
                     limit: int | None = None) -> Response:
    start, size = page(request, cursor, offset, limit)
    return _answer(request, suggest_names(PROPERTIES, prefix, start, size))


@router.get(f"{ROOT}/extend/propose", summary="Reconciliation 1.0-draft: properties to fetch for a type")
def propose(request: Request, type: str = "organisation", limit: int = 10) -> Response:
    return propose_properties(request, type, limit)


@router.post(f"{ROOT}/extend", summary="Reconciliation 1.0-draft: property values of reconciled ids")
async def extend(request: Request) -> Response:
    document = await _json_body(request, "extend")
    old = _extend(request, document)
    rows = [{"id": entity_id, "properties": [{"id": prop, "values": [_value(v) for v in values]}
                                             for prop, values in row.items()]}
            for entity_id, row in old["rows"].items()]
    return _answer(request, {"meta": old["meta"], "rows": rows})


def _value(cell: dict[str, Any]) -> dict[str, Any]:
    """A 0.2 cell as a 1.0 value (the same keys; dates as full xsd:dateTime)."""
    if "date" in cell and "T" not in str(cell["date"]):
        return {"date": f"{cell['date']}T00:00:00Z"}
    return cell


@router.get(f"{ROOT}/preview", summary="Reconciliation 1.0-draft: an HTML card", response_class=HTMLResponse)
def preview(request: Request, id: str) -> HTMLResponse:
    return preview_card(request, id)


__all__ = ["CORS", "ROOT", "router"]
