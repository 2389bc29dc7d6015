"""Forked children (``etclod.forking``): answers come back, failures leave the work to the
parent, and a build whose index child fails still publishes its indexes. Each case runs in a
fresh process: a child is forked only where no other thread runs."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etclod.settings import PROJECT_ROOT

from conftest import BASE, SEED_DATA

CHILDREN = """
import os, time
from etclod.forking import can_fork, forked
assert can_fork()
print(forked(lambda: {"answer": 42}).wait()["answer"])
print(forked(lambda: 1 / 0).wait())
sleeper = forked(lambda: time.sleep(600))
sleeper.stop()
try:
    os.waitpid(sleeper.pid, os.WNOHANG)
    print("not reaped")
except ChildProcessError:
    print("reaped")
hung = forked(lambda: time.sleep(600))  # a child that never answers: given up at the deadline
print(hung.wait(time.monotonic() + 0.2))
try:
    os.waitpid(hung.pid, os.WNOHANG)
    print("not reaped")
except ChildProcessError:
    print("reaped")
"""

FAILING_CHILD = """
import os, sys
from etclod import release, search
from etclod.settings import Settings

parent, real = os.getpid(), search.write_indexes
def write_indexes(*args):
    if os.getpid() != parent:
        open(sys.argv[3] + ".child-tried", "w").close()
        raise RuntimeError("the child fails")
    return real(*args)
release.write_indexes = write_indexes
settings = Settings.from_env({"ETCLOD_BASE_URI": sys.argv[1], "ETCLOD_DATA": sys.argv[2], "ETCLOD_VAR": sys.argv[3]})
print(release.build_release(settings).path)
"""


def _python(code: str, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")})
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_child_answers_fails_to_none_and_is_stopped() -> None:
    assert _python(CHILDREN) == ["42", "None", "reaped", "None", "reaped"]


def test_a_failing_index_child_leaves_the_indexes_to_the_build(tmp_path: Path) -> None:
    release = Path(_python(FAILING_CHILD, BASE, str(SEED_DATA), str(tmp_path / "var"))[-1])
    assert (tmp_path / "var.child-tried").is_file()  # the indexes were given to a child first
    manifest = json.loads((release / "manifest.json").read_text("utf-8"))
    entities = json.loads(gzip.decompress((release / "reconcile.json.gz").read_bytes()))
    connection = sqlite3.connect(release / "search.sqlite")
    try:
        indexed = connection.execute("SELECT COUNT(*) FROM search").fetchone()[0]
    finally:
        connection.close()
    assert entities and indexed == len(entities)  # the search index holds every entity of the reconciliation index
    assert {"reconcile.json.gz", "search.sqlite"} <= set(manifest["files"])



_KILLED_PARENT = """
import sys, time
from etclod.forking import worker_pool
pool = worker_pool(1)
print(pool.submit(__import__("os").getpid).result(), flush=True)
pool.submit(time.sleep, 600)  # a dump that takes long: the worker is busy when its parent dies
sys.stdin.read()
"""


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\\nState:\\tZ" in status  # dead, waiting for whoever adopted it to reap it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_dump_worker_ends_when_its_build_is_killed() -> None:
    """A build killed with SIGKILL (kill -9, the OOM killer) leaves no dump worker running on:
    they held the caller's pipes open (a script reading the build's output hung) and wrote on."""
    parent = subprocess.Popen([sys.executable, "-c", _KILLED_PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert not _gone(worker)
        parent.kill()
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not _gone(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(worker), f"dump worker {worker} still runs after its parent was killed"
    finally:
        parent.kill()
        parent.stdout.close()
        parent.stdin.close()


def test_a_child_is_waited_for_in_a_process_with_many_files_open() -> None:
    """A build holds more than 1,024 files (RocksDB): the wait must not use select(), which
    cannot watch a descriptor past 1,023 (a ValueError before; found by a review)."""
    import resource

    from etclod.forking import forked

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this machine allows {hard} open files, fewer than the test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200) if hard == resource.RLIM_INFINITY else min(hard, max(soft, 1200)), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        child = forked(lambda: "answer")
        assert child.read > 1023
        assert child.wait() == "answer"
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
