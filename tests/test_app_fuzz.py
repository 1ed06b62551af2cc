"""Property-based fuzzing of the running app from its own OpenAPI schema (Schemathesis).

Schemathesis reads the app's OpenAPI document and, for every operation not under
/lab or /exercise, sends the schema's examples, its boundary and malformed cases (the
coverage phase: wrong types, out-of-range numbers, undeclared content types...)
and then ``FUZZ_EXAMPLES`` random cases, valid and invalid. Every response must
be no server error, have a documented status code, and match its documented
schema and headers.

The document is built from ``create_app`` at import time, because Schemathesis makes
one test per operation when the test module is collected; the fixture checks that
the running app serves exactly that document. (Schemathesis's lazy
``from_fixture`` loader would read it from the running app instead, but it fails
on pytest 9.2, which no longer has ``Node._nodeid``.)

How many cases ran is printed in pytest's terminal summary (with or without
``-s``) and written to ``fuzz_cases.json`` in the session's base temp dir.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

import httpx
import pytest
import schemathesis
from conftest import fetch
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from labkit.app.main import create_app
from labkit.app.settings import AppSettings

# Random cases per operation, after the deterministic coverage cases. Bounded so the
# whole run takes well under a minute on two shared cores.
FUZZ_EXAMPLES = 200
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class FuzzTally:
    """Cases sent, statuses received and failed checks; reported in the terminal summary."""

    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.failed: Counter[str] = Counter()

    def line(self) -> str:
        per_operation = ", ".join(f"{op}: {n}" for op, n in sorted(self.cases.items()))
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"schemathesis fuzz: {self.cases.total()} cases on {len(self.cases)} operations, "
            f"{self.failed.total()} failing ({per_operation}; statuses {statuses})"
        )

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(self.line())


@pytest.fixture(scope="module")
def tally(request, tmp_path_factory):
    tally = FuzzTally()
    yield tally
    # Registered as a plugin, its pytest_terminal_summary prints after the run, past capture.
    request.config.pluginmanager.register(tally, "labkit-fuzz-tally")
    record = {
        "cases": dict(tally.cases),
        "statuses": dict(tally.statuses),
        "failing": dict(tally.failed),
        "summary": tally.line(),
    }
    (tmp_path_factory.getbasetemp() / "fuzz_cases.json").write_text(json.dumps(record, indent=1))


# Only the routes are read: no connection is made to this placeholder database.
OPENAPI = create_app(AppSettings(database_url="postgresql://unused@127.0.0.1/unused")).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI).exclude(path_regex=r"^/(lab|exercise)(/|$)")


@pytest.fixture
def app(start_app):
    app = start_app(maxsize=5)
    assert httpx.get(f"{app.url}/openapi.json").json() == OPENAPI, "the app serves another schema"
    return app


@pytest.fixture
def stored_rows(app):
    """The users table before fuzzing (one user at least); afterwards, every row is intact."""
    email = f"before-fuzz-{uuid.uuid4().hex}@example.org"
    httpx.post(f"{app.url}/users", json={"email": email, "name": "Kept"}).raise_for_status()
    before = fetch(app.database.dsn, "SELECT * FROM users ORDER BY id")
    yield before
    after = {row["id"]: row for row in fetch(app.database.dsn, "SELECT * FROM users")}
    lost = [dict(row) for row in before if after.get(row["id"]) != row]
    assert not lost, f"fuzzing lost or changed stored users: {lost}"


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,  # a request's latency is not what this test checks
    database=None,  # the same bounded run each time, without replaying earlier runs' failures
    # One running app serves every case of an operation, on purpose.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_fuzzed_requests_get_documented_answers(case, app, tally, stored_rows):
    tally.cases[case.operation.label] += 1
    response = case.call(base_url=app.url)
    tally.statuses[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS)
    except BaseException:
        tally.failed[case.operation.label] += 1
        raise
