"""HTTP layer: the admin routes, present only when ETCLOD_ADMIN_TOKEN is set."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from etclod import inbox
from etclod.errors import EtclodError
from etclod.lastgood import RemovalsError
from etclod.release import build_release
from etclod.pool import push_if_remote


class UnauthorizedError(EtclodError):
    code = "unauthorized"
    status = 401

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="etclod admin"'}


def require_token(request: Request) -> None:
    """``Authorization: Bearer <ETCLOD_ADMIN_TOKEN>``, compared in constant time."""
    expected = request.app.state.settings.admin_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise UnauthorizedError("this route needs Authorization: Bearer <token>")
    if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8")):
        raise UnauthorizedError("the token is not valid")


router = APIRouter(prefix="/admin", dependencies=[Depends(require_token)], tags=["admin"])


@router.post("/records", summary="Upload a records file; it is validated and released like `etclod build`",
             status_code=201)
async def upload_records(request: Request) -> JSONResponse:
    """The body is a records file (YAML, JSON or CSV, by Content-Type). It is kept in
    ``var/inbox/`` first; if every record passes, a new release is built (201); if any is
    rejected, nothing is published and the answer (422) lists every record's errors. The same
    upload twice publishes once."""
    settings = request.app.state.settings
    body = await request.body()
    try:  # judged one upload at a time: the same bytes twice at once get one verdict
        upload, judged_before = await run_in_threadpool(inbox.submit, settings, body,
                                                        request.headers.get("content-type", ""))
    except inbox.UploadRejectedError as exc:
        return JSONResponse({"error": exc.code, "message": exc.message, "status": exc.status,
                             "upload": exc.document}, status_code=422)
    except RemovalsError as exc:
        return _removals(exc)
    if judged_before:
        return _judged_before(upload)
    return JSONResponse(upload.status, status_code=201)


def _judged_before(upload: inbox.Upload) -> JSONResponse:
    if upload.status["status"] == "published":
        return JSONResponse({**upload.status, "duplicate": True}, status_code=200)
    verdict = upload.status["status"]
    return JSONResponse({"error": f"upload_{verdict}", "status": 422, "duplicate": True,
                         "message": f"this upload was {verdict} before; nothing was published"
                                    + (f": {upload.status['reason']}" if upload.status.get("reason") else ""),
                         "upload": upload.status}, status_code=422)


def _removals(exc: RemovalsError) -> JSONResponse:
    """409: the build would unpublish more records than ETCLOD_MAX_REMOVALS allows; which ones."""
    return JSONResponse({"error": exc.code, "message": exc.message, "status": exc.status,
                         "removals": exc.removals}, status_code=exc.status)


@router.get("/records", summary="Every upload with its status")
def uploads(request: Request) -> JSONResponse:
    return JSONResponse({"uploads": inbox.list_uploads(request.app.state.settings)})


@router.post("/build", summary="Build a new release from the data folder and the accepted uploads")
async def build(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    try:
        result = await run_in_threadpool(build_release, settings)
    except RemovalsError as exc:
        return _removals(exc)
    assert result.path is not None  # only a strict build publishes nothing, and this one is not strict
    pushed = await run_in_threadpool(push_if_remote, settings, result.path)
    return JSONResponse({"release": result.version, "published": result.published,
                         "pushed_to": settings.store_url.removeprefix("sparql+") if pushed else None,
                         "rejected": [r.to_dict() for r in result.rejected]})
