"""Page benchmark: server time of every kind of page on a synthetic release.

    python benchmarks/pages.py [--projects 30000] [--var DIR]

Builds `etclod synth --projects N` (unless --var names a folder with a release) and times,
in-process through the ASGI app (server time, no network), the landing page, resource pages
of each type, lists with and without facets, and searches typed without diacritics: median
of 5 after a first, uncached call. The baseline is /health from the same app. Targets
(issue 8): every page under 200 ms, search under 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from etclod.api.app import create_app  # noqa: E402
from etclod.settings import Settings  # noqa: E402

PAGES = [
    ("/health (baseline)", "/health", "application/json", 200),
    ("landing page", "/", "text/html", 200),
    ("project page", "/id/project/p000042", "text/html", 200),
    ("programme page", "/id/programme/2014TC16RFCB001", "text/html", 200),
    ("organisation page", "/id/organisation/org-000042", "text/html", 200),
    ("project list with facets", "/id/project/", "text/html", 200),
    ("project list, programme facet", "/id/project/?programme=2014TC16RFCB001", "text/html", 200),
    ("organisation list, country facet", "/id/organisation/?country=LVA", "application/json", 200),
    ("search 'liepaja' (no diacritics)", "/search?q=liepaja", "application/json", 100),
    ("search 'zala attistibas centrs'", "/search?q=zala+attistibas+centrs", "text/html", 100),
    ("query page", "/sparql", "text/html", 200),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=30_000)
    parser.add_argument("--var", help="a var folder that already holds a release")
    args = parser.parse_args(argv)
    if args.var:
        var = Path(args.var)
    else:
        work = Path(tempfile.mkdtemp(prefix="etclod-pages-"))
        var = work / "var"
        env = {**os.environ, "ETCLOD_DATA": str(work / "data"), "ETCLOD_VAR": str(var)}
        subprocess.run([sys.executable, "-m", "etclod", "synth", "--projects", str(args.projects), "--out",
                        str(work / "data")], env=env, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "etclod", "build"], env=env, check=True, capture_output=True)
    client = TestClient(create_app(Settings.from_env({"ETCLOD_VAR": str(var)})))
    rows = []
    for name, path, accept, target in PAGES:
        first = time.perf_counter()
        response = client.get(path, headers={"Accept": accept})
        first = time.perf_counter() - first
        if response.status_code != 200:
            print(f"{name}: {path} answered {response.status_code}", file=sys.stderr)
            return 1
        times = []
        for _ in range(5):
            started = time.perf_counter()
            client.get(path, headers={"Accept": accept})
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        rows.append((name, 1000 * first, 1000 * median, target))
    baseline = rows[0][2]
    print(f"pages: {var}, medians of 5 after a first call, in-process (server time)\n")
    print(f"| {'page':<34} | {'first ms':>8} | {'median ms':>9} | {'vs /health':>10} | target |")
    print(f"|{'-' * 36}|{'-' * 10}|{'-' * 11}|{'-' * 12}|--------|")
    for name, first, median, target in rows:
        verdict = "met" if median < target else "NOT met"
        print(f"| {name:<34} | {first:>8.1f} | {median:>9.1f} | {median / baseline:>9.1f}x | <{target} ms {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
