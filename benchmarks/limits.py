"""Limits benchmark: how long the service's guards take, each figure beside its baseline.

    python benchmarks/limits.py [--timeout 2] [--repeat 5]

The tests check that a runaway query is stopped, that other clients are answered during one,
and that hostile RDF is refused; they never assert how long that takes. This measures it on
`etclod serve` (seed data, a temporary var folder, a free loopback port):

1. a runaway query (a five-way cartesian product) until its 503, against the time limit
   ``--timeout``. Target: at most 1.5x the limit.
2. a simple query while a runaway holds a worker, against the same query on an idle server.
   Target: at most 3x idle + 50 ms.
3. ``POST /validate`` of hostile RDF (billion laughs, 1,000-deep Turtle and JSON-LD, a remote
   ``@context``), against validating one harmless triple. Target: each under 3 s.
4. a backtracking-prone regex (``^(a+)+$`` over every triple) against ``COUNT(*)`` of the
   same triples. Target: at most 1.5x the limit.

Everything runs on this machine over loopback; nothing else is contacted.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from load import free_port  # noqa: E402
from run import stop, timed, wait_up  # noqa: E402

SIMPLE = "SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/etclod/def#Project> }"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
REGEX = ('SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(REGEX(CONCAT(STR(?o), '
         '"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"), "^(a+)+$")) }')
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                    for i in range(1, 10))
          + ']><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="http://a"><rdf:value>&lol9;</rdf:value></rdf:Description></rdf:RDF>')
HOSTILE = {
    "billion laughs": (LAUGHS.encode(), "application/rdf+xml"),
    "deep turtle": (("<http://a> <http://p> " + "[ <http://p> " * 1000 + "<http://o>" + " ]" * 1000 + " .").encode(),
                    "text/turtle"),
    "deep json-ld": (('{"@id": "http://n", "http://p": ' * 1000 + '{"@id": "http://leaf"}' + "}" * 1000).encode(),
                     "application/ld+json"),
    "remote context": (b'{"@context": "http://127.0.0.1:9/ctx.jsonld", "@id": "http://a"}', "application/ld+json"),
}
HARMLESS = (b"<http://a> <http://b> <http://c> .", "application/n-triples")


def query(client: httpx.Client, text: str, expect: int = 200) -> None:
    response = client.post("/sparql", data={"query": text}, headers={"Accept": "text/csv"})
    if response.status_code != expect:
        raise SystemExit(f"expected {expect}, got {response.status_code}: {response.text[:300]}")


def validate(client: httpx.Client, body: bytes, ctype: str) -> None:
    response = client.post("/validate", content=body, headers={"Content-Type": ctype})
    if response.status_code >= 500 and response.status_code != 503:  # 503: stopped at the limit, measured
        raise SystemExit(f"/validate answered {response.status_code}: {response.text[:300]}")


def row(name: str, figure: float, baseline: float, target: str, ok: bool) -> str:
    return f"| {name} | {figure * 1000:.0f} ms | {baseline * 1000:.0f} ms | {target} | {'yes' if ok else 'NO'} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=2.0, help="ETCLOD_QUERY_TIMEOUT of the server")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    var = tempfile.mkdtemp(prefix="etclod-limits-")
    env = {**os.environ, "ETCLOD_DATA": str(ROOT / "data"), "ETCLOD_VAR": var,
           "ETCLOD_QUERY_TIMEOUT": str(args.timeout), "ETCLOD_QUERY_WORKERS": "3"}
    subprocess.run([sys.executable, "-m", "etclod", "build"], env=env, check=True, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "etclod", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_up(f"{url}/health", server)
        with httpx.Client(base_url=url, timeout=60) as client:
            query(client, SIMPLE)
            idle = timed(lambda: query(client, SIMPLE), args.repeat)
            stopped = timed(lambda: query(client, RUNAWAY, 503), args.repeat)
            rows.append(row("runaway query until 503 (baseline: the limit)", stopped, args.timeout,
                            "<= 1.5x", stopped <= 1.5 * args.timeout))
            with cf.ThreadPoolExecutor(max_workers=1) as other:
                runaway = other.submit(query, httpx.Client(base_url=url, timeout=60), RUNAWAY, 503)
                time.sleep(0.2)  # let it reach a worker: a benchmark measures, it asserts nothing
                during = timed(lambda: query(client, SIMPLE), args.repeat)
                runaway.result()
            rows.append(row("simple query during a runaway (baseline: idle)", during, idle,
                            "<= 3x + 50 ms", during <= 3 * idle + 0.05))
            harmless = timed(lambda: validate(client, *HARMLESS), args.repeat)
            for name, (body, ctype) in HOSTILE.items():
                took = timed(lambda: validate(client, body, ctype), args.repeat)
                rows.append(row(f"validate {name} (baseline: one harmless triple)", took, harmless, "< 3 s",
                                took < 3.0))
            count = timed(lambda: query(client, COUNT), args.repeat)
            regex = timed(lambda: query(client, REGEX), args.repeat)
            rows.append(row("backtracking-prone regex (baseline: COUNT(*))", regex, count,
                            "<= 1.5x the limit", regex <= 1.5 * args.timeout))
    finally:
        stop(server)
    print("| measure | figure | baseline | target | met |\n|---|---|---|---|---|")
    print("\n".join(rows))
    return 0 if all(r.endswith("yes |") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
