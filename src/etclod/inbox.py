"""Inbox layer: record files uploaded over HTTP, kept with their status, released like a build.

Every upload is written to ``var/inbox/<id>/`` before anything else happens, so nothing
uploaded is lost. An upload whose records all pass is copied to ``var/inbox/accepted/`` (which
every build reads besides the data folder) and a release is built; one with any rejected
record is kept, marked rejected with every reason, and publishes nothing.

Every upload ends ``published``, ``rejected`` (with reasons) or ``failed`` (with the reason):
uploads are judged one after another under one lock (so two that clash are not both let in,
and the same upload sent twice at once gets one answer), a file enters ``accepted/`` by an
atomic rename, and :func:`recover` (run when the server starts) finishes what a kill left:
an upload in ``accepted/`` that the current release holds is marked published, one it does
not hold is built (once), any other is judged again; leftover trial folders are removed.
An upload that meets a running build (``etclod build``, ``/admin/build``) waits for it, up to
``ETCLOD_UPLOAD_BUILD_WAIT`` seconds, and is then judged with that build's release; past the
deadline it ends ``failed`` ("a build was running; send it again"), and sent again it is judged anew.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import logging
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etclod.errors import BuildRunningError, EtclodError, UnsupportedMediaTypeError
from etclod.formats import RECORD_FILE_SUFFIX
from etclod.lastgood import RemovalsError
from etclod import delta
from etclod.release import BuildResult, build_lock, build_release, check_data, current_path, ensure_var, read_manifest
from etclod.pool import push_if_remote
from etclod.settings import Settings

log = logging.getLogger("etclod")
FINAL = ("published", "rejected", "failed")
SUFFIX_OF = RECORD_FILE_SUFFIX


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
    """Atomically, and in ASCII: any text survives (a lone surrogate is written \\ud800)."""
    tmp = folder / f"status.json.{os.getpid()}.tmp"
    with tmp.open("w", encoding="ascii") as handle:
        handle.write(json.dumps(status, indent=2, ensure_ascii=True, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, folder / "status.json")


@contextmanager
def inbox_lock(settings: Settings) -> Iterator[None]:
    """Uploads are judged one at a time (across processes too): the second of two that clash
    is judged with the first already in ``accepted/``."""
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.inbox_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def submit(settings: Settings, body: bytes, content_type: str) -> tuple[Upload, bool]:
    """Keep an upload and judge it, under the inbox lock; ``True`` with an upload judged before
    (the same bytes sent again, or at the same time: both get its one verdict)."""
    with inbox_lock(settings):
        upload = receive(settings, body, content_type)
        if upload.status["status"] == "failed" and upload.status.get("error") == BUSY:  # sent again
            upload.status.update(status="received")
            for key in ("reason", "error"):
                upload.status.pop(key, None)
            _write_status(upload.folder, upload.status)
        if upload.status["status"] in FINAL:
            return upload, True
        return process(settings, upload)[0], False


def _fail(upload: Upload, reason: str, error: str | None = None) -> None:
    upload.status.update(status="failed", reason=reason)
    if error is not None:
        upload.status["error"] = error
    upload.status.pop("waiting", None)
    _write_status(upload.folder, upload.status)


BUSY = "build_running"
BUSY_REASON = "a build was running; send it again"


class UploadBuildRunningError(EtclodError):
    """An upload waited ``ETCLOD_UPLOAD_BUILD_WAIT`` seconds for a running build, in vain: it is
    marked failed, and the answer (503, with Retry-After) says to send it again."""

    code = "upload_build_running"
    status = 503


def _wait_for_builds(settings: Settings, upload: Upload, deadline: float) -> bool:
    """Until no build holds the build lock (``True``) or the deadline passes (``False``); while
    it waits, the upload's status says so (``GET /admin/records``)."""
    while True:
        try:
            with build_lock(settings):
                pass
        except BuildRunningError:
            if time.monotonic() >= deadline:
                return False
            if "waiting" not in upload.status:
                upload.status["waiting"] = "a build is running; the upload is judged when it ends"
                _write_status(upload.folder, upload.status)
            time.sleep(0.05)
            continue
        if upload.status.pop("waiting", None) is not None:
            _write_status(upload.folder, upload.status)
        return True


def _judge_after_builds(settings: Settings, upload: Upload) -> tuple[Upload, BuildResult | None]:
    """:func:`_process`, after any running build; again if one starts between (to the deadline)."""
    deadline = time.monotonic() + settings.upload_build_wait
    while True:
        if _wait_for_builds(settings, upload, deadline):
            try:
                return _process(settings, upload)
            except BuildRunningError:  # a build began after the wait: the accepted file is gone again
                if time.monotonic() < deadline:
                    continue
        _fail(upload, BUSY_REASON, error=BUSY)
        raise UploadBuildRunningError(f"a build was running for {settings.upload_build_wait:g} s "
                                      f"(ETCLOD_UPLOAD_BUILD_WAIT); upload {upload.id} is marked failed "
                                      "and nothing of it was published: send it again")


def receive(settings: Settings, body: bytes, content_type: str) -> Upload:
    """Keep an upload (durably) and return it; a repeat of a kept upload returns the first."""
    suffix = SUFFIX_OF.get(content_type.split(";")[0].strip().lower())
    if suffix is None:
        raise UnsupportedMediaTypeError(f"upload records as YAML (application/yaml), JSON (application/json) or CSV "
                         f"(text/csv), not {content_type or 'no content type'}")
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
              "received": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "status": "received", "release": None, "rejected": []}
    _write_status(folder, status)
    return Upload(upload_id, folder, status)


def process(settings: Settings, upload: Upload) -> tuple[Upload, BuildResult | None]:
    """Validate an upload with everything already published; release it if every record
    passes. It always ends published, rejected or failed (the reason kept in its status)."""
    if upload.status["status"] in FINAL:
        return upload, None
    try:
        return _judge_after_builds(settings, upload)
    except (UploadRejectedError, RemovalsError, UploadBuildRunningError) as exc:
        if isinstance(exc, RemovalsError):
            _fail(upload, exc.message)
        raise
    except EtclodError as exc:
        _fail(upload, exc.message)
        raise
    except (OSError, ValueError, RecursionError, MemoryError) as exc:
        _fail(upload, f"the upload could not be judged: {type(exc).__name__}: {exc}")
        raise UploadFailedError(f"the upload could not be judged ({type(exc).__name__}); nothing was "
                                "published, and it is marked failed") from exc


class UploadFailedError(EtclodError):
    code = "upload_failed"
    status = 422


def _accept(source: Path, target: Path) -> None:
    """Into ``accepted/`` whole or not at all (a build never reads half a file)."""
    part = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, part)
    with part.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(part, target)


def _process(settings: Settings, upload: Upload) -> tuple[Upload, BuildResult | None]:
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
        label = f"inbox/{target_name}"
        # judged on the current release where the change is local (``delta``): seconds, not minutes
        judged = delta.trial(settings.with_(var_dir=trial), current_path(settings), label)
        checked = None if judged is not None else check_data(settings.with_(var_dir=trial),
                                                              previous=current_path(settings))
    finally:
        shutil.rmtree(trial, ignore_errors=True)
    if judged is not None:
        count, mine = judged[0], [r.to_dict() for r in judged[1]]
    else:
        assert checked is not None
        mine = [r.to_dict() for r in checked.rejected if r.file == label]
        count = sum(1 for m in checked.verdict.accepted if m.loaded.file == label)
    if mine:
        upload.status.update(status="rejected", rejected=mine)
        _write_status(upload.folder, upload.status)
        raise UploadRejectedError(f"{len(mine)} records of the upload are rejected; nothing was published",
                                  upload.status)
    accepted_dir.mkdir(parents=True, exist_ok=True)
    _accept(source, accepted_dir / target_name)
    try:
        result = build_release(settings)
    except (EtclodError, OSError):  # the removal guard, a build that fails: it never stays accepted
        (accepted_dir / target_name).unlink(missing_ok=True)
        raise
    upload.status.update(status="published", release=result.version, records=count)
    _write_status(upload.folder, upload.status)
    assert result.path is not None  # only a strict build publishes nothing, and this one is not strict
    push_if_remote(settings, result.path)  # after the status: a failed push leaves it published here
    return upload, result


def _in_current(settings: Settings, label: str) -> str | None:
    """The current release's version, if it was built with the accepted file ``label``."""
    current = current_path(settings)
    if current is None:
        return None
    try:
        manifest = read_manifest(current)
    except (OSError, ValueError, EtclodError):
        return None
    return manifest.get("version", current.name) if label in manifest.get("inputs", {}) else None


def recover(settings: Settings) -> list[str]:
    """Finish every upload a kill left unjudged, exactly once; say what was done."""
    if not settings.inbox_dir.is_dir():
        return []
    done = []
    with inbox_lock(settings):
        for leftover in settings.inbox_dir.glob(".trial-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        accepted_dir = settings.inbox_dir / "accepted"
        for part in accepted_dir.glob(".*.part") if accepted_dir.is_dir() else ():
            part.unlink(missing_ok=True)
        for folder in sorted(settings.inbox_dir.iterdir()):
            try:
                status = json.loads((folder / "status.json").read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if status.get("status") in FINAL:
                continue
            upload = Upload(status["id"], folder, status)
            name = f"{upload.id}{Path(status['file']).suffix}"
            version = _in_current(settings, f"inbox/{name}") if (accepted_dir / name).is_file() else None
            try:
                if version is not None:  # killed after the switch, before the status
                    status.update(status="published", release=version)
                    _write_status(folder, status)
                elif (accepted_dir / name).is_file():  # killed before or during the build
                    (accepted_dir / name).unlink()
                    process(settings, upload)
                else:
                    process(settings, upload)
            except EtclodError as exc:
                log.info("upload %s: %s", upload.id, exc.message)
            done.append(f"{upload.id}: {upload.status['status']}")
    return done


def list_uploads(settings: Settings) -> list[dict[str, Any]]:
    if not settings.inbox_dir.is_dir():
        return []
    out = []
    for folder in sorted(settings.inbox_dir.iterdir()):
        status = folder / "status.json"
        if status.is_file():
            out.append(json.loads(status.read_text("utf-8")))
    return sorted(out, key=lambda s: s["received"])
