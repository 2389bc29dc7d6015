"""HTTP layer: dumps of the current release and every kept release, streamed with checksums."""

from __future__ import annotations

import base64
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from etclod.api.http import choose_language, get_and_head, wants_html
from etclod.errors import NotFoundError
from etclod.release import list_releases, read_manifest

router = APIRouter()
IMMUTABLE = "public, max-age=31536000, immutable"
SERVED_FILES = ("catalog.ttl", "validation.ttl", "rejected.jsonl", "changes.nq.gz", "manifest.json")
MEDIA = {".gz": "application/gzip", ".ttl": "text/turtle; charset=utf-8", ".jsonl": "application/jsonl",
         ".json": "application/json"}


class DumpResponse(FileResponse):
    """Streams in 1 MB chunks (Starlette's 64 KB chunks cap a dump download's speed)."""

    chunk_size = 1 << 20


def _file_response(folder: Path, rel: str, manifest: dict, cache: str) -> FileResponse:
    entry = manifest["files"].get(rel)
    path = folder / rel
    if entry is None or not path.is_file():
        raise NotFoundError(f"release {manifest['version']} has no file {rel!r}; its files are: "
                            + ", ".join(sorted(manifest["files"])))
    digest = base64.b64encode(bytes.fromhex(entry["sha256"])).decode()
    headers = {"ETag": f'"{entry["sha256"]}"', "X-Checksum-SHA256": entry["sha256"],
               "Repr-Digest": f"sha-256=:{digest}:", "Cache-Control": cache,
               "Access-Control-Allow-Origin": "*", "X-Etclod-Release": manifest["version"]}
    return DumpResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                        filename=path.name, headers=headers, content_disposition_type="attachment"
                        if path.suffix == ".gz" else "inline")


@get_and_head(router, "/dumps/{name}", summary="A dump of the current release")
def dump(request: Request, name: str) -> FileResponse:
    """``etclod.{nt,ttl,nq,jsonld}.gz`` of the current release: byte ranges, HEAD, sha256 header."""
    release = request.app.state.holder.get()
    return _file_response(release.path, f"dumps/{name}", release.manifest, "public, max-age=60")


@router.get("/releases", summary="Every kept release with its manifest (JSON; a page for a browser)")
def releases(request: Request) -> Response:
    settings = request.app.state.settings
    current = request.app.state.holder.current_or_none()
    kept = list(reversed(list_releases(settings)))
    if wants_html(request) and request.query_params.get("format") not in ("json", "data"):
        from etclod.api.info_pages import releases_page

        page = releases_page(request.app.state.pages, request, kept, current.version if current else None,
                             choose_language(request))
        return HTMLResponse(page, headers={"Vary": "Accept, Accept-Language, Cookie"})
    return JSONResponse({"current": current.version if current else None, "releases": kept},
                        headers={"Vary": "Accept"})


def _release_folder(request: Request, version: str) -> tuple[Path, dict]:
    settings = request.app.state.settings
    if version.startswith(".") or "/" in version or not version:
        raise NotFoundError(f"no release {version!r}")
    folder = settings.releases_dir / version
    if not (folder / "manifest.json").is_file():
        raise NotFoundError(f"no release {version!r}; /releases lists the kept ones")
    return folder, read_manifest(folder)


@router.get("/releases/{version}", summary="The manifest of one release")
def release_manifest(request: Request, version: str) -> JSONResponse:
    _, manifest = _release_folder(request, version)
    return JSONResponse(manifest, headers={"Cache-Control": IMMUTABLE})


@get_and_head(router, "/releases/{version}/{rel:path}", summary="A file of one release (immutable)")
def release_file(request: Request, version: str, rel: str) -> FileResponse:
    folder, manifest = _release_folder(request, version)
    if rel not in manifest["files"] and rel != "manifest.json":
        raise NotFoundError(f"release {version} has no file {rel!r}")
    if rel == "manifest.json":
        return FileResponse(folder / rel, media_type="application/json", headers={"Cache-Control": IMMUTABLE})
    return _file_response(folder, rel, manifest, IMMUTABLE)
