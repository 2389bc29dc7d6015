"""Forking layer: work on an in-memory pyoxigraph store in a forked child, on the other core.

pyoxigraph holds the GIL while it evaluates a query, and a build's Python work (rows to
indexes, SQLite) holds it too, so threads take turns; a forked child shares the parent's
in-memory store copy-on-write (nothing loaded twice) and has a GIL of its own. A child is
forked only where no other thread runs (the CLI's build; not a build inside the server), and
a child that fails or dies leaves the work to the parent.

Layer 2 (beside ``oxtyped.py``): it imports nothing of etclod.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Any


def can_fork() -> bool:
    """Whether this process may fork a worker: the platform has fork and no other thread runs
    (a thread holding a lock at the fork would leave it held in the child)."""
    return hasattr(os, "fork") and threading.active_count() == 1


class Child:
    """A forked child's pipe and process id."""

    def __init__(self, read: int, pid: int) -> None:
        self.read, self.pid = read, pid
        self.reaped = False

    def wait(self) -> Any:
        """The child's answer; None if it failed or died (the caller does the work itself)."""
        try:
            with os.fdopen(self.read, "rb") as handle:
                data = handle.read()
        finally:
            _, status = os.waitpid(self.pid, 0)
            self.reaped = True
        if status != 0 or not data:
            return None
        try:
            return pickle.loads(data)
        except (pickle.UnpicklingError, EOFError, ValueError):
            return None

    def stop(self) -> None:
        """Kill the child and reap it, unless it was waited for (this process is failing: its
        answer is not wanted)."""
        if self.reaped:
            return
        self.reaped = True
        os.kill(self.pid, signal.SIGKILL)
        os.close(self.read)
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
