"""The users API: 201, 409, 422, 404, and concurrent creates that lose nothing."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from conftest import fetch


@pytest.fixture
def app(start_app):
    return start_app(maxsize=5)


def test_create_returns_201_with_the_user(app):
    email = f"ada-{uuid.uuid4().hex}@example.org"
    response = httpx.post(f"{app.url}/users", json={"email": email, "name": "Ada"})
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == email and body["name"] == "Ada" and body["id"] > 0
    fetched = httpx.get(f"{app.url}/users/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_duplicate_email_is_409(app):
    payload = {"email": f"dup-{uuid.uuid4().hex}@example.org", "name": "Dup"}
    assert httpx.post(f"{app.url}/users", json=payload).status_code == 201
    second = httpx.post(f"{app.url}/users", json=payload)
    assert second.status_code == 409
    assert "already exists" in second.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email", "name": "X"},
        {"email": "x@example.org", "name": ""},
        {"email": "x@example.org"},
        {"name": "no email"},
    ],
)
def test_invalid_input_is_422(app, payload):
    assert httpx.post(f"{app.url}/users", json=payload).status_code == 422


def test_unknown_user_is_404(app):
    assert httpx.get(f"{app.url}/users/2147483000").status_code == 404


def test_fifty_concurrent_creates_leave_exactly_fifty_rows(app):
    tag = uuid.uuid4().hex

    async def create_all() -> list[int]:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/users", json={"email": f"u{i}-{tag}@example.org", "name": f"U{i}"}
                    )
                    for i in range(50)
                )
            )
        return [r.status_code for r in responses]

    assert asyncio.run(create_all()) == [201] * 50
    rows = fetch(
        app.database.dsn, "SELECT count(*) AS n FROM users WHERE email LIKE $1", f"%-{tag}@%"
    )
    assert rows[0]["n"] == 50
