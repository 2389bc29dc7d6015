"""Inbox layer: record files uploaded over HTTP, kept with their status, released like a build.

Every upload is written to ``var/inbox/<id>/`` before anything else happens, so nothing
uploaded is lost. An upload whose records all pass is copied to ``var/inbox/accepted/`` (which
every build reads besides the data folder) and a release is built; one with any rejected
record is kept, marked rejected with every reason, and publishes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etclod.errors import EtclodError, InputError
from etclod.lastgood import RemovalsError
from etclod.release import BuildResult, build_release, check_data, current_path, ensure_var
from etclod.pool import push_if_remote
from etclod.settings import Settings

SUFFIX_OF = {"application/yaml": ".yaml", "application/x-yaml": ".yaml", "text/yaml": ".yaml",
             "text/x-yaml": ".yaml", "application/json": ".json", "text/csv": ".csv"}


class UploadRejectedError(EtclodError):
    code = "upload_rejected"
    status = 422

    def __init__(self, message: str, status_doc: dict[str, Any]) -> None:
        super().__init__(message)
        self.document = status_doc


@dataclass
class Upload:
    id: str
    folder: Path
    status: dict[str, Any]


def _write_status(folder: Path, status: dict[str, Any]) -> None:
    tmp = folder / "status.json.tmp"
    tmp.write_text(json.dumps(status, indent=2, ensure_ascii=False, sort_keys=True) + "\n", "utf-8")
    os.replace(tmp, folder / "status.json")


def receive(settings: Settings, body: bytes, content_type: str) -> Upload:
    """Keep an upload (durably) and return it; a repeat of a kept upload returns the first."""
    suffix = SUFFIX_OF.get(content_type.split(";")[0].strip().lower())
    if suffix is None:
        raise InputError(f"upload records as YAML (application/yaml), JSON (application/json) or CSV "
                         f"(text/csv), not {content_type or 'no content type'}",
                         code="unsupported_media_type", status=415)
    ensure_var(settings)
    digest = hashlib.sha256(body).hexdigest()
    upload_id = digest[:20]
    folder = settings.inbox_dir / upload_id
    if (folder / "status.json").is_file():
        return Upload(upload_id, folder, json.loads((folder / "status.json").read_text("utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"upload{suffix}"
    with path.open("wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    status = {"id": upload_id, "sha256": digest, "bytes": len(body), "file": path.name,
              "content_type": content_type,
              "received": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "status": "received", "release": None, "rejected": []}
    _write_status(folder, status)
    return Upload(upload_id, folder, status)


def process(settings: Settings, upload: Upload) -> tuple[Upload, BuildResult | None]:
    """Validate an upload with everything already published; release it if every record passes."""
    if upload.status["status"] in ("published", "rejected"):
        return upload, None
    accepted_dir = settings.inbox_dir / "accepted"
    source = upload.folder / upload.status["file"]
    target_name = f"{upload.id}{source.suffix}"
    trial = settings.inbox_dir / f".trial-{upload.id}"
    shutil.rmtree(trial, ignore_errors=True)
    trial_accepted = trial / "inbox" / "accepted"
    trial_accepted.mkdir(parents=True)
    try:
        if accepted_dir.is_dir():
            for f in accepted_dir.iterdir():
                shutil.copy2(f, trial_accepted / f.name)
        shutil.copy2(source, trial_accepted / target_name)
        checked = check_data(settings.with_(var_dir=trial), previous=current_path(settings))
    finally:
        shutil.rmtree(trial, ignore_errors=True)
    label = f"inbox/{target_name}"
    mine = [r.to_dict() for r in checked.rejected if r.file == label]
    if mine:
        upload.status.update(status="rejected", rejected=mine)
        _write_status(upload.folder, upload.status)
        raise UploadRejectedError(f"{len(mine)} records of the upload are rejected; nothing was published",
                                  upload.status)
    accepted_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, accepted_dir / target_name)
    try:
        result = build_release(settings)
    except RemovalsError:  # the data folder lost records meanwhile: the guard holds for uploads too
        (accepted_dir / target_name).unlink(missing_ok=True)
        raise
    upload.status.update(status="published", release=result.version,
                         records=sum(1 for m in checked.verdict.accepted if m.loaded.file == label))
    _write_status(upload.folder, upload.status)
    push_if_remote(settings, result.path)  # after the status: a failed push leaves it published here
    return upload, result


def list_uploads(settings: Settings) -> list[dict[str, Any]]:
    if not settings.inbox_dir.is_dir():
        return []
    out = []
    for folder in sorted(settings.inbox_dir.iterdir()):
        status = folder / "status.json"
        if status.is_file():
            out.append(json.loads(status.read_text("utf-8")))
    return sorted(out, key=lambda s: s["received"])
