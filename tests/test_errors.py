"""One error subclass per code, every code listed once (etclod.errors.CODES) and in the OpenAPI
description; the answers carry the code and status of that list."""

from __future__ import annotations

import importlib
import pkgutil
import re
import warnings

import pytest

import etclod
from etclod.errors import CODES, EtclodError, error_class

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from etclod.api.app import create_app  # noqa: E402
from etclod.settings import PROJECT_ROOT  # noqa: E402


def every_error_class() -> list[type[EtclodError]]:
    for module in pkgutil.walk_packages(etclod.__path__, "etclod."):
        if module.name != "etclod.__main__":
            importlib.import_module(module.name)
    found, todo = [], [EtclodError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_each_code_is_one_subclass_with_the_listed_status() -> None:
    classes = every_error_class()
    by_code: dict[str, list[str]] = {}
    for cls in classes:
        by_code.setdefault(cls.code, []).append(cls.__name__)
        assert cls.status == CODES[cls.code][0], (cls.__name__, cls.status, CODES[cls.code])
    # one class introduces each code (a subclass that only narrows a message keeps its parent's)
    introduced = {cls.code: cls for cls in classes if cls is EtclodError or cls.code != cls.__mro__[1].code}
    assert all(error_class(code) is introduced[code] for code in introduced), by_code
    assert all(len([c for c in classes if c.code == code and c.code != c.__mro__[1].code]) <= 1
               for code in by_code if code != "etclod_error"), by_code


def test_a_code_not_listed_fails_at_import() -> None:
    with pytest.raises(TypeError, match="not listed in etclod.errors.CODES"):
        type("StrayError", (EtclodError,), {"code": "stray"})


def test_no_error_is_raised_with_a_code_of_its_own() -> None:
    """Codes are classes, not strings written at the raise: ``code="..."`` appears nowhere."""
    stray = []
    for path in (PROJECT_ROOT / "src" / "etclod").rglob("*.py"):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if re.search(r'Error\(.*\bcode="|^\s*code="\w+"\)?,?\s*$|,\s*code="\w+"', line):
                stray.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert not stray, "\n".join(stray)


def test_the_openapi_description_lists_every_code(tmp_path) -> None:
    from etclod.settings import Settings
    with TestClient(create_app(Settings.from_env({"ETCLOD_VAR": str(tmp_path)}))) as client:
        description = client.get("/openapi.json").json()["info"]["description"]
    for code, (status, _) in CODES.items():
        assert f"| `{code}` | {status} |" in description, code
