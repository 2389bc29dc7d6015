"""Forking layer: work on an in-memory pyoxigraph store in a forked child, on the other core.

pyoxigraph holds the GIL while it evaluates a query, and a build's Python work (rows to
indexes, SQLite) holds it too, so threads take turns; a forked child shares the parent's
in-memory store copy-on-write (nothing loaded twice) and has a GIL of its own. A child is
forked only where no other thread runs (the CLI's build; not a build inside the server), and
a child that fails, dies or does not answer by its deadline leaves the work to the parent.
Worker processes a build spawns (the Turtle and JSON-LD dumps) end with it (``die_with_parent``).

Layer 2 (beside ``oxtyped.py``): it imports nothing of etclod.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` (the pid that started it) ends, even by
    SIGKILL (Linux's ``PR_SET_PDEATHSIG``), so a worker of a killed build does not run on holding
    its files and its caller's pipes. For the initializer of a worker pool started from the thread
    that also waits for it (the signal follows the thread that started the process). Elsewhere
    than on Linux it does nothing."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL),
                                            ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if os.getppid() != parent:  # it ended before the request was made
        os.kill(os.getpid(), signal.SIGKILL)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """Spawned worker processes (the Turtle and JSON-LD dumps) that end with this process, even
    when it is killed; to be waited for by the thread that makes it."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent,
                               initargs=(os.getpid(),))


def can_fork() -> bool:
    """Whether this process may fork a worker: the platform has fork and no other thread runs
    (a thread holding a lock at the fork would leave it held in the child)."""
    return hasattr(os, "fork") and threading.active_count() == 1


GRACE = 60.0
"""Seconds a child is always given beyond its share of the time (``Child.wait``)."""


class Child:
    """A forked child's pipe and process id."""

    def __init__(self, read: int, pid: int) -> None:
        self.read, self.pid = read, pid
        self.reaped = False
        self.started = time.monotonic()

    def wait(self, deadline: float | None = None) -> Any:
        """The child's answer; None if it failed, died or did not answer by ``deadline`` (a
        ``time.monotonic()`` instant; None: the parent's own time since the fork again, plus
        ``GRACE``, for a child given a share of the work as large as the parent's), when it is
        killed: the caller does the work itself, so a child that hangs never hangs the build."""
        if deadline is None:
            now = time.monotonic()
            deadline = now + (now - self.started) + GRACE
        chunks: list[bytes] = []
        ready = select.poll()  # not select.select: a build holds more than 1,024 files (RocksDB)
        ready.register(self.read, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not ready.poll(left * 1000):
                    self.stop()  # too late: killed, and its answer not wanted
                    return None
                chunk = os.read(self.read, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        except BaseException:
            self.stop()
            raise
        os.close(self.read)
        self.read = -1  # never closed twice: the number may be another file's by then
        status = self._reap(deadline)
        data = b"".join(chunks)
        if status != 0 or not data:
            return None
        try:
            return pickle.loads(data)
        except (pickle.UnpicklingError, EOFError, ValueError):
            return None

    def _reap(self, deadline: float) -> int:
        """The child's exit status once its pipe is closed (it leaves at once then); killed at
        the deadline if it has not."""
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.reaped = True
                return status
            if time.monotonic() >= deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                self.reaped = True
                return -1
            time.sleep(0.01)

    def stop(self) -> None:
        """Kill the child and reap it, unless it was waited for (this process is failing: its
        answer is not wanted)."""
        if self.reaped:
            return
        self.reaped = True
        os.kill(self.pid, signal.SIGKILL)
        if self.read >= 0:
            os.close(self.read)
            self.read = -1
        os.waitpid(self.pid, 0)


def forked(work: Callable[[], Any]) -> Child:
    """``work`` run in a forked child, its answer pickled back through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, then leave at once (no atexit, no flushing)
        code = 0
        try:
            os.close(read)
            with os.fdopen(write, "wb") as out:
                pickle.dump(work(), out, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write)
    return Child(read, pid)
