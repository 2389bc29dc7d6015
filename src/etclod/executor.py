"""Execution layer: SPARQL queries in worker processes that can be killed at the time limit.

pyoxigraph has no timeout or cancellation, so a runaway query is stopped by killing the
process that runs it; a new worker takes its place. Workers open the release's store
read-only and answer with bytes already serialised, never more than ``max_rows`` rows.
This module imports nothing heavy: spawned workers import it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from etclod.errors import QueryMemoryError, error_class, EtclodError, NotAcceptableError, QueryError, QueryFailedError, ResultTooLargeError
from etclod.query import syntax_message
from etclod.sandbox import NOT_AVAILABLE, Policy

log = logging.getLogger("etclod")

class QueryTimeoutError(EtclodError):
    code = "query_timeout"
    status = 503


class BusyError(EtclodError):
    code = "too_many_queries"
    status = 503


@dataclass(frozen=True)
class Job:
    store_path: str
    query: str
    select_format: str | None
    """json, xml, csv or tsv; None when the client accepts no results format."""
    graph_format: str | None
    """a media type of an RDF format; None when the client accepts no RDF format."""
    max_rows: int
    default_graphs: tuple[str, ...] | None = None
    """The dataset (protocol parameters, else the query's FROM clauses); None: every graph."""
    named_graphs: tuple[str, ...] | None = None
    base_iri: str | None = None
    """What relative IRIs in the query resolve against (the endpoint's IRI, as the protocol allows)."""
    in_memory: bool = False
    """Answer from an in-memory copy of the release (loaded from its N-Quads dump beside the
    store folder, once per worker) instead of the on-disk store (ETCLOD_QUERY_STORE)."""


@dataclass(frozen=True)
class ValidateJob:
    """Validate RDF from outside against the shapes, in a worker (parsers and pyshacl can be
    slow or deep on hostile input: a worker can be killed)."""

    data: bytes
    media_type: str
    shapes_path: str
    max_triples: int


@dataclass(frozen=True)
class SyntaxJob:
    """Parse a query strictly (``query.check_syntax``) without evaluating it: pyoxigraph's
    parser recurses and can crash on hostile nesting, so it never runs in the server process."""

    query: str
    base_iri: str | None = None


@dataclass(frozen=True)
class Answer:
    kind: str
    """select, ask, graph or report."""
    body: bytes
    rows: int
    conforms: bool | None = None
    """A report's verdict: results of severity sh:Warning or sh:Info alone still conform."""


def evaluate(store: Any, job: Job) -> Answer:
    """Run one query on an open store and serialise its answer; refuse oversized results."""
    import pyoxigraph as ox

    from etclod.oxtyped import serialized
    from etclod.results import write_ask, write_select

    options: dict[str, Any] = {"use_default_graph_as_union": job.default_graphs is None,
                               "base_iri": job.base_iri}
    if job.default_graphs is not None:
        options["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
    if job.named_graphs is not None:
        options["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
    result = store.query(job.query, **options)
    if isinstance(result, ox.QueryBoolean):
        if job.select_format is None:
            raise NotAcceptableError("this ASK query's answer cannot be given in the requested format")
        return Answer("ask", write_ask(bool(result), job.select_format), 1)
    if isinstance(result, ox.QuerySolutions):
        if job.select_format is None:
            raise NotAcceptableError("this SELECT query's results cannot be given in the requested format; "
                             "ask for JSON, XML, CSV or TSV")
        variables = [v.value for v in result.variables]
        rows = []
        for solution in result:
            rows.append(solution)
            if len(rows) > job.max_rows:
                raise too_many(job.max_rows, "rows")
        return Answer("select", write_select(variables, rows, job.select_format), len(rows))
    if job.graph_format is None:
        raise NotAcceptableError("this CONSTRUCT/DESCRIBE query's triples cannot be given in the requested "
                         "format; ask for Turtle, N-Triples, JSON-LD or RDF/XML")
    triples = []
    for triple in result:
        triples.append(triple)
        if len(triples) > job.max_rows:
            raise too_many(job.max_rows, "triples")
    body = serialized(ox.serialize(triples, format=ox.RdfFormat.from_media_type(job.graph_format)))
    return Answer("graph", body, len(triples))


def validate_rdf(job: ValidateJob) -> Answer:
    """Parse untrusted RDF safely and validate it; the answer is the SHACL report in Turtle."""
    from pathlib import Path

    from rdflib import Graph

    from etclod.rdfinput import parse_untrusted
    from etclod.store import from_ox
    from etclod.validation import load_shapes, validate_graph

    quads = parse_untrusted(job.data, job.media_type)
    if len(quads) > job.max_triples:
        raise too_many(job.max_triples, "triples to validate")
    graph = Graph()
    for q in quads:
        graph.add((from_ox(q.subject), from_ox(q.predicate), from_ox(q.object)))
    report = validate_graph(graph, load_shapes(Path(job.shapes_path)))
    return Answer("report", report.graph.serialize(format="turtle", encoding="utf-8"), len(report.results),
                  report.conforms)


def timed_out(limit: float) -> QueryTimeoutError:
    return QueryTimeoutError(f"the query ran longer than the {limit:g} s limit (ETCLOD_QUERY_TIMEOUT) and was "
                             "stopped; narrow it, add a LIMIT, or use the dumps")


def too_many(limit: int, what: str) -> QueryError:
    return ResultTooLargeError(f"the result has more than {limit} {what} (ETCLOD_MAX_ROWS); it is refused, not "
                      "truncated: page through it with ORDER BY, LIMIT and OFFSET, or download the "
                      "dumps at /dumps/")


WORKER_START_SECONDS = 60.0
"""How long a new worker may take to start (import, give up its rights) before it counts as failed."""
_STATM: list[int] = []
"""A descriptor of /proc/self/statm, opened before the worker gives up reading /proc."""


def resident_bytes() -> int:
    """This process's resident memory (Linux ``/proc``; 0 where that cannot be read)."""
    try:
        if not _STATM:
            _STATM.append(os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC))
        return int(os.pread(_STATM[0], 200, 0).split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def give_back_memory() -> None:
    """Return the pages freed memory left in glibc's heaps to the system (``malloc_trim``):
    after a store handle is closed, its caches' memory would otherwise stay resident. Does
    nothing where the C library is not glibc."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def open_store(path: str, in_memory: bool = False) -> Any:
    """A release's store for a worker: the on-disk store read-only, or an in-memory copy
    bulk-loaded from the release's N-Quads dump (``dumps/etclod.nq.gz`` beside ``store/``)."""
    import os

    import pyoxigraph as ox

    if not in_memory:
        return ox.Store.read_only(path)
    from isal import igzip

    store = ox.Store()
    # isal ships no annotations; igzip.open is gzip.open, faster, and gives a binary file
    gzip_open = cast("Callable[[str, str], BinaryIO]", igzip.open)
    with gzip_open(os.path.join(os.path.dirname(path), "dumps", "etclod.nq.gz"), "rb") as dump:
        store.bulk_load(dump, format=ox.RdfFormat.N_QUADS)
    return store


def memory_exceeded(limit_mb: int) -> QueryMemoryError:
    return QueryMemoryError(f"the query needed more memory than a query worker may use ({limit_mb} MB, "
                      "ETCLOD_WORKER_MAX_MEMORY_MB) and was stopped; narrow it or add a LIMIT")


ORPHAN_CHECK_SECONDS = 1.0
"""How often a query worker looks whether the server that started it still runs."""


def _end_with(parent: int) -> None:
    """End this worker once ``parent`` has ended (even by SIGKILL: it is then another
    process's child), mid-query too: the engine gives up the interpreter lock while it
    evaluates, so this thread runs beside it. Not PR_SET_PDEATHSIG, which follows the thread
    that started the worker: the server starts its workers from threads that come and go."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def _worker_main(conn: Any, max_growth: int = 0, policy: Policy | None = None) -> None:
    """A worker process: give up the network, memory past the limit and reading outside the
    releases (``sandbox.protect``), say which of these hold, then answer jobs until the pipe
    closes. With ``max_growth`` (bytes), a worker that has grown past it since it opened its
    first store says so with its answer and ends: memory a big query made the allocator keep
    is given back by a fresh worker."""
    from etclod.sandbox import protect

    parent = os.getppid()
    policy = policy or Policy()
    os.environ["RUST_BACKTRACE"] = "0"  # a failed allocation aborts with one line, not a backtrace
    resident_bytes()  # opens /proc/self/statm while it may
    import pyoxigraph as ox  # noqa: F401  (loaded before the sandbox closes the file system)

    from etclod import rdfinput, results  # noqa: F401  (loaded once, before the first job's clock)
    # validation (rdflib, the record models: about 20 MB a worker) is imported by the first
    # ValidateJob only: most workers never see one (issue 17: serving memory)
    from etclod.query import check_syntax

    # rdflib logs a traceback for every literal it cannot read ("x"^^xsd:decimal): the
    # report names the value, the log needs none of it
    logging.getLogger("rdflib.term").setLevel(logging.ERROR)
    conn.send(("hello", protect(policy), False))
    threading.Thread(target=_end_with, args=(parent,), daemon=True, name="etclod-orphan-watch").start()
    stores: dict[str, Any] = {}
    baseline = 0
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        retire = False
        try:
            if isinstance(job, ValidateJob):
                message: tuple[str, Any] = ("ok", validate_rdf(job))
            elif isinstance(job, SyntaxJob):
                check_syntax(job.query, job.base_iri)
                message = ("ok", Answer("syntax", b"", 0))
            else:
                key = f"{job.store_path}\x00{job.in_memory}"
                store = stores.get(key)
                if store is None:
                    if len(stores) >= 2:
                        stores.pop(next(iter(stores)))
                    store = stores[key] = open_store(job.store_path, job.in_memory)
                    baseline = baseline or resident_bytes()
                message = ("ok", evaluate(store, job))
        except SyntaxError as exc:
            message = ("error", ("syntax_error", syntax_message(str(exc)), 400))
        except EtclodError as exc:
            message = ("error", (exc.code, exc.message, exc.status))
        except MemoryError:
            error = memory_exceeded(policy.max_memory_mb)
            message, retire = ("error", (error.code, error.message, error.status)), True
        except (OSError, ValueError, RuntimeError, TypeError) as exc:
            message = ("error", ("query_failed", f"the query could not be evaluated: {exc}", 400))
        retire = retire or bool(max_growth and baseline and resident_bytes() - baseline > max_growth)
        conn.send((*message, retire))
        if retire:
            return


class _Worker:
    def __init__(self, ctx: Any, max_growth: int = 0, policy: Policy | None = None) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, max_growth, policy), daemon=True,
                                   name="etclod-query")
        self.process.start()
        child.close()
        self.protections: dict[str, str] | None = None

    def greet(self, timeout: float) -> dict[str, str]:
        """The worker's first message: which protections hold in it."""
        if self.protections is None:
            if not self.conn.poll(timeout):
                raise EOFError("the query worker did not start")
            kind, report, _ = self.conn.recv()
            if kind != "hello":
                raise EOFError(f"the query worker said {kind!r} first")
            self.protections = report
        return self.protections

    def death(self, memory_mb: int) -> QueryError:
        """Why the worker ended, as the client is told (and logged in one line)."""
        self.process.join(timeout=5)
        code = self.process.exitcode
        log.warning("query worker %s ended with exit code %s", self.process.pid, code)
        if code == -signal.SIGABRT and memory_mb:  # Rust aborts when an allocation fails
            return memory_exceeded(memory_mb)
        what = f"was killed by signal {-code}" if code is not None and code < 0 else f"ended (exit code {code})"
        return QueryFailedError(f"the query worker {what}; the query was not answered", status=503)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class QueryPool:
    """A fixed number of worker processes; at most ``max_concurrent`` queries running or waiting."""

    def __init__(self, size: int, timeout: float, max_concurrent: int, max_growth_mb: int = 0,
                 policy: Policy | None = None) -> None:
        self.size, self.timeout = size, timeout
        self.policy = policy or Policy()
        self._protections: dict[str, str] | None = None
        self.max_growth = max_growth_mb * 1024 * 1024
        self.retired = 0
        """Workers replaced because they had grown past ``max_growth_mb``."""
        self._ctx = mp.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._running = threading.BoundedSemaphore(size)
        self._started = False
        self._lock = threading.Lock()
        self._closed = False
        self._in_hand = 0
        self._in_hand_lock = threading.Lock()

    @property
    def in_hand(self) -> int:
        """Queries running or waiting for a worker right now."""
        return self._in_hand

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            for _ in range(self.size):
                self._idle.put(_Worker(self._ctx, self.max_growth, self.policy))
            self._started = True

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return

    def _retire(self, worker: _Worker) -> None:
        worker.process.join(timeout=5)
        worker.kill()
        self.retired += 1
        self._replace()

    def _replace(self) -> None:
        if not self._closed:
            self._idle.put(_Worker(self._ctx, self.max_growth, self.policy))

    def protections(self) -> dict[str, str]:
        """Which protections hold in the workers on this host (asked of a worker once, and
        learnt from every query's worker). Never waits for a busy worker: /health asks this,
        and must answer while every worker runs a long query."""
        if self._protections is None:
            self.start()
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return {k: "unknown: every worker is busy" for k in ("network", "memory", "filesystem")}
            try:
                self._protections = worker.greet(WORKER_START_SECONDS)
            except (EOFError, OSError):
                return {k: NOT_AVAILABLE + ": the worker did not start" for k in ("network", "memory", "filesystem")}
            finally:
                self._idle.put(worker)
        return self._protections

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One of the ``max_concurrent`` places for a query; BusyError when none is free."""
        if not self._slots.acquire(blocking=False):
            raise BusyError("too many queries are running; try again in a moment")
        with self._in_hand_lock:
            self._in_hand += 1
        try:
            yield
        finally:
            with self._in_hand_lock:
                self._in_hand -= 1
            self._slots.release()

    async def run_here(self, function: Callable[..., Awaitable[Answer]], *args: Any) -> Answer:
        """Await ``function`` on the event loop, as a worker would run a job: for a remote store,
        whose server does the work under the time limit it is given. The same limits hold:
        ``size`` queries run at once (so at most that many answers are held in memory),
        ``max_concurrent`` run or wait, and a wait ends after the time limit (waited for in a
        thread, only when every place is taken)."""
        with self.slot():
            if not self._running.acquire(blocking=False) and not await self._wait_for_place():
                raise BusyError(f"no query slot came free within {self.timeout:g} s; try again in a moment")
            try:
                return await function(*args)
            finally:
                self._running.release()

    async def _wait_for_place(self) -> bool:
        """Wait in a thread (up to the time limit) for a running place; True when one was taken.
        A request cancelled while the thread waits (by anyio or by a plain ``task.cancel()``)
        leaves the thread waiting: the place it takes after that is given back at once."""
        import anyio.to_thread

        waiting = asyncio.ensure_future(anyio.to_thread.run_sync(self._running.acquire, True, self.timeout))
        try:
            return await asyncio.shield(waiting)
        except BaseException:
            def give_back(done: asyncio.Future[bool]) -> None:
                if not done.cancelled() and done.exception() is None and done.result():
                    self._running.release()
            waiting.add_done_callback(give_back)
            raise

    def run(self, job: Job | ValidateJob | SyntaxJob) -> Answer:
        """Evaluate ``job`` in a worker; raise QueryTimeoutError past the limit (the worker is
        killed and replaced) and BusyError when too many queries are already in hand."""
        self.start()
        with self.slot():
            deadline = time.monotonic() + self.timeout
            worker: _Worker | None
            try:
                worker = self._idle.get(timeout=self.timeout)
            except queue.Empty:
                raise BusyError(f"no query worker came free within {self.timeout:g} s; try again "
                                "in a moment") from None
            try:
                self._protections = worker.greet(WORKER_START_SECONDS)  # its start is not the query's time
                deadline = max(deadline, time.monotonic() + min(self.timeout, 1.0))
                worker.conn.send(job)
                remaining = max(0.0, deadline - time.monotonic())
                if not worker.conn.poll(remaining):
                    worker.kill()
                    threading.Thread(target=self._replace, daemon=True).start()
                    worker = None
                    raise timed_out(self.timeout)
                status, payload, retire = worker.conn.recv()
                if retire:  # it ends itself after this answer: a fresh one takes its place
                    threading.Thread(target=self._retire, args=(worker,), daemon=True).start()
                    worker = None
            except (EOFError, OSError, BrokenPipeError) as exc:
                error: QueryError = QueryFailedError("the query worker failed; the query was not answered", status=503)
                if worker is not None:
                    error = worker.death(self.policy.max_memory_mb)
                    worker.kill()
                    worker = None
                    threading.Thread(target=self._replace, daemon=True).start()
                raise error from exc
            finally:
                if worker is not None:
                    self._idle.put(worker)
            if status == "error":
                code, message, http_status = payload
                raise error_class(code)(message, code=code, status=http_status)
            return cast(Answer, payload)  # a worker sends ("ok", Answer, retire) or ("error", ...)
