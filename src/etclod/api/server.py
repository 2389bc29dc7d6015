"""HTTP layer: run the application under uvicorn (``etclod serve``)."""

from __future__ import annotations

import os
import sys
import tempfile

import uvicorn

from etclod.api.app import create_app
from etclod.api.metrics import MULTIPROC_ENV
from etclod.errors import EtclodError
from etclod.release import build_release, current_path, current_version
from etclod.pool import StorePool
from etclod.settings import Settings


def app_from_environ():  # type: ignore[no-untyped-def]
    """Factory for uvicorn workers: each worker reads the settings the parent exported."""
    return create_app(Settings.from_env(os.environ))


def _export(settings: Settings) -> None:
    os.environ.update({"ETCLOD_BASE_URI": settings.base_uri, "ETCLOD_DATA": str(settings.data_dir.resolve()),
                       "ETCLOD_VAR": str(settings.var_dir.resolve()),
                       "ETCLOD_ONTOLOGY": str(settings.ontology_dir.resolve())})
    if settings.store_url is not None:
        os.environ["ETCLOD_STORE"] = ",".join(e.url for e in settings.store_endpoints())


def fewer_malloc_arenas() -> None:
    """Cap glibc's malloc arenas at two (unless ``MALLOC_ARENA_MAX`` says otherwise): with one
    arena per thread, the threads answering requests each keep freed memory of their own, and
    the server's resident size grows by a third under load for nothing. Query workers and
    uvicorn workers inherit the variable; this process applies it at once."""
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, int(os.environ["MALLOC_ARENA_MAX"]))  # M_ARENA_MAX
    except (OSError, AttributeError, ValueError):  # not glibc, or a value that is not a number
        pass


def serve(settings: Settings, *, host: str, port: int, workers: int = 1) -> int:
    """Serve the current release; build one first from the data folder if there is none. With
    a remote store that holds no release yet, the current one is pushed to it first."""
    if current_version(settings) is None:
        print(f"no release in {settings.var_dir}: building one from {settings.data_dir}", file=sys.stderr)
        result = build_release(settings)
        print(f"release {result.version}: {result.published} records published, "
              f"{len(result.rejected)} rejected", file=sys.stderr)
    if settings.store_url is not None:
        remote = StorePool.from_settings(settings)
        release = current_path(settings)
        try:
            if remote.current() is None and release is not None:
                pushed = remote.push(release, keep=settings.keep_releases)
                print(f"pushed release {pushed.version} to {', '.join(s.endpoint for s in pushed.switched)}",
                      file=sys.stderr)
        except EtclodError as exc:  # serve anyway: /health says what is wrong until the server answers
            print(f"etclod serve: {exc.message}", file=sys.stderr)
    fewer_malloc_arenas()
    if workers > 1:
        _export(settings)
        # every worker counts into this folder; whichever answers /metrics sums them all
        with tempfile.TemporaryDirectory(prefix="etclod-metrics-") as folder:
            os.environ[MULTIPROC_ENV] = folder
            try:
                uvicorn.run("etclod.api.server:app_from_environ", factory=True, host=host, port=port,
                            workers=workers, proxy_headers=True)
            finally:
                os.environ.pop(MULTIPROC_ENV, None)
    else:
        uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=True)
    return 0
