"""One-record changes (issue 17, point 2): each an incremental ``etclod build`` on the current
release, against a full build (``--full``) of the same data in the same run; target 5 s.

Used by ``run.py``; alone: ``python benchmarks/incremental.py DATA VAR`` (a data folder and a
var folder whose current release was built from it; both are changed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TARGET = 5.0
REPEAT = 3
"""Incremental builds of each kind of change (each on the one before): all must meet the target."""


def _edit(data: Path, kind: str) -> None:
    """Change one project's title, add one partnership, or remove one partnership."""
    if kind == "change":
        path = data / "projects.json"
        records = json.loads(path.read_text("utf-8"))
        records[len(records) // 2]["title"] = {"en": f"A changed title {time.time()}"}
    else:
        path = data / "partnerships.json"
        records = json.loads(path.read_text("utf-8"))
        if kind == "add":  # a project and an organisation not yet partners: no merge
            projects = json.loads((data / "projects.json").read_text("utf-8"))
            orgs = json.loads((data / "organisations.json").read_text("utf-8"))
            taken = {(r["project"], r["organisation"]) for r in records}
            project = projects[len(projects) // 3]["id"]
            org = next(o["id"] for o in orgs if (project, o["id"]) not in taken)
            new = dict(records[0], id=f"bench-added-{time.time_ns()}", project=project, organisation=org)
            records.append(new)
        else:
            records.pop(len(records) // 2)
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), "utf-8")


def _build(etclod: list[str], env: dict[str, str], *flags: str, rejects: bool = False) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([*etclod, "build", "--allow-removals", *flags], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != (1 if rejects else 0):
        raise SystemExit(f"etclod build {' '.join(flags)} failed:\n{done.stderr[-3000:]}")
    kind = re.search(r"^build: (.*)$", done.stderr, re.MULTILINE)
    return seconds, kind.group(1) if kind else "?"


def incremental_rows(etclod: list[str], env: dict[str, str], data: Path,
                     full_build: float | None = None) -> list[tuple[str, str, str, str, str]]:
    """Per kind of one-record change: ``REPEAT`` incremental builds (each after one more such
    change; median and slowest) and a full build of the same data (``full_build`` given: that
    full build of the run's data, one record away, for every kind instead)."""
    rows = []
    for kind in ("change", "add", "remove"):
        times, kinds = [], set()
        for _ in range(REPEAT):
            _edit(data, kind)
            seconds, how = _build(etclod, env)
            times.append(seconds)
            kinds.add(how)
        full = full_build if full_build is not None else _build(etclod, env, "--full")[0]
        times.sort()
        median, slowest = times[len(times) // 2], times[-1]
        how = "/".join(sorted(kinds))
        met = "met" if kinds == {"incremental"} and slowest <= TARGET else "not met"
        done = {"change": "changed", "add": "added", "remove": "removed"}[kind]
        rows.append((f"one record {done}: build ({how}; median of {REPEAT}, slowest)",
                     f"{median:.1f} s ({slowest:.1f} s)",
                     "full build, same data" if full_build is None else "full build of this run", f"{full:.1f} s",
                     f"{full / median:.0f}x faster ({met}: all <= {TARGET:.0f} s)"))
    return rows


def _break(data: Path, kind: str) -> None:
    """Make one record invalid (``project``: EU funding over its budget, which the shapes
    reject; ``partnership``: a budget that is not an amount, which the schema rejects;
    ``reference``: a partnership's organisation id mistyped), or undo it (``fix``: the values
    kept beside the data in ``.broken.json``)."""
    kept = data.parent / ".broken.json"
    if kind == "fix":
        name, index, before = json.loads(kept.read_text("utf-8"))
        path = data / name
        records = json.loads(path.read_text("utf-8"))
        records[index].update(before)
        kept.unlink()
    else:
        name = "projects.json" if kind == "project" else "partnerships.json"
        path = data / name
        records = json.loads(path.read_text("utf-8"))
        index = len(records) // (4 if kind != "reference" else 3)
        bad = {"project": {"total_budget": "10.00", "eu_funding": "20.00"}, "partnership": {"budget": "lots"},
               "reference": {"organisation": f"{records[index].get('organisation')}x"}}[kind]
        kept.write_text(json.dumps([name, index, {f: records[index][f] for f in bad}]), "utf-8")
        records[index].update(bad)
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), "utf-8")


def rejected_rows(etclod: list[str], env: dict[str, str], data: Path,
                  full_build: float | None = None) -> list[tuple[str, str, str, str, str]]:
    """One-record changes while the release rejects a record (real data nearly always has a
    few): a published record broken (held back at its last good version), ``REPEAT`` other
    records changed while it is, the broken one fixed, another broken by the schema; each an
    incremental build, against a full build of data with a rejected record (``full_build``:
    that of the run, else one here)."""
    steps: list[tuple[str, list[float], set[str]]] = []

    def step(label: str, edit: Any, rejects: bool, times: int = 1) -> None:
        seconds, kinds = [], set()
        for _ in range(times):
            edit()
            took, how = _build(etclod, env, rejects=rejects)
            seconds.append(took)
            kinds.add(how)
        steps.append((label, sorted(seconds), kinds))

    step("one record broken (shapes; held back)", lambda: _break(data, "project"), True)
    step(f"one record changed, one rejected (median of {REPEAT}, slowest)", lambda: _edit(data, "change"), True,
         REPEAT)
    step("the broken record fixed", lambda: _break(data, "fix"), False)
    step("one record broken (schema; held back)", lambda: _break(data, "partnership"), True)
    step("the broken record fixed", lambda: _break(data, "fix"), False)
    step("one reference mistyped (held back)", lambda: _break(data, "reference"), True)
    full = full_build if full_build is not None else _build(etclod, env, "--full", rejects=True)[0]
    rows = []
    for label, seconds, kinds in steps:  # (the two "fixed" rows: shapes, then schema)
        median, slowest = seconds[len(seconds) // 2], seconds[-1]
        how = "/".join(sorted(kinds))
        met = "met" if kinds == {"incremental"} and slowest <= TARGET else "not met"
        shown = f"{median:.1f} s ({slowest:.1f} s)" if len(seconds) > 1 else f"{median:.1f} s"
        rows.append((f"{label}: build ({how})", shown,
                     "full build, one record rejected" if full_build is None else "full build of this run",
                     f"{full:.1f} s", f"{full / median:.0f}x faster ({met}: all <= {TARGET:.0f} s)"))
    _break(data, "fix")
    _build(etclod, env)
    return rows


def main(argv: list[str]) -> int:
    """``DATA VAR [--rejected]``: the one-record changes, or (``--rejected``) those while the
    release rejects a record."""
    import os

    data, var = Path(argv[0]), Path(argv[1])
    env: dict[str, Any] = {**os.environ, "ETCLOD_DATA": str(data), "ETCLOD_VAR": str(var)}
    rows = rejected_rows if "--rejected" in argv[2:] else incremental_rows
    for row in rows([sys.executable, "-m", "etclod"], env, data):
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
