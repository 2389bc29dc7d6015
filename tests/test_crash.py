"""Crash safety: kill -9 at random points never leaves a broken release current; a corrupt
release is refused at start with a clear message and the previous good one is served."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings

import httpx

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from etclod.api.app import create_app  # noqa: E402
from etclod.release import build_release, current_version, list_releases, verify_release  # noqa: E402

from conftest import free_port, project, write_records  # noqa: E402


def env_for(settings) -> dict[str, str]:
    return {**os.environ, "ETCLOD_DATA": str(settings.data_dir), "ETCLOD_VAR": str(settings.var_dir),
            "ETCLOD_BASE_URI": settings.base_uri}



def assert_current_is_whole(settings) -> str:
    version = current_version(settings)
    assert version is not None
    assert verify_release(settings.releases_dir / version) == []
    visible = [p for p in settings.releases_dir.iterdir() if not p.name.startswith(".")]
    assert all((p / "manifest.json").is_file() for p in visible), "a half release is visible"
    return version


def test_kill_minus_9_at_random_points(seed_settings) -> None:
    """At least 20 kills: builds at random moments, and servers mid-start and mid-request."""
    build_release(seed_settings)
    env = env_for(seed_settings)
    rng = random.Random(20180130)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "etclod", "build"], env=env, capture_output=True, check=False)
    duration = time.monotonic() - started
    kills = attempts = 0
    while kills < 12 and attempts < 40:
        attempts += 1
        before = current_version(seed_settings)
        proc = subprocess.Popen([sys.executable, "-m", "etclod", "build"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.05, duration * 0.95))  # a random kill point, not a wait for anything
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        kills += proc.returncode == -signal.SIGKILL
        now = assert_current_is_whole(seed_settings)
        # a build ends in one of two ways: killed, or done (exit 0, having switched to its release)
        assert proc.returncode in (0, -signal.SIGKILL), err.decode()
        if proc.returncode == 0:
            assert now != before, "a finished build did not switch to its release"
        else:  # killed: the release before, or the new one if the kill came after the switch
            assert now == before or now in [m["version"] for m in list_releases(seed_settings)][-1:]
    for _ in range(10):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "etclod", "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + rng.uniform(0.3, 4.0)
        while time.time() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 5"},
                          timeout=1)
            except httpx.HTTPError:
                time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        assert_current_is_whole(seed_settings)
    assert kills >= 20
    result = build_release(seed_settings)  # the next build cleans what killed builds left
    assert not [p for p in seed_settings.releases_dir.iterdir() if p.name.startswith(".tmp-")]
    assert current_version(seed_settings) == result.version
    with TestClient(create_app(seed_settings)) as client:
        assert client.get("/health").json()["status"] == "ok"


def corrupt(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_release_is_refused_and_the_previous_served(make_settings) -> None:
    settings = make_settings([project(total_budget="100")])
    good = build_release(settings)
    write_records(settings.data_dir, "extra.yaml", [project(total_budget="200")])
    bad = build_release(settings)
    corrupt(bad.path / "dumps" / "etclod.nt.gz")
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert health["release"] == good.version and health["status"] == "degraded"
        assert any(bad.version in w and "etclod.nt.gz" in w and "sha256" in w for w in health["warnings"])
        assert '"100"' in client.get("/id/project/proj?format=nt").text
    assert current_version(settings) == bad.version  # the server never rewrites var/current


def test_no_good_release_is_503_with_reasons(make_settings) -> None:
    settings = make_settings([project()])
    only = build_release(settings)
    manifest = json.loads((only.path / "manifest.json").read_text())
    (only.path / "rejected.jsonl").write_text("tampered\n")
    assert manifest["files"]["rejected.jsonl"]["sha256"] != hashlib.sha256(b"tampered\n").hexdigest()
    with TestClient(create_app(settings)) as client:
        response = client.get("/id/project/proj")
        assert response.status_code == 503
        assert "corrupt" in response.json()["message"] and "rejected.jsonl" in response.json()["message"]
        assert client.get("/health").status_code == 503


def test_switch_to_a_corrupt_release_keeps_serving_the_good_one(make_settings) -> None:
    settings = make_settings([project(total_budget="100")])
    build_release(settings)
    with TestClient(create_app(settings)) as client:
        assert '"100"' in client.get("/id/project/proj?format=nt").text
        write_records(settings.data_dir, "extra.yaml", [project(total_budget="300")])
        bad = build_release(settings)
        (bad.path / "catalog.ttl").unlink()
        assert '"100"' in client.get("/id/project/proj?format=nt").text
        assert any("catalog.ttl is missing" in w for w in client.get("/health").json()["warnings"])
    assert len(list_releases(settings)) == 2
