"""The package as a user installs it: a wheel built from the sources (``python -m build``),
installed into a fresh venv, builds and serves a data folder outside the checkout (the
ontology, templates, static files and message catalogue come from the wheel)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx

from conftest import free_port, wait_for_health

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", "ontology")


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    run = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert run.returncode == 0, f"{args} exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    return run


def build_wheel(tmp: Path) -> Path:
    """``python -m build`` on a copy of the sources (sdist, then the wheel from the sdist), with
    the build backend already installed (no network); ``pip wheel`` where ``build`` is absent."""
    copy = tmp / "sources"
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            copy.mkdir(exist_ok=True)
            shutil.copy2(source, copy / name)
    dist = tmp / "dist"
    if importlib.util.find_spec("build") is not None:
        _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(copy)])
    else:
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(copy)])
    wheels = list(dist.glob("etclod-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_installs_builds_and_serves_outside_the_checkout(tmp_path) -> None:
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)])
    # the dependencies come from the test venv (no network here): its site folder, appended
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "deps-from-test-venv.pth").write_text(
        "\n".join(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCLOD_", "PYTHONPATH"))}
    work = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "data", work / "data")
    where = _run([str(python), "-c", "import etclod, etclod.settings as s; print(etclod.__file__); "
                                     "print(s.default_ontology())"], cwd=work, env=env).stdout.split()
    assert where[0].startswith(str(venv)) and where[1].startswith(str(venv)), where
    etclod = str(venv / "bin" / "etclod")
    built = _run([etclod, "build", "--data", str(work / "data"), "--var", str(work / "var")], cwd=work, env=env)
    assert "release" in (built.stdout + built.stderr)
    port = free_port()
    server = subprocess.Popen([etclod, "serve", "--var", str(work / "var"), "--host", "127.0.0.1", "--port", str(port)],
                              cwd=work, env={**env, "ETCLOD_QUERY_WORKERS": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, server, "etclod serve from the wheel")
        with httpx.Client(base_url=url, timeout=30) as client:
            turtle = client.get("/id/project/sempre", headers={"Accept": "text/turtle"})
            assert turtle.status_code == 200 and "SEMPRE" in turtle.text
            page = client.get("/id/project/sempre", headers={"Accept": "text/html"})
            assert page.status_code == 200 and "<html" in page.text and "SEMPRE" in page.text
            assert client.get("/static/etclod.css").status_code == 200
            ask = client.get("/sparql", params={"query": "ASK { ?s a <https://w3id.org/etclod/def#Project> }"},
                             headers={"Accept": "application/sparql-results+json"})
            assert ask.status_code == 200 and ask.json()["boolean"] is True
            assert "etclod" in client.get("/def", headers={"Accept": "text/turtle"}).text
    finally:
        server.terminate()
        server.wait(timeout=30)
