"""Stall benchmark: does /health keep answering while issue 12's stalling inputs run?

    python benchmarks/stall.py

Serves the bundled data with `etclod serve` (2 query workers) on a free loopback port. For
each input that stalled the whole server before (a 20,000-character `ASK {} a.a.a...`, four
at once; `'<' * 100000` as Turtle to /validate; a reconciliation batch of 600,000 queries;
the issue's two crashers), four clients send it while one client asks /health in a loop.
Prints, per input, the answers' statuses, how long the input took, and /health's p50 and
worst latency during it, beside a /health-only baseline from the same run. Loopback only.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inputs() -> dict[str, tuple[str, str, dict[str, str], bytes]]:
    chain = ("ASK {} " + "a." * 9_990).encode()  # just under ETCLOD_MAX_QUERY_LENGTH
    batch = json.dumps({f"q{i}": "a" for i in range(600_000)}).encode()
    return {
        "ASK {} a.a.a... (19,987 chars)": ("POST", "/sparql", {"Content-Type": "application/sparql-query"}, chain),
        "'<' * 100000 to /validate": ("POST", "/validate", {"Content-Type": "text/turtle"}, b"<" * 100_000),
        "reconcile 600,000 queries": ("POST", "/reconcile", {"Content-Type": "application/json"},
                                      json.dumps({"queries": json.loads(batch)}).encode()),
        "{ x3000 }": ("POST", "/sparql", {"Content-Type": "application/sparql-query"},
                      ("SELECT * WHERE " + "{" * 3000 + "}" * 3000).encode()),
        "( x5000 )": ("POST", "/sparql", {"Content-Type": "application/sparql-query"},
                      ("ASK { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }").encode()),
    }


def health_during(url: str, busy: threading.Event) -> list[float]:
    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        while busy.is_set() or not times:
            started = time.perf_counter()
            client.get("/health").raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def main() -> int:
    var = tempfile.mkdtemp(prefix="etclod-stall-")
    env = {**os.environ, "ETCLOD_VAR": var, "ETCLOD_DATA": str(ROOT / "data"), "ETCLOD_QUERY_WORKERS": "2",
           "ETCLOD_MAX_BODY_BYTES": "20000000"}
    subprocess.run([sys.executable, "-m", "etclod", "build"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "etclod", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        base = threading.Event()
        base.set()
        timer = threading.Timer(2.0, base.clear)
        timer.start()
        baseline = health_during(url, base)
        print(f"{'input':34} {'statuses':>14} {'input s':>8} {'health p50 ms':>14} {'health max ms':>14}")
        print(f"{'(baseline: /health alone)':34} {'':>14} {'':>8} {statistics.median(baseline) * 1000:14.1f} "
              f"{max(baseline) * 1000:14.1f}")
        for name, (method, path, headers, body) in inputs().items():
            busy = threading.Event()
            busy.set()
            statuses: list[int] = []

            def send() -> None:
                with httpx.Client(base_url=url, timeout=120) as client:
                    statuses.append(client.request(method, path, headers=headers, content=body).status_code)

            started = time.perf_counter()
            senders = [threading.Thread(target=send) for _ in range(4)]
            for thread in senders:
                thread.start()
            result: list[float] = []
            watcher = threading.Thread(target=lambda: result.extend(health_during(url, busy)))
            watcher.start()
            for thread in senders:
                thread.join()
            took = time.perf_counter() - started
            busy.clear()
            watcher.join()
            print(f"{name:34} {','.join(map(str, sorted(statuses))):>14} {took:8.2f} "
                  f"{statistics.median(result) * 1000:14.1f} {max(result) * 1000:14.1f}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
