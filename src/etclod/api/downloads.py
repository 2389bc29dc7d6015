"""HTTP layer: dumps of the current release and every kept release, streamed with checksums."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import (FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response,
                               StreamingResponse)

from etclod.api.http import choose_language, etag_matches, fresh_for, get_and_head, wants_html
from etclod.errors import NotFoundError
from etclod.formats import DUMP_FORMATS, RELEASE_FILE_MEDIA, dump_name
from etclod.manifest import FileEntry, Manifest
from etclod.release import list_releases, read_manifest

router = APIRouter()
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA = RELEASE_FILE_MEDIA


class DumpResponse(FileResponse):
    """Streams in 1 MB chunks (Starlette's 64 KB chunks cap a dump download's speed)."""

    chunk_size = 1 << 20


def _file_response(request: Request, folder: Path, rel: str, manifest: Manifest, cache: str) -> Response:
    entry = manifest["files"].get(rel)
    path = folder / rel
    if entry is None or not path.is_file():
        decoded = _decoded_dump(request, folder, rel, manifest, cache)
        if decoded is not None:
            return decoded
        raise NotFoundError(f"release {manifest['version']} has no file {rel!r}; its files are: "
                            + ", ".join(sorted(manifest["files"])))
    headers = _headers(entry, manifest, cache, f'"{entry["sha256"]}"')
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return DumpResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                        filename=path.name, headers=headers, content_disposition_type="attachment"
                        if path.suffix == ".gz" else "inline")


def _headers(entry: FileEntry, manifest: Manifest, cache: str, etag: str) -> dict[str, str]:
    digest = base64.b64encode(bytes.fromhex(entry["sha256"])).decode()
    return {"ETag": etag, "X-Checksum-SHA256": entry["sha256"], "Repr-Digest": f"sha-256=:{digest}:",
            "Cache-Control": cache, "Access-Control-Allow-Origin": "*", "X-Etclod-Release": manifest["version"]}


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (RFC 9110 section 12.5.3: its own q, else
    the q of ``*``; no header: any coding is acceptable).

    >>> accepts_gzip("gzip, deflate"), accepts_gzip("identity"), accepts_gzip("*;q=0"), accepts_gzip(None)
    (True, False, False, True)
    """
    if header is None:
        return True
    codings: dict[str, float] = {}
    for part in header.split(","):
        name, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            codings[name.lower()] = q
    for name in ("gzip", "x-gzip", "*"):
        if name in codings:
            return codings[name] > 0
    return False


def _decoded_dump(request: Request, folder: Path, rel: str, manifest: Manifest, cache: str) -> Response | None:
    """``dumps/etclod.ttl`` and the like: the stored ``.gz`` as its RDF format. A client that
    takes gzip gets the stored bytes with ``Content-Encoding: gzip`` (so byte ranges address
    the stored file, and its checksum holds); any other gets them decompressed as they stream.
    None where there is no such dump."""
    fmt = next((f for f in DUMP_FORMATS if rel == f"dumps/{dump_name(f).removesuffix('.gz')}"), None)
    entry = manifest["files"].get(f"{rel}.gz")
    path = folder / f"{rel}.gz"
    if fmt is None or entry is None or not path.is_file():
        return None
    coded = accepts_gzip(request.headers.get("accept-encoding"))
    etag = f'"{entry["sha256"]}-gzip"' if coded else f'"{entry["sha256"]}-identity"'
    headers = {**_headers(entry, manifest, cache, etag), "Vary": "Accept-Encoding"}
    if not coded:  # the checksums are of the stored gzip file, not of these bytes
        del headers["X-Checksum-SHA256"], headers["Repr-Digest"]
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if coded:
        headers["Content-Encoding"] = "gzip"
        return DumpResponse(path, media_type=fmt.content_type, headers=headers)
    headers["Accept-Ranges"] = "none"
    return StreamingResponse(_gunzip(path), media_type=fmt.content_type, headers=headers)


def _gunzip(path: Path, chunk: int = 1 << 20) -> Iterator[bytes]:
    with gzip.open(path, "rb") as handle:
        while data := handle.read(chunk):
            yield data


@get_and_head(router, "/dumps/", summary="Where the dumps are listed: the catalogue")
def dumps_index() -> Response:
    """The folder of dumps has no listing of its own: the catalogue lists every dump with its
    format, size and checksum (a page for a browser, DCAT-AP for a harvester)."""
    return RedirectResponse("/catalog", status_code=303)


@get_and_head(router, "/dumps/{name}", summary="A dump of the current release")
def dump(request: Request, name: str) -> Response:
    """``etclod.{nt,ttl,nq,jsonld}.gz`` of the current release (byte ranges, HEAD, sha256
    header), and ``etclod.{nt,ttl,nq,jsonld}`` as that RDF format: gzip-coded for a client
    that accepts it, plain otherwise."""
    release = request.app.state.holder.get()
    return _file_response(request, release.path, f"dumps/{name}", release.manifest,
                          fresh_for(request.app.state.settings.cache_seconds))


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


def _release_folder(request: Request, version: str) -> tuple[Path, Manifest]:
    settings = request.app.state.settings
    if version.startswith(".") or "/" in version or not version or len(version) > 64 or "\x00" in version:
        raise NotFoundError(f"no release {version[:64]!r}; /releases lists the kept ones")
    folder = settings.releases_dir / version
    if not (folder / "manifest.json").is_file():
        raise NotFoundError(f"no release {version!r}; /releases lists the kept ones")
    return folder, read_manifest(folder)


@router.get("/releases/{version}", summary="The manifest of one release")
def release_manifest(request: Request, version: str) -> JSONResponse:
    _, manifest = _release_folder(request, version)
    return JSONResponse(manifest, headers={"Cache-Control": IMMUTABLE})


@get_and_head(router, "/releases/{version}/{rel:path}", summary="A file of one release (immutable)")
def release_file(request: Request, version: str, rel: str) -> Response:
    folder, manifest = _release_folder(request, version)
    if rel not in manifest["files"] and f"{rel}.gz" not in manifest["files"] and rel != "manifest.json":
        raise NotFoundError(f"release {version} has no file {rel!r}")
    if rel == "manifest.json":
        return FileResponse(folder / rel, media_type="application/json", headers={"Cache-Control": IMMUTABLE})
    return _file_response(request, folder, rel, manifest, IMMUTABLE)
