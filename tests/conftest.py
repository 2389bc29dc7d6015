"""Shared fixtures: settings on temporary folders, and small record sets written as files."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from etclod.settings import PROJECT_ROOT, Settings

T = TypeVar("T")

SEED_DATA = PROJECT_ROOT / "data"
SHARED = PROJECT_ROOT.parent / "shared"

BASE = "http://localhost:8000/"


def shared_reference(*parts: str) -> Path:
    """A file or folder of the shared reference material (W3C manifests, JSON Schemas, shapes):
    ``$ETCLOD_SHARED/reference/...``, else ``shared/reference/...`` in a parent folder of the
    checkout (CI's ``/work/main`` has ``../shared``; a worktree sits deeper); skips the test,
    saying so, where it is absent."""
    import os

    roots = [Path(os.environ["ETCLOD_SHARED"])] if os.environ.get("ETCLOD_SHARED") else []
    roots += [parent / "shared" for parent in Path(__file__).resolve().parents]
    for root in roots:
        path = root.joinpath("reference", *parts)
        if path.exists():
            return path
    pytest.skip(f"reference material {'/'.join(parts)} is not here: set ETCLOD_SHARED to the folder holding "
                "reference/, or place it at ../shared/reference beside the checkout")

SOURCE = {"type": "source", "id": "src", "title": {"en": "A source", "lv": "Avots"}}
PROGRAMME = {"type": "programme", "id": "prog", "cci": "2014TC16RFCB027",
             "title": {"en": "Programme", "lv": "Programma"}, "sources": ["src"]}
ORGANISATION = {"type": "organisation", "id": "org", "name": {"lv": "Liepājas Diakonijas centrs"},
                "country": "LVA", "sources": ["src"]}


def project(**fields: object) -> dict[str, object]:
    record: dict[str, object] = {"type": "project", "id": "proj", "acronym": "PROJ", "programme": "prog",
                                 "title": {"en": "Project", "lv": "Projekts"}, "sources": ["src"]}
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def write_records(folder: Path, name: str, records: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), "utf-8")
    return path


@pytest.fixture
def make_settings(tmp_path: Path):
    """Settings on a fresh data folder (with the base records) and var folder."""

    def make(extra: list[dict[str, object]] | None = None, *, base: bool = True) -> Settings:
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        if base:
            write_records(data, "base.yaml", [SOURCE, PROGRAMME, ORGANISATION])
        if extra is not None:
            write_records(data, "extra.yaml", extra)
        return Settings.from_env({"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"),
                                  "ETCLOD_BASE_URI": BASE})

    return make


@pytest.fixture
def seed_settings(tmp_path: Path) -> Settings:
    data = tmp_path / "seed"
    shutil.copytree(SEED_DATA, data)
    return Settings.from_env({"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(tmp_path / "var"),
                              "ETCLOD_BASE_URI": BASE})


@pytest.fixture(scope="session")
def seed_release(tmp_path_factory: pytest.TempPathFactory):
    """One release built from the bundled seed data, shared by read-only tests."""
    from etclod.release import build_release

    root = tmp_path_factory.mktemp("seed-release")
    settings = Settings.from_env({"ETCLOD_DATA": str(SEED_DATA), "ETCLOD_VAR": str(root / "var"),
                                  "ETCLOD_BASE_URI": BASE})
    result = build_release(settings)
    assert result.rejected == [], [r.to_dict() for r in result.rejected]
    return settings, result


def seed_records() -> list:
    """The bundled seed records, as the loader reads them: counts a test expects are derived
    from these, not copied from the data by hand."""
    from etclod.records import load_records

    loaded = load_records(SEED_DATA)
    assert loaded.rejected == [], [r.to_dict() for r in loaded.rejected]
    return [item.record for item in loaded.loaded]


def seed_count(record_type: str) -> int:
    """How many seed records have ``type`` ``record_type``."""
    return sum(1 for record in seed_records() if record.type == record_type)


def wait_until(condition: Callable[[], T], what: str, timeout: float = 30.0, *,
               seconds: float | None = None) -> T:
    """Poll ``condition`` until it gives a true value, and return that value; fail the test
    naming ``what`` after ``timeout`` (or ``seconds``) seconds. Waits for the thing itself,
    never for a guessed time."""
    limit = timeout if seconds is None else seconds
    deadline = time.monotonic() + limit
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"waited {limit:g} s for {what}")
        time.sleep(0.02)
    return value


def wait_for_health(url: str, process: subprocess.Popen[bytes], what: str, timeout: float = 120.0) -> None:
    """Wait until the server at ``url`` answers ``/health`` with 200; fail naming ``what``, with
    the end of the process's stderr, if it exits first or ``timeout`` seconds pass."""
    import httpx

    def up() -> bool:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace")[-3000:] if process.stderr else ""
            pytest.fail(f"{what} exited with {process.returncode}: {stderr}")
        try:
            return httpx.get(f"{url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, f"{what} to answer /health", timeout)


def jsonld_with_local_context(text: str) -> str:
    """Our JSON-LD points at {base}context.jsonld; inline it so rdflib never fetches a context."""
    import json

    from etclod.api.resources import CONTEXT

    data = json.loads(text)
    assert data["@context"].endswith("context.jsonld")
    data["@context"] = CONTEXT["@context"]
    return json.dumps(data)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real uvicorn serving an app on a free loopback port, in a thread."""

    def __init__(self, app) -> None:
        import threading
        import time

        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
                                timeout_keep_alive=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not (self.server.started and self.server.servers):
            assert time.time() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def live():
    """Start apps under uvicorn; every one is stopped after the test."""
    servers = []

    def start(app):
        server = LiveServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


VIRTUOSO_SCRIPT = PROJECT_ROOT / "scripts" / "virtuoso.sh"
NO_VIRTUOSO = "Virtuoso is not installed here (`bash scripts/virtuoso.sh install` installs it; .ci/run does)"


class Virtuoso:
    """A throwaway Virtuoso on loopback, started by scripts/virtuoso.sh in its own folder."""

    def __init__(self) -> None:
        import subprocess
        import tempfile

        if shutil.which("virtuoso-t") is None:
            pytest.skip(NO_VIRTUOSO)
        self.folder = tempfile.mkdtemp(prefix="etclod-virtuoso-")
        http = free_port()
        subprocess.run(["bash", str(VIRTUOSO_SCRIPT), "start", self.folder, str(free_port()), str(http)],
                       check=True, capture_output=True, timeout=120)
        self.url = f"sparql+http://127.0.0.1:{http}/sparql"

    def settings(self, settings: Settings) -> Settings:
        """``settings`` with this server as the store (polled on every request)."""
        return settings.with_(store_url=self.url, store_user="dba", store_password="dba", store_poll=0.0)

    def endpoint(self):
        """This server as one of a pool (``Settings.extra_stores``)."""
        from etclod.settings import StoreEndpoint

        return StoreEndpoint(self.url, "dba", "dba")

    def env(self, n: int) -> dict[str, str]:
        """This server as server ``n`` of ``ETCLOD_STORE``'s pool: its indexed settings."""
        return {f"ETCLOD_STORE_{n}_USER": "dba", f"ETCLOD_STORE_{n}_PASSWORD": "dba"}

    def kill(self) -> None:
        """Stop the process at once (SIGKILL), as a crash would."""
        import os
        import signal
        import time

        pid = int((Path(self.folder) / "pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 20
        while Path(f"/proc/{pid}").exists() and "zombie" not in _proc_state(pid):
            assert time.time() < deadline, "Virtuoso did not stop"
            time.sleep(0.05)

    def stop(self) -> None:
        import subprocess

        subprocess.run(["bash", str(VIRTUOSO_SCRIPT), "stop", self.folder], check=False, capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


class OxigraphServer:
    """The Oxigraph server (pip package ``oxigraph``, in the test extras) on loopback, with
    its own folder: a second, different SPARQL 1.1 server behind ``ETCLOD_STORE``, with the
    standard ``/query``, ``/update`` and ``/store`` endpoints and no credentials."""

    def __init__(self) -> None:
        import sys
        import tempfile

        binary = shutil.which("oxigraph") or str(Path(sys.executable).with_name("oxigraph"))
        if not Path(binary).is_file():
            pytest.skip("the Oxigraph server is not installed here (pip install oxigraph; the test extras do)")
        self.binary = binary
        self.folder = tempfile.mkdtemp(prefix="etclod-oxigraph-server-")
        self.port = free_port()
        self.start()

    def start(self) -> None:
        """Start the server on its port and folder (again, after ``kill``: with what it held)."""
        import subprocess
        import time

        import httpx

        # its own time limit too, so a runaway the service gave up on does not keep a core busy
        self.process = subprocess.Popen([self.binary, "serve", "--location", self.folder, "--bind",
                                         f"127.0.0.1:{self.port}", "--timeout-s", "5"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/query", params={"query": "ASK {}"}, timeout=2)
                break
            except httpx.HTTPError:
                assert self.process.poll() is None and time.time() < deadline, "the Oxigraph server did not start"
                time.sleep(0.1)

    def kill(self) -> None:
        """Stop the process at once, keeping its folder (``start`` brings it back)."""
        self.process.kill()
        self.process.wait(timeout=20)

    def endpoint(self):
        """This server as one of a pool (``Settings.extra_stores``)."""
        from etclod.settings import StoreEndpoint

        root = f"http://127.0.0.1:{self.port}"
        return StoreEndpoint(f"sparql+{root}/query", None, None, f"{root}/update", f"{root}/store")

    def env(self, n: int) -> dict[str, str]:
        """This server as server ``n`` of ``ETCLOD_STORE``'s pool: its indexed settings."""
        root = f"http://127.0.0.1:{self.port}"
        return {f"ETCLOD_STORE_{n}_UPDATE": f"{root}/update", f"ETCLOD_STORE_{n}_GRAPH_STORE": f"{root}/store"}

    def settings(self, settings: Settings) -> Settings:
        root = f"http://127.0.0.1:{self.port}"
        return settings.with_(store_url=f"sparql+{root}/query", store_update_url=f"{root}/update",
                              store_graph_store_url=f"{root}/store", store_poll=0.0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_oxigraph_server():
    server = OxigraphServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_virtuoso():
    """One Virtuoso for the read-only suites: only the seed release is pushed to it."""
    server = Virtuoso()
    yield server
    server.stop()


@pytest.fixture
def virtuoso():
    """A fresh Virtuoso per test: release versions are unique per var folder, not across them."""
    server = Virtuoso()
    yield server
    server.stop()


STORES = {"virtuoso": "shared_virtuoso", "oxigraph-server": "shared_oxigraph_server"}


@pytest.fixture(params=["virtuoso", "oxigraph-server"])
def sparql_server(request):
    """A fresh SPARQL server of each kind, per test."""
    server = Virtuoso() if request.param == "virtuoso" else OxigraphServer()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["oxigraph", *STORES])
def served(request, seed_release) -> Settings:
    """Settings serving the seed release from each store: the embedded Oxigraph, and two real
    SPARQL servers the release was pushed to (Virtuoso; the Oxigraph server). Suites that take
    this run once per store."""
    settings, result = seed_release
    if request.param == "oxigraph":
        return settings
    from etclod.remote import RemoteStore

    remote = request.getfixturevalue(STORES[request.param]).settings(settings)
    RemoteStore.from_settings(remote).push(result.path)
    return remote


def normal(term):
    """A term as SPARQL compares it: numbers by value, plain strings as xsd:string, language
    tags in lower case (they are case-insensitive), so two engines' answers compare fairly."""
    from decimal import Decimal

    from rdflib import Literal
    from rdflib.namespace import XSD

    if isinstance(term, Literal) and term.datatype in (XSD.decimal, XSD.integer, XSD.double):
        return ("number", Decimal(str(term)))
    if isinstance(term, Literal) and term.datatype is None and term.language is None:
        return Literal(str(term), datatype=XSD.string)
    if isinstance(term, Literal) and term.language:
        return Literal(str(term), lang=term.language.lower())
    return term


def from_json(value: dict):
    """A SPARQL JSON results term as an rdflib term, read as etclod reads them."""
    from etclod.results import read_json_term
    from etclod.store import from_ox

    return from_ox(read_json_term(value))


class LoopbackListener:
    """A loopback port that counts every connection made to it and closes each at once (so a
    client waiting for an answer fails fast). ``connections()`` is exact without sleeping: it
    connects itself and counts what was accepted before its own connection (the kernel hands
    connections over in order)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self._seen: list[int] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            conn.close()
            with self._cond:
                self._seen.append(peer[1])
                self._cond.notify_all()

    def connections(self) -> int:
        """Connections made so far by anyone else."""
        import socket

        probe = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        port = probe.getsockname()[1]
        with self._cond:
            assert self._cond.wait_for(lambda: port in self._seen, timeout=30), "the listener stopped"
            self._seen.remove(port)  # the probes are not counted: every other entry is
            count = len(self._seen)
        probe.close()
        return count

    def close(self) -> None:
        self.sock.close()
