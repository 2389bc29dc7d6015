"""Command-line layer: the ``etclod`` command; ``main(argv)`` returns the exit code.

Exit codes: 0 ok, 1 data does not conform (some records rejected), 2 bad input or settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from etclod import __version__
from etclod import records as rec
from etclod.errors import EtclodError
from etclod.manifest import read_manifest
from etclod.release import (build_release, check_data, current_version, list_releases, rollback)
from etclod.settings import Settings, base_uri

EXIT_OK, EXIT_REJECTED, EXIT_BAD_INPUT = 0, 1, 2


class PlainReporter:
    """One line per finished stage: for logs and pipes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.times: dict[str, float] = {}

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def done(self, name: str, seconds: float, detail: str) -> None:
        self.times[name] = seconds
        print(f"{name:<9} {seconds:7.2f}s  {detail}", file=self.out, flush=True)


class BarReporter(PlainReporter):
    """A rich progress bar per stage, on a terminal."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        self.progress = Progress(TextColumn("{task.description:<9}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                 console=Console(file=out), transient=False)
        self.progress.start()
        self.task: Any = None

    def stage(self, name: str, total: int | None = None) -> None:
        self.task = self.progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)

    def done(self, name: str, seconds: float, detail: str) -> None:
        self.times[name] = seconds
        if self.task is not None:
            total = self.progress.tasks[-1].total
            self.progress.update(self.task, completed=total or 1, total=total or 1,
                                 description=f"{name}")
            self.progress.console.print(f"  {detail}")
        self.task = None

    def close(self) -> None:
        self.progress.stop()


def _settings(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    settings = Settings.from_env(environ)
    changes: dict[str, Any] = {}
    if getattr(args, "data", None):
        changes["data_dir"] = Path(args.data)
    if getattr(args, "var", None):
        changes["var_dir"] = Path(args.var)
    if getattr(args, "base_uri", None):
        changes["base_uri"] = base_uri(args.base_uri, "--base-uri")
    return settings.with_(**changes) if changes else settings


def _print_rejections(rejected: list[rec.Rejection], out: TextIO) -> None:
    for r in rejected:
        what = f"{r.type} {r.id!r}" if r.type or r.id else "file"
        kept = f" (kept from release {r.kept_from} as it was)" if r.kept_from else ""
        for reason in r.reasons:
            line = r.line_of(reason)
            where = f"{r.file}:{line}" if line else r.file
            field = f" field {reason.field!r}" if reason.field else ""
            shown = rec.bounded(reason.value)
            value = f" (value {shown!r})" if shown not in (None, "") and str(shown) not in reason.message else ""
            print(f"rejected {where} {what}{field}: {rec.bounded(reason.message)}{value}{kept}", file=out)


def _print_held_and_removed(held: list[rec.Rejection], removed: list[dict[str, str]], out: TextIO,
                            rejected: Sequence[rec.Rejection] = ()) -> None:
    from etclod.lastgood import describe_reasons

    for r in held:
        print(f"kept from release {r.kept_from}: {r.type} {r.id!r} stays published as it was until its record is "
              f"fixed or taken out of the data: {describe_reasons(r)}", file=out)
    present = {(r.type, r.id) for r in rejected}
    for g in removed:
        why = ("its record is rejected (see above)" if (g["type"], g["id"]) in present
               else "no record has that id now")
        print(f"unpublished: {g['type']} {g['id']!r} (was in {g['file']}; {why})", file=out)


def _summary(rejected: list[rec.Rejection], out: TextIO) -> None:
    reasons = Counter(reason.check for r in rejected for reason in r.reasons)
    if reasons:
        print("rejected by check: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())),
              file=out)


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    out = sys.stderr
    reporter: Any = BarReporter(out) if out.isatty() else PlainReporter(out)
    try:
        result = build_release(settings, strict=args.strict, allow_removals=args.allow_removals, reporter=reporter,
                               full=args.full)
    finally:
        if hasattr(reporter, "close"):
            reporter.close()
    _print_rejections(result.rejected, out)
    _summary(result.rejected, out)
    if result.version is None:
        print(f"not published (--strict): {len(result.rejected)} records rejected", file=sys.stdout)
        return EXIT_REJECTED
    manifest = result.manifest
    _print_held_and_removed([r for r in result.rejected if r.kept_from], manifest.get("removed", []), out,
                            result.rejected)
    for group in manifest.get("merges", [])[:20]:
        print(f"merged {group.get('type', 'organisation')} {', '.join(group['merged'])} into {group['kept']} ({group['key']})", file=out)
    if len(manifest.get("merges", [])) > 20:
        print(f"... and {len(manifest['merges']) - 20} more merges (manifest.json lists them all)", file=out)
    for apart in manifest.get("kept_apart", [])[:20]:
        print(f"kept apart {apart['type']} {apart['id']!r} ({apart['file']}): {apart['reason']}", file=out)
    if manifest.get("conflicts"):
        print(f"{manifest['conflicts']} conflicts between sources: one value published by precedence, the others "
              f"kept in their graphs (releases/{result.version}/conflicts.csv)", file=out)
    summary_table(result, reporter.times, out)
    print(f"build: {result.kind}" + ("" if result.kind != "full" else " (--full)" if args.full else
                                     f" (not incremental: {result.why_full})"), file=out)
    held = manifest["records"].get("held_back", 0)
    print(f"release {result.version}: {manifest['records']['published']} records published"
          + (f" ({held} kept from the release before as they were)" if held else "")
          + f", {manifest['records']['rejected']} rejected, {manifest['triples']} triples -> {result.path}",
          file=sys.stdout)
    return result.exit_code


def summary_table(result: Any, times: dict[str, float], out: TextIO) -> None:
    """What the build did, in one table: records, rejections by reason, triples, dumps, time."""
    from rich.console import Console
    from rich.table import Table

    manifest = result.manifest
    table = Table(title=f"release {result.version}", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("figure", justify="right")
    records = manifest["records"]
    for key in ("read", "published", "held_back", "merged", "rejected"):
        table.add_row(f"records {key}", str(records.get(key, 0)))
    reasons = Counter(f"{r.reasons[0].check}: {r.reasons[0].message[:60]}" for r in result.rejected if r.reasons)
    for reason, n in reasons.most_common(8):
        table.add_row(f"  rejected, {reason}", str(n))
    table.add_row("triples", str(manifest["triples"]))
    for rel, entry in sorted(manifest["files"].items()):
        if rel.startswith("dumps/"):
            table.add_row(rel, f"{entry['bytes']:,} bytes")
    for stage, seconds in times.items():
        table.add_row(f"time: {stage}", f"{seconds:.2f} s")
    Console(file=out, force_terminal=out.isatty(), width=100).print(table)


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    checked = check_data(settings, PlainReporter(sys.stderr))
    _print_rejections(checked.rejected, sys.stdout)
    _print_held_and_removed(checked.held, checked.removals, sys.stdout, checked.rejected)
    held = len(checked.held)
    print(f"{len(checked.verdict.accepted) - held} records valid, {len(checked.rejected)} rejected"
          + (f" ({held} of them kept from release {checked.previous.version} as they were)"
             if held and checked.previous else ""), file=sys.stdout)
    return EXIT_REJECTED if checked.rejected else EXIT_OK


def cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(rec.json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_releases(args: argparse.Namespace, settings: Settings) -> int:
    current = current_version(settings)
    releases = list_releases(settings)
    server: dict[str, Any] | None = None
    servers: list[dict[str, Any]] = []
    if settings.store_url is not None:  # what the SPARQL servers hold, beside the local folders
        from etclod.pool import StorePool
        from etclod.release import version_key

        pool = StorePool.from_settings(settings)
        pool_current, _ = pool.poll()  # raises only when no server answers
        servers = [{**m.state(), "pushed": list(m.complete) if m.polled else None} for m in pool.members]
        pushed = sorted({v for m in pool.members if m.is_in for v in m.complete}, key=version_key)
        server = {"endpoint": pool.members[0].endpoint, "current": pool_current, "pushed": pushed}
    if args.json:
        extra = {"server": server, "servers": servers} if server else {}
        print(json.dumps({"current": current, "releases": releases, **extra}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not releases:
        print(f"no releases in {settings.releases_dir}")
    for m in releases:
        mark = "*" if m["version"] == current else " "
        there = ""
        if server is not None and len(servers) == 1:
            on_server = m["version"] in server["pushed"]
            there = "  served by the SPARQL server" if m["version"] == server["current"] else \
                "  on the SPARQL server" if on_server else "  not pushed"
        elif servers:
            serving = [s for s in servers if s["state"] == "in" and s["release"] == m["version"]]
            holding = [s for s in servers if m["version"] in (s["pushed"] or ())]
            there = (f"  served by {len(serving)} of {len(servers)} SPARQL servers" if serving else
                     f"  on {len(holding)} of {len(servers)} SPARQL servers" if holding else "  not pushed")
        print(f"{mark} {m['version']}  {m['records']['published']:>6} records  "
              f"{m['records']['rejected']:>4} rejected  {m['triples']:>8} triples  {m['created']}{there}")
    if len(servers) > 1:
        for s in servers:
            print(f"server {s['server']} {s['endpoint']}: {s['state']}{'' if s['answering'] else ', not answering'}, "
                  f"current release {s['release'] or 'none'}"
                  + (f" ({s['reason']})" if s["reason"] else ""))
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    from etclod.pool import push_if_remote

    version = rollback(settings)
    print(f"current release is now {version}")
    if push_if_remote(settings, settings.releases_dir / version) is not None:
        print(f"and on {settings.store_url}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from etclod.api.server import serve
    return serve(settings, host=args.host, port=args.port, workers=args.workers)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    import hashlib

    from etclod.sources import keep, kohesio, operations

    paths = [Path(p) for p in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"etclod import: error: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = Path(args.out) if args.out else settings.data_dir
    out.mkdir(parents=True, exist_ok=True)
    # the file this import writes is named after the kind and the input files' names, so
    # importing the same files again, or a newer export of them, rewrites the same file
    digest = hashlib.sha256("\n".join(sorted(p.name for p in paths)).encode()).hexdigest()[:8]
    name = f"import-{args.kind}-{digest}"
    loaded = rec.load_records(out).loaded if any(out.iterdir()) else []
    others = [item for item in loaded if item.file != f"{name}.json"]
    known = frozenset(item.key for item in others)
    if args.kind == "keep":
        imported = keep.import_files(paths, known)
    elif args.kind == "kohesio":
        imported = kohesio.import_files(paths)
    else:
        imported = operations.import_files(paths, args.programme)
    # a record the steward or another kind of import already has is not written again
    # (organisations always are: they merge at build time); one that an older import of
    # the same kind wrote moves here, so the newest export of a record is the one read
    mine = f"import-{args.kind}-"
    existing = {item.key for item in others if item.record.type != "organisation" and not item.file.startswith(mine)}
    records = sorted((r for r in imported.records.values() if (r["type"], r["id"]) not in existing),
                     key=lambda r: (r["type"], r["id"]))
    _take_out_of_older_imports(out, mine, f"{name}.json",
                               {(r["type"], r["id"]) for r in records if r["type"] != "organisation"})
    target = out / f"{name}.json"
    if records:
        text = json.dumps(records, ensure_ascii=False, indent=1) + "\n"
        if not target.is_file() or target.read_text("utf-8") != text:
            target.write_text(text, "utf-8")
    else:
        target.unlink(missing_ok=True)
    errors_file = out / f"{name}.errors.jsonl"
    if imported.errors:
        with errors_file.open("w", encoding="utf-8") as handle:
            for error in imported.errors:
                handle.write(json.dumps(error.to_dict(), ensure_ascii=False) + "\n")
        for error in imported.errors:
            where = f"{error.file}:{error.row}" if error.row else error.file
            print(f"not imported {where}: {error.message}", file=sys.stderr)
    else:
        errors_file.unlink(missing_ok=True)
    counts = Counter(r["type"] for r in records)
    print(f"imported {len(records)} records into {target}: "
          + ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
          + (f"; {len(imported.errors)} rows not imported (see {name}.errors.jsonl)" if imported.errors else ""))
    return EXIT_REJECTED if imported.errors else EXIT_OK


def _take_out_of_older_imports(folder: Path, prefix: str, own: str, keys: set[tuple[str, str]]) -> None:
    """Remove ``keys`` from the other import files of one kind (a file left empty goes)."""
    for path in sorted(folder.glob(f"{prefix}*.json")):
        if path.name == own:
            continue
        try:
            records = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue  # not ours to repair: the build reports it
        if not isinstance(records, list):
            continue
        kept = [r for r in records if not (isinstance(r, dict) and (r.get("type"), r.get("id")) in keys)]
        if len(kept) == len(records):
            continue
        if kept:
            path.write_text(json.dumps(kept, ensure_ascii=False, indent=1) + "\n", "utf-8")
        else:
            path.unlink()


def cmd_links(args: argparse.Namespace, settings: Settings) -> int:
    import csv

    from etclod.linkset import LINKS_DIR, REVIEW_COLUMNS, RELATIONS, accepted_links, suggest_links
    from etclod.reconcile import INDEX_FILE, Index
    from etclod.release import current_path

    source = Path(args.file)
    if not source.is_file():
        print(f"etclod links: error: no such file: {source}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if args.action == "suggest":
        release = current_path(settings)
        if release is None or not (release / INDEX_FILE).is_file():
            print(f"etclod links: error: no current release with a reconciliation index in {settings.var_dir}; "
                  "run `etclod build` first", file=sys.stderr)
            return EXIT_BAD_INPUT
        if rows and "name" not in rows[0]:
            print("etclod links: error: the list needs the columns name,country,town,iri", file=sys.stderr)
            return EXIT_BAD_INPUT
        review = suggest_links(Index.load(release / INDEX_FILE), rows, args.type)
        out = Path(args.out or source.with_name(source.stem + ".review.csv"))
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=REVIEW_COLUMNS)
            writer.writeheader()
            writer.writerows(review)
        matched = sum(1 for r in review if r["match"] == "yes")
        print(f"wrote {out}: {len(review)} rows, {matched} matches marked accept=yes; review, then "
              f"`etclod links accept {out}`")
        return EXIT_OK
    if args.relation not in RELATIONS:
        print(f"etclod links: error: --relation must be one of {', '.join(RELATIONS)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    links = accepted_links(rows, args.relation, f"reconciliation review {source.name}")
    folder = settings.data_dir / LINKS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{source.stem.replace('.review', '')}.csv"
    new = not target.exists()
    with target.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["resource", "relation", "target", "source"])
        if new:
            writer.writeheader()
        writer.writerows(links)
    print(f"added {len(links)} accepted links to {target}")
    return EXIT_OK


def cmd_push(args: argparse.Namespace, settings: Settings) -> int:
    from etclod.errors import InputError
    from etclod.pool import StorePool
    from etclod.release import current_path

    if settings.store_url is None:
        raise InputError("etclod push needs ETCLOD_STORE=sparql+http://host:port/sparql (and ETCLOD_STORE_USER, "
                         "ETCLOD_STORE_PASSWORD for its update endpoint)")
    pool = StorePool.from_settings(settings)
    version = args.release
    if args.sync:  # the pool's current release, to every server that is behind
        if args.release:
            raise InputError("etclod push: give --sync or --release, not both")
        version = pool.current()
        if version is None:
            raise InputError("etclod push --sync: no server of the pool holds a release yet; run `etclod push`")
    release = settings.releases_dir / version if version else current_path(settings)
    if release is None or not (release / "manifest.json").is_file():
        raise InputError(f"no sealed release {version or '(current)'} in {settings.releases_dir}")
    quads = read_manifest(release)["quads"]
    reporter: Any = BarReporter(sys.stderr) if sys.stderr.isatty() else PlainReporter(sys.stderr)
    started = time.perf_counter()
    reporter.stage("push", quads * len(pool.members))
    try:
        pushed = pool.push(release, keep=settings.keep_releases, progress=reporter.advance)
        loaded = [s.result for s in pushed.switched if s.result is not None and not s.result.skipped]
        reporter.done("push", time.perf_counter() - started,
                      f"{loaded[0].quads if loaded else 'none loaded: already'}"
                      f"{' quads' if loaded else ''} on {', '.join(s.endpoint for s in pushed.switched)}")
    finally:
        getattr(reporter, "close", lambda: None)()
    several = len(pool.members) > 1
    for server in pushed.servers:
        result = server.result
        where = f"server {server.number} ({server.endpoint})" if several else (settings.store_url or "")
        if server.error is not None:
            print(f"etclod push: {where} failed to {server.step}: {server.error}; it is out of the pool for "
                  f"release {pushed.version} (`etclod push --sync` when it is back)", file=sys.stderr)
        elif result is None:
            continue
        elif result.switched:
            print(f"release {result.version} was on {where} already; it is current again")
        elif result.skipped:
            print(f"release {result.version} is already on {where}")
        else:
            print(f"pushed release {result.version}{' to ' + where if several else ''}: {result.graphs} graphs, "
                  f"{result.quads} quads verified; it is current"
                  + (f"; dropped {', '.join(result.dropped)}" if result.dropped else ""))
    return EXIT_OK


def cmd_synth(args: argparse.Namespace, settings: Settings) -> int:
    from etclod.synth import write
    counts = write(Path(args.out), args.projects, args.seed, args.sources_per_project)
    print(f"wrote {sum(counts.values())} records to {args.out}: "
          + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="etclod", description="Publish ETC (Interreg) data as linked open data.")
    p.add_argument("--version", action="version", version=f"etclod {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str, func: Any, data: bool = True, var: bool = True) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if data:
            sp.add_argument("--data", metavar="DIR", help="folder of record files (ETCLOD_DATA, default data)")
        if var:
            sp.add_argument("--var", metavar="DIR", help="folder of releases (ETCLOD_VAR, default var)")
        sp.add_argument("--base-uri", help="base of every IRI (ETCLOD_BASE_URI)")
        sp.set_defaults(func=func)
        return sp

    b = add("build", "build a new release from the data folder and make it current", cmd_build)
    b.add_argument("--strict", action="store_true", help="publish nothing if any record is rejected")
    b.add_argument("--allow-removals", action="store_true",
                   help="publish even if more records are unpublished than ETCLOD_MAX_REMOVALS allows")
    b.add_argument("--full", action="store_true",
                   help="build everything again, not on the current release (incremental is the default)")
    add("validate", "check the data folder without publishing", cmd_validate, var=False)
    add("schema", "print the JSON Schema of the records", cmd_schema, data=False, var=False)
    r = add("releases", "list the releases (* marks the current one)", cmd_releases, data=False)
    r.add_argument("--json", action="store_true", help="print the manifests as JSON")
    add("rollback", "switch back to the release before the current one", cmd_rollback, data=False)
    s = add("serve", "serve the current release over HTTP (builds one first if none exists)", cmd_serve)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1)
    i = add("import", "turn keep.eu JSON, Kohesio CSV or a List of Operations CSV into records", cmd_import,
            data=False, var=False)
    i.add_argument("kind", choices=["keep", "kohesio", "operations"])
    i.add_argument("files", nargs="+", metavar="FILE")
    i.add_argument("--out", metavar="DIR", help="data folder to write into (default ETCLOD_DATA)")
    i.add_argument("--programme", metavar="CCI", help="the programme of a List of Operations")
    k = add("links", "suggest links from an outside list, or accept a reviewed suggestion file", cmd_links)
    k.add_argument("action", choices=["suggest", "accept"])
    k.add_argument("file", metavar="CSV", help="suggest: name,country,town,iri; accept: a review CSV")
    k.add_argument("--type", default="organisation", help="the type to match (organisation, project, programme ...)")
    k.add_argument("--out", metavar="CSV", help="where suggest writes the review (default FILE.review.csv)")
    k.add_argument("--relation", default="skos:exactMatch", help="owl:sameAs, skos:exactMatch or skos:closeMatch")
    u = add("push", "load a sealed release into the SPARQL server of ETCLOD_STORE and make it current", cmd_push,
            data=False)
    u.add_argument("--release", metavar="VERSION", help="the release to push (default: the current one)")
    u.add_argument("--sync", action="store_true",
                   help="push the pool's current release to every server of ETCLOD_STORE that is behind")
    y = add("synth", "write a synthetic keep.eu-sized record set", cmd_synth, data=False, var=False)
    y.add_argument("--projects", type=int, required=True, help="number of projects")
    y.add_argument("--out", required=True, metavar="DIR", help="folder to write the records into")
    y.add_argument("--seed", type=int, default=2018, help="random seed (same seed, same data)")
    y.add_argument("--sources-per-project", action="store_true",
                   help="one source (so one named graph) per project and its partnerships, as keep.eu imports are")
    return p


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """Run the ``etclod`` command; return its exit code (0 ok, 1 rejected records, 2 bad input)."""
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_BAD_INPUT
    try:
        settings = _settings(args, dict(os.environ) if environ is None else environ)
        return int(args.func(args, settings))
    except EtclodError as exc:
        print(f"etclod {args.command}: error: {rec.file_label(exc.message)}", file=sys.stderr)
        return EXIT_BAD_INPUT  # records that do not conform are a result (exit 1), never an error
    except OSError as exc:  # a file system problem (permissions, a full disk ...): say which, no traceback
        where = f" ({rec.file_label(str(exc.filename))})" if exc.filename else ""
        print(f"etclod {args.command}: error: file system problem{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"etclod {args.command}: interrupted; the current release is unchanged", file=sys.stderr)
        return 130
