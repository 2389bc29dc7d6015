"""Issue 12: a stalling input stalls only itself. While SPARQL queries that run until their
time limit occupy every query worker of a real uvicorn on loopback, concurrent ``/health``
requests are answered, and the test checks that they were answered while the stalling requests
were still running (how fast is measured by a benchmark, not asserted here)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import wait_until

from etclod.api.app import create_app

# A three-way cross product of every triple: far more work than any time limit allows, so the
# query is still running (in its worker) until the limit stops it.
ENDLESS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
WORKERS = 2
TIMEOUT = 20.0
"""A worker's start counts against its first query's time: generous, so a loaded machine still has
the queries running when /health is asked."""


def test_health_answers_while_every_worker_runs_a_stalling_query(live, seed_release) -> None:
    settings, _ = seed_release
    app = create_app(settings.with_(query_workers=WORKERS, query_timeout=TIMEOUT))
    pool = app.state.pool
    pool.start()  # the workers start importing while uvicorn starts (protections not yet asked)
    server = live(app)
    with ThreadPoolExecutor(max_workers=WORKERS + 4) as threads, \
            httpx.Client(base_url=server.url, timeout=TIMEOUT * 4) as client:
        stalls = [threads.submit(client.post, "/sparql", data={"query": ENDLESS}) for _ in range(WORKERS)]
        # Both queries are in the workers' hands (not still being checked or queued by the loop).
        wait_until(lambda: pool.in_hand == WORKERS or any(s.done() for s in stalls),
                   "both stalling queries to be in the workers' hands", TIMEOUT)
        assert not any(s.done() for s in stalls), [s.result().text for s in stalls if s.done()]
        healths = [threads.submit(client.get, "/health") for _ in range(4)]
        answers = [h.result() for h in healths]
        still_running = [not s.done() for s in stalls]
        assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
        assert all(a.json()["release"] == app.state.holder.get().version for a in answers)
        assert all(still_running), ("a stalling query ended before /health answered: /health waited for it (or the query was "
                                "not long enough to outlast a loaded machine)")
        # The stalling queries end by their time limit, with the one error shape, not a 500.
        for stall in stalls:
            response = stall.result()
            assert response.status_code == 503 and response.json()["error"] == "query_timeout", response.text
