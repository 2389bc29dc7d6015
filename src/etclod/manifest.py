"""Release layer: the shape of a release's ``manifest.json``, typed once for every reader.

The manifest stays the JSON object it is on disk and over HTTP (``/releases/{version}``), so
these are ``TypedDict``s: the keys and their types are checked by mypy wherever a module
reads one, and a key added to the manifest is added here, in one place.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TypedDict, cast

from etclod.errors import ReleaseError

MANIFEST = "manifest.json"


class FileEntry(TypedDict, total=False):
    """One file of the release: always its sha256 and size, and what it holds where counted."""

    sha256: str
    bytes: int
    triples: int
    records: int


class RecordCounts(TypedDict, total=False):
    """The one count of records: ``published`` is what every command and route reports."""

    read: int
    published: int
    rejected: int
    held_back: int
    merged: int


class Changes(TypedDict):
    added: int
    removed: int


class ValidationSummary(TypedDict):
    conforms: bool
    passes: int
    results: int


class StoreEntry(TypedDict):
    path: str
    quads: int


class Manifest(TypedDict, total=False):
    """``manifest.json``. The first group of keys is in every release; the rest in those built
    since the feature that writes it."""

    version: str
    previous: str | None
    created: str
    base_uri: str
    files: dict[str, FileEntry]
    store: StoreEntry
    triples: int
    quads: int
    graphs: dict[str, int]
    classes: dict[str, int]
    entities: int
    records: RecordCounts
    inputs: dict[str, str]
    changes: Changes
    validation: ValidationSummary
    linksets: dict[str, Any]
    merges: list[dict[str, Any]]
    kept_apart: list[dict[str, Any]]
    precedence: list[str]
    conflicts: int
    held_back: list[dict[str, Any]]
    removed: list[dict[str, Any]]


REQUIRED = ("version", "files")


def published(manifest: Manifest) -> int:
    """How many records a release publishes: the one count, read from its manifest.

    >>> published({"records": {"read": 3, "published": 2, "rejected": 1}})
    2
    >>> published({})
    0
    """
    return manifest.get("records", {}).get("published", 0)


def parse_manifest(text: str, where: str) -> Manifest:
    """A manifest from its JSON text; ReleaseError naming ``where`` when it is not one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReleaseError(f"{where} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ReleaseError(f"{where} is not a JSON object")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ReleaseError(f"{where} lacks {', '.join(missing)}")
    return cast(Manifest, data)


def read_manifest(release: Path) -> Manifest:
    """The manifest of the release folder ``release``; ReleaseError when it has no readable one."""
    try:
        text = (release / MANIFEST).read_text("utf-8")
    except OSError as exc:
        raise ReleaseError(f"release {release.name!r} has no readable manifest: {exc}") from exc
    return parse_manifest(text, f"the manifest of release {release.name!r}")


def sha256_of(path: Path) -> str:
    """A file's sha256, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_release(release: Path, with_store: bool = True) -> list[str]:
    """Problems with a sealed release: files missing or not matching the manifest's sha256 and
    size. An empty list means the release is whole. ``with_store=False``: the triples are
    served by a remote store, so ``store/`` need not be here."""
    manifest = read_manifest(release)
    problems = []
    for rel, entry in sorted(manifest["files"].items()):
        path = release / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif path.stat().st_size != entry["bytes"]:
            problems.append(f"{rel} has {path.stat().st_size} bytes, the manifest says {entry['bytes']}")
        elif sha256_of(path) != entry["sha256"]:
            problems.append(f"{rel} does not match its sha256 in the manifest")
    if with_store and not (release / "store").is_dir():
        problems.append("store/ is missing")
    return problems
