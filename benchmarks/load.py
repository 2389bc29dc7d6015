"""Load benchmark: a bounded mixed workload against a real `etclod serve` on loopback.

    python benchmarks/load.py [--duration 60] [--concurrency 64] [--var DIR]

Starts the server on a free loopback port (building a release from data/ if the var folder
has none), then runs, for --duration seconds, --concurrency connections that each loop over
a mix of requests: resource pages in every format, SPARQL selects, dump downloads and 404s.
After a warm-up of the same mix, the connections hit /health alone for a tenth of the time: that is the
baseline in the table. Prints requests/s, p50/p99 latency, errors and the server's memory
(server process plus its query workers) at start and end. Only loopback is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ["text/html", "text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml"]
RESOURCES = ["/id/project/sempre", "/id/programme/2014TC16M5TN001", "/id/organisation/varam",
             "/id/event/seminar-2018-01-25", "/id/person/diana-jakaite", "/id/theme/healthy-active-lifestyle",
             "/id/partnership/sempre-latvijas-universitate", "/id/source/varam-2018-01-30"]
QUERIES = [
    "SELECT ?p ?a WHERE { ?p a <https://w3id.org/etclod/def#Project> ; <https://w3id.org/etclod/def#acronym> ?a }",
    "SELECT ?prog (COUNT(?p) AS ?n) WHERE { ?p <https://w3id.org/etclod/def#programme> ?prog } GROUP BY ?prog",
    "SELECT ?o ?l WHERE { ?o a <http://www.w3.org/ns/org#Organization> ; <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(LANG(?l) = 'lv') }",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def pick(rng: random.Random) -> tuple[str, str, dict[str, str], dict[str, str]]:
    roll = rng.random()
    if roll < 0.55:
        return "GET", rng.choice(RESOURCES), {}, {"Accept": rng.choice(FORMATS)}
    if roll < 0.8:
        return "GET", "/sparql", {"query": rng.choice(QUERIES)}, {"Accept": "application/sparql-results+json"}
    if roll < 0.9:
        return "GET", rng.choice(["/dumps/etclod.nt.gz", "/dumps/etclod.ttl.gz", "/catalog"]), {}, {}
    return "GET", f"/id/project/missing-{rng.randrange(1000)}", {}, {"Accept": "text/turtle"}


async def run(url: str, seconds: float, concurrency: int, mixed: bool) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.monotonic() < deadline:
                method, path, params, headers = pick(rng) if mixed else ("GET", "/health", {}, {})
                started = time.perf_counter()
                try:
                    response = await client.request(method, path, params=params, headers=headers)
                    expected_404 = path.startswith("/id/project/missing-")
                    if response.status_code >= 500 or (response.status_code >= 400 and not expected_404):
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0,
            "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--var", help="release folder to serve (default: a fresh temporary one)")
    args = parser.parse_args(argv)
    var = args.var or tempfile.mkdtemp(prefix="etclod-load-")
    port = free_port()
    env = {**os.environ, "ETCLOD_VAR": var, "ETCLOD_DATA": str(ROOT / "data")}
    server = subprocess.Popen([sys.executable, "-m", "etclod", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            print("the server did not come up", file=sys.stderr)
            return 2
        # warm up every path first, so that "start" memory is the steady state, not an empty process
        asyncio.run(run(url, max(3.0, args.duration / 10), args.concurrency, mixed=True))
        memory_start = rss_mb(server.pid)
        baseline = asyncio.run(run(url, max(2.0, args.duration / 10), args.concurrency, mixed=False))
        mixed = asyncio.run(run(url, args.duration, args.concurrency, mixed=True))
        memory_end = rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    growth = 100 * (memory_end - memory_start) / memory_start if memory_start else 0.0
    print(f"load: {args.concurrency} connections, {args.duration:g} s mixed workload, loopback\n")
    print(f"| {'workload':<22} | {'requests':>9} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'errors':>6} |")
    print(f"|{'-' * 24}|{'-' * 11}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 8}|")
    for name, r in (("/health (baseline)", baseline), ("mixed", mixed)):
        print(f"| {name:<22} | {r['requests']:>9.0f} | {r['rps']:>8.1f} | {r['p50_ms']:>7.1f} | "
              f"{r['p99_ms']:>7.1f} | {r['errors']:>6.0f} |")
    print(f"\nserver memory (RSS, with query workers): {memory_start:.0f} MB at start, {memory_end:.0f} MB "
          f"at end ({growth:+.1f} %; target within 10 %)")
    print(f"errors: {mixed['errors']:.0f} (target 0)")
    return 0 if mixed["errors"] == 0 and abs(growth) <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
