"""Uploads always end: published, rejected (with reasons) or failed (with the reason); judged
one after another; and after a kill -9 at any of 20 points, a restart finishes each exactly once."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import signal
import subprocess
import sys

import pytest
import yaml

from etclod import inbox
from etclod.release import build_release, list_releases

from conftest import project

YAML = "application/yaml"


def body(records: list[dict]) -> bytes:
    return yaml.safe_dump(records, allow_unicode=True).encode("utf-8")


@pytest.fixture
def settings(make_settings):
    s = make_settings().with_(keep_releases=100)
    build_release(s)
    return s


def test_a_status_holds_any_text(tmp_path) -> None:
    status = {"id": "x", "status": "rejected", "rejected": [{"value": "\ud800 and \udfff", "nul": "\x00"}]}
    inbox._write_status(tmp_path, status)
    assert json.loads((tmp_path / "status.json").read_text("ascii")) == status


def test_the_same_upload_twice_at_once_gets_one_verdict(settings) -> None:
    payload = body([project(id="twice", acronym="TWICE")])
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: inbox.submit(settings, payload, YAML), range(2)))
    assert sorted(before for _, before in answers) == [False, True]
    assert {a.status["status"] for a, _ in answers} == {"published"}
    assert len({a.status["release"] for a, _ in answers}) == 1


def test_two_uploads_that_clash_are_judged_one_after_the_other(settings) -> None:
    first = body([project(id="same", acronym="ONE")])
    second = body([project(id="same", acronym="TWO")])

    def send(payload: bytes) -> str:
        try:
            return inbox.submit(settings, payload, YAML)[0].status["status"]
        except inbox.UploadRejectedError as exc:
            return exc.document["status"]

    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(send, [first, second]))
    assert sorted(verdicts) == ["published", "rejected"]
    accepted = list((settings.inbox_dir / "accepted").iterdir())
    assert len(accepted) == 1, "the rejected upload was left in accepted/"
    statuses = inbox.list_uploads(settings)
    loser = next(s for s in statuses if s["status"] == "rejected")
    assert "duplicate" in json.dumps(loser["rejected"]).lower()


KILLER = r"""
import os, signal, sys
from etclod import inbox
from etclod.settings import Settings

WATCHED = {"replace", "fsync", "rename", "unlink", "copyfile", "rmtree", "_write_status", "_accept",
           "build_release", "check_data", "switch_to", "mkdir"}
left = int(sys.argv[1])

def profile(frame, event, arg):
    global left
    name = getattr(arg, "__name__", "") if event == "c_call" else frame.f_code.co_name if event == "call" else ""
    if name in WATCHED:
        left -= 1
        if left == 0:
            os.kill(os.getpid(), signal.SIGKILL)

settings = Settings.from_env(os.environ)
payload = sys.stdin.buffer.read()
sys.setprofile(profile)
try:
    inbox.submit(settings, payload, "application/yaml")
except inbox.UploadRejectedError:
    pass
"""


def test_kill_minus_9_at_20_points_then_a_restart_ends_each_upload_once(settings) -> None:
    """Each upload is killed at the n-th file-system step of its life (n = 1 .. 20: a real
    SIGKILL, at a point that does not depend on timing); then the restart's recovery runs."""
    env = {**os.environ, "ETCLOD_DATA": str(settings.data_dir), "ETCLOD_VAR": str(settings.var_dir),
           "ETCLOD_BASE_URI": settings.base_uri, "ETCLOD_KEEP_RELEASES": "100"}
    releases_before = len(list_releases(settings))
    killed = 0
    for n in range(1, 21):
        payload = body([project(id=f"k{n}", acronym=f"K{n}")])
        run = subprocess.run([sys.executable, "-c", KILLER, str(n * 7)], input=payload, env=env,
                             capture_output=True, timeout=300)
        assert run.returncode in (0, -signal.SIGKILL), run.stderr.decode()[-2000:]
        killed += run.returncode == -signal.SIGKILL
        inbox.recover(settings)  # what `etclod serve` does when it starts again
        statuses = {s["id"]: s for s in inbox.list_uploads(settings)}
        assert all(s["status"] in inbox.FINAL for s in statuses.values()), statuses
        upload, _ = inbox.submit(settings, payload, YAML)  # the client, unanswered, sends it again
        assert upload.status["status"] == "published"
        assert len(list_releases(settings)) - releases_before == n, f"killed at step {n * 7}: released twice"
    assert killed >= 10, "the kill points missed the uploads' lives"
    statuses = inbox.list_uploads(settings)
    assert len(statuses) == 20 and {s["status"] for s in statuses} == {"published"}
    assert len(list_releases(settings)) - releases_before == 20, "an upload was released twice or never"
    assert not list(settings.inbox_dir.glob(".trial-*"))
    assert sorted(p.name for p in (settings.inbox_dir / "accepted").iterdir()) == \
        sorted(f"{s['id']}.yaml" for s in statuses)
