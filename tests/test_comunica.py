"""Comunica (the npm package @comunica/query-sparql) reads a resource, a named graph and a
dump from a real uvicorn, each by its own content negotiation (and gzip coding for the dump)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import SEED_DATA, free_port

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).with_name("fixtures") / "comunica-read.mjs"


def comunica_modules() -> Path:
    folder = Path(os.environ.get("ETCLOD_COMUNICA") or ROOT / ".ci" / "node" / "node_modules")
    if shutil.which("node") is None or not (folder / "@comunica" / "query-sparql").is_dir():
        pytest.skip(f"Comunica is not installed at {folder} (npm install --prefix .ci/node "
                    "@comunica/query-sparql@4; .ci/run does), or node is missing")
    return folder


def test_comunica_reads_a_resource_a_named_graph_and_a_dump(tmp_path) -> None:
    """The release is built with the server's own address as its base, as a deployment is, so
    the JSON-LD's ``@context`` ({base}context.jsonld) dereferences too."""
    import threading
    import time

    import uvicorn

    from etclod.api.app import create_app
    from etclod.release import build_release
    from etclod.settings import Settings

    modules = comunica_modules()
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    settings = Settings.from_env({"ETCLOD_DATA": str(SEED_DATA), "ETCLOD_VAR": str(tmp_path / "var"),
                                  "ETCLOD_BASE_URI": base, "ETCLOD_QUERY_WORKERS": "1"})
    result = build_release(settings)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        urls = [f"{base}id/project/sempre", f"{base}graph/varam-2018-01-30", f"{base}dumps/etclod.ttl"]
        run = subprocess.run(["node", str(SCRIPT), *urls], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "COMUNICA_MODULES": str(modules)}, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        answers = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert "SEMPRE" in answers[urls[0]]["acronyms"]
    assert answers[urls[1]]["count"] == result.manifest["graphs"][f"{base}graph/varam-2018-01-30"]
    assert answers[urls[2]]["count"] == result.manifest["files"]["dumps/etclod.ttl.gz"]["triples"]
