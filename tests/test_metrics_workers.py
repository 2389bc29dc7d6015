"""``/metrics`` under ``etclod serve --workers 2``: every scrape counts every worker's requests."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
from conftest import BASE, free_port, wait_for_health

ROUTE = 'etclod_requests_total{method="GET",route="/id/{rtype}/{key}",status="200"}'


def test_metrics_sum_every_worker(seed_release) -> None:
    settings, _ = seed_release
    port = free_port()
    env = {**os.environ, "ETCLOD_DATA": str(settings.data_dir), "ETCLOD_BASE_URI": BASE,
           "ETCLOD_QUERY_WORKERS": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen([sys.executable, "-m", "etclod", "serve", "--var", str(settings.var_dir),
                                "--port", str(port), "--host", "127.0.0.1", "--workers", "2"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, "etclod serve --workers 2")
        sent = 20
        for _ in range(sent):  # a new connection each: the kernel spreads them over the workers
            with httpx.Client(timeout=30) as client:
                assert client.get(f"{url}/id/project/sempre", headers={"Accept": "text/turtle"}).status_code == 200
        for _ in range(4):
            with httpx.Client(timeout=30) as client:
                text = client.get(f"{url}/metrics").text
            match = re.search(re.escape(ROUTE) + r" ([0-9.]+)", text)
            assert match is not None, text[:2000]
            assert float(match.group(1)) == sent, text[:2000]
            assert "etclod_query_timeouts_total" in text and "etclod_release_info" in text
    finally:
        process.terminate()
        process.wait(timeout=30)
