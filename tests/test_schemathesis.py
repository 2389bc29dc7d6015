"""Property-based requests generated from our OpenAPI schema (schemathesis): no 500s."""

from __future__ import annotations

import warnings

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the test extras")
from hypothesis import HealthCheck, given, settings as hsettings  # noqa: E402

from etclod.api.app import create_app  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture(scope="module")
def operations(served):
    settings = served
    app = create_app(settings.with_(admin_token="schemathesis-token-0123456789", query_timeout=3.0))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 15
    return found


def test_no_input_gives_a_500(operations) -> None:
    failures: list[str] = []
    calls: list[int] = []
    for operation in operations:

        @hsettings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case) -> None:
            response = case.call()
            calls.append(response.status_code)
            if response.status_code >= 500 and response.status_code != 503:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")
            elif response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                body = response.json()
                if not {"error", "message", "status"} <= set(body):
                    failures.append(f"{case.method} {case.formatted_path}: error without the shape: {body}")

        check()
    assert not failures, "\n".join(failures[:20])
    assert len(calls) > 60 and any(c == 200 for c in calls) and any(c >= 400 for c in calls)
