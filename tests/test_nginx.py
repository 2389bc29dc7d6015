"""Debian's nginx in front of `etclod serve`, configured by the block in docs/deploy.md: a
repeated request is answered by nginx (etclod's request counter unchanged), a new release
reaches the client with a new ETag once the answer's max-age has passed, and immutable
release files stay cached."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from conftest import BASE, free_port, project, wait_until, write_records

from etclod.cli import main
from etclod.settings import PROJECT_ROOT

MAX_AGE = 4
"""ETCLOD_CACHE_SECONDS here: long enough for a repeat to come within it, short to wait out."""
QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def deploy_block() -> str:
    """The nginx configuration of docs/deploy.md, as written there."""
    text = (PROJECT_ROOT / "docs" / "deploy.md").read_text("utf-8")
    blocks = re.findall(r"```nginx\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 1, "docs/deploy.md should hold one nginx block"
    return blocks[0]


def nginx_conf(folder: Path, listen: int, upstream: int) -> str:
    """The deploy guide's block on this test's ports and folders, inside a minimal nginx.conf."""
    block = deploy_block()
    for old, new in (("/var/cache/etclod", str(folder / "cache")), ("127.0.0.1:8000", f"127.0.0.1:{upstream}"),
                     ("listen 80;", f"listen 127.0.0.1:{listen};")):
        assert old in block, f"docs/deploy.md's nginx block no longer has {old!r}"
        block = block.replace(old, new)
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
            f"events {{ worker_connections 256; }}\nhttp {{\n    access_log {folder / 'access.log'};\n{temp}\n"
            f"{block}\n}}\n")


def requests_counted(etclod: httpx.Client, route: str) -> int:
    """etclod's own count of GET requests to a route template, answered 2xx or 304."""
    total = 0
    for line in etclod.get("/metrics").text.splitlines():
        match = re.match(r'etclod_requests_total\{method="GET",route="([^"]*)",status="(\d+)"\} ([\d.]+)', line)
        if match and match.group(1) == route and match.group(2)[0] in "23":
            total += int(float(match.group(3)))
    return total


def records(budget: str) -> list[dict[str, object]]:
    return [{"type": "source", "id": "src", "title": {"en": "A source"}},
            {"type": "programme", "id": "prog", "cci": "2014TC16RFCB027", "title": {"en": "Programme"},
             "sources": ["src"]}, project(total_budget=budget)]


@pytest.fixture
def proxied(tmp_path):
    """`etclod serve` on a small release, and nginx in front of it."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").is_file():
        pytest.skip("Debian's nginx is not installed here (apt-get install nginx; .ci/run does)")
    data, var = tmp_path / "data", tmp_path / "var"
    write_records(data, "base.yaml", records("100"))
    env = {"ETCLOD_DATA": str(data), "ETCLOD_VAR": str(var), "ETCLOD_BASE_URI": BASE,
           "ETCLOD_CACHE_SECONDS": str(MAX_AGE), "ETCLOD_QUERY_WORKERS": "1"}
    assert main(["build"], environ=env) == 0
    app_port, proxy_port = free_port(), free_port()
    app = subprocess.Popen([sys.executable, "-m", "etclod", "serve", "--port", str(app_port)],
                           env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder = Path(tempfile.mkdtemp(prefix="etclod-nginx-"))
    (folder / "nginx.conf").write_text(nginx_conf(folder, proxy_port, app_port))
    nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(folder / "nginx.conf"),
                              "-p", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    etclod = httpx.Client(base_url=f"http://127.0.0.1:{app_port}", timeout=30)
    client = httpx.Client(base_url=f"http://127.0.0.1:{proxy_port}", timeout=30)

    def up() -> bool:
        assert app.poll() is None, app.stderr.read().decode() if app.stderr else "etclod serve exited"
        assert nginx.poll() is None, nginx.stderr.read().decode() if nginx.stderr else "nginx exited"
        try:
            return client.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, "etclod serve and nginx to answer")
        yield env, client, etclod
    finally:
        client.close()
        etclod.close()
        for process in (nginx, app):
            process.terminate()
            process.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


ROUTES = {  # what is asked through nginx -> etclod's route template that answers it
    ("/id/project/proj", "text/turtle"): "/id/{rtype}/{key}",
    ("/catalog", "text/turtle"): "/catalog",
    ("/dumps/etclod.nt.gz", "*/*"): "/dumps/{name}",
    ("/sparql?query=" + httpx.QueryParams({"q": QUERY})["q"], "text/csv"): "/sparql",
}


def test_nginx_answers_repeats_and_a_new_release_gets_through(proxied) -> None:
    env, client, etclod = proxied

    def get(path: str, accept: str) -> httpx.Response:
        if path.startswith("/sparql?query="):
            return client.get("/sparql", params={"query": QUERY}, headers={"Accept": accept})
        return client.get(path, headers={"Accept": accept})

    first: dict[str, str] = {}
    for (path, accept), route in ROUTES.items():
        before = requests_counted(etclod, route)
        miss = get(path, accept)
        assert miss.status_code == 200 and miss.headers["x-cache-status"] == "MISS", (path, miss.headers)
        assert miss.headers["cache-control"] == f"public, max-age={MAX_AGE}", path
        # etclod counts a request once its answer is sent: wait for the count, then repeat
        wait_until(lambda r=route, n=before: requests_counted(etclod, r) == n + 1, f"{path} counted")
        hit = get(path, accept)
        assert hit.status_code == 200 and hit.headers["x-cache-status"] == "HIT", (path, hit.headers)
        assert hit.content == miss.content and hit.headers["etag"] == miss.headers["etag"]
        assert requests_counted(etclod, route) == before + 1, f"{path}: the repeat reached etclod"
        first[path] = miss.headers["etag"]

    write_records(Path(env["ETCLOD_DATA"]), "base.yaml", records("200"))
    assert main(["build"], environ=env) == 0
    for (path, accept), route in ROUTES.items():
        before = requests_counted(etclod, route)
        fresh = wait_until(lambda p=path, a=accept: (r := get(p, a)).headers["etag"] != first[p] and r,
                           f"{path} from the new release", seconds=MAX_AGE * 10)
        assert fresh.status_code == 200 and fresh.headers["x-cache-status"] in ("EXPIRED", "MISS"), fresh.headers
        wait_until(lambda r=route, n=before: requests_counted(etclod, r) > n, f"{path}: the new release counted by etclod")
        direct = etclod.get(fresh.url.raw_path.decode(), headers={"Accept": accept})
        assert direct.headers["etag"] == fresh.headers["etag"] and direct.content == fresh.content, path
    assert '"200"' in get("/id/project/proj", "application/n-triples").text

    version = client.get("/health").json()["release"]
    path = f"/releases/{version}/dumps/etclod.nt.gz"
    kept = client.get(path)
    assert kept.headers["cache-control"] == "public, max-age=31536000, immutable"
    before = wait_until(lambda: requests_counted(etclod, "/releases/{version}/{rel:path}"), "the first counted")
    assert client.get(path).headers["x-cache-status"] == "HIT"
    assert requests_counted(etclod, "/releases/{version}/{rel:path}") == before
