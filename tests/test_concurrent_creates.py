"""Concurrent creates through the pool: nothing lost, nothing doubled, duplicates are 409."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
from conftest import fetch


async def post_all(url: str, payloads: list[dict]) -> list[int]:
    # More requests than the pool has connections: most of them queue for one.
    limits = httpx.Limits(max_connections=len(payloads))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        responses = await asyncio.gather(*(client.post("/users", json=p) for p in payloads))
    return [r.status_code for r in responses]


def count_rows(app, pattern: str) -> int:
    rows = fetch(app.database.dsn, "SELECT count(*) AS n FROM users WHERE email LIKE $1", pattern)
    return rows[0]["n"]


def test_two_hundred_concurrent_creates_leave_exactly_two_hundred_rows(start_app):
    app = start_app(maxsize=5)
    tag = uuid.uuid4().hex
    payloads = [{"email": f"c{i}-{tag}@example.org", "name": f"C{i}"} for i in range(200)]
    assert Counter(asyncio.run(post_all(app.url, payloads))) == {201: 200}
    assert count_rows(app, f"%-{tag}@%") == 200


def test_forty_concurrent_creates_of_one_email_give_one_201_and_39_409s(start_app):
    app = start_app(maxsize=5)
    email = f"same-{uuid.uuid4().hex}@example.org"
    statuses = asyncio.run(post_all(app.url, [{"email": email, "name": "Same"}] * 40))
    assert Counter(statuses) == {201: 1, 409: 39}
    assert count_rows(app, email) == 1
