"""HTTP layer: request, latency and query counters in the Prometheus text format.

One process counts for itself. Under ``etclod serve --workers N`` each uvicorn worker counts
its own requests, so the counts are also kept in prometheus_client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, set by ``serve``): whichever worker answers ``/metrics`` sums
every worker's files, and a scrape shows the whole server, not one random worker.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, seconds: float) -> None:
        self.n += 1
        self.total += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                return
        self.counts[-1] += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        out, running = [], 0
        for bound, count in zip((*BUCKETS, float("inf")), self.counts):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            sep = "," if labels else ""
            out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {running}')
        suffix = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{suffix} {self.total:.6f}", f"{name}_count{suffix} {self.n}"]
        return out


class _Shared:
    """The same counts in prometheus_client's multiprocess files (one per worker process)."""

    def __init__(self) -> None:
        from prometheus_client import Counter as PCounter
        from prometheus_client import Histogram as PHistogram

        self.requests = PCounter("etclod_requests", "HTTP requests by method, route and status.",
                                 ["method", "route", "status"], registry=None)
        self.latency = PHistogram("etclod_request_duration_seconds", "HTTP request latency.", buckets=BUCKETS,
                                  registry=None)
        self.queries = PHistogram("etclod_query_duration_seconds", "SPARQL query evaluation time.",
                                  buckets=BUCKETS, registry=None)
        self.timeouts = PCounter("etclod_query_timeouts", "Queries stopped at the time limit.", registry=None)
        self.retired = PCounter("etclod_query_workers_retired", "Query workers replaced after growing past "
                                "ETCLOD_WORKER_MAX_GROWTH_MB.", registry=None)

    @staticmethod
    def render() -> str:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        # prometheus_client leaves MultiProcessCollector's __init__ unannotated
        cast("Callable[[CollectorRegistry], object]", MultiProcessCollector)(registry)
        return generate_latest(registry).decode("utf-8")


class Metrics:
    def __init__(self, retired: Callable[[], int] = lambda: 0) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.latency = Histogram()
        self.queries = Histogram()
        self._timeouts = 0
        self._retired, self._retired_seen = retired, 0
        self.shared: Any = _Shared() if os.environ.get(MULTIPROC_ENV) else None

    @property
    def timeouts(self) -> int:
        return self._timeouts

    @timeouts.setter
    def timeouts(self, value: int) -> None:
        with self._lock:
            if self.shared is not None and value > self._timeouts:
                self.shared.timeouts.inc(value - self._timeouts)
            self._timeouts = value

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            self.latency.observe(seconds)
            if self.shared is not None:
                self.shared.requests.labels(method, route, str(status)).inc()
                self.shared.latency.observe(seconds)
                retired = self._retired()
                if retired > self._retired_seen:
                    self.shared.retired.inc(retired - self._retired_seen)
                    self._retired_seen = retired

    def observe_query(self, seconds: float) -> None:
        with self._lock:
            self.queries.observe(seconds)
            if self.shared is not None:
                self.shared.queries.observe(seconds)

    def render(self, release: str | None, workers_retired: int = 0, stores: list[dict[str, Any]] | None = None,
               store_retries: int = 0) -> str:
        """The Prometheus text; ``stores``: the pool's servers (``StorePool.states``), as this
        process sees them."""
        info = ["# HELP etclod_release_info The release being served.", "# TYPE etclod_release_info gauge",
                f'etclod_release_info{{version="{release or ""}"}} 1']
        if stores:
            info += _store_lines(stores, store_retries)
        if self.shared is not None:  # every worker's counts, from the multiprocess files
            shared: str = self.shared.render()
            return shared + "\n".join(info) + "\n"
        with self._lock:
            lines = ["# HELP etclod_requests_total HTTP requests by method, route and status.",
                     "# TYPE etclod_requests_total counter"]
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(f'etclod_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
            lines += ["# HELP etclod_request_duration_seconds HTTP request latency.",
                      "# TYPE etclod_request_duration_seconds histogram",
                      *self.latency.lines("etclod_request_duration_seconds"),
                      "# HELP etclod_query_duration_seconds SPARQL query evaluation time.",
                      "# TYPE etclod_query_duration_seconds histogram",
                      *self.queries.lines("etclod_query_duration_seconds"),
                      "# HELP etclod_query_timeouts_total Queries stopped at the time limit.",
                      "# TYPE etclod_query_timeouts_total counter",
                      f"etclod_query_timeouts_total {self.timeouts}",
                      "# HELP etclod_query_workers_retired_total Query workers replaced after growing past "
                      "ETCLOD_WORKER_MAX_GROWTH_MB.",
                      "# TYPE etclod_query_workers_retired_total counter",
                      f"etclod_query_workers_retired_total {workers_retired}",
                      *info]
        return "\n".join(lines) + "\n"


def _store_lines(stores: list[dict[str, Any]], retries: int) -> list[str]:
    """The pool of SPARQL servers: who is in, why one is out, what each answered."""
    lines = []
    for name, kind, help_text, value in (
            ("etclod_store_up", "gauge", "1 while the SPARQL server is in the pool, 0 while it is out.",
             lambda s: int(s["state"] == "in")),
            ("etclod_store_outstanding", "gauge", "Reads being answered by the SPARQL server now.",
             lambda s: s["outstanding"]),
            ("etclod_store_reads_total", "counter", "Reads the SPARQL server answered.", lambda s: s["answered"]),
            ("etclod_store_failures_total", "counter", "Reads and health checks the SPARQL server failed.",
             lambda s: s["failed"])):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for s in stores:
            lines.append(f'{name}{{server="{s["server"]}",endpoint="{_label(s["endpoint"])}"}} {value(s)}')
    lines += ["# HELP etclod_store_out_info Why a SPARQL server is out of the pool.",
              "# TYPE etclod_store_out_info gauge"]
    for s in stores:
        if s["state"] != "in":
            lines.append(f'etclod_store_out_info{{server="{s["server"]}",endpoint="{_label(s["endpoint"])}",'
                         f'reason="{_label(s["reason"] or "")}"}} 1')
    lines += ["# HELP etclod_store_retries_total Reads asked again of another server after a server failed them.",
              "# TYPE etclod_store_retries_total counter", f"etclod_store_retries_total {retries}"]
    return lines


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")[:300]


class MetricsMiddleware:
    """ASGI middleware counting every request by method, route template and status."""

    def __init__(self, app, metrics: Metrics) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message) -> None:  # type: ignore[no-untyped-def]
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = scope.get("route")
            self.metrics.observe_request(scope.get("method", "GET"), getattr(route, "path", "unmatched"),
                                         status, time.perf_counter() - started)
