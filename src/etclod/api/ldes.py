"""HTTP layer: the change stream ``/ldes`` (LDES on TREE): the event stream, and one fragment
per kept release at ``/ldes/{version}``; a fragment that links to a newer one never changes
again and is cacheable for a year."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox
from rdflib.namespace import DCTERMS
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from etclod.namespaces import LDES, TREE
from etclod import ldes
from etclod.api import state
from etclod.api.http import choose_format, etag_for, etag_matches, get_and_head
from etclod.errors import NotFoundError
from etclod.formats import RDF_FORMATS
from etclod.manifest import Manifest
from etclod.release import list_releases

router = APIRouter(tags=["change stream"])
IMMUTABLE = "public, max-age=31536000, immutable"
LATEST = "public, max-age=60"


@lru_cache(maxsize=16)
def _fragment(folder: str, base: str, following: str | None, manifest_json: str) -> list[ox.Triple]:
    """A release's fragment, worked out from its changes and its N-Quads dump once (releases
    are immutable; the cache key holds the next release too)."""
    manifest = json.loads(manifest_json)
    return ldes.fragment(Path(folder), manifest, base, {"version": following} if following else None)


def _answer(request: Request, triples: list[ox.Triple], etag: str, cache: str) -> Response:
    fmt = choose_format(request, RDF_FORMATS)
    etag = f'"{etag}-{fmt.key}"'
    headers = {"ETag": etag, "Cache-Control": cache, "Vary": "Accept", "Access-Control-Allow-Origin": "*"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    prefixes = {"tree": str(TREE), "ldes": str(LDES), "dct": str(DCTERMS)}
    body = ox.serialize(triples, format=fmt.oxigraph, prefixes=prefixes if fmt.key in ("ttl", "rdf") else None)
    return Response(body, media_type=fmt.content_type, headers=headers)


def _kept(request: Request) -> list[Manifest]:
    return list_releases(request.app.state.settings)


@get_and_head(router, "/ldes", summary="The change stream: an LDES event stream, fragmented by release")
def stream(request: Request) -> Response:
    release = request.app.state.holder.get()
    settings = request.app.state.settings
    kept = _kept(request)
    first = kept[0]["version"] if kept else release.version
    triples = ldes.describe_stream(settings.base_uri, first, settings.keep_releases)
    etag = etag_for(release, "ldes", first).strip('"')
    return _answer(request, triples, etag, LATEST)


@get_and_head(router, "/ldes/{version}", summary="The members of one release, and the link to the next")
async def fragment(request: Request, version: str) -> Response:
    settings = request.app.state.settings
    kept = _kept(request)
    versions = [m["version"] for m in kept]
    if version not in versions:
        raise NotFoundError(f"no fragment for release {version!r}: the stream keeps the last "
                            f"{settings.keep_releases} releases ({', '.join(versions)}); start again from "
                            "/dumps/ and then follow /ldes")
    index = versions.index(version)
    following = versions[index + 1] if index + 1 < len(versions) else None
    triples = await run_in_threadpool(_fragment, str(settings.releases_dir / version), settings.base_uri,
                                      following, json.dumps(kept[index], sort_keys=True))
    etag = hashlib.sha256(f"{version}\x00{following or 'latest'}\x00{state.SOFTWARE}".encode()).hexdigest()[:32]
    return _answer(request, triples, etag, IMMUTABLE if following else LATEST)
