"""Remote store layer: a SPARQL 1.1 server (Virtuoso is the one tested) behind GraphStore.

A release is pushed as a versioned set of named graphs: graph ``g`` of release ``v`` is
stored as ``urn:etclod:release:v:g``. A control graph records each push and which release is
current; queries name the current release's graphs as their dataset, so a client querying
during a push sees the old release whole, and only after every graph's triple count matches
the manifest does one update switch to the new one. A push that failed or was killed is
cleaned up by the next push; releases beyond the kept number are dropped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import threading
import urllib.request
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import httpx

from etclod.errors import EtclodError, ReleaseError
from etclod.executor import Answer, Job, SyntaxJob
from etclod.query import CheckedQuery, keywords
from etclod.manifest import read_manifest
from etclod.release import version_key
from etclod.namespaces import ETC
from etclod.settings import Settings
from etclod.results import read_json_term
from etclod.wire import AnswerTooLarge, BrokenAnswer, NoAnswer, Wire
from etclod.store import ALL_GRAPHS, FIRST_PAGE, Dataset, GraphStore, Page, ResultFormat, Runner, from_ox, off_the_loop_past

if TYPE_CHECKING:
    from etclod.describe import Description

T = TypeVar("T")
CONTROL = "urn:etclod:control"
SERVICE = "urn:etclod:service"
CHUNK = 20_000
BATCH = 2_000
"""Graphs smaller than this many triples are loaded this many triples to a SPARQL Update."""
INLINE_QUERY_CHARS = 4096
"""Queries up to this long are written out for the server on the event loop; longer ones in a
thread (as ``api/sparql`` checks them)."""


class RemoteStoreError(EtclodError):
    code = "remote_store"
    status = 502


class RemoteUnavailableError(RemoteStoreError):
    """The server gave no answer (refused, reset, hung), or failed for a reason of its own and
    answered nothing but the error: the same request may go to another server of the pool."""


class RemoteQueryError(RemoteStoreError):
    """The SPARQL server refused or failed a query: its HTTP status and text, which ``proxy``
    words for the client (a refusal of the query, a timeout, or a failing server)."""

    def __init__(self, server_status: int, text: str) -> None:
        super().__init__(f"the SPARQL server answered {server_status}: {text[:300]}")
        self.server_status, self.text = server_status, text


class PassedTexts:
    """The last ``size`` query texts (as the server reads them) that passed the strict syntax
    check in a worker, by sha256 of the text and its base IRI: the check is a pure function
    of the two, so a text that passed once passes again, and is not sent to a worker again.

    >>> passed = PassedTexts(1)
    >>> passed.add("ASK {}", None); passed.holds("ASK {}", None), passed.holds("ASK {}", "http://b/")
    (True, False)
    >>> passed.add("SELECT * {}", None); passed.holds("ASK {}", None)
    False
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._keys: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(text: str, base_iri: str | None) -> bytes:
        return hashlib.sha256(f"{base_iri or ''}\x00{text}".encode("utf-8", "surrogatepass")).digest()

    def holds(self, text: str, base_iri: str | None) -> bool:
        key = self._key(text, base_iri)
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
        return False

    def add(self, text: str, base_iri: str | None) -> None:
        key = self._key(text, base_iri)
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)


SYNTAX_PASSED = PassedTexts()
"""Shared by every view of every release: the verdict does not depend on the data."""


def release_node(version: str) -> str:
    return f"urn:etclod:release:{version}"


def versioned(version: str, graph: str) -> str:
    return f"urn:etclod:release:{version}:{graph}"


def union_graph(version: str) -> str:
    """The graph holding every triple of a release once, besides its per-source graphs: the
    default graph of every query, so a request names one graph however many the release has."""
    return f"urn:etclod:union:{version}"


def term(value: dict[str, str]) -> Any:
    """A SPARQL JSON results term as an rdflib term (read by ``results.read_json_term``)."""
    return from_ox(read_json_term(value))


class ServerAuth(httpx.Auth):
    """HTTP Digest or Basic, whichever the server asks for (Virtuoso asks for Digest; Fuseki,
    GraphDB and most proxies for Basic). Nothing is sent before the server asks."""

    requires_request_body = True

    def __init__(self, user: str, password: str) -> None:
        self.digest = httpx.DigestAuth(user, password)
        self.basic = httpx.BasicAuth(user, password)

    def auth_flow(self, request: httpx.Request) -> Any:
        response = yield request
        if response.status_code != 401:
            return
        challenge = response.headers.get("www-authenticate", "").strip().split(" ", 1)[0].lower()
        if challenge == "basic":
            yield from self.basic.auth_flow(request)
        elif challenge == "digest":
            yield from self.digest.auth_flow(request)


@dataclass
class RemoteView:
    """One release on the SPARQL server: queries name its graphs as their dataset, so a
    request keeps the release it started on however the server's current pointer moves."""

    remote: RemoteStore
    version: str
    graphs: dict[str, str]
    """each graph's name in the release -> its name on the server."""
    union: str | None = None
    """The release's union graph (None for a release pushed before there were union graphs)."""
    runner: Runner | None = None
    """Bounds the queries running on the server at once, and their time (``executor.QueryPool``)."""
    max_rows: int = 100_000

    def default_dataset(self) -> list[str]:
        """The default graph of a query that names none: the union graph, one IRI."""
        return [self.union] if self.union else list(self.graphs.values())

    def named_dataset(self, query: str | CheckedQuery) -> list[str]:
        """The named graphs a query that names none may reach: this release's graphs, listed
        only for a query with a GRAPH pattern (the others do not need them)."""
        return list(self.graphs.values()) if self.union is None or "GRAPH" in keywords(query) else []

    def select(self, query: str) -> list[dict[str, Any]]:
        # GRAPH too reaches this release's graphs only
        return self.remote.raw_select(query, self.default_dataset(), named=self.named_dataset(query))

    async def answer(self, checked: CheckedQuery, format: ResultFormat, dataset: Dataset = ALL_GRAPHS) -> Answer:
        """GraphStore: the server answers, under the runner's limits (``proxy.answer``), on the
        event loop (``RemoteStore.reader``)."""
        from etclod.proxy import answer

        if self.runner is None:
            raise ReleaseError("this release's view was opened without a query runner")
        job = Job("", checked.text, format.select, format.graph, self.max_rows, dataset.default, dataset.named,
                  checked.base_iri)
        if not checked.tokens:
            checked = CheckedQuery.read(checked.text, checked.base_iri)
        # the server reads the very tokens the checks read; pyoxigraph's parser recurses, so the
        # strict syntax check runs in a worker, never in this process (once per text: the verdict
        # on a text is always the same, and a comment or a format is not part of the text)
        text = await off_the_loop_past(len(checked.text), INLINE_QUERY_CHARS,
                                       partial(checked.for_server, self.graphs, without_dataset=True))
        if not SYNTAX_PASSED.holds(text, checked.base_iri):
            await anyio.to_thread.run_sync(self.runner.run, SyntaxJob(text, checked.base_iri))
            SYNTAX_PASSED.add(text, checked.base_iri)
        return await self.runner.run_here(answer, self, job, self.runner.timeout, checked, text)

    def describe(self, iri: str, page: Page = FIRST_PAGE) -> Description:
        from etclod.describe import describe

        return describe(self, iri, cursor=page.cursor, page_size=page.size)

    def read_aside(self, read: Callable[[GraphStore], T]) -> T:
        """GraphStore: the server does the reading; nothing is kept here."""
        return read(self)


@dataclass
class PushResult:
    version: str
    graphs: int
    quads: int
    dropped: list[str]
    skipped: bool = False
    """It was on the server already (nothing loaded)."""
    switched: bool = False
    """... and it was made current again (a rollback)."""


class RemoteStore:
    """Queries answered by a SPARQL server, over the current release's graphs only."""

    def __init__(self, endpoint: str, update_endpoint: str, graph_store: str, user: str | None = None,
                 password: str | None = None, timeout: float = 30.0) -> None:
        self.endpoint, self.update_endpoint, self.graph_store = endpoint, update_endpoint, graph_store
        self.auth = ServerAuth(user, password or "") if user else None
        self.timeout = timeout
        self.client = httpx.Client(timeout=timeout, auth=self.auth)
        self.on_query: list[Callable[[bytes], None]] = []
        """Called with the body of every ``/sparql`` query sent (what a test looks at)."""
        host = urlsplit(endpoint).hostname or ""
        proxies = urllib.request.getproxies()
        self._by_wire = not (proxies.get(urlsplit(endpoint).scheme) or proxies.get("all")) or \
            bool(urllib.request.proxy_bypass(host))
        """``/sparql``'s queries go by ``wire`` (not through a proxy: httpx takes those)."""
        self._loop_clients: tuple[asyncio.AbstractEventLoop, Wire, httpx.AsyncClient | None] | None = None

    def _on_loop(self) -> tuple[Wire, httpx.AsyncClient | None]:
        """The clients of ``/sparql``'s queries: on the running event loop (no thread a query),
        their connections kept alive from one query to the next. One pair for each loop: a
        connection belongs to the loop that opened it (the server has one; a test's TestClient
        may run each request on a loop of its own)."""
        loop = asyncio.get_running_loop()
        held = self._loop_clients
        if held is None or held[0] is not loop:
            if held is not None and not held[0].is_closed():  # the old loop's kept connections: closed
                held[1].close()
            held = self._loop_clients = (loop, Wire(self.endpoint, self.on_query), None)
        return held[1], held[2]

    def _async_client(self) -> httpx.AsyncClient:
        """httpx on the event loop, for what ``wire`` does not carry: a server that asks for
        credentials to read, an endpoint behind a proxy."""
        wire, client = self._on_loop()
        if client is None:
            client = httpx.AsyncClient(timeout=self.timeout, auth=self.auth,
                                       event_hooks={"request": [self._hook]})
            assert self._loop_clients is not None
            self._loop_clients = (self._loop_clients[0], wire, client)
        return client

    async def _hook(self, request: httpx.Request) -> None:
        body = await request.aread()
        for hook in self.on_query:
            hook(body)

    @classmethod
    def from_url(cls, url: str, user: str | None, password: str | None, timeout: float,
                 update_url: str | None = None, graph_store_url: str | None = None) -> RemoteStore:
        """``sparql+http://host:port/sparql``; the update and graph-store endpoints default to
        Virtuoso's paths beside it."""
        endpoint = url.removeprefix("sparql+")
        root = endpoint.rsplit("/", 1)[0]
        return cls(endpoint, update_url or f"{root}/sparql-auth", graph_store_url or f"{root}/sparql-graph-crud-auth",
                   user, password, timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteStore:
        if settings.store_url is None:
            raise ReleaseError("no remote store is configured (ETCLOD_STORE)")
        return cls.from_url(settings.store_url, settings.store_user, settings.store_password,
                            max(30.0, settings.query_timeout + 5), settings.store_update_url,
                            settings.store_graph_store_url)

    # ------------------------------------------------------------------ reading

    def _post(self, url: str, data: Any, accept: str = "application/sparql-results+json",
              timeout: float | None = None) -> httpx.Response:
        request = self.client.build_request("POST", url, data=data, headers={"Accept": accept},
                                            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        try:  # up to the status line nothing is answered: another server may be asked instead
            response = self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise RemoteUnavailableError(f"the SPARQL server at {url} did not answer: {exc}") from exc
        try:
            response.read()
        except httpx.HTTPError as exc:  # a partial answer: never asked again elsewhere
            raise RemoteStoreError(f"the answer of the SPARQL server at {url} broke off: {exc}") from exc
        finally:
            response.close()
        if response.status_code >= 500:
            raise RemoteUnavailableError(f"the SPARQL server at {url} answered {response.status_code}: "
                                         f"{response.text[:300]}")
        if response.status_code >= 400:
            raise RemoteStoreError(f"the SPARQL server at {url} answered {response.status_code}: "
                                   f"{response.text[:300]}")
        return response

    def raw_select(self, query: str, dataset: list[str] | None = None,
                   timeout: float | None = None, named: list[str] | None = None) -> list[dict[str, Any]]:
        data: dict[str, Any] = {"query": query}
        if dataset:
            data["default-graph-uri"] = list(dataset)
        if named:
            data["named-graph-uri"] = list(named)
        try:
            body = self._post(self.endpoint, data, timeout=timeout).json()
            return [{k: term(v) for k, v in row.items()} for row in body["results"]["bindings"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise RemoteStoreError(f"the SPARQL server at {self.endpoint} answered with results etclod "
                                   f"cannot read: {exc!r}") from exc

    def current_switch(self, timeout: float | None = None) -> tuple[str | None, str | None]:
        """The current release and when it was switched to (ISO time; None before pools kept
        it), read together in one query: which of a pool's servers holds the newest switch, a
        rollback included. While a switch is under way the newer pointer wins."""
        rows = self.raw_select(f"""SELECT ?v ?t WHERE {{ GRAPH <{CONTROL}> {{ <{SERVICE}> <{ETC}currentRelease> ?v .
            OPTIONAL {{ ?r <{ETC}version> ?v ; <{ETC}switchedAt> ?t }} }} }}""", timeout=timeout)
        pairs = sorted((str(r["t"]) if r.get("t") else "", str(r["v"])) for r in rows)
        return (pairs[-1][1], pairs[-1][0] or None) if pairs else (None, None)

    def current(self, timeout: float | None = None) -> str | None:
        """The release the server serves: while a switch is under way there may be two pointers,
        and the newest (as time sorts, not as strings do) is the one."""
        rows = self.raw_select(f"SELECT ?v WHERE {{ GRAPH <{CONTROL}> {{ <{SERVICE}> <{ETC}currentRelease> ?v }} }}",
                               timeout=timeout)
        return max((str(r["v"]) for r in rows), key=version_key, default=None)

    def graphs(self, version: str) -> list[str]:
        rows = self.raw_select(f"SELECT ?g WHERE {{ GRAPH <{CONTROL}> {{ <{release_node(version)}> <{ETC}graph> ?g }} }}")
        return sorted(str(r["g"]) for r in rows)

    def union(self, version: str) -> str | None:
        rows = self.raw_select(f"SELECT ?g WHERE {{ GRAPH <{CONTROL}> {{ <{release_node(version)}> "
                               f"<{ETC}unionGraph> ?g }} }}")
        return str(rows[0]["g"]) if rows else None

    def view(self, version: str) -> RemoteView:
        """One pushed release, as a store of its own: what a served release queries."""
        prefix = versioned(version, "")
        graphs = {g.removeprefix(prefix): g for g in self.graphs(version)}
        if not graphs:
            raise ReleaseError(f"release {version} has no graphs on the SPARQL server {self.endpoint}")
        return RemoteView(self, version, graphs, self.union(version))

    async def query(self, query: str, default: list[str], named: list[str], accept: str, timeout: float,
                    max_bytes: int) -> tuple[Mapping[str, str], bytes]:
        """Run a read-only query with an explicit dataset, on the event loop (``wire``; httpx
        where it cannot go); the answer is read within the time limit and up to ``max_bytes``
        (refused past that). Virtuoso is also told the time limit (its ``timeout`` parameter)."""
        data: dict[str, str | list[str]] = {"query": query, "default-graph-uri": default, "named-graph-uri": named,
                                            "timeout": str(int(timeout * 1000))}
        if self._by_wire:
            wire, _ = self._on_loop()
            try:
                reply = await wire.post_form(data, accept, timeout + 0.25, max_bytes)
            except NoAnswer as exc:
                raise RemoteUnavailableError(f"the SPARQL server at {self.endpoint} did not answer: {exc}") from exc
            except BrokenAnswer as exc:  # a partial answer: never asked again elsewhere
                raise RemoteStoreError(f"the answer of the SPARQL server at {self.endpoint} broke off: {exc}") from exc
            except AnswerTooLarge:
                raise RemoteQueryError(413, f"the answer is larger than {max_bytes} bytes") from None
            if reply.status == 401 and self.auth is not None:  # it wants credentials to read: httpx from now on
                self._by_wire = False
            elif reply.status >= 400:
                raise RemoteQueryError(reply.status, reply.body.decode("utf-8", "replace"))
            else:
                return reply.headers, reply.body
        chunks, size = [], 0
        async with self._async_client().stream("POST", self.endpoint, data=data, headers={"Accept": accept},
                                        timeout=httpx.Timeout(timeout + 0.25, connect=5)) as response:
            if response.status_code >= 400:
                text = (await response.aread()).decode("utf-8", "replace")
                raise RemoteQueryError(response.status_code, text)
            try:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise RemoteQueryError(413, f"the answer is larger than {max_bytes} bytes")
                    chunks.append(chunk)
            except httpx.TimeoutException:
                raise
            except httpx.HTTPError as exc:  # a partial answer: never asked again elsewhere
                raise RemoteStoreError(f"the answer of the SPARQL server at {self.endpoint} broke off after "
                                       f"{size} bytes: {exc}") from exc
            return response.headers, b"".join(chunks)

    # ------------------------------------------------------------------ writing

    def update(self, sparql: str) -> None:
        self._post(self.update_endpoint, {"update": sparql}, accept="*/*")  # SPARQL 1.1 Protocol

    def upload(self, graph: str, ntriples: bytes) -> None:
        try:
            response = self.client.post(self.graph_store, params={"graph": graph}, content=ntriples,
                                        headers={"Content-Type": "application/n-triples"})
        except httpx.HTTPError as exc:
            raise RemoteStoreError(f"uploading to {graph} failed: {exc}") from exc
        if response.status_code >= 400:
            raise RemoteStoreError(f"uploading to {graph} failed: {response.status_code} {response.text[:300]}")

    def insert(self, graphs: list[tuple[str, list[bytes]]], progress: Callable[[int], None] | None = None) -> None:
        """Several small graphs in one SPARQL Update (N-Triples lines are valid triples there)."""
        body = " ".join(f"GRAPH <{graph}> {{ {b''.join(triples).decode('utf-8')} }}" for graph, triples in graphs)
        self.update(f"INSERT DATA {{ {body} }}")
        if progress is not None:
            progress(sum(len(triples) for _, triples in graphs))

    def count(self, graph: str) -> int:
        rows = self.raw_select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return int(rows[0]["n"]) if rows else 0

    def counts(self, version: str) -> dict[str, int]:
        """The triples of every graph of a release on the server, in one query."""
        rows = self.raw_select(f"""SELECT ?g (COUNT(*) AS ?n) WHERE {{
            {{ SELECT ?g WHERE {{ GRAPH <{CONTROL}> {{ <{release_node(version)}> <{ETC}graph> ?g }} }} }}
            GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g""")
        return {str(r["g"]): int(r["n"]) for r in rows}

    def checksum(self, version: str) -> str | None:
        rows = self.raw_select(f"SELECT ?c WHERE {{ GRAPH <{CONTROL}> {{ <{release_node(version)}> <{ETC}checksum> ?c }} }}")
        return str(rows[0]["c"]) if rows else None

    def pushed(self, timeout: float | None = None) -> list[tuple[str, bool]]:
        """Every release the control graph knows, and whether its push completed."""
        rows = self.raw_select(f"""SELECT ?v ?done WHERE {{ GRAPH <{CONTROL}> {{ ?r <{ETC}version> ?v .
            OPTIONAL {{ ?r <{ETC}complete> ?done }} }} }}""", timeout=timeout)
        return sorted(((str(r["v"]), bool(r.get("done"))) for r in rows), key=lambda row: version_key(row[0]))

    def drop(self, version: str) -> None:
        for graph in self.graphs(version) + [union_graph(version)]:
            self.update(f"DROP SILENT GRAPH <{graph}>")
        self.update(f"WITH <{CONTROL}> DELETE {{ <{release_node(version)}> ?p ?o }} "
                    f"WHERE {{ <{release_node(version)}> ?p ?o }}")

    def _make_current(self, version: str, current: str | None) -> None:
        # the new pointer goes in before the old comes out: a reader sees one or both, and
        # takes the newest, never none
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        node = release_node(version)
        switch = f'INSERT DATA {{ GRAPH <{CONTROL}> {{ <{SERVICE}> <{ETC}currentRelease> "{version}" . ' \
                 f'<{node}> <{ETC}complete> true ; <{ETC}switchedAt> "{now}" }} }}'
        if current and current != version:  # every other pointer goes, a stale one too
            switch += (f' ; DELETE {{ GRAPH <{CONTROL}> {{ <{SERVICE}> <{ETC}currentRelease> ?v }} }} '
                       f'WHERE {{ GRAPH <{CONTROL}> {{ <{SERVICE}> <{ETC}currentRelease> ?v }} FILTER(STR(?v) != "{version}") }}')
        switch += (f' ; DELETE {{ GRAPH <{CONTROL}> {{ <{node}> <{ETC}switchedAt> ?t }} }} '
                   f'WHERE {{ GRAPH <{CONTROL}> {{ <{node}> <{ETC}switchedAt> ?t }} FILTER(STR(?t) != "{now}") }}')
        self.update(switch)

    def push(self, release: Path, keep: int = 2, progress: Callable[[int], None] | None = None) -> PushResult:
        """Load a sealed release, verify it against its manifest, then make it current.
        ``progress`` is told how many triples each upload carried."""
        result = self.load(release, progress)
        if result.skipped:
            current = self.current()
            if current != result.version:  # a rollback: it is whole on the server already
                self._make_current(result.version, current)
                result.switched = True
            return result
        result.dropped += self.activate(result.version, keep)
        return result

    def activate(self, version: str, keep: int = 2) -> list[str]:
        """Make a release loaded and verified by :meth:`load` current; drop the complete
        releases past ``keep``. Returns the versions dropped."""
        self._make_current(version, self.current())
        complete = [v for v, done in self.pushed() if done and v != version]
        dropped = []
        for old in complete[:max(0, len(complete) - (keep - 1))]:
            self.drop(old)
            dropped.append(old)
        return dropped

    def load(self, release: Path, progress: Callable[[int], None] | None = None) -> PushResult:
        """Load a sealed release into versioned graphs and verify every graph's count, without
        making it current (:meth:`activate` does; a pool loads everywhere first). ``skipped``:
        it was whole on the server already."""
        manifest = read_manifest(release)
        version = manifest["version"]
        known = dict(self.pushed())
        checksum = manifest["files"]["dumps/etclod.nq.gz"]["sha256"]
        current = self.current()
        if known.get(version):
            if self.checksum(version) != checksum:
                raise RemoteStoreError(f"the server holds a different release {version} (another var folder?); "
                                       "nothing was pushed")
            return PushResult(version, len(self.graphs(version)), manifest["quads"], [], skipped=True)
        dropped = []
        for old, complete in known.items():  # what a failed or killed push left behind
            if not complete and old != current:
                self.drop(old)
                dropped.append(old)
        lines: dict[str, list[bytes]] = defaultdict(list)
        with gzip.open(release / "dumps" / "etclod.nq.gz", "rb") as handle:
            for line in handle:
                head, _, graph = line.rstrip(b" .\n").rpartition(b" <")
                lines[graph.rstrip(b">").decode("utf-8")].append(head + b" .\n")
        node = release_node(version)
        union = union_graph(version)
        graph_list = ", ".join(f"<{versioned(version, g)}>" for g in sorted(lines))
        self.update(f"INSERT DATA {{ GRAPH <{CONTROL}> {{ <{node}> <{ETC}version> \"{version}\" ; "
                    f"<{ETC}checksum> \"{checksum}\" ; <{ETC}unionGraph> <{union}> ; <{ETC}graph> {graph_list} . }} }}")
        batch: list[tuple[str, list[bytes]]] = []  # small graphs (one per keep.eu project) go many to a request
        for name, triples in sorted(lines.items()):
            target = versioned(version, name)
            if len(triples) < BATCH:
                batch.append((target, triples))
                if sum(len(t) for _, t in batch) >= BATCH:
                    self.insert(batch, progress)
                    batch = []
                continue
            for start in range(0, len(triples), CHUNK):
                chunk = triples[start:start + CHUNK]
                self.upload(target, b"".join(chunk))
                if progress is not None:
                    progress(len(chunk))
        if batch:
            self.insert(batch, progress)
        # every triple once more in the union graph: what queries name as their default graph
        everything = [t for _, triples in sorted(lines.items()) for t in triples]
        for start in range(0, len(everything), CHUNK):
            self.upload(union, b"".join(everything[start:start + CHUNK]))
        del everything
        found = self.counts(version)
        for name, triples in sorted(lines.items()):
            if found.get(versioned(version, name), 0) != len(triples):
                raise RemoteStoreError(f"graph {name} of release {version} holds {found.get(versioned(version, name), 0)} "
                                       f"triples on the server, the release {len(triples)}: the push stops; the current "
                                       "release stays")
        total = sum(len(triples) for triples in lines.values())
        if total != manifest["quads"] or self.count(union) != total:
            raise RemoteStoreError(f"release {version}: {total} quads in its graphs on the server and "
                                   f"{self.count(union)} in its union graph; the manifest says {manifest['quads']}; "
                                   "the current release stays")
        return PushResult(version, len(lines), total, dropped)

