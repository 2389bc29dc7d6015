"""Settings layer: every knob read from an environment mapping, never global."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from etclod.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout holding ``ontology/`` and ``data/`` (editable installs and the tests)."""
PACKAGED_ONTOLOGY = Path(__file__).resolve().parent / "ontology"
"""Where an installed wheel has the ontology (setup.py copies ``ontology/`` there)."""


def default_ontology() -> Path:
    """The ontology folder: the wheel's package data, else the checkout's ``ontology/``."""
    return PACKAGED_ONTOLOGY if (PACKAGED_ONTOLOGY / "shapes.ttl").is_file() else PROJECT_ROOT / "ontology"


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """A yes/no setting as people write it: 1/0, true/false, yes/no, on/off, in any case.

    >>> _bool({"ETCLOD_X": " Off "}, "ETCLOD_X", True), _bool({}, "ETCLOD_X", True)
    (False, True)
    """
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingsError(f"{name} must be one of {'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)} "
                        f"(any case), got {raw!r}")


def base_uri(raw: str, name: str = "ETCLOD_BASE_URI") -> str:
    """The base of every IRI: an http(s) URI ending in a slash.

    >>> base_uri("https://data.example.lv")
    'https://data.example.lv/'
    """
    if not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URI, got {raw!r}")
    return raw if raw.endswith("/") else raw + "/"


def _choice(environ: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = environ.get(name) or default
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _store_url(raw: str | None) -> str | None:
    if not raw or raw == "oxigraph":
        return None
    if not raw.startswith(("sparql+http://", "sparql+https://")):
        raise SettingsError(f"ETCLOD_STORE must be oxigraph or sparql+http://host:port/sparql, got {raw!r}")
    return raw


@dataclass(frozen=True)
class StoreEndpoint:
    """One SPARQL server of the pool: its query URL (``sparql+http://...``), credentials and
    update / graph-store endpoints (None: Virtuoso's paths beside the query endpoint)."""

    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    update_url: str | None = None
    graph_store_url: str | None = None


STORE_KEYS = ("USER", "PASSWORD", "UPDATE", "GRAPH_STORE")


def _store_pool(environ: Mapping[str, str]) -> list[StoreEndpoint]:
    """``ETCLOD_STORE`` as a comma-separated pool. Server ``n`` (1-based, in list order) takes
    ``ETCLOD_STORE_<n>_USER``, ``_PASSWORD``, ``_UPDATE``, ``_GRAPH_STORE``; the unindexed
    ``ETCLOD_STORE_USER``/``_PASSWORD`` are every server's default, the unindexed
    ``ETCLOD_STORE_UPDATE``/``_GRAPH_STORE`` the first server's (as with one server).

    >>> [e.url for e in _store_pool({"ETCLOD_STORE": "sparql+http://a/sparql, sparql+http://b/query"})]
    ['sparql+http://a/sparql', 'sparql+http://b/query']
    """
    raw = environ.get("ETCLOD_STORE") or ""
    urls = [u.strip() for u in raw.split(",") if u.strip()]
    if len(urls) > 1 and "oxigraph" in urls:
        raise SettingsError(f"ETCLOD_STORE is either oxigraph or a list of sparql+http:// servers, got {raw!r}")
    urls = [u for u in (_store_url(u) for u in urls) if u is not None]
    if len(set(urls)) != len(urls):
        raise SettingsError(f"ETCLOD_STORE names a server twice: {raw!r}")
    for name in environ:
        parts = name.split("_", 3)
        indexed = name.startswith("ETCLOD_STORE_") and len(parts) == 4 and parts[2].isdigit() and parts[3] in STORE_KEYS
        if indexed and not 1 <= int(parts[2]) <= len(urls):
            raise SettingsError(f"{name} is set, but ETCLOD_STORE lists {len(urls)} server(s): "
                                f"number them 1 to {len(urls)} in the order of ETCLOD_STORE")
    for key in ("UPDATE", "GRAPH_STORE"):
        _http_url(environ, f"ETCLOD_STORE_{key}")

    def get(n: int, key: str, inherit: bool) -> str | None:
        own = f"ETCLOD_STORE_{n}_{key}"
        name = own if environ.get(own) or not inherit else f"ETCLOD_STORE_{key}"
        return _http_url(environ, name) if key in ("UPDATE", "GRAPH_STORE") else environ.get(name) or None

    return [StoreEndpoint(url, get(n, "USER", True), get(n, "PASSWORD", True), get(n, "UPDATE", n == 1),
                          get(n, "GRAPH_STORE", n == 1)) for n, url in enumerate(urls, start=1)]


def _http_url(environ: Mapping[str, str], name: str, label: str | None = None) -> str | None:
    raw = environ.get(name) or None
    if raw is not None and not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{label or name} must be an http(s) URL, got {raw!r}")
    return raw


def _token(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) < 16:
        raise SettingsError("ETCLOD_ADMIN_TOKEN must be at least 16 characters long")
    return raw


def _first_store(pool: list[StoreEndpoint]) -> dict[str, Any]:
    if not pool:
        return {}
    first = pool[0]
    return {"store_url": first.url, "store_user": first.user, "store_password": first.password,
            "store_update_url": first.update_url, "store_graph_store_url": first.graph_store_url,
            "extra_stores": tuple(pool[1:])}


@dataclass(frozen=True)
class Settings:
    """Everything configurable; build one with :meth:`from_env` and pass it down.

    >>> Settings.from_env({"ETCLOD_BASE_URI": "https://etc.example.org"}).base_uri
    'https://etc.example.org/'
    """

    base_uri: str = "http://localhost:8000/"
    data_dir: Path = Path("data")
    var_dir: Path = Path("var")
    ontology_dir: Path = field(default_factory=default_ontology)
    keep_releases: int = 10
    publisher_name: str = "etclod"
    publisher_uri: str = "https://w3id.org/etclod/publisher"
    contact_email: str = "data@etclod.example"
    query_timeout: float = 30.0
    max_rows: int = 100_000
    max_query_length: int = 20_000
    incoming_page_size: int = 200
    query_workers: int = max(2, min(4, os.cpu_count() or 2))
    max_concurrent_queries: int = 64
    worker_max_growth_mb: int = 256
    worker_max_memory_mb: int = 2048
    reconcile_max_queries: int = 100
    """Queries in one reconciliation batch; a larger batch is refused (413), never cut short."""
    reconcile_max_bytes: int = 1_000_000
    """Bytes of one reconciliation batch (``queries`` or ``extend``, as JSON)."""
    """Address space a query worker may take (RLIMIT_AS); over it the query is stopped (0: no limit)."""
    """A query worker that has grown this much since it opened its store is replaced (0: never)."""
    max_body_bytes: int = 5_000_000
    service_allow: tuple[str, ...] = ()
    admin_token: str | None = field(default=None, repr=False)
    verify_checksums: bool = True
    validator: str = "compiled"
    store_url: str | None = None
    store_user: str | None = None
    store_password: str | None = field(default=None, repr=False)
    store_update_url: str | None = None
    """SPARQL Update endpoint of the remote store; default: Virtuoso's ``/sparql-auth`` beside it."""
    store_graph_store_url: str | None = None
    """Graph Store Protocol endpoint; default: Virtuoso's ``/sparql-graph-crud-auth`` beside it."""
    store_poll: float = 2.0
    """Seconds between two looks at which release the remote store says is current."""
    extra_stores: tuple[StoreEndpoint, ...] = ()
    """Servers 2, 3 ... of the pool (``ETCLOD_STORE`` lists several); server 1 is ``store_url``."""
    store_sync: bool = False
    """This host (the build host) pushes the current release to a server of the pool that is behind."""
    max_file_mb: int = 200
    """Largest record file read (MB); a bigger one is refused, named, and nothing of it read."""
    max_removals: int | None = None
    """Records of the current release one build may unpublish; None: 5 % of them, at least 1."""
    upload_build_wait: float = 60.0
    """Seconds an admin upload waits for a running build to end before it is marked failed."""
    cache_mb: int = 64
    """Memory for ``/sparql`` answers kept until the next release (0: none are kept)."""
    cache_seconds: int = 60
    """How long a cache may reuse an answer (page, dump, catalogue, /sparql) before revalidating it."""
    query_store: str = "auto"
    """What query workers answer from: ``memory`` (a copy of the release), ``disk`` (its store),
    ``auto``: memory for releases under ``store.MEMORY_BELOW`` quads."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read ``ETCLOD_*`` variables from ``environ`` (a dict in tests, ``os.environ`` in the CLI)."""
        return cls(
            base_uri=base_uri(environ.get("ETCLOD_BASE_URI", cls.base_uri)),
            data_dir=Path(environ.get("ETCLOD_DATA", str(cls.data_dir))),
            var_dir=Path(environ.get("ETCLOD_VAR", str(cls.var_dir))),
            ontology_dir=Path(environ["ETCLOD_ONTOLOGY"]) if environ.get("ETCLOD_ONTOLOGY") else default_ontology(),
            keep_releases=_int(environ, "ETCLOD_KEEP_RELEASES", cls.keep_releases, minimum=1),
            publisher_name=environ.get("ETCLOD_PUBLISHER_NAME", cls.publisher_name),
            publisher_uri=environ.get("ETCLOD_PUBLISHER_URI", cls.publisher_uri),
            contact_email=environ.get("ETCLOD_CONTACT_EMAIL", cls.contact_email),
            query_timeout=_float(environ, "ETCLOD_QUERY_TIMEOUT", cls.query_timeout),
            max_rows=_int(environ, "ETCLOD_MAX_ROWS", cls.max_rows, minimum=1),
            max_query_length=_int(environ, "ETCLOD_MAX_QUERY_LENGTH", cls.max_query_length, minimum=1),
            incoming_page_size=_int(environ, "ETCLOD_INCOMING_PAGE_SIZE", cls.incoming_page_size, minimum=1),
            query_workers=_int(environ, "ETCLOD_QUERY_WORKERS", cls.query_workers, minimum=1),
            max_concurrent_queries=_int(environ, "ETCLOD_MAX_CONCURRENT_QUERIES", cls.max_concurrent_queries,
                                        minimum=1),
            max_body_bytes=_int(environ, "ETCLOD_MAX_BODY_BYTES", cls.max_body_bytes, minimum=1),
            worker_max_growth_mb=_int(environ, "ETCLOD_WORKER_MAX_GROWTH_MB", cls.worker_max_growth_mb, minimum=0),
            worker_max_memory_mb=_int(environ, "ETCLOD_WORKER_MAX_MEMORY_MB", cls.worker_max_memory_mb, minimum=0),
            service_allow=tuple(u.strip() for u in environ.get("ETCLOD_SERVICE_ALLOW", "").split(",") if u.strip()),
            admin_token=_token(environ.get("ETCLOD_ADMIN_TOKEN")),
            verify_checksums=_bool(environ, "ETCLOD_VERIFY_CHECKSUMS", cls.verify_checksums),
            validator=_choice(environ, "ETCLOD_VALIDATOR", cls.validator, ("compiled", "pyshacl")),
            **_first_store(_store_pool(environ)),
            store_poll=_float(environ, "ETCLOD_STORE_POLL", cls.store_poll),
            store_sync=environ.get("ETCLOD_STORE_SYNC", "0") not in ("0", "false", "no", ""),
            max_file_mb=_int(environ, "ETCLOD_MAX_FILE_MB", cls.max_file_mb, minimum=1),
            max_removals=(_int(environ, "ETCLOD_MAX_REMOVALS", 0) if environ.get("ETCLOD_MAX_REMOVALS") else None),
            upload_build_wait=_float(environ, "ETCLOD_UPLOAD_BUILD_WAIT", cls.upload_build_wait),
            cache_mb=_int(environ, "ETCLOD_CACHE_MB", cls.cache_mb, minimum=0),
            cache_seconds=_int(environ, "ETCLOD_CACHE_SECONDS", cls.cache_seconds, minimum=0),
            query_store=_choice(environ, "ETCLOD_QUERY_STORE", cls.query_store, ("auto", "memory", "disk")),
        )

    def store_endpoints(self) -> tuple[StoreEndpoint, ...]:
        """Every server of the pool, in ``ETCLOD_STORE``'s order; empty with the embedded store."""
        if self.store_url is None:
            return ()
        first = StoreEndpoint(self.store_url, self.store_user, self.store_password, self.store_update_url,
                              self.store_graph_store_url)
        return (first, *self.extra_stores)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (CLI flags override the environment)."""
        return replace(self, **changes)

    @property
    def inbox_dir(self) -> Path:
        return self.var_dir / "inbox"

    def limits(self) -> dict[str, object]:
        """Every limit the service enforces, as stated in /health and the Service Description."""
        return {"query_timeout_seconds": self.query_timeout, "max_rows": self.max_rows,
                "max_query_length": self.max_query_length, "max_body_bytes": self.max_body_bytes,
                "max_concurrent_queries": self.max_concurrent_queries, "query_workers": self.query_workers,
                "worker_max_growth_mb": self.worker_max_growth_mb, "worker_max_memory_mb": self.worker_max_memory_mb,
                "reconcile_max_queries": self.reconcile_max_queries, "reconcile_max_bytes": self.reconcile_max_bytes,
                "incoming_page_size": self.incoming_page_size, "service_allow": list(self.service_allow),
                # what a build (and so an upload) takes: None for max_removals is the default rule,
                # 5 % of the published records, at least one (lastgood.removal_limit)
                "max_file_mb": self.max_file_mb, "max_removals": self.max_removals}

    @property
    def releases_dir(self) -> Path:
        return self.var_dir / "releases"

    @property
    def current_link(self) -> Path:
        return self.var_dir / "current"
