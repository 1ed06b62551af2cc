"""The OpenAPI schema lists every status each endpoint can answer, and real answers match it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import (
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from labkit.app.main import create_app
from labkit.app.settings import AppSettings

# Only the routes are read: no connection is made to this placeholder database.
OPENAPI = create_app(AppSettings(database_url="postgresql://unused@127.0.0.1/unused")).openapi()
DB = {503}  # the pool is exhausted or the database is unavailable
DOCUMENTED = {
    "POST /users": {201, 400, 409, 415, 422} | DB,
    "GET /users/{user_id}": {200, 404, 422} | DB,
    "GET /pool-status": {200},
    "GET /lab/hold": {200, 422} | DB,
    "GET /lab/hold-in-transaction": {200, 422} | DB,
    "GET /lab/ping-db": {200} | DB,
    "GET /lab/cpu-work": {200, 422} | DB,
    "GET /lab/unpooled": {200} | DB,
    "POST /lab/leak/connection": {200} | DB,
    "POST /lab/leak/transaction": {200} | DB,
    "GET /lab/leaks": {200},
    "GET /lab/checked-out": {200},
    "POST /lab/leak/use": {200},
    "POST /lab/leak/release": {200},
    "POST /lab/fail-in-transaction": {200, 500} | DB,
    "POST /lab/unclosed-cursor": {200} | DB,
    "POST /lab/forget-commit": {200, 422} | DB,
    "GET /exercise/run": {200, 404, 422, 500},
    "POST /exercise/cleanup": {200},
}


def operations() -> dict[str, dict]:
    return {
        f"{method.upper()} {path}": operation
        for path, methods in OPENAPI["paths"].items()
        for method, operation in methods.items()
    }


def test_every_endpoint_documents_the_statuses_it_can_answer():
    documented = {
        label: {int(code) for code in op["responses"]} for label, op in operations().items()
    }
    assert documented == DOCUMENTED


@pytest.mark.parametrize("label", sorted(DOCUMENTED))
def test_error_answers_are_documented_with_their_body(label):
    for code, response in operations()[label]["responses"].items():
        if int(code) < 400:
            continue
        schema = response["content"]["application/json"]["schema"]
        expected = "HTTPValidationError" if code == "422" else "ErrorMessage"
        assert schema == {"$ref": f"#/components/schemas/{expected}"}, (label, code)
        if code == "503":
            assert response["headers"]["Retry-After"]["required"] is True
            assert "pool exhausted or database unavailable" in response["description"].lower()


def test_a_real_503_matches_its_documentation(start_app):
    """Exhaust a one-connection pool, then check the 503 against the schema, as the fuzzer would."""
    app = start_app(maxsize=1, acquire_timeout=0.2)

    async def while_the_pool_is_held() -> httpx.Response:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            hog = asyncio.create_task(client.get("/lab/hold", params={"ms": 1500}))
            while (await client.get("/pool-status")).json()["in_use"] < 1:
                await asyncio.sleep(0.01)
            response = await client.get("/users/1")
            await hog
            return response

    response = asyncio.run(while_the_pool_is_held())
    assert response.status_code == 503
    schema = schemathesis.openapi.from_dict(OPENAPI)
    case = schema["/users/{user_id}"]["GET"].Case(path_parameters={"user_id": 1})
    checks = [status_code_conformance, response_headers_conformance, response_schema_conformance]
    case.validate_response(response, checks=checks)  # raises if the 503 is not as documented
